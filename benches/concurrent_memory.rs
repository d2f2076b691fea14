//! Resident memory per concurrent run: 1,000 runs alive at once in one `Runtime`. Each run
//! makes one authorized read and is held inside that host call (by its decision observer)
//! until all 1,000 are alive; resident memory is sampled then. Prints one line for
//! `scripts/bench-table.sh`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use wrex::{Decision, DecisionObserver, Job, Limits, Policy, Runtime, RuntimeOptions, ScriptArgs};

const RUNS: usize = 1000;

fn rss_kib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4.0
}

/// Holds every run inside its `read` decision until released.
#[derive(Default)]
struct Gate {
    alive: Mutex<usize>,
    changed: Condvar,
    released: AtomicBool,
}

impl DecisionObserver for Gate {
    fn observe(&self, decision: &Decision) {
        if !decision.action.ends_with("\"read\"") {
            return;
        }
        let mut alive = self.alive.lock().unwrap();
        *alive += 1;
        self.changed.notify_all();
        while !self.released.load(Ordering::SeqCst) {
            alive = self.changed.wait(alive).unwrap();
        }
    }
}

#[path = "../tests/support/temp_tree.rs"]
mod temp_tree;

fn main() {
    let runtime = Runtime::with_options(&RuntimeOptions {
        max_concurrent_runs: RUNS as u32,
        max_memory: 64 << 20,
    })
    .unwrap();
    let tree = temp_tree::TempTree::new();
    tree.write("a.txt", "a\n");
    let root = &tree.root;
    let policy = Policy::parse(&format!(
        "permit (principal, action, resource in file_system::Dir::\"{root}\");"
    ))
    .unwrap();
    let mut args = ScriptArgs::new();
    args.insert("root", root.as_str()).unwrap();
    // Warm up once, then take the baseline.
    let _ = runtime.run(Job::new("cat(root + \"/a.txt\")", policy.clone()).args(args.clone()));
    let baseline = rss_kib();

    let gate = Arc::new(Gate::default());
    let limits = Limits {
        memory: 64 << 20,
        timeout: Duration::from_secs(300),
        ..Limits::default()
    };
    let (alive, peak) = std::thread::scope(|s| {
        for _ in 0..RUNS {
            let job = Job::new("cat(root + \"/a.txt\").len()", policy.clone())
                .args(args.clone())
                .limits(limits.clone())
                .observer(gate.clone());
            let runtime = &runtime;
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn_scoped(s, move || assert!(runtime.run(job).is_success()))
                .unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut alive = gate.alive.lock().unwrap();
        while *alive < RUNS && Instant::now() < deadline {
            alive = gate
                .changed
                .wait_timeout(alive, Duration::from_millis(100))
                .unwrap()
                .0;
        }
        let counted = *alive;
        drop(alive);
        let peak = rss_kib();
        gate.released.store(true, Ordering::SeqCst);
        gate.changed.notify_all();
        (counted, peak)
    });
    let per_run = (peak - baseline) / alive.max(1) as f64;
    println!(
        "concurrent_memory: {alive} runs alive: {:.1} MiB resident ({:.1} MiB before), {per_run:.0} KiB per run",
        peak / 1024.0,
        baseline / 1024.0
    );
}
