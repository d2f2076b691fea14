//! Rex's own file-system tests of the handle API (`rhai-sdk/rhai-safe-io/tests/{safe_io,
//! dir_entry}.rs` in the Rex repository), in wrex's words: the same script behaviour and the
//! same expected result, run through the real guest. Each test names the Rex test it carries
//! over; `docs/rex-compat.md` keeps the table of Rex test areas, what passes, and what differs
//! on purpose. The shell-style commands' tests are in `rex_commands.rs`.

use std::os::unix::fs::PermissionsExt;

use wrex::{Job, Policy, RunOutcome, ScriptArgs};

use crate::util::{Sandbox, Tar, assert_success, gzip, runtime, script, tar};

/// `test_safe_delete_symlink_deletes_symlink_not_target`: a handle opened through a symlink
/// with `follow_symlinks(true)`, then deleted, deletes the link and keeps its target (the
/// policy allows deleting the link and forbids deleting the target).
#[test]
fn delete_through_a_followed_symlink_deletes_the_link_not_the_target() {
    let sb = Sandbox::new();
    sb.write("allowed/preserve_target.txt", "target to preserve");
    sb.symlink("preserve_target.txt", "allowed/delete_link");
    let out = sb.run("delete_followed_link", "delete_link_only");
    assert_success(&out);
    assert!(!sb.exists("allowed/delete_link"), "the link is still there");
    assert_eq!(
        sb.read("allowed/preserve_target.txt").as_deref(),
        Some("target to preserve")
    );
}

/// `test_write_file` (the create-only form): `OpenFileOptions().create(true)` alone opens
/// for writing, as Rex's builder sets `write` with `create`.
#[test]
fn a_create_only_handle_creates_and_writes() {
    let sb = Sandbox::new();
    let out = sb.run("create_only_write", "rw");
    assert_success(&out);
    assert_eq!(
        sb.read("allowed/created.txt").as_deref(),
        Some("made by a create-only handle")
    );
}

/// `test_rhai_read_gzip_lines`: the destination handle of `compress_gzip` reads what was
/// compressed into it.
#[test]
fn compress_gzip_destination_handle_reads_the_new_file() {
    let sb = Sandbox::new();
    sb.write("allowed/lines.txt", "one\ntwo\nthree\n");
    let out = sb.run("gzip_then_read_dest", "rw");
    assert_success(&out);
    assert_eq!(out.output, "2");
}

/// `test_metadata_to_map` and `Metadata.permissions()`: the map has exactly Rex's keys, and
/// permissions carry the file-type bits (`0o100644`).
#[test]
fn metadata_to_map_and_permissions_are_rexs() {
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.path("allowed/a.txt"), PermissionsExt::from_mode(0o644)).unwrap();
    let out = sb.run("metadata_to_map", "rw");
    assert_success(&out);
    assert_eq!(out.output, format!("true|{}|File", 0o100644));
}

/// `test_rhai_dir_entry_type_to_string`, `…_equals`, `…_not_equals`,
/// `test_rhai_dir_entry_dir_entry_type_{file,dir,unknown}`: constants are `EntryType::FILE`
/// and so on, printed as Rex prints them.
#[test]
fn entry_types_print_as_rex() {
    let sb = Sandbox::new();
    let out = sb.run("entry_types", "rw");
    assert_success(&out);
    assert_eq!(
        out.output,
        r#"["File", "Dir", "Symlink", "Unknown", "Fifo", "Socket", "CharDevice", "BlockDevice", "File", "Dir", "true", "true"]"#
    );
}

