//! The script SDK, self-described: every function the sandboxed interpreter registers (asked of
//! the guest itself, [`crate::Runtime::sdk_signatures`]), with what it does and the Cedar
//! checks it makes. `wrex functions` and the MCP server's `list_functions` print this.
//!
//! The signatures come from the guest's own registration, so the list cannot drift from what
//! scripts can call. The descriptions come from `DOCS` (one entry per function or method
//! name) or, for the uniform families — option builders, property getters, value helpers —
//! from their shape; [`describe`] reports any function that neither covers, and the test
//! suite requires there be none.

use serde::Serialize;

/// One SDK function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// The name scripts call (`cat`, `read`, `tail::n`, a property name).
    pub name: String,
    /// For a method or property: the type it is called on (`FileHandle`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Whether it is a property (`entry.name`) rather than a call.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub property: bool,
    /// The signature, with Rhai's type names (`cat(array, string) -> string`).
    pub signature: String,
    /// What it does, in one line.
    pub description: String,
    /// The Cedar actions and resource types it checks (`none` for pure computation).
    pub checks: String,
}

/// A documented function: its key (`cat`, `FileHandle.read`, `tail::n`), what it does, and
/// what it checks.
struct Doc {
    key: &'static str,
    description: &'static str,
    checks: &'static str,
}

const AS_CAT: &str = "`open` Dir(parent); `open` + `read` File (falls back to `redacted_read`)";
const NONE: &str = "none (no host call)";

macro_rules! docs {
    ($($key:literal => $description:literal, $checks:expr;)*) => {
        &[$(Doc { key: $key, description: $description, checks: $checks }),*]
    };
}

