//! wrex's integration tests, one module per area:
//!
//! - `policy`: the schema and example policies load and validate; bad policies are refused with
//!   line and column.
//! - `authz`: the `authorize()` choke point against real policies (no wasm).
//! - `scripts`: Rex scripts through the real guest component, each SDK function allowed and
//!   denied, with the file system checked afterwards.
//! - `escape`: sandbox-escape attempts (`..`, symlinks, `/proc`), each refused with nothing
//!   read or written outside the policy.
//! - `limits`: runaway scripts (time, memory) are stopped and the runtime keeps serving.
//! - `tenants`: per-tenant roots keep concurrent tenants apart, even under a careless policy.
//! - `component`: the guest component's imports are exactly wrex's own interfaces.
//! - `soak` (ignored; `scripts/soak.sh`): 10,000 runs in one process, memory must stay flat.
//! - `cli`: the built `wrex` binary: formats, exit codes, Rex flags, bad input files.

mod authz;
mod cli;
mod component;
mod escape;
mod escape_ops;
mod fsops;
mod limits;
mod policy;
mod scripts;
mod soak;
mod tenants;
mod util;
