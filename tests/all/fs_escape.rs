//! Sandbox-escape attempts. Each must be refused with nothing read or written outside what the
//! policy allows; the secret file's content must never reach the script.

use wrex::Policy;
use wrex::ScriptArgs;

use crate::util::{
    SECRET, Sandbox, assert_denied, assert_no_secret_leaked, assert_script_error, runtime, script,
};

fn run_named(sb: &Sandbox, script_name: &str, name: &str, policy: &str) -> wrex::RunOutcome {
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    args.insert("name", name).unwrap();
    let job = wrex::Job::new(script(script_name), sb.policy(policy)).args(args);
    runtime().run(job)
}

#[track_caller]
fn assert_secret_safe(sb: &Sandbox, out: &wrex::RunOutcome) {
    assert_no_secret_leaked(out);
    assert_eq!(
        sb.read("outside/secret.txt").as_deref(),
        Some(SECRET),
        "secret modified"
    );
}

#[test]
fn dotdot_traversal_is_refused() {
    let sb = Sandbox::new();
    let out = sb.run("dotdot", "rw");
    assert_script_error(&out, "path traversal");
    assert_secret_safe(&sb, &out);
}

#[test]
fn dotdot_as_a_file_name_is_refused() {
    let sb = Sandbox::new();
    let src = "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
               d.open_file(\"..\", OpenFileOptions().read(true).build())";
    assert_script_error(&sb.run_source(src, "rw"), "path traversal");
    let src = "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
               d.open_file(\"../outside/secret.txt\", OpenFileOptions().read(true).build()).read()";
    let out = sb.run_source(src, "rw");
    assert_script_error(&out, "single path component");
    assert_secret_safe(&sb, &out);
}

#[test]
fn absolute_symlink_out_is_not_followed_and_denied_when_followed() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside/secret.txt", sb.root), "allowed/abs");
    let out = run_named(&sb, "cat_name", "abs", "rw");
    assert_script_error(&out, "follow_symlinks is not enabled");
    assert_secret_safe(&sb, &out);
    let out = run_named(&sb, "follow_file", "abs", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::File::{}/outside/secret.txt", sb.root),
    );
    assert_secret_safe(&sb, &out);
}

#[test]
fn relative_symlink_out_is_denied_when_followed() {
    let sb = Sandbox::new();
    sb.symlink("../outside/secret.txt", "allowed/rel");
    let out = run_named(&sb, "cat_name", "rel", "rw");
    assert_script_error(&out, "follow_symlinks is not enabled");
    assert_secret_safe(&sb, &out);
    let out = run_named(&sb, "follow_file", "rel", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::File::{}/outside/secret.txt", sb.root),
    );
    assert_secret_safe(&sb, &out);
}

#[test]
fn symlink_inside_the_allowed_tree_is_followed() {
    let sb = Sandbox::new();
    sb.symlink("sub/b.txt", "allowed/inner");
    let out = run_named(&sb, "follow_file", "inner", "ro");
    assert_eq!(out.output, "b\n", "{out:#?}");
}

#[test]
fn file_through_a_symlinked_parent_dir_is_denied() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside", sb.root), "allowed/linkdir");
    // cat opens the parent following symlinks: the resolved directory is authorized again.
    let out = run_named(&sb, "cat_name", "linkdir/secret.txt", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::Dir::{}/outside", sb.root),
    );
    assert_secret_safe(&sb, &out);
    // Opening the directory without following refuses the symlink outright.
    let out = run_named(&sb, "open_dir_nofollow", "linkdir", "rw");
    assert_script_error(&out, "enable follow_symlinks");
    assert_secret_safe(&sb, &out);
}

#[test]
fn relative_symlinked_parent_dir_is_denied() {
    let sb = Sandbox::new();
    sb.symlink("../outside", "allowed/reldir");
    let out = run_named(&sb, "cat_name", "reldir/secret.txt", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::Dir::{}/outside", sb.root),
    );
    assert_secret_safe(&sb, &out);
}

