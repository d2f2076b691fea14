//! Rex's tests of file and directory handles (`rhai-safe-io/tests/safe_io.rs` in the Rex
//! repository: opening, reading, creating, writing, deleting, ownership, permissions, copies,
//! moves, truncation, symlink creation, the registry), one
//! [`Case`] per Rex test or `#[case]`, named by it. The runner is `rex_case.rs`.

use std::os::unix::fs::MetadataExt;

use crate::rex_case::{After, Case, Pol, Want, leak, run_all};

/// Rex's `FILE_DNE_ERR`, `DIR_NED_ERR` and the handle-mode errors.
const DNE: &str = "No such file or directory";
const NOT_EMPTY: &str = "A path led to a non-empty directory location. To include contents of this directory, use the recursive flag";
const WRITE_FLAG: &str = "Attempted to write a file without opening it with the write option";
const BAD_PERMISSIONS: &str = "Permissions must be in the range 0-777 octal";

#[test]
fn opening_and_reading_as_rex() {
    run_all(&[
        Case {
            rex: "test_reading_non_utf8",
            files: &[("foo.txt", b"\xff")],
            source: "open_dir(t).open_file(\"foo.txt\", OpenFileOptions().read(true).build()).read()",
            want: Want::Err("stream did not contain valid UTF-8"),
            ..Case::default()
        },
        Case {
            rex: "test_arg_build_error_in_rhai",
            source: "DirConfig().build()",
            want: Want::Err("Field not initialized: path"),
            ..Case::default()
        },
        Case {
            rex: "test_reading_normal_file",
            files: &[("foo.txt", b"random text")],
            source: "open_dir(t).open_file(\"foo.txt\", OpenFileOptions().read(true).build()).read()",
            want: Want::Out("random text"),
            ..Case::default()
        },
        Case {
            rex: "test_reading_symlink_fails",
            files: &[("real_file", b""), ("link_file", b"-> real_file")],
            source: "open_dir(t).open_file(\"link_file\", OpenFileOptions().read(true).build()).read()",
            want: Want::Err("symbolic link"),
            ..Case::default()
        },
        Case {
            rex: "test_reading_symlink_dir_fails",
            files: &[("real_dir/foo.txt", b"x"), ("link_dir", b"-> real_dir")],
            source: "let d = open_dir(t + \"/link_dir\");\nd.open_file(\"foo.txt\", OpenFileOptions().build()).read()",
            want: Want::Err("Not a directory"),
            ..Case::default()
        },
        Case {
            rex: "test_read_file_contents_invalid_path",
            source: "let d = open_dir(\"/test\\x00dir\");\nd.open_file(\"test.txt\", OpenFileOptions().build()).read()",
            want: Want::Err("Path contains invalid characters"),
            ..Case::default()
        },
        Case {
            rex: "test_reading_dir_that_dne",
            source: "open_dir(t + \"/path/dne\")",
            want: Want::Err(DNE),
            ..Case::default()
        },
        Case {
            rex: "test_reading_file_that_dne",
            source: "open_dir(t).open_file(\"dne.txt\", OpenFileOptions().read(true).build())",
            want: Want::Err(DNE),
            ..Case::default()
        },
        Case {
            rex: "test_last_modified_time",
            files: &[("test.txt", b"test content")],
            source: "open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).get_last_modified_time()",
            want: Want::OutWith(|out, t| {
                let m = std::fs::metadata(format!("{t}/test.txt")).unwrap();
                let nanos = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
                out == nanos.to_string()
            }),
            ..Case::default()
        },
        Case {
            rex: "test_unauthorized_open_file",
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().create(true).build())",
            policy: Pol::Forbid("open", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("open"),
            ..Case::default()
        },
        Case {
            rex: "test_unauthorized_create_file",
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().create(true).build())",
            policy: Pol::Forbid("create", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("create"),
            after: &[After::Absent("test_file.txt")],
            ..Case::default()
        },
    ]);
}

