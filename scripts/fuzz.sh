#!/usr/bin/env bash
# Runs each cargo-fuzz target for a bounded time (default 120 s each) and prints libFuzzer's
# summary lines. Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Usage: scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-120}
for target in args_json policy_load policy_nesting script_run; do
  echo "== $target"
  # -timeout is per input; the first script_run input builds the runtime (compiling the
  # guest on a cold cache), so it is generous.
  cargo +nightly fuzz run -s none "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=120 2>&1 \
    | grep -E "DONE|^Done|ERROR|SUMMARY|crash-|timeout-" || true
done