/// The functions and methods that are not uniform builders, getters or value helpers.
const DOCS: &[Doc] = docs! {
    // Commands (Rex's names, by path).
    "cat" => "Reads a file's text (`cat::number` numbers the lines).", AS_CAT;
    "ls" => "Lists a directory: a map of name to entry (`ls::all`, `ls::long`, `ls::recursive`).", "`open` + `read` Dir (each subdirectory with `ls::recursive`); a symlink: `open` + `stat` File";
    "write" => "Writes text to a file, replacing it or with `write::append` appending; creates it if missing.", "`open` Dir(parent); `open` + `create` + `write` File";
    "touch" => "Creates an empty file if it does not exist.", "`open` Dir(parent); `open` + `create` File";
    "mkdir" => "Creates a directory (`mkdir::parents` creates missing ancestors).", "`open` Dir(parent); `create` Dir (each missing ancestor with `mkdir::parents`)";
    "rm" => "Removes a file or directory (`rm::recursive`, `rm::force`).", "`open` Dir(parent); `delete` File or Dir (every entry below with `rm::recursive`)";
    "grep" => "Lines of a file matching a regular expression (`grep::i`, `::c`, `::v`, `::n`, `::m(k)`).", AS_CAT;
    "tail" => "The last lines of a file (`tail::n(k)`, `tail::from(l)`, `tail::range(s, e)`).", "`open` Dir(parent); `open` + `read` File";
    "wc" => "Counts a file's lines, words and bytes (`wc::l`, `::w`, `::c`).", "`open` Dir(parent); `open` + `read` File";
    "sed" => "Replaces text in a file's contents (`sed::regex`, `::all`, `::in_place` writes it back).", "as `cat`; `write` File with `sed::in_place`";
    "cp" => "Copies a file (`cp::force`, `cp::preserve`).", "`open` Dir(parent(src)); `open` + `read` File(src); `open` Dir(parent(dst)); `open` + `create` + `write` File(dst)";
    "mv" => "Moves or renames a file or directory (`mv::backup`).", "`open` both parents and the source; `move` (context `destination`); `create` the destination";
    "find_files" => "Names of the files under a directory matching a glob (`glob::recursive`).", "`open` + `read` on each directory walked (denied ones skipped)";
    "du" => "Disk usage of a directory (`du::s`, `::a`, `::apparent_size`, `::d(n)`).", "`stat` Dir; `open` + `read` on each directory walked";
    "awk_field" => "Field N of each line of a file.", AS_CAT;
    "awk_filter" => "Lines of a file matching a regular expression.", AS_CAT;
    "awk_filter_field" => "Field N of the lines of a file matching a regular expression.", AS_CAT;
    "awk_sum" => "Sum of field N over a file's lines.", AS_CAT;
    "awk_count_unique" => "Counts of each distinct value of field N in a file.", AS_CAT;
    "awk_filter_range" => "Lines from line A to line B of a file.", AS_CAT;
    "awk_split" => "Splits text by a delimiter.", NONE;
    "seq" => "A sequence of integers (`seq::step`).", NONE;
    "replace_text" => "Replaces text in a string (ReplacementOptions).", NONE;
    // Flags with a value.
    "tail::n" => "Flag: the last K lines.", NONE;
    "tail::from" => "Flag: from line L on.", NONE;
    "tail::range" => "Flag: lines S to E.", NONE;
    "grep::m" => "Flag: at most K matches.", NONE;
    "grep::max_count" => "Flag: at most K matches.", NONE;
    "du::d" => "Flag: report directories N levels deep.", NONE;
    "du::max_depth" => "Flag: report directories N levels deep.", NONE;
    "seq::step" => "Flag: the step between numbers.", NONE;
    "SizeRange::between" => "A size range from MIN to MAX bytes (FindOptions).", NONE;
    "SizeRange::min_only" => "A size range of at least MIN bytes.", NONE;
    "SizeRange::max_only" => "A size range of at most MAX bytes.", NONE;
    // Log and metrics.
    "info" => "Adds an INFO entry to the script log.", NONE;
    "warn" => "Adds a WARN entry to the script log.", NONE;
    "error" => "Adds an ERROR entry to the script log.", NONE;
    "trace" => "Adds a TRACE entry to the script log.", NONE;
    "debug" => "Adds a DEBUG entry to the script log.", NONE;
    "MetricBuilder" => "Starts a metric: `.name(n)`, `.value(v)`, `.unit(u)`, `.dimensions(d)`, then `.publish()`.", NONE;
    "MetricDimensionsBuilder" => "Starts a metric's dimensions: `.add(key, value)`, then `.build()`.", NONE;
    "AlarmBuilder" => "Starts an alarm: `.type(t)`, `.details(d)`, then `.publish()`.", NONE;
    "MetricBuilder.publish" => "Publishes the metric in the run result.", NONE;
    "AlarmBuilder.publish" => "Publishes the alarm in the run result.", NONE;
    // Directories.
    "DirConfig.open" => "Opens a directory (the way in to the handle API).", "`open` Dir (`create` with `create(true)`)";
    "DirHandle.open_file" => "Opens a file in the directory (read, write, create …).", "`open` File; `create` with `create(true)`";
    "DirHandle.list_entries" => "The directory's entries: a map of name to DirEntry.", "`read` Dir";
    "DirHandle.metadata" => "The directory's metadata.", "`stat` Dir";
    "DirHandle.delete" => "Deletes the directory (`recursive`).", "`delete` Dir (every entry below with `recursive`)";
    "DirHandle.chmod" => "Sets the directory's permission bits (`recursive`).", "`chmod` Dir (every entry below with `recursive`)";
    "DirHandle.set_ownership" => "Sets the directory's owner and group (`recursive`).", "`chown` Dir (every entry below with `recursive`)";
    "DirHandle.get_ownership" => "The directory's owner and group names.", "`stat` Dir";
    "DirHandle.create_symlink" => "Creates a symbolic link in the directory.", "`create` File(link)";
    "DirHandle.open_symlink" => "Opens a symbolic link in the directory (not followed).", "`open` File(link)";
    "DirHandle.read_link_target" => "The target of a symbolic link in the directory.", "`read` File(link)";
    "DirHandle.find" => "Walks the tree below the directory, calling a function for each entry matching FindOptions.", "`open` + `read` on each directory walked (denied ones skipped)";
    "DirHandle.disk_usage" => "Disk usage of the tree below the directory.", "`stat` Dir; `open` + `read` on each directory walked";
    "DirHandle.move" => "Moves a directory into another.", "`move` Dir (context `destination`) and every entry below; `create` at the destination";
    // Files.
    "FileHandle.read" => "The file's whole text.", "`read` File (falls back to `redacted_read`)";
    "FileHandle.write" => "Replaces the file's contents; returns a handle to the new file.", "`write` File (`stat` + `chown` with `preserve_ownership`)";
    "FileHandle.write_in_place" => "Overwrites the file's contents in place.", "`write` File";
    "FileHandle.read_lines" => "Lines of the file (ReadLinesOptions: count, start).", "`read` File";
    "FileHandle.read_page" => "A page of the file's lines.", "`read` File";
    "FileHandle.counts" => "The file's line, word and byte counts.", "`read` File";
    "FileHandle.extract_strings" => "Printable strings in a binary file.", "`read` File";
    "FileHandle.search" => "Lines matching a regular expression, with line numbers.", "`read` File (falls back to `redacted_read`)";
    "FileHandle.metadata" => "The file's metadata.", "`stat` File";
    "FileHandle.delete" => "Deletes the file.", "`delete` File";
    "FileHandle.chmod" => "Sets the file's permission bits.", "`chmod` File";
    "FileHandle.set_ownership" => "Sets the file's owner and group.", "`chown` File";
    "FileHandle.get_ownership" => "The file's owner and group names.", "`stat` File";
    "FileHandle.get_last_modified_time" => "The file's modification time, in nanoseconds.", "`stat` File";
    "FileHandle.disk_usage" => "The file's disk usage.", "`stat` File";
    "FileHandle.copy" => "Copies the file onto another file handle.", "`read` File; `write` File(dest)";
    "FileHandle.move" => "Moves the file into a directory.", "`move` File (context `destination`); `create` at the destination";
    "FileHandle.truncate" => "Sets the file's length.", "`write` File";
    "FileHandle.fallocate" => "Allocates space for the file.", "`write` File";
    "FileHandle.set_extended_attr" => "Sets an SELinux-style extended attribute (never `user.wrex.*`).", "`set_x_attr` File (context `xattr {name}`)";
    "FileHandle.compress_gzip" => "Writes the file gzip-compressed into another file.", "`read` File; `write` File(dest)";
    "FileHandle.read_gzip_lines" => "Lines of a gzip-compressed file.", "`read` File";
    "FileHandle.gzip_info" => "Sizes and ratio of a gzip-compressed file.", "`read` File";
    "FileHandle.search_gzip" => "Matching lines of a gzip-compressed file.", "`read` File";
    "FileHandle.search_gzip_exists" => "Whether a gzip-compressed file has a matching line.", "`read` File";
    "FileHandle.extract_archive" => "Extracts a tar (or tar.gz) archive into a directory.", "`read` File; `open` + `create` + `write` per entry (`chmod`/`chown` when preserving)";
    // Symlinks and entries.
    "SymlinkHandle.metadata" => "The link's own metadata.", "`stat` File(link)";
    "SymlinkHandle.set_ownership" => "Sets the link's owner and group.", "`chown` File(link)";
    "DirEntry.open_as_file" => "Opens the entry as a file.", "as `DirHandle.open_file`";
    "DirEntry.open_as_dir" => "Opens the entry as a directory.", "as `DirConfig.open`";
    "DirEntry.metadata" => "The entry's metadata.", "`open` + `stat`";
    "DirEntry.type" => "The entry's type (file, directory, symlink …).", NONE;
    // Metadata values (read from a Metadata already fetched).
    "Metadata.type" => "The entry's type.", NONE;
    "Metadata.file_size" => "Size in bytes.", NONE;
    "Metadata.allocated_size" => "Bytes allocated on disk.", NONE;
    "Metadata.blocks" => "512-byte blocks allocated.", NONE;
    "Metadata.permissions" => "Permission bits.", NONE;
    "Metadata.num_hardlinks" => "Number of hard links.", NONE;
    "Metadata.last_modified_time" => "Modification time, seconds.", NONE;
    "Metadata.last_modified_time_nanos_component" => "Nanoseconds part of the modification time.", NONE;
    "Metadata.symlink_target" => "A symlink's target (`()` for other entries).", NONE;
    // Execute (wrex:sdk/exec).
    "FileHandle.execute" => "Runs the file (opened read-only) with ExecuteOptions: args, env, user, group, timeout, max_output, cwd; returns exit_code, stdout, stderr.", "`execute` File (context `arguments`, `environment`, `user`, `group`)";
    "FileHandle.elf_info" => "The ELF file's class, interpreter, and a core dump's execfn and platform (parsed in the sandbox).", "`read` File";
    // Processes (wrex:sdk/process).
    "ProcessManager" => "The process manager (no state of its own).", NONE;
    "ProcessManager.processes" => "The processes the policy lets the principal list (others left out); ProcessOptions: include_threads, load_namespace_info.", "`list` on each process_system::Process";
    "ps" => "The processes the policy lets the principal list (others left out).", "`list` on each process_system::Process";
    "ProcessManager.kill" => "Signals a process by pid, or every process matching KillOptions (name, username, command); returns the signalled `{name, pid}`s.", "`kill` (`interrupt` for SIGHUP) on each process_system::Process";
    "kill" => "Signals process `pid` (SIGTERM, or `kill::signal(n)` for 1, 3, 9, 15).", "`kill` (`interrupt` for SIGHUP) on the process_system::Process";
    "kill::signal" => "Flag: the signal number (1 SIGHUP, 3 SIGQUIT, 9 SIGKILL, 15 SIGTERM).", NONE;
    "ProcessManager.processes_using_inode" => "The processes using a file or directory, as `fuser -v`.", "`stat` on the path; `open` + `read` Dir(/proc); `list_fds` on each process (others left out)";
    "ProcessManager.list_open_files" => "Open files of a process (LsofOptions pid) or under a path (path, include_subdir), as `lsof`.", "`open` + `read` Dir(/proc); `list_fds` on the process (each process, others left out)";
    "ProcessManager.ipcs_info" => "The System V IPC tables (shared memory, queues, semaphores) as text.", "`open` Dir(/proc/sysvipc); `open` + `read` File(/proc/sysvipc/{shm,msg,sem})";
    "ProcessManager.monitor_processes_cpu" => "Batches of CPU samples of the given pids (all when none), `delay_in_seconds` apart.", "`list` on each process_system::Process, each batch";
    // systemd (wrex:sdk/systemd).
    "SystemctlManager" => "The systemd manager over D-Bus (no state of its own).", NONE;
    "SystemctlManager.start" => "Starts a unit and waits for systemd's job (a failed job is an error).", "`start` systemd::Service";
    "SystemctlManager.stop" => "Stops a unit and waits for systemd's job.", "`stop` systemd::Service";
    "SystemctlManager.restart" => "Restarts a unit and waits for systemd's job.", "`restart` systemd::Service";
    "SystemctlManager.try_restart" => "Restarts a unit if it is running, and waits for systemd's job.", "`restart` systemd::Service";
    "SystemctlManager.daemon_reload" => "Makes systemd read its configuration again.", "`daemon_reload` systemd::Systemd";
    "SystemctlManager.status" => "A unit's status (ServiceInfo: states, load path, main pid, tasks, memory …).", "`status` systemd::Service";
    "State::is_active" => "Whether a unit state is active, reloading or refreshing.", NONE;
    // Time and utilities (wrex:sdk/clock for the clock and randomness).
    "DateTime" => "A UTC instant from year, month, day, hour, minute, second, nanosecond (checked).", NONE;
    "now" => "Now, to the second, from the host's clock.", "none (the host's clock)";
    "now_nanos" => "Now, to the nanosecond, from the host's clock.", "none (the host's clock)";
    "from_epoch_seconds" => "The instant that many seconds after 1970-01-01 UTC.", NONE;
    "from_epoch_nanos" => "The instant of seconds and nanoseconds after 1970-01-01 UTC.", NONE;
    "parse_datetime" => "Parses RFC 3339 or RFC 2822 text (DateTimeFormat).", NONE;
    "DateTime.epoch_seconds" => "Seconds since 1970-01-01 UTC.", NONE;
    "DateTime.nanos" => "The nanosecond part.", NONE;
    "DateTime.to_string" => "RFC 3339 (default) or the given DateTimeFormat.", NONE;
    "DateTime.month_str" => "The month's full name.", NONE;
    "DateTime.month_str_short" => "The month's three-letter name.", NONE;
    "random_alphanumeric" => "A random string of letters and digits, from the host's random source.", "none (the host's random source)";
    "+" => "DateTime plus seconds.", NONE;
    "-" => "DateTime minus seconds, or the seconds between two DateTimes.", NONE;
    "<" => "Whether a DateTime is before another.", NONE;
    "<=" => "Whether a DateTime is before or at another.", NONE;
    ">" => "Whether a DateTime is after another.", NONE;
    ">=" => "Whether a DateTime is after or at another.", NONE;
    // System information (wrex:sdk/sysinfo).
    "SystemInfo" => "The system-information handle (no state of its own).", NONE;
    "SystemInfo.memory_info" => "Memory in bytes: total, free, available, used, buffers, cached, shared.", "`read` File(/proc/meminfo)";
    "SystemInfo.swap_info" => "Swap in bytes: total, free, used.", "`read` File(/proc/meminfo)";
    "SystemInfo.cpu_count" => "The CPUs this process may run on.", "`list` sysinfo::Sysinfo";
    "SystemInfo.hostname" => "The host name.", "`list` sysinfo::Sysinfo";
    "SystemInfo.uname_info" => "Kernel name, node name, release, version, machine (UnameInfo).", "`list` sysinfo::Sysinfo";
    "SystemInfo.kernel_stats" => "CPU time in all and per CPU (ticks and ms per category), context switches, forks, boot time, running and blocked processes.", "`read` File(/proc/stat)";
    "SystemInfo.slab_info" => "The kernel's slab caches, most objects first, and slabtop's summary (SlabInfo; the kernel lets only root read them).", "`open` Dir(/proc); `open` + `read` File(/proc/slabinfo)";
    "SlabEntry.use_percent" => "Active objects as a percentage of all.", NONE;
    "SlabEntry.obj_size_kb" => "The object size in KiB.", NONE;
    "SlabEntry.cache_size_kb" => "The cache's size in KiB (slabs × pages per slab × page size).", NONE;
    "SlabEntry.active_size_kb" => "The cache's active part in KiB.", NONE;
    "SystemInfo.dmesg_info" => "The kernel log (DmesgOptions: human_readable_time, in UTC).", "`read` File(/dev/kmsg)";
    "free" => "Memory and swap as a map (`memory`, `swap`).", "`read` File(/proc/meminfo)";
    "nproc" => "The CPUs this process may run on.", "`list` sysinfo::Sysinfo";
    "uname" => "Kernel name, node name, release, version, machine (UnameInfo).", "`list` sysinfo::Sysinfo";
    "hostname" => "The host name.", "`list` sysinfo::Sysinfo";
    "dmesg" => "The kernel log, oldest first.", "`read` File(/dev/kmsg)";
    // Disks (wrex:sdk/disk).
    "Filesystems" => "The file systems the FilesystemOptions select (targets, local).", NONE;
    "Filesystems.filesystems" => "The mounted file systems, as `df` shows them.", "`read` File(/proc/mounts), File(/proc/diskstats); `stat` on each mount point's Dir";
    "df" => "Every mounted file system, as `df` shows them.", "`read` File(/proc/mounts), File(/proc/diskstats); `stat` on each mount point's Dir";
    "Filesystems.iostat" => "CPU and per-device I/O statistics averaged since boot, as `iostat`'s first report (IoStatSnapshot).", "`read` File(/proc/stat), File(/proc/diskstats)";
    "iostat" => "CPU and per-device I/O statistics averaged since boot (IoStatSnapshot).", "`read` File(/proc/stat), File(/proc/diskstats)";
    "lsblk" => "The block devices: a map of name to #{name, type, maj, min, size_kib, removable, read_only, mount_point, children}.", "`read` File(/proc/partitions), File(/proc/mounts), File(/proc/swaps), Dir(/sys/dev/block), Dir(/dev/disk/by-id)";
    "format_bytes" => "A size in bytes in Unit::BYTES, KILOBYTES or MEGABYTES.", NONE;
    "unmount" => "Unmounts the file system at UnmountOptions' path.", "`unmount` Dir(path)";
    // The network (wrex:sdk/network).
    "Client" => "An HTTP client: 30 s timeout, bodies up to 16 MiB.", NONE;
    "Client.max_text_bytes" => "A client that keeps only the first n bytes of each body (the rest is not read).", NONE;
    "Client.timeout" => "A client whose requests, redirects included, must finish within n seconds.", NONE;
    "Client.get" => "A GET request of a URL (sent by `send`).", NONE;
    "Request.send" => "Sends the GET, following up to 10 redirects: Response (status, text, truncated, url, redirects).", "`GET` network::url before the DNS lookup, then with `ip` for each address; the same for each redirect";
    "curl" => "GETs a URL with the default client: Response.", "as `Request.send`";
    "connect" => "Opens and closes a TCP connection (or connects a UDP socket) to endpoint:port (TransportProtocol AUTO tries TCP, then UDP): Connection.", "`connect` network::url(endpoint, with port) before the DNS lookup, then with `ip` for each address";
    "SystemInfo.resolve_hostname" => "A host name's addresses in DNS, sorted (ResolveOptions: hostname, protocol, resolver, timeout).", "`resolve_hostname` sysinfo::Hostname";
    "resolve" => "A host name's addresses in DNS, sorted.", "`resolve_hostname` sysinfo::Hostname";
    "FileHandle.verify_cert" => "Verifies the handle's certificate (PEM) up to a root CA file's, for TLS server use, now.", "`read` on both files (Rex checked nothing)";
    "FileHandle.verify_cert_chain" => "Verifies the handle's certificate up to a root CA file's through intermediate CA files.", "`read` on every file (Rex checked nothing)";
    "ip_addresses" => "Each network interface and its addresses.", "`list` sysinfo::Sysinfo";
    "ip_addr" => "Each network interface and its addresses.", "`list` sysinfo::Sysinfo";
    "network_stats" => "The machine's TCP, UDP and Unix sockets (NetworkStats), with the process holding each when the policy lets the run see it.", "`open` + `read` File(/proc) and File(/proc/net/{tcp,tcp6,udp,udp6,unix}); `list_fds` on each process named";
    "netstat" => "The machine's sockets as plain maps (`internet`, `unix`).", "as `network_stats`";
    // Kernel parameters (through wrex:sdk/fs).
    "SysctlManager" => "The kernel-parameter handle (no state of its own).", NONE;
    "SysctlManager.read" => "A kernel parameter's value (`net.ipv4.ip_forward`).", "`open` Dir(/proc/sys/<dirs>); `open` + `read` File(/proc/sys/<key>)";
    "SysctlManager.write" => "Sets a kernel parameter.", "`open` Dir(/proc/sys/<dirs>); `open` + `write` File(/proc/sys/<key>)";
    "SysctlManager.find" => "The readable parameters whose key matches a regular expression.", "`open` + `read` on each Dir walked, `open` + `read` on each matching File (refused ones skipped)";
    "sysctl_read" => "A kernel parameter's value.", "as `SysctlManager.read`";
    "sysctl_write" => "Sets a kernel parameter.", "as `SysctlManager.write`";
    "sysctl_find" => "The readable parameters whose key matches a regular expression.", "as `SysctlManager.find`";
};

