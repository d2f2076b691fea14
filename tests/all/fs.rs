//! The file-system SDK through the real guest: Rex's commands (`cat`, `ls`, `write`, `touch`,
//! `mkdir`, `rm`) and the core handle API, each allowed and denied, with the file system
//! checked afterwards (a denied operation has no effect), and bad paths refused before any
//! decision.

use wrex::{Job, ScriptArgs};

use crate::util::{
    Sandbox, assert_denied, assert_script_error, assert_success, message, runtime, script,
};

#[test]
fn cat_reads_an_allowed_file() {
    let sb = Sandbox::new();
    let out = sb.run("cat_allowed", "ro");
    assert_success(&out);
    assert_eq!(out.output, "hello\n");
}

#[test]
fn cat_outside_the_policy_is_denied_on_the_parent_dir() {
    let sb = Sandbox::new();
    let (out, decisions) = sb.run_recorded(&script("cat_outside"), "ro");
    assert_denied(
        &out,
        "open",
        &format!("file_system::Dir::{}/outside", sb.root),
    );
    assert!(
        message(&out)
            .starts_with("IoErrorKind: PermissionDenied: Permission denied: tester unauthorized")
    );
    assert!(
        message(&out).ends_with("(line 1, position 1)"),
        "{}",
        message(&out)
    );
    // The only decision made is the denial: nothing was opened.
    assert_eq!(decisions.len(), 1, "{decisions:#?}");
    assert!(!decisions[0].allowed);
    assert!(
        out.alarms
            .iter()
            .any(|a| a.alarm_type == "RexRunnerPrivilegeEscalation")
    );
}

#[test]
fn cat_with_open_but_no_read_is_denied_on_read() {
    let sb = Sandbox::new();
    let out = sb.run("cat_allowed", "open_only");
    assert_denied(
        &out,
        "read",
        &format!("file_system::File::{}/allowed/a.txt", sb.root),
    );
}

#[test]
fn empty_policy_denies_everything() {
    let sb = Sandbox::new();
    let out = sb.run("cat_allowed", "none");
    assert_denied(&out, "open", "file_system::Dir::");
}

#[test]
fn cat_number_numbers_lines() {
    let sb = Sandbox::new();
    let out = sb.run("cat_number", "ro");
    assert_success(&out);
    assert_eq!(out.output, "     1\tb");
}

#[test]
fn denial_is_catchable_and_shaped_as_rex() {
    let sb = Sandbox::new();
    let out = sb.run("catch_denial", "ro");
    assert_success(&out);
    let parts: Vec<&str> = out.output.splitn(4, '|').collect();
    assert_eq!(parts[..3], ["IoErrorKind", "PermissionDenied", "true"]);
    assert!(
        parts[3].contains("file_system::Action::\"open\""),
        "{}",
        parts[3]
    );
}

#[test]
fn write_replaces_then_appends() {
    let sb = Sandbox::new();
    let out = sb.run("write_replace_append", "rw");
    assert_success(&out);
    assert_eq!(out.output, "one\ntwo\nthree\n");
    assert_eq!(sb.read("allowed/log.txt").unwrap(), "one\ntwo\nthree\n");
}

#[test]
fn write_denied_creates_nothing() {
    let sb = Sandbox::new();
    let out = sb.run("write_new", "ro");
    assert_denied(
        &out,
        "create",
        &format!("file_system::File::{}/allowed/new.txt", sb.root),
    );
    assert!(!sb.exists("allowed/new.txt"));
}

#[test]
fn append_needs_only_write_and_never_loses_content() {
    // Rex rewrites the whole file on append and loses it when `read` is denied (see
    // docs/rex-compat.md); wrex appends in place.
    let sb = Sandbox::new();
    let policy = "permit (principal, action in [file_system::Action::\"open\", file_system::Action::\"create\", file_system::Action::\"write\"], resource in file_system::Dir::\"{{root}}/allowed\");";
    std::fs::write(sb.path("wo.cedar"), policy.replace("{{root}}", &sb.root)).unwrap();
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let job = Job::new(
        script("append_existing"),
        wrex::Policy::from_file(sb.path("wo.cedar")).unwrap(),
    )
    .args(args);
    let out = runtime().run(job);
    assert_success(&out);
    assert_eq!(sb.read("allowed/a.txt").unwrap(), "hello\nmore\n");
}

