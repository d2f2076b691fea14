//! The host cannot be hurt through its own work: authorization cost, long host operations
//! under the deadline, set-id bits, moves below a `forbid`, forged denials, and the quotas
//! that cover what a script makes the file system hold.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wrex::{ErrorType, Job, Limits, Policy, RunOutcome, ScriptArgs};

use crate::util::{
    Recorder, Sandbox, assert_denied, assert_error, assert_not_a_denial, assert_script_error,
    assert_success, runtime, script,
};

/// Runs `tests/scripts/host/<name>.rhai` with `root` and the integer `vars`, under `limits`.
fn run(
    sb: &Sandbox,
    name: &str,
    policy: Policy,
    vars: &[(&str, i64)],
    limits: Limits,
) -> RunOutcome {
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    for (k, v) in vars {
        args.insert(k, *v).unwrap();
    }
    let job = Job::new(script(name), policy)
        .args(args)
        .principal("tester")
        .limits(limits);
    runtime().run(job)
}

fn limits(timeout: Duration) -> Limits {
    Limits {
        timeout,
        ..Limits::default()
    }
}

// ---- Authorization cost is linear in a path's depth ----

/// 20 reads of a 2,000-component path under a deny-all policy. Building every ancestor as a
/// Cedar entity made each one cost seconds and hundreds of MB (depth²); now they are denied
/// at once, well inside the deadline.
#[test]
fn deep_paths_are_denied_at_linear_cost() {
    let sb = Sandbox::new();
    let vars = [("levels", 2000), ("times", 20)];
    let out = run(
        &sb,
        "deep_cat",
        sb.policy("none"),
        &vars,
        limits(Duration::from_secs(20)),
    );
    assert_success(&out);
    assert_eq!(out.output, "20");
}

/// `mkdir -p` 500 levels deep, every level authorized: was 24.5 s and 4.5 GB.
#[test]
fn a_deep_mkdir_is_authorized_level_by_level_in_time() {
    let sb = Sandbox::new();
    let vars = [("levels", 500)];
    let out = run(
        &sb,
        "deep_mkdir",
        sb.policy("rw"),
        &vars,
        limits(Duration::from_secs(20)),
    );
    assert_success(&out);
    assert!(sb.exists(&format!("allowed{}", "/d".repeat(500))));
}

// ---- Long host operations stop at the deadline ----

/// A recursive delete of 3,000 files under a 10,001-policy set took 31–33 s with a 1 s
/// timeout: the host call ran to its end. Now it checks the deadline at every entry; the run
/// ends with `TIMEOUT_EXCEEDED` soon after the deadline and nothing was deleted (every entry
/// is authorized before anything changes). The 10,000 extra policies are about principals,
/// not resources, so policy slicing cannot set them aside: every decision evaluates them.
#[test]
fn a_recursive_delete_stops_at_the_deadline() {
    let sb = Sandbox::new();
    for i in 0..3000 {
        sb.write(&format!("allowed/many/f{i}"), "x");
    }
    let mut text = sb.policy_text("rw");
    for i in 0..10_000 {
        text.push_str(&format!(
            "permit (principal == User::\"tenant{i}\", action, resource);\n"
        ));
    }
    let policy = Policy::parse(&text).unwrap();
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let out = run(&sb, "rm_tree", policy, &[], limits(timeout));
    let took = started.elapsed();
    assert_error(&out, ErrorType::TimeoutExceeded, "timeout");
    // Generous for a loaded CI machine; the overshoot itself is measured in benches/.
    assert!(took < timeout + Duration::from_secs(3), "took {took:?}");
    assert!(sb.exists("allowed/many/f0") && sb.exists("allowed/many/f2999"));
}

// ---- No privilege gain ----

#[test]
fn chmod_above_0o777_is_refused_as_rex_does() {
    let sb = Sandbox::new();
    let file = sb.path("allowed/a.txt");
    let before = std::fs::metadata(&file).unwrap().permissions().mode();
    let out = run(&sb, "chmod_setuid", sb.policy("rw"), &[], Limits::default());
    assert_script_error(&out, "Permissions must be in the range 0-777 octal");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode(),
        before
    );
}

