//! Rex's tests of `find` with callbacks and of opening directories through symlinks
//! (`rhai-safe-io/tests/safe_io.rs` in the Rex repository), one [`Case`] per Rex test, named
//! by it. `other` is a directory beside the case's own (`<root>/allowed/other`).

use crate::rex_case::{Case, Pol, Want, leak, run_all};

/// Runs `find` on `t` with `FindOptions()` + `options`, collecting each entry's name in
/// `results`, then evaluates `then`.
fn find(options: &str, then: &str) -> &'static str {
    leak(format!(
        "let results = [];\n\
         open_dir(t).find(FindOptions(){options}.build(), |entry| {{ results.push(entry.name); }});\n\
         {then}"
    ))
}

#[test]
fn find_as_rex() {
    const MIXED: &[(&str, &[u8])] = &[
        ("file1.txt", b"Content of file 1"),
        ("file2.txt", b"Content of file 2"),
        ("subdir/nested.txt", b"Content of nested file"),
        ("symlink_file", b"-> regular_file.txt"),
    ];
    const DEEP: &[(&str, &[u8])] = &[
        ("level1.txt", b"L1"),
        ("subdir1/level2.txt", b"Level 2 content"),
        ("subdir1/subdir2/level3.txt", b"Level 3 content here"),
        ("subdir1/subdir2/large_file.txt", &[b'x'; 200]),
        (
            "subdir1/subdir2/subdir3/level4.txt",
            b"Level 4 content is here",
        ),
        (
            "subdir1/subdir2/subdir3/subdir5/level5.txt",
            b"Level 5 content goes here",
        ),
        (
            "subdir1/subdir2/subdir3/subdir5/subdir5/level6.txt",
            b"Level 6 content",
        ),
    ];
    let sizes: &'static [(&str, &[u8])] = &[
        ("small.txt", b"tiny"),
        ("medium.txt", b"medium content here"),
        ("large.txt", &[b'x'; 200]),
        ("file3.log", b"log content"),
    ];
    let mut cases = vec![
        Case {
            rex: "test_safe_find_with_read_callback_success",
            files: MIXED,
            source: "let contents = #{};\n\
                     open_dir(t).find(FindOptions().name(\"*.txt\").size_range(SizeRange::max_only(1000, SizeUnit::BYTES)).build(), |entry| {\n\
                       if entry.type() == EntryType::FILE {\n\
                         contents[entry.name] = entry.open_as_file(OpenFileOptions().read(true).build()).read();\n\
                       }\n\
                     });\n\
                     `${contents.len()} ${contents[\"file1.txt\"]} ${contents[\"nested.txt\"]}`",
            policy: Pol::Only(&["open", "read", "stat"]),
            want: Want::Out("3 Content of file 1 Content of nested file"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_find_callback_unauthorized_chmod",
            files: &[
                ("test1.txt", b"test content 1"),
                ("test2.txt", b"test content 2"),
            ],
            source: "open_dir(t).find(FindOptions().regex(\"test.*\\\\.txt$\").size_range(SizeRange::between(1, 100, SizeUnit::BYTES)).build(), |entry| {\n\
                       if entry.type() == EntryType::FILE {\n\
                         entry.open_as_file(OpenFileOptions().read(true).write(true).build()).chmod(0o600);\n\
                       }\n\
                     });",
            policy: Pol::Forbid("chmod", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("chmod"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_find_options_invalid_patterns",
            files: &[("test.txt", b"test content"), ("TEST.txt", b"TEST content")],
            source: find(".name(\"test\").iname(\"TEST\")", "results"),
            want: Want::Err("Only one of 'name', 'iname', or 'regex' can be specified"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_find_regex_with_between_size_filter",
            files: sizes,
            source: find(
                ".regex(\".*\\\\.txt$\").size_range(SizeRange::between(1, 100, SizeUnit::BYTES))",
                "results.sort(); results",
            ),
            want: Want::Out(r#"["medium.txt", "small.txt"]"#),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_find_max_only_size_range",
            files: sizes,
            source: find(
                ".size_range(SizeRange::max_only(50, SizeUnit::BYTES))",
                "results.sort(); results",
            ),
            want: Want::Out(r#"["file3.log", "medium.txt", "small.txt"]"#),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_find_min_only_size_range",
            files: sizes,
            source: find(
                ".size_range(SizeRange::min_only(10, SizeUnit::BYTES))",
                "results.sort(); results",
            ),
            want: Want::Out(r#"["file3.log", "large.txt", "medium.txt"]"#),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_find_with_min_max_depth_and_size_range",
            files: DEEP,
            source: find(
                ".name(\"*.txt\").min_depth(2).max_depth(4).size_range(SizeRange::between(10, 100, SizeUnit::BYTES))",
                "results.sort(); results",
            ),
            want: Want::Out(r#"["level2.txt", "level3.txt", "level4.txt"]"#),
            ..Case::default()
        },
        // Not a test of Rex's own: its `does_pattern_match` tests a regex against the full
        // path, and `find_files` (its `glob`) returns names.
        Case {
            rex: "(Rex's find) a regex matches the entry's full path",
            files: MIXED,
            source: find(".regex(\"^/.*/t/subdir/[a-z]+\\\\.txt$\")", "results"),
            want: Want::Out(r#"["nested.txt"]"#),
            ..Case::default()
        },
        Case {
            rex: "(Rex's glob) find_files returns names",
            files: MIXED,
            source: "let f = find_files([glob::recursive], \"*.txt\", t); f.sort(); f",
            want: Want::Out(r#"["file1.txt", "file2.txt", "nested.txt"]"#),
            ..Case::default()
        },
    ];
    for (range, bound) in [
        ("SizeRange::min_only(-100, SizeUnit::BYTES)", "minimum"),
        ("SizeRange::max_only(-50, SizeUnit::KILOBYTES)", "maximum"),
        ("SizeRange::between(-10, 100, SizeUnit::BYTES)", "minimum"),
        ("SizeRange::between(10, -100, SizeUnit::BYTES)", "maximum"),
    ] {
        cases.push(Case {
            rex: leak(format!("test_size_range_validation_errors: {range}")),
            source: leak(format!("FindOptions().size_range({range}).build()")),
            want: Want::Err(leak(format!("Size range {bound} must be non-negative"))),
            ..Case::default()
        });
    }
    run_all(&cases);
}

#[test]
fn opening_directories_through_symlinks_as_rex() {
    const COMPONENT: &[(&str, &[u8])] = &[
        (
            "../other/target_root/subdir/test_file.txt",
            b"symlink path component content",
        ),
        ("link_to_target", b"-> {{root}}/allowed/other/target_root"),
    ];
    let read_through = |follow: bool| {
        leak(format!(
            "let d = DirConfig().path(t + \"/link_to_target/subdir\").build()\n\
               .open(OpenDirOptions().follow_symlinks({follow}).build());\n\
             d.open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).read()"
        ))
    };
    let follow = |path: &str| {
        leak(format!(
            "DirConfig().path(t + \"{path}\").build().open(OpenDirOptions().follow_symlinks(true).build())"
        ))
    };
    run_all(&[
        Case {
            rex: "test_safe_open_absolute_symlink_path_component::follow_symlinks_true",
            files: COMPONENT,
            source: read_through(true),
            want: Want::Out("symlink path component content"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_absolute_symlink_path_component::follow_symlinks_false",
            files: COMPONENT,
            source: read_through(false),
            want: Want::Err("Not a directory"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_symlink_chain_success",
            files: &[
                (
                    "../other/versions/aurora-16.7/share/postgresql/extension/apgdbcc--1.0.sql",
                    b"-- Aurora extension SQL",
                ),
                (
                    "../other/appbin1/aurora-16.7",
                    b"-> {{root}}/allowed/other/versions/aurora-16.7",
                ),
                ("aurora", b"-> {{root}}/allowed/other/appbin1/aurora-16.7"),
            ],
            source: "let d = DirConfig().path(t + \"/aurora/share/postgresql/extension\").build()\n\
                       .open(OpenDirOptions().follow_symlinks(true).build());\n\
                     d.open_file(\"apgdbcc--1.0.sql\", OpenFileOptions().read(true).build()).read()",
            want: Want::Out("-- Aurora extension SQL"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_symlink_unauthorized_target",
            files: &[
                ("../other/restricted_target/final_dir/", b""),
                (
                    "public_symlink",
                    b"-> {{root}}/allowed/other/restricted_target",
                ),
            ],
            source: follow("/public_symlink/final_dir"),
            policy: Pol::Forbid(
                "open",
                "== file_system::Dir::\"{{root}}/allowed/other/restricted_target\"",
            ),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_follow_symlinks_circular_link",
            files: &[("link1", b"-> {{t}}/link2"), ("link2", b"-> {{t}}/link1")],
            source: follow("/link1"),
            want: Want::Err("Too many levels of symbolic links"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_symlink_to_file_error",
            files: &[
                ("../other/target_file.txt", b"file"),
                ("link_to_file", b"-> {{root}}/allowed/other/target_file.txt"),
            ],
            source: follow("/link_to_file/subdir"),
            want: Want::Err("Not a directory"),
            ..Case::default()
        },
    ]);
}

#[test]
fn disk_usage_fallocate_and_gzip_as_rex() {
    const TWO: &[(&str, &[u8])] = &[
        ("file1.txt", b"Content 1"),
        ("subdir/file2.txt", b"Content 2"),
    ];
    const TEXT: &[(&str, &[u8])] = &[("test.txt", b"test content")];
    let on_text = |source: &str| {
        leak(format!(
            "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).write(true).build());\n{source}"
        ))
    };
    run_all(&[
        Case {
            rex: "test_disk_usage_success",
            files: TWO,
            source: "let e = open_dir(t).disk_usage(DiskUsageOptions().build()).entries;\n\
                     let last = e[-1]; `${e.len()} ${last.path} ${last.size_bytes > 0} ${last.inode_count}`",
            want: Want::Out("2 {{t}} true 4"),
            ..Case::default()
        },
        Case {
            rex: "test_disk_usage_unauthorized",
            files: &[("file.txt", b"Content")],
            source: "open_dir(t).disk_usage(DiskUsageOptions().build())",
            policy: Pol::Forbid("stat", "== file_system::Dir::\"{{t}}\""),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_file_disk_usage_success",
            files: &[("test.txt", b"Test file content")],
            source: "let e = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).disk_usage(DiskUsageOptions().build());\n\
                     `${e.path} ${e.size_bytes > 0} ${e.inode_count}`",
            want: Want::Out("{{t}}/test.txt true 1"),
            ..Case::default()
        },
        Case {
            rex: "test_file_disk_usage_unauthorized",
            files: &[("test.txt", b"Content")],
            source: "open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).disk_usage(DiskUsageOptions().build())",
            policy: Pol::Forbid("stat", "== file_system::File::\"{{t}}/test.txt\""),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_disk_usage_track_largest_subdir",
            files: &[
                ("subdir1/file1.txt", b"Small"),
                ("subdir2/file2.txt", &[b'x'; 50]),
            ],
            source: "let r = open_dir(t).disk_usage(DiskUsageOptions().track_largest_subdir(true).build());\n\
                     let h = r.largest_subdir_handle; h.metadata().type()",
            want: Want::Out("Dir"),
            ..Case::default()
        },
        Case {
            rex: "test_find_symlink_provides_access_to_unreachable_target",
            files: &[
                ("deep/deeper/deepest/target.txt", b"unreachable content"),
                ("shortcut", b"-> {{t}}/deep/deeper/deepest"),
            ],
            source: "let found = [];\n\
                     open_dir(t).find(FindOptions().max_depth(3).follow_symlinks(true).build(), |entry| {\n\
                       if entry.type() == EntryType::FILE { found.push(entry.name); }\n\
                     });\n\
                     found",
            want: Want::Out(r#"["target.txt"]"#),
            ..Case::default()
        },
        Case {
            rex: "test_fallocate_fail",
            files: TEXT,
            source: on_text("f.fallocate(FallocateOptions().length(-10).build());"),
            want: Want::Err("Length must be greater than 0"),
            ..Case::default()
        },
        Case {
            rex: "test_fallocate_success",
            files: TEXT,
            source: on_text(
                "f.fallocate(FallocateOptions().length(1024).build()); f.metadata().file_size() >= 1024",
            ),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_fallocate_format",
            files: TEXT,
            source: on_text(
                "f.fallocate(FallocateOptions().length(2).format(SizeUnit::KIBIBYTES).build()); f.metadata().file_size() >= 2048",
            ),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_compress_gzip_success",
            files: &[("source.txt", b"Test content for gzip compression")],
            source: "let d = open_dir(t);\n\
                     let s = d.open_file(\"source.txt\", OpenFileOptions().read(true).build());\n\
                     let g = d.open_file(\"source.txt.gz\", OpenFileOptions().write(true).create(true).build());\n\
                     s.compress_gzip(g, CompressGzipOptions().level(6).build());",
            policy: Pol::Only(&["open", "read", "create", "write"]),
            after: &[crate::rex_case::After::Holds(
                "a non-empty source.txt.gz",
                |t| std::fs::metadata(format!("{t}/source.txt.gz")).is_ok_and(|m| m.len() > 0),
            )],
            ..Case::default()
        },
    ]);
}