/// Runs `extract_into_out` on `archive` (written to `allowed/test.tar.gz`) under `policy`.
fn extract(sb: &Sandbox, entries: &[Tar<'_>], policy: &str, preserve: bool) -> RunOutcome {
    sb.write_bytes("allowed/test.tar.gz", &gzip(&tar(entries)));
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    args.insert("archive", "test.tar.gz").unwrap();
    args.insert("preserve", preserve).unwrap();
    let job = Job::new(script("extract_into_out"), Policy::parse(policy).unwrap()).args(args);
    runtime().run(job)
}

fn all_but_one(sb: &Sandbox, action: &str, resource: &str) -> String {
    sb.policy_text("all_but_one")
        .replace("{{action}}", action)
        .replace("{{resource}}", resource)
}

/// `test_extract_archive_unauthorized_file_operations`: a denied `create` or `write` skips
/// the file and leaves nothing behind; a denied `chmod` or `chown` keeps it, content and all.
#[test]
fn extraction_skips_a_denied_file_and_leaves_nothing() {
    for (action, kept) in [
        ("create", false),
        ("write", false),
        ("chmod", true),
        ("chown", true),
    ] {
        let sb = Sandbox::new();
        let file = format!("file_system::File::\"{}/allowed/out/file1.txt\"", sb.root);
        let policy = all_but_one(&sb, action, &file);
        let out = extract(&sb, &[Tar::File("file1.txt", b"content")], &policy, kept);
        assert_success(&out);
        if kept {
            assert_eq!(
                sb.read("allowed/out/file1.txt").as_deref(),
                Some("content"),
                "{action}"
            );
        } else {
            assert!(
                !sb.exists("allowed/out/file1.txt"),
                "{action}: a file was left behind"
            );
        }
    }
}

/// `test_extract_archive_unauthorized_directory_operations`: a denied `create` on a directory
/// skips it and everything in it; a denied `chmod` or `chown` keeps it.
#[test]
fn extraction_skips_a_denied_directory_and_its_contents() {
    for (action, kept) in [("create", false), ("chmod", true), ("chown", true)] {
        let sb = Sandbox::new();
        let dir = format!(
            "file_system::Dir::\"{}/allowed/out/test_directory\"",
            sb.root
        );
        let policy = all_but_one(&sb, action, &dir);
        let entries = [
            Tar::Dir("test_directory/"),
            Tar::File("test_directory/file.txt", b"content"),
        ];
        let out = extract(&sb, &entries, &policy, kept);
        assert_success(&out);
        assert_eq!(sb.exists("allowed/out/test_directory"), kept, "{action}");
        assert_eq!(
            sb.exists("allowed/out/test_directory/file.txt"),
            kept,
            "{action}"
        );
    }
}

/// `test_extract_archive_nested_directory_creation_failure`: `create` denied on
/// `parent/child` leaves not even `parent` behind.
#[test]
fn extraction_of_a_denied_nested_directory_creates_none_of_it() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("allowed/out")).unwrap();
    let policy = sb.policy_text("nested_create_denied");
    let out = extract(&sb, &[Tar::Dir("parent/child/grandchild/")], &policy, false);
    assert_success(&out);
    assert!(
        !sb.exists("allowed/out/parent"),
        "a directory was left behind"
    );
}

