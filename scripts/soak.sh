#!/usr/bin/env bash
# Runs the soak test (10,000 normal and hostile scripts in one process) in release mode and
# prints resident memory every 1,000 runs. The figures go in docs/limits.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p wrex --test integration -- --ignored --nocapture soak 2>&1 | grep -E "^soak:|test result"
