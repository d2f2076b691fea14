//! Every file and directory helper of REX-COMPAT §3.1–3.3 beyond the first slice: allowed
//! (outputs compared with what Rex documents), denied (with no side effect), and bad input.

use crate::util::{Sandbox, assert_denied, assert_success, message};

const LOG: &str = "line1\nline2 ERROR x\nline3\n";

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.write("allowed/log.txt", LOG);
    sb
}

#[test]
fn text_helpers_give_rex_outputs() {
    let sb = sandbox();
    let out = sb.run("text_helpers", "rw");
    assert_success(&out);
    // REX-COMPAT §6.3 #19, plus every flag. `tail::n(2)` gives the *last* two lines (Rex
    // gives the first two; see README "Differences from Rex").
    let expected = concat!(
        r#"#{"awk_count_unique": #{"lin": 3}, "awk_field": ["ERROR"], "#,
        r#""awk_filter": ["line2 ERROR x"], "awk_filter_field": ["line2 ERROR x"], "#,
        r#""awk_filter_range": ["line2 ERROR x", "line3"], "awk_split": ["a", "b", "", "c"], "#,
        r#""cat_n": "     1\tline1\n     2\tline2 ERROR x\n     3\tline3", "#,
        r#""grep_c": ["3"], "grep_iv": ["line1", "line3"], "grep_m": ["line1"], "#,
        r#""grep_n": ["2:line2 ERROR x"], "replace_all": "a-b-", "replace_first": "a-bX", "#,
        r#""replace_re": "a#b#", "sed": "LINE1\nline2 ERROR x\nline3\n", "#,
        r#""sed_g": "LINE1\nLINE2 ERROR x\nLINE3\n", "sed_re": "L1\nL2 ERROR x\nL3\n", "#,
        r#""seq": [1, 3, 5, 7, 9], "seq_down": [9, 6, 3], "#,
        r#""tail": ["line1", "line2 ERROR x", "line3"], "tail_from": ["line2 ERROR x", "line3"], "#,
        r#""tail_n": ["line2 ERROR x", "line3"], "tail_range": ["line2 ERROR x"], "#,
        r#""wc": #{"bytes": 26, "lines": 3, "words": 5}, "wc_l": #{"lines": 3}}"#,
    );
    assert_eq!(out.output, expected);
    // `sed` without `in_place` does not write.
    assert_eq!(sb.read("allowed/log.txt").as_deref(), Some(LOG));
}

#[test]
fn awk_sum_skips_non_numeric_fields() {
    let sb = sandbox();
    sb.write("allowed/numbers.txt", "a,1\nb,2.5\nc,x\n");
    let out = sb.run("numbers", "rw");
    assert_success(&out);
    assert_eq!(out.output, "3.5");
}

#[test]
fn sed_in_place_rewrites_the_file() {
    let sb = sandbox();
    let src = r#"sed([sed::in_place, sed::all], "line", "LINE", root + "/allowed/log.txt")"#;
    assert_success(&sb.run_source(src, "rw"));
    assert_eq!(
        sb.read("allowed/log.txt").as_deref(),
        Some("LINE1\nLINE2 ERROR x\nLINE3\n")
    );
}

#[test]
fn handle_text_methods() {
    let sb = sandbox();
    let out = sb.run("handle_text", "ro");
    assert_success(&out);
    let expected = concat!(
        r#"#{"all": ["line1", "line2 ERROR x", "line3"], "#,
        r#""counts": #{"byte_count": 26, "line_count": 3, "word_count": 5}, "#,
        r#""from2": ["line2 ERROR x"], "last": ["line2 ERROR x", "line3"], "#,
        r#""page1": ["line1", "line2 ERROR x"], "page2": ["line3"], "page3": [], "#,
        r#""search": ["2=line2 ERROR x", "3=line3"], "#,
        r#""strings": ["line1", "line2 ERROR x", "line3"]}"#,
    );
    assert_eq!(out.output, expected);
}

