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

#[test]
fn lsblk_lists_proc_partitions_with_sysfs_and_mount_points() {
    let policy = "permit (principal, action == file_system::Action::\"read\", resource) when { \
                  resource == file_system::File::\"/proc/partitions\" || resource == file_system::File::\"/proc/mounts\" || \
                  resource == file_system::File::\"/proc/swaps\" || resource == file_system::Dir::\"/sys/dev/block\" || \
                  resource == file_system::Dir::\"/dev/disk/by-id\" };";
    let (out, _) = crate::util::run_with(&crate::util::script("lsblk"), policy, vec![], None);
    crate::util::assert_success(&out);
    let o = &out.output;
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    for line in std::fs::read_to_string("/proc/partitions")
        .unwrap()
        .lines()
        .skip(2)
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [major, minor, blocks, name] = f[..] else {
            continue;
        };
        let sys = format!("/sys/dev/block/{major}:{minor}");
        let kind = std::fs::read_to_string(format!("{sys}/uevent"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("DEVTYPE=").map(str::to_string))
            .unwrap();
        let flag = |f: &str| {
            std::fs::read_to_string(format!("{sys}/{f}"))
                .unwrap()
                .trim()
                .to_string()
        };
        let mount = mounts
            .lines()
            .rfind(|l| l.starts_with(&format!("/dev/{name} ")))
            .map_or("", |l| l.split_whitespace().nth(1).unwrap());
        let expected = format!(
            "[\"{name}\", \"{kind}\", \"{major}\", \"{minor}\", {blocks}, \"{}\", \"{}\", \"{mount}\", ",
            if kind == "partition" {
                "0".to_string()
            } else {
                flag("removable")
            },
            flag("ro"),
        );
        assert!(o.contains(&expected), "missing {expected} in {o}");
    }
    // Without the sysfs directory, a denial.
    let (out, _) = crate::util::run_with(
        "lsblk()",
        "permit (principal, action == file_system::Action::\"read\", resource is file_system::File);",
        vec![],
        None,
    );
    crate::util::assert_denied(&out, "read", "/sys/dev/block");
}