#[test]
fn touch_creates_and_denied_touch_does_not() {
    let sb = Sandbox::new();
    assert_success(&sb.run("touch", "rw"));
    assert_eq!(sb.read("allowed/t.txt").unwrap(), "");
    let sb = Sandbox::new();
    let out = sb.run("touch", "ro");
    assert_denied(&out, "create", "/allowed/t.txt");
    assert!(!sb.exists("allowed/t.txt"));
}

#[test]
fn mkdir_and_mkdir_parents() {
    let sb = Sandbox::new();
    assert_success(&sb.run("mkdir", "rw"));
    assert!(sb.path("allowed/d").is_dir());
    assert!(sb.path("allowed/x/y/z").is_dir());
    let sb = Sandbox::new();
    let out = sb.run("mkdir", "ro");
    assert_denied(
        &out,
        "create",
        &format!("file_system::Dir::{}/allowed/d", sb.root),
    );
    assert!(!sb.exists("allowed/d"));
    let out = sb.run("mkdir_exists", "rw");
    assert_script_error(&out, "exists");
}

#[test]
fn rm_removes_files_and_trees() {
    let sb = Sandbox::new();
    assert_success(&sb.run("rm", "rw"));
    assert!(!sb.exists("allowed/a.txt"));
    assert!(!sb.exists("allowed/sub"));
}

#[test]
fn rm_denied_removes_nothing() {
    let sb = Sandbox::new();
    let out = sb.run("rm", "ro");
    assert_denied(
        &out,
        "delete",
        &format!("file_system::File::{}/allowed/a.txt", sb.root),
    );
    assert!(sb.exists("allowed/a.txt"));
    let out = sb.run("rm_outside", "rw");
    assert_denied(
        &out,
        "open",
        &format!("file_system::Dir::{}/outside", sb.root),
    );
    assert_eq!(sb.read("outside/secret.txt").unwrap(), crate::util::SECRET);
}

#[test]
fn recursive_rm_is_all_or_nothing_under_a_forbid() {
    let sb = Sandbox::new();
    sb.write("allowed/sub/deep/keep.txt", "keep\n");
    let out = sb.run_source("rm([rm::r], root + \"/allowed/sub\")", "forbid_keep");
    assert_denied(&out, "delete", "/allowed/sub/deep/keep.txt");
    // Nothing was deleted, not even the entries authorized before the forbidden one.
    assert_eq!(sb.read("allowed/sub/b.txt").unwrap(), "b\n");
    assert_eq!(sb.read("allowed/sub/deep/keep.txt").unwrap(), "keep\n");
}

#[test]
fn rm_of_a_directory_needs_recursive_when_not_empty() {
    let sb = Sandbox::new();
    let out = sb.run("rm_dir_without_r", "rw");
    assert_script_error(&out, "DirectoryNotEmpty");
    assert!(sb.exists("allowed/sub/b.txt"));
}

#[test]
fn rm_force_ignores_missing_files() {
    let sb = Sandbox::new();
    let out = sb.run("rm_force_missing", "rw");
    assert_success(&out);
    assert_script_error(&sb.run("rm_missing", "rw"), "No such file or directory");
}

