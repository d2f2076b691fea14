//! The script-facing SDK: Rex's global names, registered on the Rhai engine, one module per
//! capability, plus what every capability shares.
//!
//! | module    | what it holds                                                               |
//! |-----------|-----------------------------------------------------------------------------|
//! | `error`   | the SDK error map `#{kind, message, source}`, generic over a capability's kinds |
//! | `options` | the one option-builder style (`options!`)                                   |
//! | `enums`   | types with a fixed set of values (`EntryType::FILE`): one registration       |
//! | `flags`   | command flags (`cat::number`, `tail::n(5)`) and `commands!`, which registers a command once |
//! | `fs`      | the file-system capability (`wrex:sdk/fs`)                                  |
//! | `exec`    | `fh.execute(ExecuteOptions)` (`wrex:sdk/exec`)                               |
//! | `log`     | `info`, `warn`, `error`, `trace`, and `debug` routed to the host log        |
//! | `systemd` | `SystemctlManager`, `ServiceInfo`, `State` (`wrex:sdk/systemd`)          |
//! | `disk`    | `Filesystems`, `df`, `format_bytes`, `unmount` (`wrex:sdk/disk`)           |
//! | `network` | `Client`, `curl`, `connect`, `resolve`, `ip_addresses`, `netstat` (`wrex:sdk/network`) |
//! | `slab`    | `SystemInfo().slab_info()` (`/proc/slabinfo` through `wrex:sdk/fs`, parsed here) |
//! | `sysctl`  | `SysctlManager`, `sysctl_read`/`_write`/`_find` (through `wrex:sdk/fs`)    |
//! | `sysinfo` | `SystemInfo`, `free`, `nproc`, `uname`, `dmesg`, `hostname` (`wrex:sdk/sysinfo`) |
//! | `time`    | `DateTime`, `DateTimeFormat`, `random_alphanumeric` (`wrex:sdk/clock`)         |
//! | `process` | the process capability (`wrex:sdk/process`): `ProcessManager`, `ps`, `kill` |
//!
//! A new capability adds a module here, its line in [`register`], and its error kinds in
//! [`describe_error`].

pub mod disk;
pub mod enums;
pub mod error;
pub mod exec;
pub mod flags;
pub mod fs;
pub mod log;
pub mod metrics;
pub mod network;
pub mod options;
pub mod process;
pub mod slab;
pub mod sysctl;
pub mod sysinfo;
pub mod systemd;
pub mod time;

use rhai::{Dynamic, Engine};

use self::error::Described;

/// Registers the whole SDK.
pub fn register(engine: &mut Engine) {
    fs::register(engine);
    exec::register(engine);
    log::register(engine);
    metrics::register(engine);
    process::register(engine);
    systemd::register(engine);
    sysinfo::register(engine);
    sysctl::register(engine);
    slab::register(engine);
    disk::register(engine);
    network::register(engine);
    time::register(engine);
}

/// What an uncaught SDK error says and whether it is a host denial, for any capability's
/// error kinds; `None` for a value that is not an SDK error.
pub fn describe_error(value: &Dynamic) -> Option<Described> {
    error::describe::<fs::error::IoErrorKind>(value)
        .or_else(|| error::describe::<process::error::ProcessErrorKind>(value))
        .or_else(|| error::describe::<time::CommonUtilsErrorKind>(value))
        .or_else(|| error::describe::<sysinfo::SysteminfoErrorKind>(value))
        .or_else(|| error::describe::<disk::DiskinfoErrorKind>(value))
        .or_else(|| error::describe::<network::NetworkErrorKind>(value))
}
