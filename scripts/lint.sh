#!/usr/bin/env bash
# Every lint wrex holds itself to: formatting; clippy with warnings denied on the host
# (library, binary, tests), the benchmarks and the wasm guest; rustdoc with warnings denied
# (`--doc` also builds the documentation). CI runs `scripts/lint.sh --no-benches`: the
# benchmarks' dependencies (criterion, native Rhai) are a good part of a cold build, and CI's
# time is bounded; run this script as it is before committing a change to `benches/`.
#
# Clippy runs as the code is built: clippy-driver wraps rustc for the workspace's own crates
# (RUSTC_WORKSPACE_WRAPPER, which is what `cargo clippy` sets), so dependencies are compiled
# once, as for `cargo test`, and never a second time in check mode. guest/component/build.rs passes the
# wrapper on to the guest's nested wasm build, which is linted as it is built.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo build -p wrex --tests
if [[ " $* " != *" --no-benches "* ]]; then
    cargo build -p wrex-benches --benches
fi
if [[ " $* " == *" --doc "* ]]; then
    unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items
fi
