//! Sandbox-escape attempts against every file and directory helper: `..` in each argument,
//! symlinks out (absolute, relative, created by the script, swapped in while reading), hard
//! links, `/proc/self/{root,fd}`, hostile names, destinations outside the policy, and tar-slip
//! archives. Each must leave everything outside the policy unread and unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::util::{
    SECRET, Sandbox, Tar, assert_denied, assert_no_secret_leaked, assert_success, gzip, message,
    runtime, script, tar, tree,
};

/// Nothing of the secret reached the script, and everything outside `allowed` is unchanged.
#[track_caller]
fn assert_outside_untouched(sb: &Sandbox, before: &[String], out: &wrex::RunOutcome) {
    assert_no_secret_leaked(out);
    let outside = |t: &[String]| -> Vec<String> {
        t.iter()
            .filter(|l| !l.starts_with(&format!("{}/allowed", sb.root)))
            .cloned()
            .collect()
    };
    assert_eq!(outside(&tree(sb)), outside(before), "outside changed");
    assert_eq!(sb.read("outside/secret.txt").as_deref(), Some(SECRET));
}

fn run_with(sb: &Sandbox, src: &str, policy: &str, name: &str) -> wrex::RunOutcome {
    let mut args = wrex::ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    args.insert("name", name).unwrap();
    runtime().run(wrex::Job::new(src, sb.policy(policy)).args(args))
}

const DIR: &str =
    "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());";

#[test]
fn dotdot_in_every_argument_position_is_refused() {
    let p = r#"root + "/allowed/../outside/secret.txt""#;
    let ok = r#"root + "/allowed/a.txt""#;
    let dst = r#"root + "/allowed/../outside/new.txt""#;
    let dir = r#"root + "/allowed/../outside""#;
    let cases = [
        format!("cat({p})"),
        format!("grep(\"T\", {p})"),
        format!("tail({p})"),
        format!("wc({p})"),
        format!("sed(\"T\", \"t\", {p})"),
        format!("awk_filter(\"T\", {p})"),
        format!("awk_field(1, \" \", {p})"),
        format!("awk_sum(1, \" \", {p})"),
        format!("awk_count_unique(1, \" \", {p})"),
        format!("awk_filter_field(1, \" \", \"T\", {p})"),
        format!("awk_filter_range(1, 2, {p})"),
        format!("cp({p}, {ok})"),
        format!("cp({ok}, {dst})"),
        format!("mv({p}, {ok})"),
        format!("mv({ok}, {dst})"),
        format!("find_files(\"*\", {dir})"),
        format!("du({dir})"),
        format!("rm({p})"),
        format!("touch({dst})"),
        format!("write({dst}, \"x\")"),
        format!("mkdir({dir} + \"/x\")"),
        format!("{DIR} d.read_link_target(\"..\")"),
        format!("{DIR} d.open_symlink(\"../outside/secret.txt\")"),
        format!("{DIR} d.create_symlink(\"x\", \"../outside/l\", CreateSymlinkOptions().build())"),
        format!(
            "{DIR} d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).move(d, \"../outside/a.txt\", MoveOptions().build())"
        ),
    ];
    for src in &cases {
        let sb = Sandbox::new();
        let before = tree(&sb);
        let out = sb.run_source(src, "rw");
        assert!(!out.is_success(), "`{src}` succeeded: {out:#?}");
        let m = message(&out);
        assert!(
            m.contains("path traversal")
                || m.contains("single path component")
                || m.contains("`..`"),
            "`{src}`: {m}"
        );
        assert_outside_untouched(&sb, &before, &out);
    }
}