/// The SDK, described: each signature the guest reported, with its documentation; and the
/// signatures neither `DOCS` nor a uniform family covers (none, in a consistent build).
pub fn describe(signatures: &[String]) -> (Vec<Function>, Vec<String>) {
    let mut functions = Vec::new();
    let mut undescribed = Vec::new();
    for raw in signatures {
        let parsed = parse(raw);
        match document(&parsed) {
            Some((description, checks)) => functions.push(Function {
                name: parsed.name.clone(),
                receiver: parsed.receiver.clone(),
                property: parsed.property,
                signature: parsed.display(),
                description,
                checks,
            }),
            None => undescribed.push(raw.clone()),
        }
    }
    functions.sort_by(|a, b| {
        (a.receiver.as_deref().unwrap_or(""), &a.name, &a.signature).cmp(&(
            b.receiver.as_deref().unwrap_or(""),
            &b.name,
            &b.signature,
        ))
    });
    (functions, undescribed)
}

/// The keys of `DOCS` that no signature in `signatures` matches (stale documentation).
pub fn unused_docs(signatures: &[String]) -> Vec<&'static str> {
    let keys: std::collections::HashSet<String> =
        signatures.iter().map(|s| parse(s).key()).collect();
    DOCS.iter()
        .map(|d| d.key)
        // `debug` may be a reserved symbol in the interpreter rather than a function.
        .filter(|k| !keys.contains(*k) && *k != "debug")
        .collect()
}