/// `write` and `cp -f` over a set-id file make a file without the set-id bits: run as root,
/// a user's set-uid file must not become a set-uid-root copy.
#[test]
fn writes_and_copies_never_make_a_set_id_file() {
    let sb = Sandbox::new();
    for (name, mode) in [("suid", 0o4755), ("sgid", 0o2775)] {
        sb.write(&format!("allowed/{name}"), "original");
        std::fs::set_permissions(
            sb.path(&format!("allowed/{name}")),
            PermissionsExt::from_mode(mode),
        )
        .unwrap();
    }
    let out = run(
        &sb,
        "write_over_setuid",
        sb.policy("rw"),
        &[],
        Limits::default(),
    );
    assert_success(&out);
    for (name, kept) in [("suid", 0o755), ("sgid", 0o775)] {
        let mode = std::fs::metadata(sb.path(&format!("allowed/{name}")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, kept, "{name}: {mode:o}");
    }
    assert_eq!(sb.read("allowed/suid").as_deref(), Some("replaced"));
}

/// Permit everything in `allowed`, forbid `allowed/x/private`: renaming `allowed/x` must not
/// carry `private` out from under its `forbid`.
#[test]
fn moving_a_directory_is_authorized_for_everything_below_it() {
    let sb = Sandbox::new();
    sb.write("allowed/x/private/key", "KEY");
    sb.write("allowed/x/open.txt", "open");
    let out = run(
        &sb,
        "move_below_forbid",
        sb.policy("forbid_private"),
        &[],
        Limits::default(),
    );
    assert_denied(&out, "move", "/allowed/x/private");
    assert_eq!(sb.read("allowed/x/private/key").as_deref(), Some("KEY"));
    assert!(!sb.exists("allowed/y"));
}

// ---- Denials cannot be forged ----

#[test]
fn after_a_real_denial_a_changed_denial_is_the_scripts_own_error() {
    let sb = Sandbox::new();
    for name in ["forged_after_denial", "made_up_after_denial"] {
        assert_not_a_denial(&run(&sb, name, sb.policy("ro"), &[], Limits::default()));
    }
}

#[test]
fn a_real_denial_thrown_again_is_still_the_hosts_denial() {
    let sb = Sandbox::new();
    let out = run(
        &sb,
        "rethrow_denial",
        sb.policy("ro"),
        &[],
        Limits::default(),
    );
    assert_denied(&out, "open", "/outside");
}

// ---- Quotas cover everything ----

#[test]
fn open_handles_are_limited_per_run() {
    let sb = Sandbox::new();
    let limits = Limits {
        max_handles: 50,
        ..Limits::default()
    };
    let out = run(
        &sb,
        "many_handles",
        sb.policy("rw"),
        &[("count", 40)],
        limits.clone(),
    );
    assert_eq!(out.output, "40", "{out:#?}");
    let out = run(
        &sb,
        "many_handles",
        sb.policy("rw"),
        &[("count", 60)],
        limits,
    );
    assert_error(&out, ErrorType::LimitExceeded, "open handles");
    // The default is finite too.
    assert!(Limits::default().max_handles > 0);
}

#[test]
fn symlink_targets_count_as_bytes_written() {
    let sb = Sandbox::new();
    let limits = Limits {
        max_write_bytes: 20_000,
        ..Limits::default()
    };
    let out = run(
        &sb,
        "symlink_bytes",
        sb.policy("rw"),
        &[("count", 100)],
        limits,
    );
    assert_error(&out, ErrorType::LimitExceeded, "bytes written");
    assert!(!sb.exists("allowed/link30"));
}

#[test]
fn growing_a_file_by_truncate_counts_as_bytes_written() {
    let sb = Sandbox::new();
    let limits = Limits {
        max_write_bytes: 1 << 20,
        ..Limits::default()
    };
    let size = 15_000_i64 << 30;
    let out = run(
        &sb,
        "truncate_grow",
        sb.policy("rw"),
        &[("size", size)],
        limits.clone(),
    );
    assert_error(&out, ErrorType::LimitExceeded, "bytes written");
    assert_eq!(sb.read("allowed/a.txt").as_deref(), Some("hello\n"));
    // Within the quota it works.
    let out = run(
        &sb,
        "truncate_grow",
        sb.policy("rw"),
        &[("size", 1000)],
        limits,
    );
    assert_success(&out);
    assert_eq!(
        std::fs::metadata(sb.path("allowed/a.txt")).unwrap().len(),
        1000
    );
}

/// Every decision of a deep request is still made and shown to the observer once.
#[test]
fn a_deep_denial_is_recorded_once() {
    let sb = Sandbox::new();
    let recorder = Arc::new(Recorder::default());
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    args.insert("levels", 2000_i64).unwrap();
    args.insert("times", 1_i64).unwrap();
    let job = Job::new(script("deep_cat"), sb.policy("none"))
        .args(args)
        .observer(recorder.clone());
    assert_eq!(runtime().run(job).output, "1");
    let decisions = recorder.0.lock().unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    assert!(!decisions[0].allowed);
}
