//! The disk capability through the real guest: `df`/`Filesystems` with targets, `format_bytes`,
//! `unmount` of a tmpfs the test mounts, each allowed and denied.

use std::process::Command;

use wrex::ErrorType;

use crate::util::{Sandbox, assert_error, assert_success, run_with, script};

fn is_mount_point(path: &std::path::Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mounts").unwrap();
    text.lines().any(|l| l.split(' ').nth(1) == path.to_str())
}

#[test]
fn df_reports_the_mounts_and_unmount_takes_one_away() {
    let sb = Sandbox::new();
    let mnt = sb.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(mounted.success(), "the test mounts a tmpfs (root)");
    let (out, _) = run_with(
        &script("df"),
        &sb.policy_text("df"),
        vec![("root", sb.root.as_str().into())],
        None,
    );
    let still = is_mount_point(&mnt);
    if still {
        let _ = Command::new("umount").arg(&mnt).status();
    }
    assert_success(&out);
    let o = &out.output;
    let root_kind = std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .lines()
        .rfind(|l| l.split(' ').nth(1) == Some("/"))
        .and_then(|l| l.split(' ').nth(2).map(str::to_string))
        .unwrap();
    assert!(
        o.contains(&format!(
            "\"root\": [\"{root_kind}\", true, true, true, true, 42]"
        )),
        "{o}"
    );
    assert!(
        o.contains(&format!(
            "\"mine\": [[\"{}\", \"tmpfs\", 1048576, true]]",
            mnt.display()
        )),
        "{o}"
    );
    assert!(!still, "unmounted by the script");
    assert!(o.contains("\"root_unmount\": \"PermissionDenied: "), "{o}");
    assert!(o.contains("\"relative\": \"InvalidPath\""), "{o}");
    assert!(
        o.contains("\"no_path\": \"UnmountOptions: Field not initialized: path"),
        "{o}"
    );
    assert!(o.contains("\"negative\": \"TryFromIntError\""), "{o}");
}

#[test]
fn df_without_stat_on_the_mount_points_is_denied() {
    let sb = Sandbox::new();
    let (out, _) = run_with(&script("df_only"), &sb.policy_text("no_stat"), vec![], None);
    assert_error(
        &out,
        ErrorType::AccessDeniedException,
        "file_system::Action::\"stat\"",
    );
}
