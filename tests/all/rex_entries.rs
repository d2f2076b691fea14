//! Rex's tests of `DirEntry`, `EntryType` and `Metadata` (`rhai-safe-io/tests/dir_entry.rs` in
//! the Rex repository, and `safe_io.rs`'s listing and metadata tests), one [`Case`] per Rex
//! test, named by it. The runner is `rex_case.rs`.

use std::os::unix::fs::MetadataExt;

use crate::rex_case::{Case, Pol, Want, leak, run_all};

/// `e`, the listed entry `name` of `t`, then `source`.
fn entry(name: &str, source: &str) -> &'static str {
    leak(format!(
        "let e = open_dir(t).list_entries()[\"{name}\"];\n{source}"
    ))
}

/// The `stat` of `t/test_file.txt`.
fn stat(t: &str) -> std::fs::Metadata {
    std::fs::metadata(format!("{t}/test_file.txt")).unwrap()
}

#[test]
fn entries_and_metadata_as_rex() {
    const FILE: &[(&str, &[u8])] = &[("test_file.txt", b"test content")];
    const MAP_FIELDS: &str = "\"type\": meta.type().to_string(), \"permissions\": meta.permissions(), \
        \"file_size\": meta.file_size(), \"allocated_size\": meta.allocated_size(), \
        \"last_modified_time\": meta.last_modified_time(), \"num_hardlinks\": meta.num_hardlinks(), \
        \"owner_user\": meta.owner.user, \"owner_group\": meta.owner.group, \
        \"symlink_target\": meta.symlink_target()";
    let same_map = |open: &str| {
        leak(format!(
            "{open}\nlet expected = #{{{MAP_FIELDS}}};\n\
             let actual = meta.to_map();\n\
             `${{expected.to_json() == actual.to_json()}} ${{actual.symlink_target}}`"
        ))
    };
    run_all(&[
        Case {
            rex: "test_rhai_dir_entry_type_equals, test_rhai_dir_entry_type_not_equals",
            source: "[EntryType::FILE == EntryType::FILE, EntryType::FILE != EntryType::DIR]",
            want: Want::Out("[true, true]"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_name",
            files: &[("test_file.txt", b"")],
            source: "open_dir(t).list_entries().values()[0].name",
            want: Want::Out("test_file.txt"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_dir_entry_type_file",
            files: FILE,
            source: entry("test_file.txt", "e.type().to_string()"),
            want: Want::Out("File"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_dir_entry_type_dir",
            files: &[("test_dir/", b"")],
            source: entry("test_dir", "e.type().to_string()"),
            want: Want::Out("Dir"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_dir_entry_type_symlink",
            files: &[
                ("test_file.txt", b""),
                ("test_symlink", b"-> {{t}}/test_file.txt"),
            ],
            source: entry("test_symlink", "e.type().to_string()"),
            want: Want::Out("Symlink"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_dir_entry_type_unknown",
            source: "EntryType::UNKNOWN.to_string()",
            want: Want::Out("Unknown"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_open_as_file_authorized",
            files: FILE,
            source: entry(
                "test_file.txt",
                "e.open_as_file(OpenFileOptions().read(true).build()).read()",
            ),
            want: Want::Out("test content"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_open_as_file_unauthorized",
            files: FILE,
            source: entry(
                "test_file.txt",
                "e.open_as_file(OpenFileOptions().read(true).build())",
            ),
            policy: Pol::Forbid(
                "open",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_open_as_dir_authorized",
            files: &[("test_dir/", b"")],
            source: entry("test_dir", "e.open_as_dir(OpenDirOptions().build()); true"),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_open_as_dir_unauthorized",
            files: &[("test_dir/", b"")],
            source: entry("test_dir", "e.open_as_dir(OpenDirOptions().build())"),
            policy: Pol::Forbid("open", "in file_system::Dir::\"{{t}}/test_dir\""),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_authorized",
            files: &[
                ("test_file.txt", b"test content"),
                ("test_dir/", b""),
                ("test_symlink", b"-> {{t}}/test_file.txt"),
            ],
            source: "let e = open_dir(t).list_entries();\n\
                     let f = e[\"test_file.txt\"].metadata();\n\
                     [f.type() == EntryType::FILE, f.file_size(), e[\"test_dir\"].metadata().type() == EntryType::DIR,\n\
                      e[\"test_symlink\"].metadata().type() == EntryType::SYMLINK]",
            want: Want::Out("[true, 12, true, true]"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_unauthorized",
            files: FILE,
            source: entry("test_file.txt", "e.metadata()"),
            policy: Pol::Forbid(
                "stat",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_file_type, …_file_size",
            files: &[("test_file.txt", b"test content with known size")],
            source: entry(
                "test_file.txt",
                "let m = e.metadata(); `${m.type()} ${m.file_size()}`",
            ),
            want: Want::Out("File 28"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_blocks, …_allocated_size, …_num_hardlinks",
            files: FILE,
            source: entry(
                "test_file.txt",
                "let m = e.metadata(); `${m.blocks()} ${m.allocated_size()} ${m.num_hardlinks()}`",
            ),
            want: Want::OutWith(|out, t| {
                let m = stat(t);
                out == format!("{} {} {}", m.blocks(), m.blocks() * 512, m.nlink())
            }),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_last_modified_time",
            files: FILE,
            source: entry(
                "test_file.txt",
                "let m = e.metadata(); `${m.last_modified_time()} ${m.last_modified_time_nanos_component()}`",
            ),
            want: Want::OutWith(|out, t| {
                let m = stat(t);
                out == format!("{} {}", m.mtime(), m.mtime_nsec())
            }),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_permissions",
            files: FILE,
            source: entry("test_file.txt", "e.metadata().permissions() & 0o777"),
            want: Want::OutWith(|out, t| out == (stat(t).mode() & 0o777).to_string()),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_dir_entry_metadata_ownership",
            files: FILE,
            source: entry(
                "test_file.txt",
                "let m = e.metadata().owner;\n\
                 let h = open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).get_ownership();\n\
                 [m.user == h.user, m.group == h.group, m.user]",
            ),
            want: Want::Out("[true, true, \"{{user}}\"]"),
            ..Case::default()
        },
        Case {
            rex: "test_dir_entry_to_map",
            files: &[("test.txt", b"hello")],
            source: entry(
                "test.txt",
                "let expected = #{\"name\": e.name, \"type\": e.type().to_string(), \"inode\": e.inode.to_int()};\n\
                 expected.to_json() == e.to_map().to_json()",
            ),
            policy: Pol::Only(&["open", "read"]),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_metadata_to_map",
            files: &[("test.txt", b"hello")],
            source: same_map(
                "let meta = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).metadata();",
            ),
            policy: Pol::Only(&["open", "read", "stat"]),
            want: Want::Out("true "),
            ..Case::default()
        },
        Case {
            rex: "test_symlink_metadata_to_map",
            files: &[("target.txt", b"hello"), ("link.txt", b"-> target.txt")],
            source: same_map("let meta = open_dir(t).open_symlink(\"link.txt\").metadata();"),
            policy: Pol::Only(&["open", "read", "stat"]),
            want: Want::Out("true target.txt"),
            ..Case::default()
        },
    ]);
}

/// `test_rhai_dir_entry_dir_entry_type_fifo`, `…_socket`: special files the test makes.
#[test]
fn special_entry_types_as_rex() {
    for (name, want) in [("test_fifo", "Fifo"), ("test_socket", "Socket")] {
        let case = Case {
            rex: leak(format!(
                "test_rhai_dir_entry_dir_entry_type_{}",
                want.to_lowercase()
            )),
            source: entry(name, "e.type().to_string()"),
            want: Want::Out(want),
            ..Case::default()
        };
        let (_sb, out) = crate::rex_case::run_with(&case, |t| {
            let path = format!("{t}/{name}");
            if name == "test_fifo" {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    path.as_str(),
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .unwrap();
            } else {
                std::mem::forget(std::os::unix::net::UnixListener::bind(&path).unwrap());
            }
        });
        assert!(out.is_success(), "{}: {out:#?}", case.rex);
        assert_eq!(out.output, want, "{}", case.rex);
    }
}

#[test]
fn listing_and_metadata_as_rex() {
    const THREE: &[(&str, &[u8])] = &[
        ("file1.txt", b"file1 content"),
        ("file2.txt", b"file2 content"),
        ("subdir/", b""),
    ];
    const ONE: &[(&str, &[u8])] = &[("metadata_test.txt", b"test content for metadata")];
    run_all(&[
        Case {
            rex: "test_list_entries_success",
            files: THREE,
            source: "let e = open_dir(t).list_entries();\n\
                     `${e.len()} ${e.contains(\"file1.txt\")} ${e.contains(\"file2.txt\")} ${e.contains(\"subdir\")} \
                     ${e[\"file1.txt\"].type()} ${e[\"file2.txt\"].type()} ${e[\"subdir\"].type()} \
                     ${e[\"file1.txt\"].inode} ${e[\"subdir\"].inode}`",
            policy: Pol::Only(&["open", "read"]),
            want: Want::OutWith(|out, t| {
                let ino = |name: &str| std::fs::metadata(format!("{t}/{name}")).unwrap().ino();
                out == format!(
                    "3 true true true File File Dir {} {}",
                    ino("file1.txt"),
                    ino("subdir")
                )
            }),
            ..Case::default()
        },
        Case {
            rex: "test_list_entries_unauthorized",
            files: THREE,
            source: "open_dir(t).list_entries()",
            policy: Pol::Forbid("read", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("read"),
            ..Case::default()
        },
        Case {
            rex: "test_file_metadata_success",
            files: ONE,
            source: "open_dir(t).open_file(\"metadata_test.txt\", OpenFileOptions().read(true).build()).metadata().file_size()",
            policy: Pol::Only(&["open", "read", "stat"]),
            want: Want::Out("25"),
            ..Case::default()
        },
        Case {
            rex: "test_file_metadata_unauthorized",
            files: ONE,
            source: "open_dir(t).open_file(\"metadata_test.txt\", OpenFileOptions().read(true).build()).metadata()",
            policy: Pol::Forbid(
                "stat",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_dir_metadata_success",
            source: "(open_dir(t).metadata().permissions() & 0o40000) != 0",
            policy: Pol::Only(&["open", "read", "stat"]),
            want: Want::Out("true"),
            ..Case::default()
        },
        Case {
            rex: "test_dir_metadata_unauthorized",
            source: "open_dir(t).metadata()",
            policy: Pol::Forbid("stat", "is file_system::Dir in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("stat"),
            ..Case::default()
        },
    ]);
}
