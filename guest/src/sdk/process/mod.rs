//! The process SDK (`wrex:sdk/process`): Rex's `ProcessManager`, `ps`, `kill`, `Signal`,
//! `processes_using_inode` (fuser), `list_open_files` (lsof), `ipcs_info` and
//! `monitor_processes_cpu`. Every host operation is one import that the host authorizes per
//! process with Cedar (see `wit/README.md`); `ipcs_info` reads `/proc/sysvipc` through the
//! file-system capability, with its checks.

pub mod error;

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use self::error::{ProcessErrorKind, from_wit, sdk_error};
use crate::bindings::wrex::sdk::process as wit;
use crate::sdk::enums::register_enum_named;
use crate::sdk::flags::{self, Flags, commands};
use crate::sdk::options::options;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `ProcessManager`: a handle with no state of its own (the host remembers what this
/// run listed).
#[derive(Clone, Debug)]
pub struct ProcessManager;

/// Rex's `Signal` (`Signal::SIGTERM` …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal(wit::Signal);

impl Signal {
    const ALL: [(&'static str, wit::Signal); 4] = [
        ("SIGTERM", wit::Signal::Term),
        ("SIGQUIT", wit::Signal::Quit),
        ("SIGHUP", wit::Signal::Hup),
        ("SIGKILL", wit::Signal::Kill),
    ];

    /// The signal of number `n` (Rex accepts 1, 3, 9 and 15).
    fn from_number(n: i64) -> Result<Self> {
        match n {
            1 => Ok(Self(wit::Signal::Hup)),
            3 => Ok(Self(wit::Signal::Quit)),
            9 => Ok(Self(wit::Signal::Kill)),
            15 => Ok(Self(wit::Signal::Term)),
            _ => Err(sdk_error(
                ProcessErrorKind::ValidationError,
                format!(
                    "kill: unsupported signal number {n} (supported: 1 SIGHUP, 3 SIGQUIT, 9 SIGKILL, 15 SIGTERM)"
                ),
            )),
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::ALL
            .iter()
            .find(|(_, s)| *s == self.0)
            .map_or("SIGTERM", |(n, _)| n);
        f.write_str(name)
    }
}

options!(ProcessOptions / ProcessOptionsBuilder {
    load_namespace_info: bool,
    include_threads: bool,
} required []);

options!(KillOptions / KillOptionsBuilder {
    pid: i64,
    process_name: String,
    username: String,
    exact_match: bool,
    command: String,
    signal: Signal,
} required []);

options!(LsofOptions / LsofOptionsBuilder {
    path: String,
    include_subdir: bool,
    pid: i64,
} required []);

options!(MonitorProcessesCpuOptions / MonitorProcessesCpuOptionsBuilder {
    pids_to_monitor: Array,
    batches: i64,
    delay_in_seconds: i64,
    include_threads: bool,
} required []);

/// Rex's `ProcessInfo`.
#[derive(Clone, Debug)]
pub struct ProcessInfo(wit::ProcessInfo);

/// Rex's `PidNamespace`.
#[derive(Clone, Debug)]
pub struct PidNamespace(wit::PidNamespace);

/// Rex's `FuserInfo`.
#[derive(Clone, Debug)]
pub struct FuserInfo(wit::FileUser);

/// Rex's `OpenFileInfo`.
#[derive(Clone, Debug)]
pub struct OpenFileInfo(wit::OpenFile);

/// Rex's `IpcsInfo`: the kernel's System V IPC tables, as text.
#[derive(Clone, Debug)]
pub struct IpcsInfo {
    shared_memory: String,
    queues: String,
    semaphores: String,
}

impl fmt::Display for IpcsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Shared Memory Segments:")?;
        writeln!(f, "{}", self.shared_memory)?;
        writeln!(f, "\nMessage Queues:")?;
        writeln!(f, "{}", self.queues)?;
        writeln!(f, "\nSemaphore Arrays:")?;
        write!(f, "{}", self.semaphores)
    }
}

fn opt_int(v: Option<u32>) -> Dynamic {
    v.map_or(Dynamic::UNIT, |v| Dynamic::from(i64::from(v)))
}

impl PidNamespace {
    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert(
            "namespace_id".into(),
            Dynamic::from(self.0.namespace_id as i64),
        );
        m.insert(
            "child_ns_pid".into(),
            Dynamic::from(i64::from(self.0.child_ns_pid)),
        );
        m
    }
}