#[test]
fn ls_lists_entries() {
    let sb = Sandbox::new();
    let out = sb.run("ls", "ro");
    assert_success(&out);
    assert_eq!(out.output, r#"["a.txt", "sub"]|["File", "Dir"]|a.txt|true"#);
    assert_denied(&sb.run("ls", "open_only"), "read", "/allowed");
}

#[test]
fn ls_flags_show_hidden_and_recurse() {
    let sb = Sandbox::new();
    sb.write("allowed/.hidden", "h");
    let out = sb.run("ls_flags", "ro");
    assert_success(&out);
    assert_eq!(
        out.output,
        r#"["a.txt", "sub"]|[".hidden", "a.txt", "sub"]|[".hidden", "a.txt", "sub", "sub/b.txt"]"#
    );
}

/// As Rex (`test_ls_on_regular_file_returns_error`): `ls` of a regular file is an error.
#[test]
fn ls_of_a_file_is_an_error_as_in_rex() {
    let sb = Sandbox::new();
    let out = sb.run("ls_file", "ro");
    assert_script_error(&out, "Not a directory or symlink");
}

#[test]
fn a_flag_of_another_command_is_refused() {
    let sb = Sandbox::new();
    assert_script_error(
        &sb.run("bad_flag", "ro"),
        "`ls::all` is not a flag of `cat`",
    );
}

#[test]
fn handle_api_reads_writes_lists_and_deletes() {
    let sb = Sandbox::new();
    let out = sb.run("handle_read", "ro");
    assert_success(&out);
    assert_eq!(out.output, "hello\n");

    let out = sb.run("handle_write", "rw");
    assert_success(&out);
    assert_eq!(out.output, "written\n");
    assert_eq!(sb.read("allowed/w.txt").unwrap(), "written\n");

    let out = sb.run("handle_list", "ro");
    assert_success(&out);
    assert_eq!(out.output, r#"["a.txt", "sub", "w.txt"]|true|File"#);

    let out = sb.run("handle_delete", "rw");
    assert_success(&out);
    assert_eq!(out.output, r#"["w.txt"]"#);
    assert!(!sb.exists("allowed/a.txt") && !sb.exists("allowed/sub"));
}

#[test]
fn handle_api_denials_have_no_effect() {
    let sb = Sandbox::new();
    assert_denied(&sb.run("handle_write", "ro"), "create", "/allowed/w.txt");
    assert!(!sb.exists("allowed/w.txt"));
    assert_denied(&sb.run("handle_delete", "ro"), "delete", "/allowed/a.txt");
    assert!(sb.exists("allowed/a.txt"));
    assert_denied(
        &sb.run("handle_metadata", "open_only"),
        "stat",
        "/allowed/a.txt",
    );
    assert_denied(&sb.run("handle_list", "open_only"), "read", "/allowed");
    assert_denied(
        &sb.run("handle_create_dir", "ro"),
        "create",
        "/allowed/made/deeper",
    );
    assert!(!sb.exists("allowed/made"));
}

#[test]
fn write_on_a_read_only_handle_is_refused() {
    let sb = Sandbox::new();
    let src = "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
               d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).write(\"x\")";
    assert_script_error(&sb.run_source(src, "rw"), "InvalidFileMode");
    assert_eq!(sb.read("allowed/a.txt").unwrap(), "hello\n");
}

#[test]
fn handle_metadata_and_recursive_create() {
    let sb = Sandbox::new();
    let out = sb.run("handle_metadata", "ro");
    assert_success(&out);
    assert_eq!(out.output, "6|true|Dir|true|1|true|6");
    let out = sb.run("handle_create_dir", "rw");
    assert_success(&out);
    assert_eq!(out.output, "0");
    assert!(sb.path("allowed/made/deeper").is_dir());
}

#[test]
fn open_file_options_need_read_or_write() {
    let sb = Sandbox::new();
    assert_script_error(
        &sb.run("open_options_invalid", "ro"),
        "at least one of read, write or create flags must be true",
    );
}

#[test]
fn bad_paths_are_refused_before_any_decision() {
    let sb = Sandbox::new();
    for (name, needle) in [
        ("relative_path", "is not absolute"),
        ("dotdot", "path traversal"),
        ("nul_in_path", "NUL"),
    ] {
        let (out, decisions) = sb.run_recorded(&script(name), "rw");
        assert_script_error(&out, needle);
        assert!(
            message(&out).contains("InvalidPath"),
            "{name}: {}",
            message(&out)
        );
        // No decision is ever made about the malformed path itself (for the NUL case, the
        // well-formed parent directory was opened first).
        let parent = format!("file_system::Dir::{:?}", format!("{}/allowed", sb.root));
        assert!(
            decisions.iter().all(|d| d.resource == parent),
            "{name}: {decisions:#?}"
        );
    }
}
