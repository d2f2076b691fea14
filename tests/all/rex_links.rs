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
