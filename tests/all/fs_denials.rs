//! Every file-system helper denied (naming the action and resource, with no side effect) and
//! refusing bad input clearly.

use crate::util::{Sandbox, assert_denied, message, tree};

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
            // As Rex, `du` reads the directory's own metadata first (its blocks count).
            "let d = DirConfig().path(root + \"/allowed\").build().open(OpenDirOptions().build()); d.disk_usage(DiskUsageOptions().build())",
            "open_only",
            "stat",
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
        let sb = Sandbox::with_log();
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
            "Invalid regex pattern",
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
        (
            r#"ReadPageOptions().build()"#,
            "Field not initialized: num_lines",
        ),
        (
            r#"ChmodDirOptions().build()"#,
            "Field not initialized: permissions",
        ),
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
            "without opening it with the write option",
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
            "SizeRange::min_only(-1, SizeUnit::BYTES)",
            "Size range minimum must be non-negative",
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
            "Invalid regex pattern",
        ),
    ];
    for (src, needle) in cases {
        let sb = Sandbox::with_log();
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
