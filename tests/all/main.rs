//! wrex's integration tests: fast host-only tests first, then scripts through the real guest,
//! then the `wrex` binary. One module per capability (`<cap>.rs`, plus `<cap>_escape*.rs` where
//! it has an attack surface) and per cross-cutting area:
//!
//! - `policy`: the schema and example policies load and validate; bad policies are refused with
//!   line and column.
//! - `authz`: the `authorize()` choke point against real policies (no wasm).
//! - `component`: the guest component's imports are exactly wrex's own interfaces.
//! - `audit`: the audit log (every decision, hash-chained, durable, signed summaries; tampering
//!   and a killed run), and `on_behalf_of` in policies.
//! - `explain`: denial reasons, `wrex explain`, `wrex policy check`.
//! - `runner`: compile errors, disabled keywords, values and arguments, forged denials, one
//!   runtime serving many runs.
//! - `log`: the script log.
//! - `mcp`: `wrex mcp` driven by the official MCP TypeScript SDK client (stdio, HTTP with a
//!   bearer token) and the MCP conformance suite; malformed input; bad server flags.
//! - `sdk`: `wrex functions` lists every function the guest registers, described.
//! - `fs`: the file-system commands and core handle API, allowed and denied, with the file
//!   system checked afterwards.
//! - `fs_helpers`: the other file-system helpers, with Rex's documented outputs.
//! - `fs_denials`: every file-system helper denied without side effects, and bad input refused.
//! - `fs_escape`, `fs_escape_helpers`: sandbox-escape attempts (`..`, symlinks, `/proc`, races,
//!   hard links, tar-slip), each refused with nothing read or written outside the policy.
//! - `host_work`: the host's own work is bounded: deep-path authorization, long host calls
//!   under the deadline, no set-id files, moves below a `forbid`, unforgeable denials, quotas.
//! - `labels`: the data layer: purpose, data labels (entities file, extended attributes,
//!   inherited from directories), read budgets and lineage, with the example policies.
//! - `disk`: `df`/`Filesystems`, `format_bytes`, `unmount` of a tmpfs the test mounts.
//! - `exec`: `execute` with the arguments, environment and user a policy allows; nothing of the
//!   host reaches the child; output, timeouts and the run's end kill its whole group.
//! - `process`: processes listed per policy, signals through pidfds (the host never a target),
//!   fuser, lsof, ipcs, CPU monitoring, bad input.
//! - `limits`: runaway scripts (time, memory, output, host calls) are stopped and the runtime
//!   keeps serving.
//! - `rex_case` (the table runner), `rex_handles`, `rex_links`, `rex_archives`, `rex_find`,
//!   `rex_entries`, `rex_fs`, `rex_commands`: Rex's own file-system tests, carried over case by
//!   case in wrex's words.
//! - `sysctl`: kernel parameters read, written (and restored), found, and refused.
//! - `sysinfo`: `SystemInfo`, `free`, `nproc`, `uname`, `hostname`, `dmesg`, allowed and denied.
//! - `systemd`: `SystemctlManager` through the binary against a private `dbus-daemon` with
//!   python-dbusmock's systemd template; the hung-service runbook end to end.
//! - `time`: `DateTime`, `now` from the host's clock, `random_alphanumeric`, `to_json`.
//! - `tenants`: per-tenant roots keep concurrent tenants apart, even under a careless policy.
//! - `soak` (ignored; `scripts/soak.sh`): 10,000 runs in one process, memory must stay flat.
//! - `cli`: the built `wrex` binary: formats, exit codes, Rex flags, bad input files.
//!
//! Fixtures live in `tests/scripts/<area>/` and `tests/policies/<area>/`.

mod audit;
mod authz;
mod cli;
mod component;
mod disk;
mod exec;
mod explain;
mod fs;
mod fs_denials;
mod fs_escape;
mod fs_escape_helpers;
mod fs_helpers;
mod host_work;
mod labels;
mod limits;
mod log;
mod mcp;
mod network;
mod policy;
mod process;
mod rex_archives;
mod rex_case;
mod rex_commands;
mod rex_entries;
mod rex_find;
mod rex_fs;
mod rex_handles;
mod rex_links;
mod runner;
mod sdk;
mod soak;
mod sysctl;
mod sysinfo;
mod systemd;
mod tenants;
mod time;
mod util;
