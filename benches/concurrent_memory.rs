//! Resident memory per concurrent run: 1,000 runs alive at once in one `Runtime` (each spins
//! until cancelled, after its first authorized read). Prints one line for
//! `scripts/bench-table.sh`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wrex::{Decision, DecisionObserver, Job, Limits, Policy, Runtime, RuntimeOptions, ScriptArgs};

const RUNS: usize = 1000;

fn rss_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4.0
}

struct Started(AtomicUsize);

impl DecisionObserver for Started {
    // One `read` per run: counts the runs that reached their loop.
    fn observe(&self, decision: &Decision) {
        if decision.action.ends_with("\"read\"") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this binary takes no options.
    let runtime = Runtime::with_options(&RuntimeOptions {
        max_concurrent_runs: RUNS as u32,
        max_memory: 64 << 20,
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .canonicalize()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    std::fs::write(format!("{root}/a.txt"), "a\n").unwrap();
    let policy = Policy::parse(&format!(
        "permit (principal, action, resource in file_system::Dir::\"{root}\");"
    ))
    .unwrap();
    // Warm up the allocator, the pool and the policy once.
    let mut args = ScriptArgs::new();
    args.insert("root", root.as_str()).unwrap();
    let _ = runtime.run(Job::new("cat(root + \"/a.txt\")", policy.clone()).args(args.clone()));
    let baseline = rss_kib();

    let started = Arc::new(Started(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let limits = Limits {
        memory: 64 << 20,
        max_operations: 0,
        timeout: Duration::from_secs(300),
        ..Limits::default()
    };
    let script = "cat(root + \"/a.txt\"); loop {}";
    let peak = std::thread::scope(|s| {
        for _ in 0..RUNS {
            let job = Job::new(script, policy.clone())
                .args(args.clone())
                .limits(limits.clone())
                .observer(started.clone())
                .cancel_flag(stop.clone());
            let runtime = &runtime;
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn_scoped(s, move || runtime.run(job))
                .unwrap();
        }
        let waited = Instant::now();
        while started.0.load(Ordering::SeqCst) < RUNS && waited.elapsed() < Duration::from_secs(120)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let alive = started.0.load(Ordering::SeqCst).min(RUNS);
        let peak = rss_kib();
        stop.store(true, Ordering::SeqCst);
        (alive, peak)
    });
    let (alive, peak) = peak;
    let per_run = (peak - baseline) / alive.max(1) as f64;
    println!(
        "concurrent_memory: {alive} runs alive: {:.1} MiB resident ({:.1} MiB before), {per_run:.0} KiB per run",
        peak / 1024.0,
        baseline / 1024.0
    );
}