#[test]
fn symlinks_out_are_never_read_through() {
    let sb = Sandbox::new();
    sb.symlink(&format!("{}/outside/secret.txt", sb.root), "allowed/abs");
    sb.symlink("../outside/secret.txt", "allowed/rel");
    sb.symlink("../outside", "allowed/dirlink");
    let before = tree(&sb);
    for link in ["abs", "rel"] {
        for helper in [
            "grep(\"T\", p)",
            "tail(p)",
            "wc(p)",
            "sed(\"T\", \"t\", p)",
            "awk_filter(\"T\", p)",
            "cp(p, root + \"/allowed/copy.txt\")",
        ] {
            let src = format!("let p = root + \"/allowed/{link}\"; {helper}");
            let out = sb.run_source(&src, "rw");
            assert!(!out.is_success(), "`{src}` succeeded");
            assert_outside_untouched(&sb, &before, &out);
        }
    }
    // Through a directory symlink: the resolved directory is authorized, and denied.
    for helper in ["grep(\"T\", p)", "tail(p)", "wc(p)", "cat(p)"] {
        let src = format!("let p = root + \"/allowed/dirlink/secret.txt\"; {helper}");
        let out = sb.run_source(&src, "rw");
        assert_denied(&out, "open", &format!("{}/outside", sb.root));
        assert_outside_untouched(&sb, &before, &out);
    }
    // `find` following symlinks skips the denied subtree; `du` never follows.
    let src = format!(
        "{DIR} let n = []; d.find(FindOptions().follow_symlinks(true).build(), |e| n.push(e.name)); [n, du([du::a], root + \"/allowed\")]"
    );
    let out = sb.run_source(&src, "rw");
    assert_success(&out);
    assert!(!out.output.contains("secret.txt"), "{}", out.output);
    let logs = out.logs.unwrap_or_default();
    assert!(
        logs.iter()
            .any(|l| l.attributes.message.contains("not permitted")),
        "{logs:?}"
    );
}

#[test]
fn a_symlink_created_by_the_script_does_not_lead_out() {
    let sb = Sandbox::new();
    let before = tree(&sb);
    let src = format!(
        "{DIR} d.create_symlink(root + \"/outside/secret.txt\", \"out\", CreateSymlinkOptions().build());\n\
         d.open_file(\"out\", OpenFileOptions().read(true).follow_symlinks(true).build()).read()"
    );
    let out = sb.run_source(&src, "rw");
    assert_denied(&out, "open", &format!("{}/outside/secret.txt", sb.root));
    assert_outside_untouched(&sb, &before, &out);
    // Writing through it (create + follow) is denied before anything is created outside.
    let src = format!(
        "{DIR} d.create_symlink(root + \"/outside/new.txt\", \"out2\", CreateSymlinkOptions().build());\n\
         d.open_file(\"out2\", OpenFileOptions().write(true).create(true).follow_symlinks(true).build())"
    );
    let out = sb.run_source(&src, "rw");
    assert_denied(&out, "open", &format!("{}/outside/new.txt", sb.root));
    assert!(!sb.exists("outside/new.txt"));
    // The helpers do not follow it at all.
    let out = sb.run_source("write(root + \"/allowed/out2\", \"x\")", "rw");
    assert!(!out.is_success());
    assert!(!sb.exists("outside/new.txt"));
}

#[test]
fn a_directory_swapped_for_a_symlink_while_reading_never_leaks() {
    let sb = Sandbox::new();
    sb.write("allowed/swap/file.txt", "SAFE\n");
    sb.write("outside/file.txt", SECRET);
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, dir, link, parked) = (
            stop.clone(),
            sb.path("allowed/swap"),
            sb.path("allowed/swap-link"),
            sb.path("allowed/swap-parked"),
        );
        std::os::unix::fs::symlink("../outside", &link).unwrap();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            // Bounded: stops when the script ends, or after 30 s at most.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                // swap -> parked, link -> swap; then back.
                std::fs::rename(&dir, &parked).unwrap();
                std::fs::rename(&link, &dir).unwrap();
                std::fs::rename(&dir, &link).unwrap();
                std::fs::rename(&parked, &dir).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let out = sb.run("swap_reader", "rw");
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert_success(&out);
    assert!(swaps > 10, "the swap thread barely ran ({swaps} swaps)");
    assert!(
        !out.output.contains("TOP SECRET"),
        "secret leaked: {}",
        out.output
    );
    assert_eq!(sb.read("outside/file.txt").as_deref(), Some(SECRET));
}