impl ProcessInfo {
    fn to_map(&self) -> Map {
        let p = &self.0;
        let mut m = Map::new();
        m.insert("pid".into(), Dynamic::from(i64::from(p.pid)));
        m.insert("ppid".into(), opt_int(p.ppid));
        m.insert("uid".into(), opt_int(p.uid));
        m.insert("name".into(), p.name.clone().into());
        m.insert("username".into(), p.username.clone().into());
        m.insert("command".into(), p.command.clone().into());
        m.insert("state".into(), p.state.clone().into());
        m.insert("memory_usage".into(), Dynamic::from(p.memory_usage as i64));
        m.insert("memory_percent".into(), Dynamic::from(p.memory_percent));
        m.insert(
            "recent_cpu_usage".into(),
            p.recent_cpu_usage
                .map_or(Dynamic::UNIT, |v| Dynamic::from(f64::from(v))),
        );
        m.insert(
            "historical_cpu_usage".into(),
            Dynamic::from(f64::from(p.historical_cpu_usage)),
        );
        m.insert(
            "pid_namespace".into(),
            p.pid_namespace
                .map_or(Dynamic::UNIT, |ns| PidNamespace(ns).to_map().into()),
        );
        m
    }
}

impl FuserInfo {
    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("user".into(), self.0.user.clone().into());
        m.insert("command".into(), self.0.command.clone().into());
        m.insert("pid".into(), Dynamic::from(i64::from(self.0.pid)));
        m.insert("access".into(), self.0.access.clone().into());
        m
    }
}

impl OpenFileInfo {
    fn to_map(&self) -> Map {
        let f = &self.0;
        let mut m = Map::new();
        m.insert("pid".into(), Dynamic::from(i64::from(f.pid)));
        m.insert("process_name".into(), f.process_name.clone().into());
        m.insert("user".into(), f.user.clone().into());
        m.insert("command".into(), f.command.clone().into());
        m.insert("file_path".into(), f.file_path.clone().into());
        m.insert("file_type".into(), f.file_type.clone().into());
        m.insert("access".into(), f.access.clone().into());
        m
    }
}

fn processes(options: &ProcessOptions) -> Result<Array> {
    let list = wit::list_processes(
        options.include_threads.unwrap_or(false),
        options.load_namespace_info.unwrap_or(false),
    )
    .map_err(from_wit)?;
    Ok(list
        .into_iter()
        .map(|p| Dynamic::from(ProcessInfo(p)))
        .collect())
}

fn non_empty(value: &Option<String>, what: &str) -> Result<Option<String>> {
    match value {
        Some(v) if v.is_empty() => Err(sdk_error(
            ProcessErrorKind::ValidationError,
            format!("KillOptions: `{what}` is empty"),
        )),
        other => Ok(other.clone()),
    }
}

fn kill(options: &KillOptions) -> Result<Array> {
    let target = wit::KillTarget {
        pid: options.pid,
        name: non_empty(&options.process_name, "process_name")?,
        username: non_empty(&options.username, "username")?,
        command: non_empty(&options.command, "command")?,
        exact_match: options.exact_match.unwrap_or(false),
    };
    let signal = options.signal.map_or(wit::Signal::Term, |s| s.0);
    let killed = wit::kill(&target, signal).map_err(from_wit)?;
    Ok(killed
        .into_iter()
        .map(|k| {
            let mut m = Map::new();
            m.insert("name".into(), k.name.into());
            m.insert("pid".into(), Dynamic::from(i64::from(k.pid)));
            Dynamic::from_map(m)
        })
        .collect())
}

/// `kill(pid)` / `kill([kill::signal(9)], pid)`.
fn kill_command(flags: &Flags, pid: i64) -> Result<Array> {
    let signal = match flags.value("signal") {
        Some(n) => Signal::from_number(n)?,
        None => Signal(wit::Signal::Term),
    };
    kill(&KillOptions {
        pid: Some(pid),
        signal: Some(signal),
        ..KillOptions::default()
    })
}

