//! Helpers of wrex's benchmarks (`runtime.rs`, `concurrent_memory.rs`).

#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The `wrex` binary the benchmarks run as a new process: next to the benchmark's own
/// directory (`target/<profile>/wrex`), built by `cargo build --release -p wrex` (which
/// `scripts/bench-table.sh` does first).
pub fn wrex_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    // target/<profile>/deps/<bench>-<hash> → target/<profile>/wrex
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a benchmark runs from target/<profile>/deps");
    let wrex = profile_dir.join("wrex");
    assert!(
        wrex.is_file(),
        "{} is missing: run `cargo build --release -p wrex` first",
        wrex.display()
    );
    wrex
}