#[test]
fn a_hard_link_to_an_outside_file_is_never_written_through() {
    let sb = Sandbox::new();
    std::fs::hard_link(sb.path("outside/secret.txt"), sb.path("allowed/hl")).unwrap();
    let before = tree(&sb);
    let open = format!(
        "{DIR} let f = d.open_file(\"hl\", OpenFileOptions().read(true).write(true).build());"
    );
    for change in [
        "f.write_in_place(\"pwned\")",
        "f.truncate(TruncateOptions().size(0).build())",
        "f.fallocate(FallocateOptions().length(4096).build())",
        "f.chmod(0o777)",
        "f.set_ownership(SetOwnershipOptions().group(\"0\").build())",
        "write(root + \"/allowed/hl\", \"appended\")",
        "d.chmod(ChmodDirOptions().permissions(0o755).recursive(true).build())",
    ] {
        let out = sb.run_source(&format!("{open} {change}"), "rw");
        assert!(!out.is_success(), "`{change}` succeeded");
        assert!(
            message(&out).contains("hard links"),
            "`{change}`: {}",
            message(&out)
        );
        assert_eq!(tree(&sb), before, "`{change}` changed something");
    }
    // `write` replaces the name with a new file: the outside link keeps its content.
    let out = sb.run_source(
        &format!("{open} f.write(\"replaced\"); cat(root + \"/allowed/hl\")"),
        "rw",
    );
    assert_success(&out);
    assert_eq!(out.output, "replaced");
    assert_eq!(sb.read("outside/secret.txt").as_deref(), Some(SECRET));
}

#[test]
fn proc_self_root_and_fd_resolve_by_text_and_are_authorized() {
    let sb = Sandbox::new();
    let before = tree(&sb);
    let paths = [
        format!("/proc/self/root{}/outside/secret.txt", sb.root),
        format!("/proc/thread-self/root{}/outside/secret.txt", sb.root),
        "/proc/self/fd/0".to_string(),
        "/proc/self/cwd/etc/passwd".to_string(),
    ];
    for p in &paths {
        for helper in ["cat", "tail", "wc"] {
            let out = run_with(&sb, &format!("{helper}(name)"), "proc", p);
            assert!(
                !out.is_success(),
                "`{helper}({p})` succeeded: {}",
                out.output
            );
            assert_outside_untouched(&sb, &before, &out);
        }
    }
    let out = run_with(&sb, "cat(name)", "proc", &paths[0]);
    assert_denied(&out, "open", &format!("{}/outside", sb.root));
    // A symlink inside the allowed tree pointing into /proc, followed through a handle.
    sb.symlink(&paths[0], "allowed/proc-link");
    let src = format!(
        "{DIR} d.open_file(\"proc-link\", OpenFileOptions().read(true).follow_symlinks(true).build()).read()"
    );
    let out = sb.run_source(&src, "proc");
    assert_denied(&out, "open", &format!("{}/outside", sb.root));
}

#[test]
fn hostile_names_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    // A non-UTF-8 name inside the allowed tree: listed (lossily), never a way to other files.
    let raw = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(sb.path("allowed").join(raw), "odd").unwrap();
    let before = tree(&sb);
    let long = "ab/".repeat(1400);
    let cases = [
        ("cat(root + \"/allowed/a\\x00b\")".to_string(), "NUL"),
        (
            "grep(\"x\", root + \"/allowed/a\\nb\")".to_string(),
            "control character",
        ),
        (
            format!("wc(root + \"/allowed/{long}x\")"),
            "longer than 4096",
        ),
        (
            format!("tail(root + \"/allowed/{}\")", "y".repeat(300)),
            "longer than 255",
        ),
        (
            format!("{DIR} d.open_file(\"a\\nb\", OpenFileOptions().read(true).build())"),
            "control character",
        ),
        (
            format!("{DIR} d.create_symlink(\"t\", \"a\\x00b\", CreateSymlinkOptions().build())"),
            "NUL",
        ),
        (
            format!("{DIR} d.create_symlink(\"a\\x00b\", \"l\", CreateSymlinkOptions().build())"),
            "invalid symlink target",
        ),
        (
            "cat(root + \"/allowed/bad-\u{fffd}-name\")".to_string(),
            "No such file or directory",
        ),
    ];
    for (src, needle) in &cases {
        let out = sb.run_source(src, "rw");
        assert!(!out.is_success(), "`{src}` succeeded");
        assert!(message(&out).contains(needle), "`{src}`: {}", message(&out));
        assert_outside_untouched(&sb, &before, &out);
    }
    let out = sb.run_source("ls(root + \"/allowed\").keys()", "rw");
    assert_success(&out);
    assert!(out.output.contains("bad-\u{fffd}-name"), "{}", out.output);
}