/// A signature as Rhai writes it, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    name: String,
    receiver: Option<String>,
    property: bool,
    params: Vec<String>,
    ret: Option<String>,
}

impl Parsed {
    fn key(&self) -> String {
        match &self.receiver {
            Some(r) => format!("{r}.{}", self.name),
            None => self.name.clone(),
        }
    }

    fn display(&self) -> String {
        let call = match (&self.receiver, self.property) {
            (Some(r), true) => format!("{r}.{}", self.name),
            (Some(r), false) => format!("{r}.{}({})", self.name, self.params.join(", ")),
            (None, _) => format!("{}({})", self.name, self.params.join(", ")),
        };
        match &self.ret {
            Some(ret) => format!("{call} -> {ret}"),
            None => call,
        }
    }
}

fn parse(raw: &str) -> Parsed {
    let (head, ret) = match raw.rsplit_once(") -> ") {
        Some((head, ret)) => (head.to_string(), Some(clean_type(ret))),
        None => (raw.trim_end_matches(')').to_string(), None),
    };
    let (name, params) = head.split_once('(').unwrap_or((&head, ""));
    let mut params: Vec<String> = split_top(params)
        .into_iter()
        .map(|p| clean_type(p.trim().trim_start_matches("_:").trim()))
        .filter(|p| !p.is_empty())
        .collect();
    let mut receiver = None;
    if let Some(first) = params.first()
        && let Some(ty) = first.strip_prefix("&mut ")
    {
        receiver = Some(ty.to_string());
        params.remove(0);
    }
    let (name, property) = match name.strip_prefix("get$") {
        Some(prop) => (prop.to_string(), true),
        None => (name.to_string(), false),
    };
    let ret = ret.filter(|r| r != "()");
    Parsed {
        name,
        receiver,
        property,
        params: params
            .into_iter()
            .map(|p| if p == "_" { "?".into() } else { p })
            .collect(),
        ret,
    }
}