#[test]
fn handle_metadata_and_in_place_changes() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox();
    let out = sb.run("handle_meta", "rw");
    assert_success(&out);
    for part in [
        r#""mode": 384"#,
        r#""after_in_place": "rewritten in place\n""#,
        r#""after_truncate": "rewritten""#,
        r#""size_after_fallocate": 2048"#,
        r#""du": 2048"#,
        r#""dir_mode": 488"#,
        r#""mtime_ns": true"#,
        r#""owner_is_text": true"#,
        r#""symlink_target""#,
    ] {
        assert!(
            out.output.contains(part),
            "{part} missing from {}",
            out.output
        );
    }
    let mode = std::fs::metadata(sb.path("allowed"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
}

#[test]
fn handle_tree_symlinks_find_usage_copy_move() {
    let sb = sandbox();
    let out = sb.run("handle_tree", "rw");
    assert_success(&out);
    for part in [
        r#""target": "a.txt""#,
        r#""link_type": "SYMLINK""#,
        r#""link_target": "a.txt""#,
        r#""forced": "sub/b.txt""#,
        r#""find_txt": ["a.txt", "log.txt", "b.txt"]"#,
        r#""find_shallow": ["link", "sub"]"#,
        r#""largest": "DIR""#,
        r#""copied": "hello\n""#,
        r#""moved": "hello\n""#,
        r#""entry_meta": 6"#,
        r#""entry_open": "hello\n""#,
        r#""entry_dir": ["b.txt", "moved.txt"]"#,
    ] {
        assert!(
            out.output.contains(part),
            "{part} missing from {}",
            out.output
        );
    }
    assert!(!sb.exists("allowed/copy.txt"));
    assert_eq!(sb.read("allowed/sub/moved.txt").as_deref(), Some("hello\n"));
}

#[test]
fn cp_mv_and_du_commands() {
    let sb = sandbox();
    let src = r#"
        cp(root + "/allowed/a.txt", root + "/allowed/c.txt");
        let refused = "";
        try { cp(root + "/allowed/log.txt", root + "/allowed/c.txt"); }
        catch (e) { refused = e.kind.to_string() + ": " + e.message; }
        cp([cp::force], root + "/allowed/log.txt", root + "/allowed/c.txt");
        mv(root + "/allowed/c.txt", root + "/allowed/sub/d.txt");
        mv(root + "/allowed/sub", root + "/allowed/sub2");
        [refused, du([du::s, du::apparent_size], root + "/allowed").total_size_bytes]
    "#;
    let out = sb.run_source(src, "rw");
    assert_success(&out);
    assert!(
        out.output
            .contains("DestinationFileNotEmptyError: Destination file not empty: File: "),
        "{}",
        out.output
    );
    assert!(out.output.contains("Size: 6 bytes"), "{}", out.output);
    assert_eq!(sb.read("allowed/sub2/d.txt").as_deref(), Some(LOG));
    assert!(!sb.exists("allowed/c.txt") && !sb.exists("allowed/sub"));
}

#[test]
fn find_files_is_flat_unless_recursive() {
    let sb = sandbox();
    let src = r#"[find_files("*.txt", root + "/allowed"), find_files([glob::r], "*.txt", root + "/allowed")]"#;
    let out = sb.run_source(src, "ro");
    assert_success(&out);
    assert_eq!(
        out.output,
        r#"[["a.txt", "log.txt"], ["a.txt", "log.txt", "sub/b.txt"]]"#
    );
}

/// One-line scripts that must be denied under a policy, naming the action and resource, and
/// leave the sandbox as it was.
#[test]
fn each_helper_is_denied_without_side_effects() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (script, policy, denied action, resource suffix)
        (
            r#"grep("x", root + "/allowed/log.txt")"#,
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            r#"tail(root + "/allowed/log.txt")"#,
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            r#"wc(root + "/allowed/log.txt")"#,
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            r#"awk_field(1, " ", root + "/allowed/log.txt")"#,
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            r#"awk_sum(1, " ", root + "/allowed/log.txt")"#,
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            r#"sed([sed::i], "l", "L", root + "/allowed/log.txt")"#,
            "ro",
            "write",
            "/allowed/log.txt",
        ),
        (
            r#"cp(root + "/allowed/a.txt", root + "/allowed/new.txt")"#,
            "ro",
            "create",
            "/allowed/new.txt",
        ),
        (
            r#"cp(root + "/allowed/a.txt", root + "/outside/new.txt")"#,
            "rw",
            "open",
            "/outside",
        ),
        (
            r#"mv(root + "/allowed/a.txt", root + "/allowed/b.txt")"#,
            "ro",
            "move",
            "/allowed/a.txt",
        ),
        (
            r#"mv(root + "/allowed/a.txt", root + "/outside/a.txt")"#,
            "rw",
            "open",
            "/outside",
        ),
        (
            r#"find_files("*", root + "/outside")"#,
            "rw",
            "open",
            "/outside",
        ),
        (r#"du(root + "/outside")"#, "rw", "open", "/outside"),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.chmod(ChmodDirOptions().permissions(0o700).build())",
            "ro",
            "chmod",
            "/allowed",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.set_ownership(SetOwnershipOptions().user(\"0\").build())",
            "ro",
            "chown",
            "/allowed",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.create_symlink(\"a.txt\", \"l\", CreateSymlinkOptions().build())",
            "ro",
            "create",
            "/allowed/l",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.read_link_target(\"x\")",
            "open_only",
            "read",
            "/allowed/x",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().write(true).build()).truncate(TruncateOptions().size(0).build())",
            "ro",
            "write",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().write(true).build()).fallocate(FallocateOptions().length(9).build())",
            "ro",
            "write",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().write(true).build()).write_in_place(\"x\")",
            "ro",
            "write",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).chmod(0o777)",
            "ro",
            "chmod",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).get_ownership()",
            "open_only",
            "stat",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).search(\"h\")",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).read_lines(ReadLinesOptions().build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.find(FindOptions().build(), |e| 1)",
            "open_only",
            "read",
            "/allowed",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.read_page(ReadPageOptions().num_lines(1).build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.counts()",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.extract_strings()",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.get_last_modified_time()",
            "open_only",
            "stat",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.disk_usage(DiskUsageOptions().build())",
            "open_only",
            "stat",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.read_gzip_lines(ReadLinesOptions().build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.gzip_info()",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.search_gzip(\"x\", SearchGzipOptions().build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.search_gzip_exists(\"x\", SearchGzipOptions().build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.compress_gzip(d.open_file(\"a.gz\", OpenFileOptions().write(true).create(true).build()), CompressGzipOptions().build())",
            "open_only",
            "create",
            "/allowed/a.gz",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.extract_archive(d, ExtractArchiveOptions().build())",
            "open_only",
            "read",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).write(true).build()); f.copy(d.open_file(\"log.txt\", OpenFileOptions().write(true).build()), CopyFileOptions().force(true).build())",
            "ro",
            "write",
            "/allowed/log.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.move(d, \"moved.txt\", MoveOptions().build())",
            "ro",
            "move",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.set_ownership(SetOwnershipOptions().group(\"0\").build())",
            "ro",
            "chown",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).write(true).build()); f.write(\"x\", WriteOptions().preserve_ownership(true).build())",
            "open_only",
            "stat",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.get_ownership()",
            "open_only",
            "stat",
            "/allowed",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.disk_usage(DiskUsageOptions().build())",
            "open_only",
            "read",
            "/allowed",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_symlink(\"a.txt\")",
            "dirs_only",
            "open",
            "/allowed/a.txt",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let s = DirConfig().path(root + \"/allowed/sub\").build().open(OpenDirOptions().build()); d.move(s, d, \"sub2\", MoveOptions().build())",
            "ro",
            "move",
            "/allowed/sub",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.list_entries()[\"a.txt\"].open_as_file(OpenFileOptions().read(true).build()).read()",
            "open_only",
            "read",
            "/allowed",
        ),
        (
            "awk_filter(\"x\", root + \"/allowed/log.txt\")",
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            "awk_filter_field(1, \" \", \"x\", root + \"/allowed/log.txt\")",
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            "awk_count_unique(1, \" \", root + \"/allowed/log.txt\")",
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            "awk_filter_range(1, 2, root + \"/allowed/log.txt\")",
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
        (
            "sed(\"l\", \"L\", root + \"/allowed/log.txt\")",
            "open_only",
            "read",
            "/allowed/log.txt",
        ),
    ];
    for (src, policy, action, resource) in cases {
        let sb = sandbox();
        let before = tree(&sb);
        let out = sb.run_source(src, policy);
        assert_denied(&out, action, &format!("{}{resource}", sb.root));
        assert_eq!(tree(&sb), before, "side effect from `{src}`");
    }
}

/// Bad input: a clear error naming what is wrong, nothing changed.
#[test]
fn bad_input_is_refused_clearly() {
    let cases: &[(&str, &str)] = &[
        (
            r#"grep("(", root + "/allowed/log.txt")"#,
            "invalid regular expression",
        ),
        (r#"seq([seq::step(0)], 1, 5)"#, "step must not be 0"),
        (r#"seq(0, 100000000)"#, "at most 10000000"),
        (
            r#"tail([tail::range(3, 1)], root + "/allowed/log.txt")"#,
            "end is before the start",
        ),
        (
            r#"tail([tail::from(0)], root + "/allowed/log.txt")"#,
            "starts at line 1",
        ),
        (
            r#"awk_field(0, " ", root + "/allowed/log.txt")"#,
            "field numbers start at 1",
        ),
        (
            r#"awk_field(1, "", root + "/allowed/log.txt")"#,
            "delimiter must not be empty",
        ),
        (
            r#"awk_filter_range(0, 2, root + "/allowed/log.txt")"#,
            "need 1 <= start <= end",
        ),
        (
            r#"grep([cat::n], "x", root + "/allowed/log.txt")"#,
            "not a flag of `grep`",
        ),
        (r#"find_files("[", root + "/allowed")"#, "invalid glob"),
        (
            r#"SizeRange::between(5, 1, SizeUnit::BYTES)"#,
            "maximum is below the minimum",
        ),
        (r#"ReadPageOptions().build()"#, "`num_lines` must be set"),
        (r#"ChmodDirOptions().build()"#, "`permissions` must be set"),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).chmod(99999)",
            "permissions must be a mode",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().write(true).build()).truncate(TruncateOptions().size(-1).build())",
            "not a valid size",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).read_page(ReadPageOptions().num_lines(0).build())",
            "num_lines must be at least 1",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_file(\"a.txt\", OpenFileOptions().read(true).build()).truncate(TruncateOptions().size(0).build())",
            "not opened for writing",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.create_symlink(\"\", \"l\", CreateSymlinkOptions().build())",
            "invalid symlink target",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.open_symlink(\"a.txt\")",
            "is not a symbolic link",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.set_ownership(SetOwnershipOptions().user(\"no-such-user-wrex\").build())",
            "no such user",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.set_ownership(SetOwnershipOptions().build())",
            "give a user, a group, or both",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.find(FindOptions().max_depth(-1).build(), |e| 1)",
            "max_depth must not be negative",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.compress_gzip(d.open_file(\"log.txt\", OpenFileOptions().write(true).build()), CompressGzipOptions().level(10).build())",
            "level must be 0 to 9",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.search_gzip(\"x\", SearchGzipOptions().max_results(-1).build())",
            "max_results must not be negative",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.extract_archive(d, ExtractArchiveOptions().preserve_timestamps(true).build())",
            "preserve_timestamps is not supported",
        ),
        (
            "SizeRange::min_only(-1, SizeUnit::BYTES)",
            "not a valid size",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); let f = d.open_file(\"a.txt\", OpenFileOptions().read(true).build()); f.read_lines(ReadLinesOptions().start(0).build())",
            "start is 1-based",
        ),
        (
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.disk_usage(DiskUsageOptions().max_depth(-2).build())",
            "max_depth must not be negative",
        ),
        (
            "du([du::d(-1)], root + \"/allowed\")",
            "must not be negative",
        ),
        (
            "grep([grep::m(-1)], \"x\", root + \"/allowed/log.txt\")",
            "must not be negative",
        ),
        (
            "replace_text(\"abc\", \"\", \"x\", ReplacementOptions().build())",
            "must not be empty",
        ),
        (
            "replace_text(\"abc\", \"(\", \"x\", ReplacementOptions().is_regex(true).build())",
            "invalid regular expression",
        ),
    ];
    for (src, needle) in cases {
        let sb = sandbox();
        let before = tree(&sb);
        let out = sb.run_source(src, "rw");
        assert!(!out.is_success(), "`{src}` should fail");
        assert!(
            message(&out).contains(needle),
            "`{src}`: expected `{needle}` in {}",
            message(&out)
        );
        assert_eq!(tree(&sb), before, "side effect from `{src}`");
    }
}

/// A file larger than the guest's whole memory is grepped, counted and tailed in chunks.
#[test]
fn helpers_stream_files_larger_than_guest_memory() {
    let sb = sandbox();
    let line =
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789\n";
    let lines = (48 << 20) / line.len();
    let mut big = line.repeat(lines);
    big.push_str("the one ERROR line\n");
    sb.write("allowed/big.log", &big);
    let limits = wrex::Limits {
        memory: 32 << 20,
        ..wrex::Limits::default()
    };
    let src = r#"let p = root + "/allowed/big.log"; [grep("ERROR", p), wc([wc::l], p).lines, tail([tail::n(1)], p)]"#;
    let mut args = wrex::ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let job = wrex::Job::new(src, sb.policy("ro"))
        .args(args)
        .limits(limits);
    let out = crate::util::runtime().run(job);
    assert_success(&out);
    assert_eq!(
        out.output,
        format!(
            r#"[["the one ERROR line"], {}, ["the one ERROR line"]]"#,
            lines + 1
        )
    );
}

/// `redacted_read`: with `redacted_read` but not `read`, `cat`, `grep`, `fh.read` and `search` see only
/// the lines a dictionary pattern keeps; `tail` stays denied (REX-COMPAT §6.3 #14).
#[test]
fn redacted_read_fallback() {
    let sb = sandbox();
    sb.write(
        "allowed/app.log",
        "user=alice ok\npassword=hunter2\nuser=bob failed\n",
    );
    sb.write(
        "dict/rex_redaction.config",
        "# keep the user lines\n^user=\n",
    );
    let policy = sb.policy_text("redacted");
    let run = |src: &str| {
        let mut args = wrex::ScriptArgs::new();
        args.insert("root", sb.root.as_str()).unwrap();
        let job = wrex::Job::new(src, wrex::Policy::parse(&policy).unwrap())
            .args(args)
            .redaction_dictionary(format!("{}/dict/rex_redaction.config", sb.root));
        crate::util::runtime().run(job)
    };
    let out = run(r#"cat(root + "/allowed/app.log")"#);
    assert_success(&out);
    assert_eq!(out.output, "user=alice ok\n[REDACTED]\nuser=bob failed\n");
    let out = run(r#"grep("failed|hunter", root + "/allowed/app.log")"#);
    assert_eq!(out.output, r#"["user=bob failed"]"#);
    let out = run(
        "DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build())\
         .open_file(\"app.log\", OpenFileOptions().read(true).build()).read()",
    );
    assert_eq!(out.output, "user=alice ok\n[REDACTED]\nuser=bob failed\n");
    let out = run(r#"tail(root + "/allowed/app.log")"#);
    assert_denied(&out, "read", "/allowed/app.log");
    assert!(!message(&out).contains("hunter2"));
}

/// A listing of the sandbox (paths, sizes, modes, link targets) to compare before and after.
pub fn tree(sb: &Sandbox) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&sb.root)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let content = if m.is_file() {
                std::fs::read(&path)
                    .map(|b| b.len())
                    .unwrap_or(0)
                    .to_string()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&path).unwrap().display().to_string()
            } else {
                stack.push(path.clone());
                String::new()
            };
            out.push(format!(
                "{} {:o} {} {}",
                path.display(),
                m.mode(),
                m.uid(),
                content
            ));
        }
    }
    out.sort();
    out
}

fn xattr(path: &std::path::Path, name: &str) -> Option<String> {
    let mut buf = vec![0u8; 256];
    let file = std::fs::File::open(path).unwrap();
    let n = rustix::fs::fgetxattr(&file, name, &mut buf[..]).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn set_extended_attr_merges_the_context_and_is_authorized_with_its_name() {
    let sb = sandbox();
    let open = "let f = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build())\
                .open_file(\"a.txt\", OpenFileOptions().read(true).build());";
    let set = |opts: &str, policy: &str| {
        sb.run_source(
            &format!("{open} f.set_extended_attr(SetXAttrOptions(){opts}.build())"),
            policy,
        )
    };
    let file = sb.path("allowed/a.txt");
    let out = set(
        r#".name("user.wrex.ok").selinux_user("u").selinux_role("r").selinux_type("t")"#,
        "xattr_named",
    );
    if message(&out).contains("not supported") {
        eprintln!("user xattrs unsupported here; checking denials only");
    } else {
        assert_success(&out);
        assert_eq!(xattr(&file, "user.wrex.ok").as_deref(), Some("u:r:t"));
        let out = set(
            r#".name("user.wrex.ok").selinux_level("s0")"#,
            "xattr_named",
        );
        assert_success(&out);
        assert_eq!(xattr(&file, "user.wrex.ok").as_deref(), Some("u:r:t:s0"));
    }
    // Another attribute name: denied by the `xattr` context condition, nothing set.
    let out = set(
        r#".name("user.wrex.other").selinux_user("u").selinux_role("r").selinux_type("t")"#,
        "xattr_named",
    );
    assert_denied(&out, "set_x_attr", &format!("{}/allowed/a.txt", sb.root));
    assert_eq!(xattr(&file, "user.wrex.other"), None);
    // Bad input.
    let out = set(r#".name("user.wrex.new").selinux_type("t")"#, "rw");
    assert!(
        message(&out).contains("give selinux_user, selinux_role and selinux_type"),
        "{}",
        message(&out)
    );
    let out = set(r#".name("nodot").selinux_type("t")"#, "rw");
    assert!(
        message(&out).contains("invalid extended attribute name"),
        "{}",
        message(&out)
    );
    let out = set(
        r#".name("user.x").selinux_user("a:b").selinux_role("r").selinux_type("t")"#,
        "rw",
    );
    assert!(message(&out).contains("without `:`"), "{}", message(&out));
    let out = sb.run_source(
        &format!("{open} f.set_extended_attr(SetXAttrOptions().build())"),
        "rw",
    );
    assert!(
        message(&out).contains("`name` must be set"),
        "{}",
        message(&out)
    );
}
