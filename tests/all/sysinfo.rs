//! The system-information capability through the real guest: `SystemInfo`, `free`, `nproc`,
//! `uname`, `hostname`, `dmesg` allowed (checked against what the test reads itself) and
//! denied.

use crate::util::{assert_contains_all, assert_success, fixture, run_with, script};

fn policy(name: &str) -> String {
    std::fs::read_to_string(fixture("policies", name, "cedar")).unwrap()
}

fn proc_text(path: &str) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

#[test]
fn the_machine_is_reported_as_it_is() {
    // A kernel log record of the test's own, at level 3 (error).
    let marker = format!("wrex-sysinfo-test-{}", std::process::id());
    std::fs::write("/dev/kmsg", format!("<3>{marker}\n")).expect("root writes the kernel log");
    let (out, _) = run_with(
        &script("machine"),
        &policy("machine"),
        vec![("marker", marker.as_str().into())],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    let cpus = std::thread::available_parallelism().unwrap().get();
    let host = proc_text("/proc/sys/kernel/hostname");
    assert_contains_all(
        o,
        [
            "\"memory\": [true, true, true, true]".to_string(),
            "\"swap\": [true]".into(),
            "\"free\": true".into(),
            format!("\"cpus\": [{cpus}, {cpus}]"),
            format!("\"hostname\": [\"{host}\", \"{host}\", \"{host}\"]"),
            format!(
                "\"release\": \"{}\"",
                proc_text("/proc/sys/kernel/osrelease")
            ),
            "\"uname\": [\"Linux\", \"GNU/Linux\", true]".into(),
            format!("] {marker}\"]"),
        ],
    );
    // `dmesg -T`'s stamp: `Sun Nov 29 07:31:16 2026`.
    let timed = o.split("\"timed\": [\"").nth(1).unwrap();
    assert_eq!(
        timed.split('"').next().unwrap().split(' ').count(),
        5,
        "{o}"
    );
}

#[test]
fn each_function_is_refused_without_its_permit() {
    let (out, _) = run_with(&script("denied"), &policy("memory_only"), vec![], None);
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains("\"memory\": true"), "{o}");
    assert!(
        o.contains("\"nproc\": \"PermissionDenied: Permission denied: tester unauthorized to perform sysinfo::Action::\\\"list\\\" for sysinfo::Sysinfo::sysinfo"),
        "{o}"
    );
    assert!(o.contains("\"hostname\": \"PermissionDenied\""), "{o}");
    assert!(
        o.contains("file_system::Action::\\\"read\\\" for file_system::File::/dev/kmsg"),
        "{o}"
    );
}

#[test]
fn kernel_stats_and_iostat_report_proc_stat_and_diskstats() {
    let (out, _) = run_with(
        &script("kernel_stats"),
        &policy("kernel_stats"),
        vec![],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let btime = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim();
    let devices: Vec<String> = std::fs::read_to_string("/proc/diskstats")
        .unwrap()
        .lines()
        .map(|l| format!("{:?}", l.split_whitespace().nth(2).unwrap()))
        .collect();
    assert_contains_all(
        o,
        [
            format!("\"cpus\": {cpus}"),
            "\"ticks\": [true, true, true]".into(),
            "\"counters\": [true, true, true]".into(),
            format!("\"boot_time\": {btime}"),
            "\"map\": true".into(),
            "\"cpu_total\": true".into(),
            format!("\"devices\": [{}]", devices.join(", ")),
            "\"util\": true".into(),
            "\"same\": true".into(),
        ],
    );
    // Without `read` on /proc/stat, kernel_stats is refused.
    let (out, _) = run_with("SystemInfo().kernel_stats()", "", vec![], None);
    crate::util::assert_denied(&out, "read", "/proc/stat");
    // Without `read` on /proc/diskstats, iostat is refused; kernel_stats still works.
    let only_stat = "permit (principal, action == file_system::Action::\"read\", resource == file_system::File::\"/proc/stat\");";
    let (out, _) = run_with(
        "let n = SystemInfo().kernel_stats().cpu_time.len(); let r = n; try { iostat(); } catch (e) { r = `${n} ${e.kind}: ${e.message}`; } r",
        only_stat,
        vec![],
        None,
    );
    assert_success(&out);
    assert!(
        out.output.contains(&format!("{cpus} PermissionDenied: Permission denied: tester unauthorized to perform file_system::Action::\"read\" for file_system::File::/proc/diskstats")),
        "{}",
        out.output
    );
}

#[test]
fn slab_info_reads_proc_slabinfo_with_rexs_checks() {
    let text = std::fs::read_to_string("/proc/slabinfo").expect("root reads /proc/slabinfo");
    let caches: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let policy = "permit (principal, action == file_system::Action::\"open\", resource == file_system::Dir::\"/proc\");\n\
                  permit (principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource == file_system::File::\"/proc/slabinfo\");";
    let (out, _) = run_with(
        &script("slab_info"),
        policy,
        vec![("name", caches[0].into())],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert_contains_all(
        o,
        [
            format!("\"caches\": {}", caches.len()),
            "\"sorted\": true".into(),
            "\"named\": true".into(),
            "\"entry\": [true, true, true, true]".into(),
            format!("\"summary\": [{}, true, true, true]", caches.len()),
        ],
    );
    // Without `read` on the file, Rex's check refuses it.
    let (out, _) = run_with(
        "SystemInfo().slab_info()",
        "permit (principal, action == file_system::Action::\"open\", resource);",
        vec![],
        None,
    );
    crate::util::assert_denied(&out, "read", "/proc/slabinfo");
}