/// `FindOptions` validation, as Rex's builder: one of `name`, `iname`, `regex`; `negate_name`
/// only with a name pattern. And `metadata(entry)` called as a function, as Rex registers it.
#[test]
fn find_options_and_entry_metadata_as_rex() {
    let sb = Sandbox::new();
    for source in [
        "FindOptions().name(\"*.txt\").regex(\"x\").build()",
        "FindOptions().name(\"*.txt\").iname(\"*.TXT\").build()",
        "FindOptions().negate_name(true).regex(\"x\").build()",
    ] {
        let out = sb.run_source(source, "rw");
        assert!(!out.is_success(), "{source}: {out:#?}");
    }
    let out = sb.run_source(
        "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
         let e = d.list_entries()[\"a.txt\"];\n\
         metadata(e).file_size()",
        "rw",
    );
    assert_success(&out);
    assert_eq!(out.output, "6");
}

/// Runs `source` with `f` a handle on `allowed/test.txt` (holding `content`), opened with
/// `options` (an `OpenFileOptions()` chain), under the `rw` policy.
fn on_handle(content: &str, options: &str, source: &str) -> RunOutcome {
    let sb = Sandbox::new();
    sb.write("allowed/test.txt", content);
    sb.run_source(
        &format!(
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build());\n\
             let f = d.open_file(\"test.txt\", {options}.build());\n{source}"
        ),
        "rw",
    )
}

/// `safe_io.rs`: `test_rhai_read_lines_{count,last_lines,start}_success`,
/// `test_rhai_read_lines_negative_start_line`, `test_rhai_read_lines_no_read_permission`,
/// `test_rhai_read_page_success`, `test_rhai_read_page_no_read_permission`.
#[test]
fn read_lines_and_pages_as_rex() {
    let fifteen = (1..=15)
        .map(|i| format!("Line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let read = "OpenFileOptions().read(true)";
    for (source, expected) in [
        (
            "let l = f.read_lines(ReadLinesOptions().count(10).build()); [l.len(), l[0], l[9]]",
            r#"[10, "Line 1", "Line 10"]"#,
        ),
        (
            "f.read_lines(ReadLinesOptions().count(-2).build())",
            r#"["Line 14", "Line 15"]"#,
        ),
        (
            "let l = f.read_lines(ReadLinesOptions().start(5).build()); [l.len(), l[0], l[10]]",
            r#"[11, "Line 5", "Line 15"]"#,
        ),
    ] {
        let out = on_handle(&fifteen, read, source);
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(
        !on_handle(
            "Line 1\nLine 2\nLine 3",
            read,
            "f.read_lines(ReadLinesOptions().start(-1).build())"
        )
        .is_success()
    );
    let twelve = (1..=12)
        .map(|i| format!("Line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let paged = "let lines = []; loop { let page = f.read_page(ReadPageOptions().num_lines(5).build()); \
                 if page.len() == 0 { break; } lines += page; } lines.len()";
    let out = on_handle(&twelve, read, paged);
    assert_success(&out);
    assert_eq!(out.output, "12");
    for source in [
        "f.read_lines(ReadLinesOptions().count(5).build())",
        "f.read_page(ReadPageOptions().num_lines(5).build())",
    ] {
        let out = on_handle(
            "Line 1\nLine 2\nLine 3",
            "OpenFileOptions().write(true)",
            source,
        );
        assert!(
            crate::util::message(&out)
                .contains("Attempted to read a file without opening it with the read option"),
            "{source}: {out:#?}"
        );
    }
}

/// `safe_io.rs`: `test_search_array_len`, `test_search_basic_success`,
/// `test_search_invalid_regex_pattern`, `test_counts_success`, `test_counts_no_read_permission`,
/// `test_extract_strings_success`, `test_extract_strings_no_read_permission`.
#[test]
fn search_counts_and_strings_as_rex() {
    let read = "OpenFileOptions().read(true)";
    let postgres = "# PostgreSQL Configuration\nlisten_addresses = '*'\nssl = on\nport = 5432\n\
                    ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nmax_connections = 100\n\
                    ssl_ciphers = 'HIGH:MEDIUM'";
    let binary = "Hello\x01World\x02This\x03is\x04a\x05test\x06with\x07printable\x10and\x11unprintable\x08chars";
    let counted = "line one\n line two \nline three\nline four";
    let cases = [
        ("ssl = on\nport = 5432\nssl_cert = test\nmax_connections = 100", r#"f.search("ssl").len()"#, "2".to_string()),
        (
            postgres,
            r#"f.search("ssl").map(|m| `${m.line_number}:${m.line_content}`)"#,
            r#"["3:ssl = on", "5:ssl_cert_file = 'server.crt'", "6:ssl_key_file = 'server.key'", "8:ssl_ciphers = 'HIGH:MEDIUM'"]"#.to_string(),
        ),
        (counted, "let c = f.counts(); [c.line_count, c.word_count, c.byte_count]", format!("[3, 8, {}]", counted.len())),
        (
            binary,
            "f.extract_strings()",
            r#"["Hello", "World", "This", "test", "with", "printable", "unprintable", "chars"]"#.to_string(),
        ),
    ];
    for (content, source, expected) in cases {
        let out = on_handle(content, read, source);
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(!on_handle("ssl = on", read, r#"f.search("[invalid")"#).is_success());
    for source in ["f.counts()", "f.extract_strings()"] {
        let out = on_handle("test content", "OpenFileOptions().write(true)", source);
        assert!(
            crate::util::message(&out)
                .contains("Attempted to read a file without opening it with the read option"),
            "{source}: {out:#?}"
        );
    }
}