#[test]
fn dangling_symlink_cannot_create_outside() {
    // Rex creates the target before it authorizes it (see docs/rex-compat.md); wrex decides first.
    let sb = Sandbox::new();
    sb.symlink(
        &format!("{}/outside/created.txt", sb.root),
        "allowed/dangle",
    );
    let out = run_named(&sb, "follow_create", "dangle", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::File::{}/outside/created.txt", sb.root),
    );
    assert!(
        !sb.exists("outside/created.txt"),
        "file created outside the policy"
    );
}

#[test]
fn writing_through_a_symlink_does_not_touch_the_target() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside/secret.txt", sb.root), "allowed/abs");
    let out = run_named(&sb, "write_name", "abs", "rw");
    assert_script_error(&out, "follow_symlinks is not enabled");
    assert_secret_safe(&sb, &out);
}

#[test]
fn rm_of_a_symlink_removes_the_link_not_the_target() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside", sb.root), "allowed/linkdir");
    let out = sb.run_source("rm([rm::r], root + \"/allowed/linkdir\")", "rw");
    assert!(out.is_success(), "{out:#?}");
    assert!(!sb.exists("allowed/linkdir"));
    assert_secret_safe(&sb, &out);
}

#[test]
fn recursive_delete_does_not_descend_through_symlinks() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside", sb.root), "allowed/sub/linkdir");
    let out = sb.run_source("rm([rm::r], root + \"/allowed/sub\")", "rw");
    assert!(out.is_success(), "{out:#?}");
    assert!(!sb.exists("allowed/sub"));
    assert_secret_safe(&sb, &out);
}

#[test]
fn proc_self_root_is_authorized_as_written() {
    let sb = Sandbox::new();
    let out = sb.run("proc_root", "rw");
    assert_denied(&out, "open", "file_system::Dir::/proc/self/root");
    assert_secret_safe(&sb, &out);
}

/// The host process under `/proc` is never a resource, whatever the policy: a "read /proc"
/// policy must not hand a script wrex's environment (API keys), command line, memory map or
/// a way round the walk through `/proc/self/root`. The built-in deny decides, and says so.
#[test]
fn the_host_process_is_out_of_reach_under_any_policy() {
    let sb = Sandbox::new();
    let pid = std::process::id();
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = link.file_name().unwrap().to_str().unwrap().to_string();
    let everything = Policy::parse("permit (principal, action, resource);").unwrap();
    for path in [
        "/proc/self/environ".to_string(),
        "/proc/thread-self/maps".to_string(),
        format!("/proc/{pid}/cmdline"),
        format!("/proc/{tid}/environ"),
        format!("/proc/self/root{}/outside/secret.txt", sb.root),
    ] {
        let recorder = std::sync::Arc::new(crate::util::Recorder::default());
        let mut args = ScriptArgs::new();
        args.insert("name", path.as_str()).unwrap();
        let job = wrex::Job::new("cat(name)", everything.clone())
            .args(args)
            .observer(recorder.clone());
        let out = runtime().run(job);
        assert_eq!(
            out.error_type(),
            Some(wrex::ErrorType::AccessDeniedException),
            "{path}: {out:#?}"
        );
        assert_secret_safe(&sb, &out);
        let decisions = recorder.0.lock().unwrap();
        assert!(
            decisions
                .iter()
                .any(|d| !d.allowed && d.policies == [wrex::authz::GUARD_POLICY_ID]),
            "{path}: {decisions:#?}"
        );
    }
    // Another process's entries are the policy's to decide.
    let out = runtime().run(wrex::Job::new("cat(\"/proc/1/comm\")", everything));
    assert!(out.is_success(), "{out:#?}");
}

#[test]
fn proc_self_fd_is_denied() {
    let sb = Sandbox::new();
    let out = sb.run_source("cat(\"/proc/self/fd/3\")", "rw");
    assert_denied(&out, "open", "file_system::Dir::/proc/self/fd");
}