#[test]
fn creating_and_writing_as_rex() {
    let write = |rex, function| Case {
        rex,
        source: function,
        after: &[After::File("test.txt", "new content")],
        ..Case::default()
    };
    run_all(&[
        Case {
            rex: "test_creating_file",
            source: "let f = open_dir(t).open_file(\"new.txt\", OpenFileOptions().create(true).build());\n\
                     f = f.write(\"fresh\");",
            after: &[After::File("new.txt", "fresh")],
            ..Case::default()
        },
        Case {
            rex: "test_creating_file_that_already_exists",
            files: &[("old.txt", b"kept")],
            source: "open_dir(t).open_file(\"old.txt\", OpenFileOptions().create(true).read(true).build()).read()",
            want: Want::Out("kept"),
            after: &[After::File("old.txt", "kept")],
            ..Case::default()
        },
        Case {
            rex: "test_creating_directory::create",
            source: "DirConfig().path(t + \"/new\").build().open(OpenDirOptions().create(true).recursive(true).build())",
            after: &[After::Dir("new")],
            ..Case::default()
        },
        Case {
            rex: "test_creating_directory::missing_create",
            source: "open_dir(t + \"/new\")",
            want: Want::Err(DNE),
            after: &[After::Absent("new")],
            ..Case::default()
        },
        Case {
            rex: "test_creating_directory_for_non_existing_dir",
            source: "DirConfig().path(t + \"/a/b\").build().open(OpenDirOptions().create(true).build())",
            want: Want::Err("failed to open parent"),
            after: &[After::Absent("a")],
            ..Case::default()
        },
        Case {
            rex: "test_safe_write_file_with_options_happy_case",
            source: "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().create(true).build());\n\
                     f = f.write(\"new content\", WriteOptions().preserve_ownership(false).build());",
            after: &[After::File("test.txt", "new content")],
            ..Case::default()
        },
        Case {
            rex: "test_safe_write_file_with_options_err",
            files: &[("test.txt", b"old")],
            source: "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build());\n\
                     f = f.write(\"content\", WriteOptions().preserve_ownership(false).build());",
            want: Want::Err(WRITE_FLAG),
            after: &[After::File("test.txt", "old")],
            ..Case::default()
        },
        write(
            "test_safe_write_file_happy_case::atomic_write",
            "let d = open_dir(t);\n\
             try { let f = d.open_file(\"test.txt\", OpenFileOptions().create(true).build()); f = f.write(\"new content\"); }\n\
             catch { let f = d.open_file(\"test.txt\", OpenFileOptions().create(true).build()); f = f.write(\"new content\"); }",
        ),
        write(
            "test_safe_write_file_happy_case::non_atomic_write",
            "let d = open_dir(t);\n\
             try { let f = d.open_file(\"test.txt\", OpenFileOptions().create(true).build()); f = f.write_in_place(\"new content\"); }\n\
             catch { let f = d.open_file(\"test.txt\", OpenFileOptions().create(true).build()); f = f.write_in_place(\"new content\"); }",
        ),
        Case {
            files: &[("test.txt", b"old content, longer than the new")],
            ..write(
                "test_safe_write_file_overwrite_file::atomic_write",
                "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().write(true).build()); f = f.write(\"new content\");",
            )
        },
        Case {
            files: &[("test.txt", b"old content, longer than the new")],
            ..write(
                "test_safe_write_file_overwrite_file::non_atomic_write",
                "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().write(true).build()); f = f.write_in_place(\"new content\");",
            )
        },
        Case {
            rex: "test_safe_write_file_force_err::atomic_write",
            files: &[("test.txt", b"old")],
            source: "let d = open_dir(t); let f = d.open_file(\"test.txt\", OpenFileOptions().read(true).build());\n\
                     d.delete(DeleteDirOptions().force(true).recursive(true).build());\n\
                     f = f.write(\"contents\");",
            want: Want::Err(WRITE_FLAG),
            ..Case::default()
        },
        Case {
            rex: "test_safe_write_file_force_err::non_atomic_write",
            files: &[("test.txt", b"old")],
            source: "let d = open_dir(t); let f = d.open_file(\"test.txt\", OpenFileOptions().read(true).build());\n\
                     d.delete(DeleteDirOptions().force(true).recursive(true).build());\n\
                     f = f.write_in_place(\"contents\");",
            want: Want::Err(WRITE_FLAG),
            ..Case::default()
        },
    ]);
}