#[test]
fn moves_and_copies_out_of_the_policy_are_denied() {
    let sb = Sandbox::new();
    let before = tree(&sb);
    // `move` with the destination context: allowed into <root>/allowed, denied into sub/.
    let out = sb.run_source(
        "mv(root + \"/allowed/a.txt\", root + \"/allowed/a2.txt\")",
        "move_within",
    );
    assert_success(&out);
    let out = sb.run_source(
        "mv(root + \"/allowed/a2.txt\", root + \"/allowed/sub/a3.txt\")",
        "move_within",
    );
    assert_denied(&out, "move", &format!("{}/allowed/a2.txt", sb.root));
    assert!(sb.exists("allowed/a2.txt") && !sb.exists("allowed/sub/a3.txt"));
    for src in [
        "cp(root + \"/allowed/sub/b.txt\", root + \"/outside/b.txt\")",
        "mv(root + \"/allowed/sub/b.txt\", root + \"/outside/b.txt\")",
        "mv(root + \"/allowed/sub\", root + \"/outside/sub\")",
        "cp(root + \"/outside/secret.txt\", root + \"/allowed/stolen.txt\")",
    ] {
        let out = sb.run_source(src, "rw");
        assert!(!out.is_success(), "`{src}` succeeded");
        assert!(!sb.exists("allowed/stolen.txt"));
        assert_outside_untouched(&sb, &before, &out);
    }
}

fn extract(sb: &Sandbox, archive: &[u8], name: &str) -> wrex::RunOutcome {
    sb.write_bytes(&format!("allowed/{name}"), archive);
    run_with(sb, &script("extract"), "rw", name)
}

#[test]
fn extract_archive_extracts_tar_and_tar_gz() {
    let entries = [
        Tar::Dir("docs/"),
        Tar::File("docs/readme.txt", b"read me\n"),
        Tar::File("top.txt", b"top\n"),
        Tar::Symlink("docs/link", "readme.txt"),
        Tar::File("deep/er/file.txt", b"deep\n"),
    ];
    for (name, bytes) in [("a.tar", tar(&entries)), ("a.tar.gz", gzip(&tar(&entries)))] {
        let sb = Sandbox::new();
        let out = extract(&sb, &bytes, name);
        assert_success(&out);
        assert_eq!(
            sb.read("allowed/out/docs/readme.txt").as_deref(),
            Some("read me\n")
        );
        assert_eq!(
            sb.read("allowed/out/deep/er/file.txt").as_deref(),
            Some("deep\n")
        );
        assert!(
            !sb.exists("allowed/out/docs/link"),
            "a symlink was extracted"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(sb.path("allowed/out/top.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640, "preserve_permissions");
    }
}

#[test]
fn extract_archive_refuses_tar_slip_and_extracts_nothing() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            tar(&[
                Tar::File("ok.txt", b"ok"),
                Tar::File("../../outside/evil.txt", b"x"),
            ]),
            "`..`",
        ),
        (
            tar(&[
                Tar::File("ok.txt", b"ok"),
                Tar::File("/tmp/wrex-evil.txt", b"x"),
            ]),
            "absolute",
        ),
        (
            gzip(&tar(&[
                Tar::File("ok.txt", b"ok"),
                Tar::File("a/../../../outside/x", b"x"),
            ])),
            "`..`",
        ),
        (
            b"not a tar archive at all, just text that is long enough to fill a block".repeat(10),
            "not a valid tar archive",
        ),
    ];
    for (bytes, needle) in cases {
        let sb = Sandbox::new();
        let before = tree(&sb);
        let out = extract(&sb, &bytes, "evil.tar");
        assert!(!out.is_success(), "extraction succeeded");
        assert!(
            message(&out).contains(needle),
            "expected `{needle}`: {}",
            message(&out)
        );
        assert!(
            !sb.exists("allowed/out/ok.txt"),
            "an entry was extracted: {}",
            message(&out)
        );
        assert!(!std::path::Path::new("/tmp/wrex-evil.txt").exists());
        assert_outside_untouched(&sb, &before, &out);
    }
}