fn open_files(options: &LsofOptions) -> Result<Array> {
    let files = wit::open_files(
        options.path.as_deref(),
        options.include_subdir.unwrap_or(false),
        options.pid,
    )
    .map_err(from_wit)?;
    Ok(files
        .into_iter()
        .map(|f| Dynamic::from(OpenFileInfo(f)))
        .collect())
}

fn monitor(options: &MonitorProcessesCpuOptions) -> Result<Array> {
    let pids = options
        .pids_to_monitor
        .iter()
        .flatten()
        .map(|v| {
            v.as_int()
                .ok()
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    sdk_error(
                        ProcessErrorKind::ValidationError,
                        format!("MonitorProcessesCpuOptions: `{v}` is not a PID"),
                    )
                })
        })
        .collect::<Result<Vec<u32>>>()?;
    let count = |v: Option<i64>, default: i64, what: &str| -> Result<u64> {
        u64::try_from(v.unwrap_or(default)).map_err(|_| {
            sdk_error(
                ProcessErrorKind::ValidationError,
                format!("MonitorProcessesCpuOptions: `{what}` must not be negative"),
            )
        })
    };
    let batches = u32::try_from(count(options.batches, 1, "batches")?).unwrap_or(u32::MAX);
    let delay_ms = count(options.delay_in_seconds, 1, "delay_in_seconds")?.saturating_mul(1000);
    let out = wit::monitor_cpu(
        &pids,
        batches,
        delay_ms,
        options.include_threads.unwrap_or(false),
    )
    .map_err(from_wit)?;
    Ok(out
        .into_iter()
        .map(|batch| {
            Dynamic::from_array(
                batch
                    .into_iter()
                    .map(|p| Dynamic::from(ProcessInfo(p)))
                    .collect(),
            )
        })
        .collect())
}

/// `ipcs_info()`: `/proc/sysvipc/{shm,msg,sem}`, read through the file-system capability
/// (`open` on the directory, `open` and `read` on each file), as Rex reads them.
fn ipcs() -> Result<IpcsInfo> {
    use crate::sdk::fs::{READ_ONLY, from_wit as fs_error, open_dir, read_string};
    let dir = open_dir("/proc/sysvipc", false, false, false)?;
    let read = |name: &str| -> Result<String> {
        let file = dir.open_file(name, READ_ONLY).map_err(fs_error)?;
        read_string(&file)
    };
    Ok(IpcsInfo {
        shared_memory: read("shm")?,
        semaphores: read("sem")?,
        queues: read("msg")?,
    })
}

/// The flags of `kill` (`kill::signal(9)`, which Rex documents but never registered).
const FLAGS: &[(&str, &[flags::FlagSpec])] = &[("kill", &[("signal", &[], 1)])];