#[test]
fn deleting_as_rex() {
    let delete_file = |rex, source, want, force: bool| Case {
        rex,
        files: &[("file.txt", b"x")],
        source,
        want: if force { Want::Ok } else { want },
        after: &[After::Absent("file.txt")],
        ..Case::default()
    };
    let mut cases = vec![
        delete_file(
            "test_safe_delete_file_success::no_force",
            "let f = open_dir(t).open_file(\"file.txt\", OpenFileOptions().read(true).build()); f.delete(DeleteFileOptions().build());",
            Want::Ok,
            false,
        ),
        delete_file(
            "test_safe_delete_file_success::force",
            "let f = open_dir(t).open_file(\"file.txt\", OpenFileOptions().read(true).build()); f.delete(DeleteFileOptions().build());",
            Want::Ok,
            true,
        ),
        Case {
            after: &[After::Absent("")],
            ..delete_file(
                "test_safe_delete_file_for_nonexistent_dir::no_force",
                "let d = open_dir(t); let f = d.open_file(\"file.txt\", OpenFileOptions().read(true).build());\n\
                 d.delete(DeleteDirOptions().force(true).recursive(true).build());\n\
                 f.delete(DeleteFileOptions().force(false).build());",
                Want::Err(DNE),
                false,
            )
        },
        Case {
            after: &[After::Absent("")],
            ..delete_file(
                "test_safe_delete_file_for_nonexistent_dir::force",
                "let d = open_dir(t); let f = d.open_file(\"file.txt\", OpenFileOptions().read(true).build());\n\
                 d.delete(DeleteDirOptions().force(true).recursive(true).build());\n\
                 f.delete(DeleteFileOptions().force(true).build());",
                Want::Ok,
                true,
            )
        },
        delete_file(
            "test_safe_delete_file_for_nonexistent_file::no_force",
            "let f = open_dir(t).open_file(\"file.txt\", OpenFileOptions().read(true).build());\n\
             f.delete(DeleteFileOptions().build()); f.delete(DeleteFileOptions().force(false).build());",
            Want::Err(DNE),
            false,
        ),
        delete_file(
            "test_safe_delete_file_for_nonexistent_file::force",
            "let f = open_dir(t).open_file(\"file.txt\", OpenFileOptions().read(true).build());\n\
             f.delete(DeleteFileOptions().build()); f.delete(DeleteFileOptions().force(true).build());",
            Want::Ok,
            true,
        ),
    ];
    for (recursive, force) in [(false, false), (true, false), (false, true), (true, true)] {
        let name = |rex: &str| leak(format!("{rex}::recursive={recursive},force={force}"));
        let options = leak(format!(
            "DeleteDirOptions().force({force}).recursive({recursive}).build()"
        ));
        cases.push(Case {
            rex: name("test_delete_dir_empty_directory"),
            source: leak(format!(
                "DirConfig().path(t).build().open(OpenDirOptions().create(true).recursive(true).build()).delete({options});"
            )),
            after: &[After::Absent("")],
            ..Case::default()
        });
        cases.push(Case {
            rex: name("test_delete_dir_nonexistent_directory"),
            source: leak(format!(
                "let d = open_dir(t); d.delete(DeleteDirOptions().force(true).recursive(true).build()); d.delete({options});"
            )),
            want: if force { Want::Ok } else { Want::Err(DNE) },
            after: &[After::Absent("")],
            ..Case::default()
        });
        cases.push(Case {
            rex: name("test_delete_dir_with_files"),
            files: &[("subdir/", b""), ("test_file.txt", b"x")],
            source: leak(format!("open_dir(t).delete({options});")),
            want: if recursive {
                Want::Ok
            } else {
                Want::Err(NOT_EMPTY)
            },
            after: if recursive {
                &[After::Absent("")]
            } else {
                &[After::Dir("subdir"), After::File("test_file.txt", "x")]
            },
            ..Case::default()
        });
    }
    run_all(&cases);
}

