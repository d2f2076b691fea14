//! Rex's tests of symlinks through the handle API (`rhai-safe-io/tests/safe_io.rs` in the Rex
//! repository), one [`Case`] per Rex test, named by it. `other` is a directory beside the
//! case's own (`<root>/allowed/other`), for targets outside it.

use crate::rex_case::{After, Case, Pol, Want, run_all};

const FOLLOW: &str = "OpenFileOptions().read(true).follow_symlinks(true).build()";

#[test]
fn following_symlinks_as_rex() {
    let open = |name: &str| -> &'static str {
        crate::rex_case::leak(format!("open_dir(t).open_file(\"{name}\", {FOLLOW})"))
    };
    let read = |name: &str| -> &'static str {
        crate::rex_case::leak(format!(
            "open_dir(t).open_file(\"{name}\", {FOLLOW}).read()"
        ))
    };
    run_all(&[
        Case {
            rex: "test_reading_symlink_with_follow_symlinks",
            files: &[
                ("real_file.txt", b"target content"),
                ("link_file", b"-> real_file.txt"),
            ],
            source: read("link_file"),
            want: Want::Out("target content"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_follow_absolute_symlink_success",
            files: &[
                ("../other/abs_target.txt", b"absolute target"),
                ("abs_link", b"-> {{root}}/allowed/other/abs_target.txt"),
            ],
            source: read("abs_link"),
            want: Want::Out("absolute target"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_follow_symlink_chain",
            files: &[
                ("final_target.txt", b"end of chain"),
                ("link2", b"-> final_target.txt"),
                ("link1", b"-> link2"),
            ],
            source: read("link1"),
            want: Want::Out("end of chain"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_follow_symlink_unauthorized_target",
            files: &[
                ("../other/restricted.txt", b"restricted"),
                (
                    "link_to_restricted",
                    b"-> {{root}}/allowed/other/restricted.txt",
                ),
            ],
            source: read("link_to_restricted"),
            policy: Pol::Forbid("open", "in file_system::Dir::\"{{root}}/allowed/other\""),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_symlink_changes_target_permissions",
            files: &[
                ("../other/chmod_target.txt", b"chmod me"),
                ("chmod_link", b"-> {{root}}/allowed/other/chmod_target.txt"),
            ],
            source: crate::rex_case::leak(format!("{}.chmod(0o600)", open("chmod_link"))),
            policy: Pol::Forbid("chmod", "== file_system::File::\"{{t}}/chmod_link\""),
            after: &[
                After::Mode("../other/chmod_target.txt", 0o600),
                After::Link("chmod_link", "{{root}}/allowed/other/chmod_target.txt"),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_follow_broken_symlink",
            files: &[("broken_link", b"-> nonexistent.txt")],
            source: open("broken_link"),
            want: Want::Err("No such file or directory"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_follow_circular_symlink",
            files: &[
                ("circular1", b"-> circular2"),
                ("circular2", b"-> circular1"),
            ],
            source: open("circular1"),
            want: Want::Err("Too many levels of symbolic links"),
            ..Case::default()
        },
        Case {
            rex: "test_safe_open_file_symlink_to_directory",
            files: &[
                ("target_directory/", b""),
                ("link_to_dir", b"-> {{t}}/target_directory"),
            ],
            source: open("link_to_dir"),
            want: Want::Err("argument is not a file"),
            ..Case::default()
        },
    ]);
}

#[test]
fn symlink_handles_and_value_maps_as_rex() {
    const LINK: &[(&str, &[u8])] = &[
        ("target.txt", b"target content"),
        ("test_symlink", b"-> target.txt"),
    ];
    const LINK_PATH: &str = "== file_system::File::\"{{t}}/test_symlink\"";
    const OPEN_LINK: &str = "let l = open_dir(t).open_symlink(\"test_symlink\");\n";
    let on_link = |source: &str| crate::rex_case::leak(format!("{OPEN_LINK}{source}"));
    let chown = on_link(
        "l.set_ownership(SetOwnershipOptions().user(\"{{user}}\").group(\"{{group}}\").build());",
    );
    let compare = |source: &str| {
        crate::rex_case::leak(format!(
            "{source}\nlet same = expected.to_json() == actual.to_json(); `${{same}} ${{actual.keys()}}`"
        ))
    };
    run_all(&[
        Case {
            rex: "test_unauthorized_safe_compress_gzip_read",
            files: &[("source.txt", b"Test content for gzip compression")],
            source: "let d = open_dir(t);\n\
                     let s = d.open_file(\"source.txt\", OpenFileOptions().write(true).build());\n\
                     let g = d.open_file(\"source.txt.gz\", OpenFileOptions().write(true).create(true).build());\n\
                     s.compress_gzip(g, CompressGzipOptions().level(6).build());",
            policy: Pol::Only(&["open", "read", "create", "write"]),
            want: Want::Err("Attempted to read a file without opening it with the read option"),
            ..Case::default()
        },
        Case {
            rex: "test_open_symlink_success",
            files: LINK,
            source: on_link("true"),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_unauthorized_open_symlink",
            files: LINK,
            source: on_link("true"),
            policy: Pol::Forbid("open", LINK_PATH),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_set_symlink_ownership_success",
            files: LINK,
            source: chown,
            policy: Pol::Only(&["open", "chown"]),
            after: &[After::Link("test_symlink", "target.txt")],
            ..Case::default()
        },
        Case {
            rex: "test_set_symlink_ownership_error",
            files: LINK,
            source: chown,
            policy: Pol::Forbid("chown", LINK_PATH),
            want: Want::Denied("chown"),
            ..Case::default()
        },
        Case {
            rex: "test_symlink_metadata_success",
            files: LINK,
            source: on_link("let m = l.metadata(); m.permissions(); m.symlink_target()"),
            policy: Pol::Only(&["open", "stat", "read"]),
            want: Want::Out("target.txt"),
            ..Case::default()
        },
        Case {
            rex: "test_symlink_metadata_unauthorized",
            files: LINK,
            source: on_link("l.metadata()"),
            policy: Pol::Forbid("stat", LINK_PATH),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_set_extended_attr_error",
            files: &[("test_file.txt", b"test content")],
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build())\n\
                     .set_extended_attr(SetXAttrOptions().name(\"security.selinux\").selinux_type(\"test_type\").build());",
            // Rex's test forbids `set_xattr`, a name its schema does not have; the denial it
            // sees is of `set_x_attr`, which nothing permits.
            policy: Pol::Only(&["read", "open"]),
            want: Want::Denied("set_x_attr"),
            ..Case::default()
        },
        Case {
            rex: "test_word_count_to_map",
            files: &[("test.txt", b"hello world\nfoo bar\n")],
            source: compare(
                "let wc = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).counts();\n\
                 let expected = #{\"line_count\": wc.line_count, \"word_count\": wc.word_count, \"byte_count\": wc.byte_count};\n\
                 let actual = wc.to_map();",
            ),
            want: Want::Out(r#"true ["byte_count", "line_count", "word_count"]"#),
            ..Case::default()
        },
        Case {
            rex: "test_gzip_info_to_map",
            files: &[(
                "source.txt",
                b"hello gzip\nhello gzip\nhello gzip\nhello gzip\n",
            )],
            source: compare(
                "let d = open_dir(t);\n\
                 let s = d.open_file(\"source.txt\", OpenFileOptions().read(true).build());\n\
                 let g = d.open_file(\"source.txt.gz\", OpenFileOptions().read(true).write(true).create(true).build());\n\
                 s.compress_gzip(g, CompressGzipOptions().build());\n\
                 let info = g.gzip_info();\n\
                 let expected = #{\"compressed_size_bytes\": info.compressed_size_bytes, \"uncompressed_size_bytes\": info.uncompressed_size_bytes, \"compression_ratio\": info.compression_ratio};\n\
                 let actual = info.to_map();",
            ),
            policy: Pol::Only(&["open", "read", "create", "write"]),
            want: Want::Out(
                r#"true ["compressed_size_bytes", "compression_ratio", "uncompressed_size_bytes"]"#,
            ),
            ..Case::default()
        },
        Case {
            rex: "test_disk_usage_entry_to_map",
            files: &[("file1.txt", b"Content 1")],
            source: compare(
                "let entry = open_dir(t).disk_usage(DiskUsageOptions().build()).entries[0];\n\
                 let expected = #{\"path\": entry.path, \"size_bytes\": entry.size_bytes.to_int(), \"inode_count\": entry.inode_count.to_int()};\n\
                 let actual = entry.to_map();\n\
                 actual[\"size_bytes\"] = actual[\"size_bytes\"].to_int();\n\
                 actual[\"inode_count\"] = actual[\"inode_count\"].to_int();",
            ),
            want: Want::Out(r#"true ["inode_count", "path", "size_bytes"]"#),
            ..Case::default()
        },
    ]);
}
