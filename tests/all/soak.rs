//! Soak: 10,000 normal and hostile runs in one process; resident memory must not grow without
//! bound. Ignored by default (it takes a while in a debug build); run it with
//! `scripts/soak.sh`, which records the figures for `docs/limits.md`.

use std::time::{Duration, Instant};

use wrex::{Job, Limits, ScriptArgs};

use crate::util::{Sandbox, runtime, script};

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0 / (1024.0 * 1024.0)
}

#[test]
#[ignore = "soak test: run with scripts/soak.sh"]
fn ten_thousand_runs_do_not_grow_memory() {
    let sb = Sandbox::new();
    let policy = sb.policy("rw");
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let hostile = Limits {
        memory: 32 << 20,
        timeout: Duration::from_millis(50),
        max_operations: 200_000,
        max_host_calls: 1_000,
        ..Limits::default()
    };
    let cases: Vec<(&str, Limits)> = vec![
        ("cat_allowed", Limits::default()),
        ("write_replace_append", Limits::default()),
        ("ls", Limits::default()),
        ("handle_metadata", Limits::default()),
        ("cat_outside", Limits::default()),
        ("syntax_error", Limits::default()),
        ("deep_recursion", hostile.clone()),
        ("infinite_loop", hostile.clone()),
        ("string_doubling", hostile.clone()),
        ("many_logs", hostile.clone()),
        ("map_bomb", hostile),
    ];
    let started = Instant::now();
    let mut checkpoints = Vec::new();
    for i in 0..10_000 {
        let (name, limits) = &cases[i % cases.len()];
        let job = Job::new(script(name), policy.clone())
            .args(args.clone())
            .limits(limits.clone());
        let _ = runtime().run(job);
        if (i + 1) % 1_000 == 0 {
            checkpoints.push(rss_mib());
            eprintln!(
                "soak: {:>5} runs, {:>7.1} MiB resident, {:?}",
                i + 1,
                rss_mib(),
                started.elapsed()
            );
        }
    }
    let after_first = checkpoints[0];
    let last = *checkpoints.last().unwrap();
    eprintln!(
        "soak: 10000 runs in {:?}; resident {after_first:.1} MiB after 1000 runs, {last:.1} MiB after 10000",
        started.elapsed()
    );
    assert!(
        last < after_first + 64.0,
        "resident memory grew from {after_first:.1} MiB to {last:.1} MiB"
    );
}