/// Registers the process SDK.
pub fn register(engine: &mut Engine) {
    crate::sdk::error::register::<ProcessErrorKind>(engine);
    register_enum_named(
        engine,
        "Signal",
        Signal::ALL.iter().map(|(n, s)| (*n, Signal(*s))),
    );
    ProcessOptions::register(engine);
    KillOptions::register(engine);
    LsofOptions::register(engine);
    MonitorProcessesCpuOptions::register(engine);

    engine
        .register_type_with_name::<PidNamespace>("PidNamespace")
        .register_get("namespace_id", |n: &mut PidNamespace| {
            n.0.namespace_id as i64
        })
        .register_get("child_ns_pid", |n: &mut PidNamespace| {
            i64::from(n.0.child_ns_pid)
        })
        .register_fn("to_map", |n: &mut PidNamespace| n.to_map());
    engine
        .register_type_with_name::<ProcessInfo>("ProcessInfo")
        .register_get("pid", |p: &mut ProcessInfo| i64::from(p.0.pid))
        .register_get("ppid", |p: &mut ProcessInfo| opt_int(p.0.ppid))
        .register_get("uid", |p: &mut ProcessInfo| opt_int(p.0.uid))
        .register_get("name", |p: &mut ProcessInfo| p.0.name.clone())
        .register_get("username", |p: &mut ProcessInfo| p.0.username.clone())
        .register_get("command", |p: &mut ProcessInfo| p.0.command.clone())
        .register_get("state", |p: &mut ProcessInfo| p.0.state.clone())
        .register_get("memory_usage", |p: &mut ProcessInfo| {
            p.0.memory_usage as i64
        })
        .register_get("memory_percent", |p: &mut ProcessInfo| p.0.memory_percent)
        .register_get("recent_cpu_usage", |p: &mut ProcessInfo| {
            p.0.recent_cpu_usage
                .map_or(Dynamic::UNIT, |v| Dynamic::from(f64::from(v)))
        })
        .register_get("historical_cpu_usage", |p: &mut ProcessInfo| {
            f64::from(p.0.historical_cpu_usage)
        })
        .register_get("pid_namespace", |p: &mut ProcessInfo| {
            p.0.pid_namespace
                .map_or(Dynamic::UNIT, |ns| Dynamic::from(PidNamespace(ns)))
        })
        .register_fn("to_map", |p: &mut ProcessInfo| p.to_map());
    engine
        .register_type_with_name::<FuserInfo>("FuserInfo")
        .register_get("user", |f: &mut FuserInfo| f.0.user.clone())
        .register_get("command", |f: &mut FuserInfo| f.0.command.clone())
        .register_get("pid", |f: &mut FuserInfo| i64::from(f.0.pid))
        .register_get("access", |f: &mut FuserInfo| f.0.access.clone())
        .register_fn("to_map", |f: &mut FuserInfo| f.to_map());
    engine
        .register_type_with_name::<OpenFileInfo>("OpenFileInfo")
        .register_get("pid", |f: &mut OpenFileInfo| i64::from(f.0.pid))
        .register_get("process_name", |f: &mut OpenFileInfo| {
            f.0.process_name.clone()
        })
        .register_get("user", |f: &mut OpenFileInfo| f.0.user.clone())
        .register_get("command", |f: &mut OpenFileInfo| f.0.command.clone())
        .register_get("file_path", |f: &mut OpenFileInfo| f.0.file_path.clone())
        .register_get("file_type", |f: &mut OpenFileInfo| f.0.file_type.clone())
        .register_get("access", |f: &mut OpenFileInfo| f.0.access.clone())
        .register_fn("to_map", |f: &mut OpenFileInfo| f.to_map());
    engine
        .register_type_with_name::<IpcsInfo>("IpcsInfo")
        .register_get("shared_memory", |i: &mut IpcsInfo| i.shared_memory.clone())
        .register_get("queues", |i: &mut IpcsInfo| i.queues.clone())
        .register_get("semaphores", |i: &mut IpcsInfo| i.semaphores.clone())
        .register_fn("to_string", |i: &mut IpcsInfo| i.to_string());

    engine
        .register_type_with_name::<ProcessManager>("ProcessManager")
        .register_fn("ProcessManager", || ProcessManager)
        .register_fn("processes", |_: &mut ProcessManager| {
            processes(&ProcessOptions::default())
        })
        .register_fn("processes", |_: &mut ProcessManager, o: ProcessOptions| {
            processes(&o)
        })
        .register_fn("kill", |_: &mut ProcessManager, o: KillOptions| kill(&o))
        .register_fn(
            "processes_using_inode",
            |_: &mut ProcessManager, path: &str| -> Result<Array> {
                let users = wit::processes_using(path).map_err(from_wit)?;
                Ok(users
                    .into_iter()
                    .map(|u| Dynamic::from(FuserInfo(u)))
                    .collect())
            },
        )
        .register_fn(
            "list_open_files",
            |_: &mut ProcessManager, o: LsofOptions| open_files(&o),
        )
        .register_fn("ipcs_info", |_: &mut ProcessManager| ipcs())
        .register_fn(
            "monitor_processes_cpu",
            |_: &mut ProcessManager, o: MonitorProcessesCpuOptions| monitor(&o),
        )
        .register_fn("ps", || processes(&ProcessOptions::default()));

    flags::register_modules(engine, FLAGS);
    commands!(engine, ProcessErrorKind::ValidationError;
        "kill" => |flags, pid: i64| kill_command(flags, pid);
    );
}