#[test]
fn ownership_as_rex() {
    const FILE: &[(&str, &[u8])] = &[("test_file.txt", b"test content")];
    run_all(&[
        Case {
            rex: "test_get_ownership_success",
            source: "let o = open_dir(t).get_ownership(); `${o.user}:${o.group}`",
            policy: Pol::Only(&["read", "open", "stat"]),
            want: Want::Out("{{user}}:{{group}}"),
            ..Case::default()
        },
        Case {
            rex: "test_get_ownership_error",
            source: "open_dir(t).get_ownership()",
            policy: Pol::Forbid("stat", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_get_file_ownership_success",
            files: FILE,
            source: "let o = open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).get_ownership();\n\
                     `${o.user}:${o.group}`",
            policy: Pol::Only(&["read", "open", "stat"]),
            want: Want::Out("{{user}}:{{group}}"),
            ..Case::default()
        },
        Case {
            rex: "test_get_file_ownership_error",
            files: FILE,
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).get_ownership()",
            policy: Pol::Forbid(
                "stat",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("stat"),
            ..Case::default()
        },
        Case {
            rex: "test_set_dir_ownership_success",
            source: "open_dir(t).set_ownership(SetOwnershipOptions().user(\"{{user}}\").group(\"{{group}}\").build())",
            policy: Pol::Only(&["read", "open", "chown"]),
            ..Case::default()
        },
        Case {
            rex: "test_set_dir_ownership_error",
            source: "open_dir(t).set_ownership(SetOwnershipOptions().user(\"{{user}}\").group(\"{{group}}\").build())",
            policy: Pol::Forbid(
                "chown",
                "is file_system::Dir in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("chown"),
            ..Case::default()
        },
        Case {
            rex: "test_set_file_ownership_success",
            files: FILE,
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build())\n\
                     .set_ownership(SetOwnershipOptions().user(\"{{user}}\").group(\"{{group}}\").build())",
            policy: Pol::Only(&["read", "open", "chown"]),
            ..Case::default()
        },
        Case {
            rex: "test_set_file_ownership_error",
            files: FILE,
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build())\n\
                     .set_ownership(SetOwnershipOptions().user(\"{{user}}\").group(\"{{group}}\").build())",
            policy: Pol::Forbid(
                "chown",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("chown"),
            ..Case::default()
        },
    ]);
}

#[test]
fn permissions_as_rex() {
    const FILE: &[(&str, &[u8])] = &[("test_file.txt", b"x")];
    // The default mode of a new file is 0o666 less the process umask (0o022 here and in CI).
    run_all(&[
        Case {
            rex: "test_create_file_permissions_from_rhai::with_custom_permissions",
            source: "open_dir(t).open_file(\"p.txt\", OpenFileOptions().create(true).permissions(0o600).build())",
            after: &[After::Mode("p.txt", 0o600)],
            ..Case::default()
        },
        Case {
            rex: "test_create_file_permissions_from_rhai::with_default_permissions",
            source: "open_dir(t).open_file(\"p.txt\", OpenFileOptions().create(true).build())",
            after: &[After::Mode("p.txt", 0o644)],
            ..Case::default()
        },
        Case {
            rex: "test_create_file_permissions_from_rhai::ignore_setuid_bits",
            source: "open_dir(t).open_file(\"p.txt\", OpenFileOptions().create(true).permissions(0o4755).build())",
            after: &[After::Mode("p.txt", 0o755)],
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_file_permissions",
            files: FILE,
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).chmod(0o600)",
            after: &[After::Mode("test_file.txt", 0o600)],
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_file_error",
            files: FILE,
            source: "open_dir(t).open_file(\"test_file.txt\", OpenFileOptions().read(true).build()).chmod(0o1000)",
            want: Want::Err(BAD_PERMISSIONS),
            after: &[After::Mode("test_file.txt", 0o644)],
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_dir_permissions",
            source: "open_dir(t).chmod(ChmodDirOptions().permissions(0o600).build())",
            after: &[After::Mode("", 0o600)],
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_dir_error",
            source: "open_dir(t).chmod(ChmodDirOptions().permissions(0o1000).build())",
            want: Want::Err(BAD_PERMISSIONS),
            after: &[After::Mode("", 0o755)],
            ..Case::default()
        },
        Case {
            rex: "test_safe_chmod_dir_recursive_permissions",
            files: &[("subdir/", b""), ("test_file.txt", b"x")],
            source: "open_dir(t).chmod(ChmodDirOptions().permissions(0o700).recursive(true).build())",
            policy: Pol::Only(&["open", "chmod", "read"]),
            after: &[
                After::Mode("", 0o700),
                After::Mode("subdir", 0o700),
                After::Mode("test_file.txt", 0o700),
            ],
            ..Case::default()
        },
    ]);
}

#[test]
fn links_copies_and_replacements_as_rex() {
    const SRC: &[(&str, &[u8])] = &[("src_file.txt", b"copied content")];
    const SRC_AND_DEST: &[(&str, &[u8])] =
        &[("src_file.txt", b"copied content"), ("dest.txt", b"")];
    const FULL_DEST: &[(&str, &[u8])] = &[
        ("src_file.txt", b"copied content"),
        ("dest.txt", b"already here"),
    ];
    const CONFIG: &str = "let text = \"# Application Configuration 1.2.3\\napp.name=MyApp\\napp.version=v1.2.3\\napi.version=v1.2.3\\n\";\n";
    let copy = |source: &str| {
        leak(format!(
            "let d = open_dir(t); let src = d.open_file(\"src_file.txt\", OpenFileOptions().read(true).build());\n{source}"
        ))
    };
    run_all(&[
        Case {
            rex: "test_read_link_target",
            files: &[
                ("real_file.txt", b"target"),
                ("link_file", b"-> {{t}}/real_file.txt"),
            ],
            source: "open_dir(t).read_link_target(\"link_file\")",
            want: Want::Out("{{t}}/real_file.txt"),
            ..Case::default()
        },
        Case {
            rex: "test_read_link_target_not_a_symlink",
            files: &[("real_file.txt", b"target")],
            source: "open_dir(t).read_link_target(\"real_file.txt\")",
            want: Want::Err("Invalid argument"),
            ..Case::default()
        },
        Case {
            rex: "test_copy_file_success",
            files: SRC,
            source: copy(
                "let dest = d.open_file(\"dest_file.txt\", OpenFileOptions().write(true).create(true).build());\n\
                          src.copy(dest, CopyFileOptions().force(true).preserve(true).build());",
            ),
            policy: Pol::Only(&["read", "open", "create", "write"]),
            after: &[After::File("dest_file.txt", "copied content")],
            ..Case::default()
        },
        Case {
            rex: "test_copy_file_error_destination_not_empty",
            files: FULL_DEST,
            source: copy(
                "let dest = d.open_file(\"dest.txt\", OpenFileOptions().write(true).build());\n\
                          src.copy(dest, CopyFileOptions().force(false).build());",
            ),
            policy: Pol::Only(&["read", "open", "write"]),
            want: Want::Err("Destination file not empty"),
            after: &[After::File("dest.txt", "already here")],
        },
        Case {
            rex: "test_copy_file_error_no_read_option",
            files: SRC,
            source: "let d = open_dir(t); let src = d.open_file(\"src_file.txt\", OpenFileOptions().write(true).build());\n\
                     let dest = d.open_file(\"dest.txt\", OpenFileOptions().write(true).create(true).build());\n\
                     src.copy(dest, CopyFileOptions().force(true).build());",
            policy: Pol::Only(&["read", "open", "create", "write"]),
            want: Want::Err("Attempted to read a file without opening it with the read option"),
            ..Case::default()
        },
        Case {
            rex: "test_copy_file_error_no_write_option",
            files: SRC_AND_DEST,
            source: copy(
                "let dest = d.open_file(\"dest.txt\", OpenFileOptions().read(true).build());\n\
                          src.copy(dest, CopyFileOptions().force(true).build());",
            ),
            policy: Pol::Only(&["read", "open", "write"]),
            want: Want::Err(WRITE_FLAG),
            after: &[After::File("dest.txt", "")],
        },
        Case {
            rex: "test_copy_file_error_cedar_forbid_read",
            files: SRC,
            source: copy(
                "let dest = d.open_file(\"dest.txt\", OpenFileOptions().write(true).create(true).build());\n\
                          src.copy(dest, CopyFileOptions().force(true).build());",
            ),
            policy: Pol::Forbid("read", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("read"),
            ..Case::default()
        },
        Case {
            rex: "test_copy_file_error_cedar_forbid_write",
            files: SRC_AND_DEST,
            source: copy(
                "let dest = d.open_file(\"dest.txt\", OpenFileOptions().write(true).build());\n\
                          src.copy(dest, CopyFileOptions().force(true).build());",
            ),
            policy: Pol::Forbid("write", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("write"),
            after: &[After::File("dest.txt", "")],
        },
        Case {
            rex: "test_replace_text_success",
            source: leak(format!(
                "{CONFIG}replace_text(text, \"v\\\\d+\\\\.\\\\d+\\\\.\\\\d+\", \"v2.0.0\", \
                                  ReplacementOptions().is_regex(true).replace_all(false).build())"
            )),
            want: Want::Out(
                "# Application Configuration 1.2.3\napp.name=MyApp\napp.version=v2.0.0\napi.version=v1.2.3\n",
            ),
            ..Case::default()
        },
        Case {
            rex: "test_replace_text_invalid_regex_pattern",
            source: leak(format!(
                "{CONFIG}replace_text(text, \"[\", \"v2.0.0\", \
                                  ReplacementOptions().is_regex(true).replace_all(true).build())"
            )),
            want: Want::Err("Invalid regex pattern"),
            ..Case::default()
        },
    ]);
}

#[test]
fn moving_truncating_and_symlinks_as_rex() {
    const SOURCE: &[(&str, &[u8])] = &[("source/test_file.txt", b"moved content"), ("dest/", b"")];
    const TREE: &[(&str, &[u8])] = &[
        ("src_parent/source_dir/test_file.txt", b"moved content"),
        ("dest_parent/", b""),
    ];
    const TEXT: &[(&str, &[u8])] = &[("test.txt", b"test content")];
    const LINK: &[(&str, &[u8])] = &[("existing_link.txt", b"-> old_target.txt")];
    let move_file = |name: &str| {
        leak(format!(
            "let s = open_dir(t + \"/source\"); let d = open_dir(t + \"/dest\");\n\
             let f = s.open_file(\"test_file.txt\", OpenFileOptions().read(true).build());\n\
             let m = f.move(d, \"{name}\", MoveOptions().backup(false).build());\n\
             m.read()"
        ))
    };
    let move_dir = |name: &str| {
        leak(format!(
            "let p = open_dir(t + \"/src_parent\"); let d = open_dir(t + \"/dest_parent\");\n\
             let s = open_dir(t + \"/src_parent/source_dir\");\n\
             p.move(s, d, \"{name}\", MoveOptions().build());"
        ))
    };
    let on_text = |source: &str| {
        leak(format!(
            "let f = open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).write(true).build());\n{source}"
        ))
    };
    let symlink = |target: &str, force: bool| {
        leak(format!(
            "open_dir(t).create_symlink(\"{target}\", \"{}\", CreateSymlinkOptions().force({force}).build());",
            if target == "new_target.txt" {
                "existing_link.txt"
            } else {
                "link.txt"
            }
        ))
    };
    run_all(&[
        Case {
            rex: "test_unauthorized_extract_strings",
            files: TEXT,
            source: "open_dir(t).open_file(\"test.txt\", OpenFileOptions().read(true).build()).extract_strings()",
            policy: Pol::Forbid(
                "read",
                "is file_system::File in file_system::Dir::\"{{t}}\"",
            ),
            want: Want::Denied("read"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_move_file_success",
            files: SOURCE,
            source: move_file("moved_file.txt"),
            want: Want::Out("moved content"),
            after: &[
                After::Absent("source/test_file.txt"),
                After::File("dest/moved_file.txt", "moved content"),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_rhai_move_file_unauthorized",
            files: SOURCE,
            source: move_file("forbidden_name"),
            policy: Pol::Named("move_name_forbidden"),
            want: Want::Denied("move"),
            after: &[
                After::File("source/test_file.txt", "moved content"),
                After::Absent("dest/forbidden_name"),
            ],
        },
        Case {
            rex: "test_rhai_move_file_nonexistent_file",
            files: &[("source/", b""), ("dest/", b"")],
            source: "open_dir(t + \"/source\").open_file(\"nonexistent_file.txt\", OpenFileOptions().read(true).build())",
            want: Want::Err("No such file or directory"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_move_dir_unauthorized",
            files: TREE,
            source: move_dir("forbidden_name"),
            policy: Pol::Named("move_name_forbidden"),
            want: Want::Denied("move"),
            after: &[
                After::File("src_parent/source_dir/test_file.txt", "moved content"),
                After::Absent("dest_parent/forbidden_name"),
            ],
        },
        Case {
            rex: "test_rhai_move_dir_success",
            files: TREE,
            source: move_dir("moved_dir"),
            after: &[
                After::Absent("src_parent/source_dir"),
                After::File("dest_parent/moved_dir/test_file.txt", "moved content"),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_truncate_fails",
            files: TEXT,
            source: on_text("f.truncate(TruncateOptions().size(-10).build());"),
            want: Want::Err("Size must be greater than or equal to 0"),
            after: &[After::File("test.txt", "test content")],
            ..Case::default()
        },
        Case {
            rex: "test_truncate_succeeds",
            files: TEXT,
            source: on_text("f.truncate(TruncateOptions().size(10).build());"),
            after: &[After::File("test.txt", "test conte")],
            ..Case::default()
        },
        Case {
            rex: "test_truncate_format",
            files: TEXT,
            source: on_text(
                "f.truncate(TruncateOptions().size(20).format(SizeUnit::KIBIBYTES).build()); f.metadata().file_size()",
            ),
            want: Want::Out("20480"),
            ..Case::default()
        },
        Case {
            rex: "test_rhai_create_symlink_success::relative_path",
            source: symlink("target.txt", false),
            policy: Pol::Only(&["open", "create"]),
            after: &[After::Link("link.txt", "target.txt")],
            ..Case::default()
        },
        Case {
            rex: "test_rhai_create_symlink_success::absolute_path",
            source: symlink("/tmp", false),
            policy: Pol::Only(&["open", "create"]),
            after: &[After::Link("link.txt", "/tmp")],
            ..Case::default()
        },
        Case {
            rex: "test_rhai_create_symlink_unauthorized",
            source: symlink("target.txt", false),
            policy: Pol::Forbid("create", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("create"),
            after: &[After::Absent("link.txt")],
            ..Case::default()
        },
        Case {
            rex: "test_rhai_unauthorized_create_symlink_delete_permission",
            files: LINK,
            source: symlink("new_target.txt", true),
            policy: Pol::Forbid("delete", "in file_system::Dir::\"{{t}}\""),
            want: Want::Denied("delete"),
            after: &[After::Link("existing_link.txt", "old_target.txt")],
        },
        Case {
            rex: "test_rhai_create_symlink_force_behavior::force_false_existing_fails",
            files: LINK,
            source: symlink("new_target.txt", false),
            want: Want::Err("File exists"),
            after: &[After::Link("existing_link.txt", "old_target.txt")],
            ..Case::default()
        },
        Case {
            rex: "test_rhai_create_symlink_force_behavior::force_true_existing_succeeds",
            files: LINK,
            source: symlink("new_target.txt", true),
            policy: Pol::Only(&["open", "create", "delete"]),
            after: &[After::Link("existing_link.txt", "new_target.txt")],
            ..Case::default()
        },
    ]);
}

/// `safe_io_registry.rs`: `test_standard_io_operations` (every case) and `test_delete_dir`
/// (every case): the handle API's functions are registered under Rex's names.
#[test]
fn registry_as_rex() {
    const FILE: &[(&str, &[u8])] = &[("example_file.txt", b"example")];
    let mut cases = vec![Case {
        rex: "test_standard_io_operations::standard_operations",
        files: FILE,
        source: "DirConfig().path(t + \"/sub\");\n\
                 let d = open_dir(t);\n\
                 let content = d.open_file(\"example_file.txt\", OpenFileOptions().read(true).build()).read();\n\
                 let w = d.open_file(\"example_file.txt\", OpenFileOptions().write(true).build()); w = w.write(\"test\");\n\
                 d.open_file(\"example_file.txt\", OpenFileOptions().write(true).build()).write_in_place(\"test2\");\n\
                 let n = d.open_file(\"new_file\", OpenFileOptions().create(true).build()); n = n.write(\"test\");\n\
                 content",
        want: Want::Out("example"),
        after: &[
            After::File("example_file.txt", "test2"),
            After::File("new_file", "test"),
        ],
        ..Case::default()
    }];
    for force in [false, true] {
        cases.push(Case {
            rex: leak(format!("test_standard_io_operations::delete(force={force})")),
            files: FILE,
            source: leak(format!(
                "open_dir(t).open_file(\"example_file.txt\", OpenFileOptions().read(true).build())\n\
                 .delete(DeleteFileOptions().force({force}).build());"
            )),
            after: &[After::Absent("example_file.txt")],
            ..Case::default()
        });
    }
    for (recursive, force) in [(false, false), (true, false), (false, true), (true, true)] {
        cases.push(Case {
            rex: leak(format!("test_delete_dir(recursive={recursive},force={force})")),
            files: &[("empty/", b"")],
            source: leak(format!(
                "open_dir(t + \"/empty\").delete(DeleteDirOptions().force({force}).recursive({recursive}).build());"
            )),
            after: &[After::Absent("empty")],
            ..Case::default()
        });
    }
    run_all(&cases);
}