#[test]
fn extract_archive_entries_are_each_authorized() {
    // Write access to <root>/allowed only: an archive into a denied destination creates nothing.
    let sb = Sandbox::new();
    sb.write_bytes("allowed/a.tar", &tar(&[Tar::File("x.txt", b"x")]));
    let src = "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
               let f = d.open_file(\"a.tar\", OpenFileOptions().read(true).build());\n\
               f.extract_archive(d, ExtractArchiveOptions().build()); cat(root + \"/allowed/x.txt\")";
    let out = sb.run_source(src, "rw");
    assert_success(&out);
    assert_eq!(out.output, "x");
    // Read-only: the entry is denied, skipped with a warning (as Rex), and nothing is left.
    std::fs::remove_file(sb.path("allowed/x.txt")).unwrap();
    let src = src.replace("cat(root + \"/allowed/x.txt\")", "\"done\"");
    let out = sb.run_source(&src, "ro");
    assert_success(&out);
    assert!(!sb.exists("allowed/x.txt"));
    let logs = out
        .logs
        .iter()
        .flatten()
        .map(|l| l.attributes.message.as_str());
    assert!(
        logs.clone()
            .any(|m| m.contains("skipped `x.txt`") && m.contains("PermissionDenied")),
        "{:?}",
        logs.collect::<Vec<_>>()
    );
}

#[test]
fn gzip_helpers() {
    let sb = Sandbox::new();
    sb.write("allowed/log.txt", "line1\nline2 ERROR x\nline3\n");
    let out = sb.run("gzip", "rw");
    assert_success(&out);
    assert_eq!(
        out.output,
        concat!(
            r#"#{"exists": true, "last": ["line3"], "lines": ["line1", "line2 ERROR x", "line3"], "#,
            r#""missing": false, "ratio_positive": true, "search": [1, 3], "#,
            r#""search_ci": ["line2 ERROR x"], "uncompressed": 26}"#
        )
    );
    let out = sb.run_source(
        "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
         d.open_file(\"log.txt\", OpenFileOptions().read(true).build()).gzip_info()",
        "rw",
    );
    assert!(
        message(&out).contains("cannot decode the gzip data"),
        "{}",
        message(&out)
    );
}

/// Symlinks and hard links in an archive are never created (as Rex skips them), however they
/// point: whatever comes after them lands inside the destination as plain files and
/// directories.
#[test]
fn extract_archive_never_creates_links() {
    let cases = [
        vec![
            Tar::Symlink("link", "../../outside"),
            Tar::File("link/evil.txt", b"x"),
        ],
        vec![
            Tar::Symlink("link", "/etc"),
            Tar::File("link/evil.txt", b"x"),
        ],
        vec![
            Tar::File("ok.txt", b"ok"),
            Tar::Symlink("sub/b", ".."),
            Tar::Symlink("leak", "sub/b/../../secret"),
        ],
        vec![Tar::Symlink("a", "b"), Tar::Symlink("b", "a")],
        vec![
            Tar::File("ok.txt", b"ok"),
            Tar::HardLink("hl", "/etc/passwd"),
        ],
    ];
    for entries in cases {
        let sb = Sandbox::new();
        let before = tree(&sb);
        let out = extract(&sb, &tar(&entries), "links.tar");
        assert_success(&out);
        for name in ["link", "sub/b", "leak", "a", "b", "hl"] {
            let path = sb.path(&format!("allowed/out/{name}"));
            assert!(
                std::fs::symlink_metadata(&path).map_or(true, |m| !m.file_type().is_symlink()),
                "{name} is a symlink"
            );
            assert!(
                !sb.exists(&format!("allowed/out/{name}")) || path.is_dir(),
                "{name}"
            );
        }
        if sb.exists("allowed/out/link") {
            assert_eq!(sb.read("allowed/out/link/evil.txt").as_deref(), Some("x"));
        }
        assert_outside_untouched(&sb, &before, &out);
    }
}