/// Splits at the commas that are not inside `<…>`.
fn split_top(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() {
        out.push(&text[start..]);
    }
    out
}

/// A Rust type name as Rhai prints it, in the script's terms: `Result<T, Box<EvalAltResult>>`
/// is `T` (the error is a script exception), collections are `array` and `map`, paths go.
fn clean_type(ty: &str) -> String {
    let ty = ty.trim();
    if let Some(inner) = ty
        .strip_prefix("core::result::Result<")
        .and_then(|s| s.strip_suffix('>'))
    {
        let first = split_top(inner).first().copied().unwrap_or("");
        return clean_type(first);
    }
    if ty.contains("Vec<") {
        return "array".into();
    }
    if ty.contains("BTreeMap<") {
        return "map".into();
    }
    let (prefix, rest) = match ty.strip_prefix("&mut ") {
        Some(rest) => ("&mut ", rest),
        None => ("", ty),
    };
    let last = rest.rsplit("::").next().unwrap_or(rest);
    let last = match last {
        "String" | "str" | "&str" | "ImmutableString" => "string",
        other => other,
    };
    format!("{prefix}{last}")
}

/// The description and checks of a function: from `DOCS`, or by its family.
fn document(p: &Parsed) -> Option<(String, String)> {
    let key = p.key();
    if let Some(doc) = DOCS.iter().find(|d| d.key == key) {
        return Some((doc.description.to_string(), doc.checks.to_string()));
    }
    let none = || NONE.to_string();
    if p.property {
        return Some((format!("Property `{}`.", p.name), none()));
    }
    if matches!(
        p.name.as_str(),
        "to_string" | "to_debug" | "==" | "!=" | "to_map"
    ) {
        return Some((
            format!("Value helper (`{}`) of the SDK's types.", p.name),
            none(),
        ));
    }
    if let Some(receiver) = &p.receiver
        && let Some(target) = receiver.strip_suffix("Builder")
    {
        let what = if p.name == "build" {
            format!("Finishes the {target} (its fields are checked here).")
        } else if matches!(p.name.as_str(), "add") {
            format!("Adds an entry to the {target}.")
        } else {
            format!("Sets `{}` of the {target}.", p.name)
        };
        return Some((what, none()));
    }
    if p.receiver.is_none()
        && p.params.is_empty()
        && p.ret.as_deref().is_some_and(|r| r.ends_with("Builder"))
    {
        return Some((
            format!(
                "Starts building {}: set its fields, then `.build()`.",
                p.name
            ),
            none(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_as_a_script_writes_them() {
        let p = parse(
            "read_lines(_: &mut FileHandle, _: ReadLinesOptions) -> core::result::Result<alloc::vec::Vec<rhai::types::dynamic::Dynamic>,alloc::boxed::Box<rhai::types::error::EvalAltResult>>",
        );
        assert_eq!(
            p.display(),
            "FileHandle.read_lines(ReadLinesOptions) -> array"
        );
        let p = parse("get$name(_: &mut DirEntry) -> string");
        assert_eq!(p.display(), "DirEntry.name -> string");
        assert!(p.property);
        let p = parse(
            "rm(_: array, _: string) -> core::result::Result<(),alloc::boxed::Box<rhai::types::error::EvalAltResult>>",
        );
        assert_eq!(p.display(), "rm(array, string)");
        assert_eq!(parse("tail::n(_)").display(), "tail::n(?)");
        assert_eq!(parse("info(_: string)").display(), "info(string)");
    }
}
