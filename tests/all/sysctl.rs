//! Kernel parameters through the real guest: `SysctlManager` and `sysctl_read`/`_write`/
//! `_find` over `/proc/sys`, allowed and denied. The write is to `kernel.printk_ratelimit`,
//! which the script (and, whatever happens, the test) restores.

use crate::util::{Sandbox, assert_contains_all, assert_success, run_with, script};

/// Puts the parameter back however the test ends.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/printk_ratelimit", &self.0);
    }
}

#[test]
fn parameters_are_read_written_and_found_as_the_policy_allows() {
    let before = std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit").unwrap();
    let _restore = Restore(before.clone());
    let sb = Sandbox::new();
    let (out, _) = run_with(&script("sysctl"), &sb.policy_text("kernel"), vec![], None);
    assert_success(&out);
    let o = &out.output;
    let before = before.trim();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_contains_all(
        o,
        [
        format!("\"before\": \"{before}\""),
        "\"after\": \"7\"".into(),
        format!("\"restored\": \"{before}\""),
        "\"found\": [\"kernel.printk\", \"kernel.printk_delay\"".into(),
        format!("\"osrelease\": \"{}\"", release.trim()),
        "\"denied\": \"PermissionDenied: Permission denied: tester unauthorized to perform file_system::Action::\\\"open\\\" for file_system::Dir::/proc/sys/net/ipv4".into(),
        "\"wdenied\": \"PermissionDenied\"".into(),
        "\"bad\": \"invalid sysctl key".into(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/printk_ratelimit")
            .unwrap()
            .trim(),
        before
    );
}
