#!/usr/bin/env bash
# Every lint wrex holds itself to, as CI runs them: formatting; clippy with warnings denied on
# the host (library, binary, tests, benches) and on the wasm guest; rustdoc with warnings
# denied (`--doc` also builds the documentation, which CI leaves out for time).
#
# Clippy runs as the code is built: clippy-driver wraps rustc for the workspace's own crates
# (RUSTC_WORKSPACE_WRAPPER, which is what `cargo clippy` sets), so dependencies are compiled
# once, as for `cargo test`, and never a second time in check mode. host/build.rs passes the
# wrapper on to the guest's nested wasm build, which is linted as it is built.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
RUSTC_WORKSPACE_WRAPPER="$(command -v clippy-driver)"
CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo build --tests --benches
if [[ "${1:-}" == "--doc" ]]; then
    unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --document-private-items
fi
