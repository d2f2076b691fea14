//! Shared helpers: one `Runtime` per test binary, sandboxes in temp directories, fixture loading.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use wrex::{Decision, DecisionObserver, Job, Policy, RunOutcome, Runtime, ScriptArgs};

#[path = "../support/temp_tree.rs"]
mod temp_tree;
pub use temp_tree::TempTree;

/// The workspace's top-level directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the built `wrex` binary with `args`, in the workspace's top-level directory.
pub fn wrex(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wrex"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run wrex")
}

/// The runtime shared by every test of this binary (the compiled guest is loaded once).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("runtime"))
}

/// The fixture `tests/<kind>/<area>/<name>.<ext>`: fixtures live in one folder per area
/// (`fs`, `runner`, `log`, `limits`, `tenants` …), and a name must be unique across them.
pub fn fixture(kind: &str, name: &str, ext: &str) -> PathBuf {
    let base = repo().join("tests").join(kind);
    let file = format!("{name}.{ext}");
    let found: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
        .map(|area| area.unwrap().path().join(&file))
        .filter(|p| p.is_file())
        .collect();
    match found.as_slice() {
        [one] => one.clone(),
        [] => panic!("no fixture `{file}` in any folder of {}", base.display()),
        many => panic!("fixture `{file}` is ambiguous: {many:?}"),
    }
}

/// A test script, `tests/scripts/<area>/<name>.rhai`.
pub fn script(name: &str) -> String {
    let path = fixture("scripts", name, "rhai");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Records every authorization decision.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<Decision>>);

impl DecisionObserver for Recorder {
    fn observe(&self, decision: &Decision) {
        self.0.lock().unwrap().push(decision.clone());
    }
}

/// A temporary directory tree for one test:
///
/// ```text
/// <root>/allowed/a.txt        "hello\n"
/// <root>/allowed/sub/b.txt    "b\n"
/// <root>/outside/secret.txt   "TOP SECRET\n"
/// ```
///
/// Test policies (`tests/policies/<area>/*.cedar`) cover `<root>/allowed` and never
/// `<root>/outside`.
pub struct Sandbox {
    tree: TempTree,
    pub root: String,
}

pub const SECRET: &str = "TOP SECRET\n";

impl Sandbox {
    pub fn new() -> Self {
        let tree = TempTree::new();
        let root = tree.root.clone();
        let sandbox = Self { tree, root };
        sandbox.write("allowed/a.txt", "hello\n");
        sandbox.write("allowed/sub/b.txt", "b\n");
        sandbox.write("outside/secret.txt", SECRET);
        sandbox
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tree.path(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        self.tree.write(rel, content);
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.path(rel)).ok()
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok()
    }

    pub fn symlink(&self, target: &str, rel: &str) {
        std::os::unix::fs::symlink(target, self.path(rel)).unwrap();
    }

    /// `tests/policies/<area>/<name>.cedar` with `{{root}}` replaced by this sandbox's root.
    pub fn policy_text(&self, name: &str) -> String {
        let path = fixture("policies", name, "cedar");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .replace("{{root}}", &self.root)
    }

    pub fn policy(&self, name: &str) -> Policy {
        Policy::parse(&self.policy_text(name)).expect("test policy")
    }

    /// Writes the templated policy to a file in the sandbox (for CLI tests).
    pub fn policy_file(&self, name: &str) -> PathBuf {
        let path = self.path(&format!("{name}.cedar"));
        std::fs::write(&path, self.policy_text(name)).unwrap();
        path
    }

    /// Runs `source` with the variable `root` set to the sandbox root.
    pub fn run_source(&self, source: &str, policy: &str) -> RunOutcome {
        self.run_recorded(source, policy).0
    }

    pub fn run_recorded(&self, source: &str, policy: &str) -> (RunOutcome, Vec<Decision>) {
        let mut args = ScriptArgs::new();
        args.insert("root", self.root.as_str()).unwrap();
        let recorder = Arc::new(Recorder::default());
        let job = Job::new(source, self.policy(policy))
            .args(args)
            .principal("tester")
            .observer(recorder.clone());
        let outcome = runtime().run(job);
        let decisions = recorder.0.lock().unwrap().clone();
        (outcome, decisions)
    }

    /// Runs `tests/scripts/<name>.rhai`.
    pub fn run(&self, name: &str, policy: &str) -> RunOutcome {
        self.run_source(&script(name), policy)
    }
}

/// Nothing of the sandbox's secret reached the script's output or error message.
#[track_caller]
pub fn assert_no_secret_leaked(out: &RunOutcome) {
    assert!(
        !out.output.contains("TOP SECRET"),
        "secret leaked: {out:#?}"
    );
    assert!(
        !message(out).contains("TOP SECRET"),
        "secret leaked: {out:#?}"
    );
}

pub fn message(outcome: &RunOutcome) -> &str {
    outcome.error.as_ref().map_or("", |e| e.message.as_str())
}

/// Every one of `expected` is somewhere in `output` (a script's result, as Rhai prints it).
#[track_caller]
pub fn assert_contains_all<S: AsRef<str>>(output: &str, expected: impl IntoIterator<Item = S>) {
    for e in expected {
        let e = e.as_ref();
        assert!(output.contains(e), "missing {e} in {output}");
    }
}

#[track_caller]
pub fn assert_success(outcome: &RunOutcome) {
    assert!(outcome.is_success(), "expected success, got {outcome:#?}");
}

#[track_caller]
pub fn assert_denied(outcome: &RunOutcome, action: &str, resource: &str) {
    assert_eq!(
        outcome.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{outcome:#?}"
    );
    let m = message(outcome);
    assert!(
        m.contains(&format!("file_system::Action::\"{action}\"")) && m.contains(resource),
        "denial should name {action} on {resource}: {m}"
    );
}

/// The run ended as the script's own error, not an access denial (and raised no
/// privilege-escalation alarm).
#[track_caller]
pub fn assert_not_a_denial(out: &RunOutcome) {
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::ScriptException),
        "{out:#?}"
    );
    assert!(
        out.alarms
            .iter()
            .all(|a| a.alarm_type != "RexRunnerPrivilegeEscalation"),
        "{out:#?}"
    );
}

/// The run ended with `error_type`, and its message contains `needle`.
#[track_caller]
pub fn assert_error(out: &RunOutcome, error_type: wrex::ErrorType, needle: &str) {
    assert_eq!(out.error_type(), Some(error_type), "{out:#?}");
    assert!(
        message(out).contains(needle),
        "expected `{needle}` in `{}`",
        message(out)
    );
}

#[track_caller]
pub fn assert_script_error(outcome: &RunOutcome, needle: &str) {
    assert_eq!(
        outcome.error_type(),
        Some(wrex::ErrorType::ScriptException),
        "{outcome:#?}"
    );
    assert!(
        message(outcome).contains(needle),
        "expected `{needle}` in: {}",
        message(outcome)
    );
}

/// One entry of a test tar archive.
pub enum Tar<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// A character device (major and minor 0).
    CharDev(&'a str),
    /// The entry with this mode instead of its default.
    Mode(&'a Tar<'a>, u32),
    /// The entry with this modification time (seconds since the epoch) instead of 0.
    Mtime(&'a Tar<'a>, u64),
}

/// A ustar archive of `entries` (names up to 100 bytes; by default mode 0o640 for files,
/// 0o750 for directories, modification time 0).
pub fn tar(entries: &[Tar<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        tar_entry(&mut out, e, None, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn tar_entry(out: &mut Vec<u8>, entry: &Tar<'_>, mode: Option<u32>, mtime: u64) {
    let header = |name: &str, kind: u8, size: usize, default_mode: u32, link: &str| {
        tar_header(name, kind, size, mode.unwrap_or(default_mode), mtime, link)
    };
    match entry {
        Tar::File(name, data) => {
            out.extend_from_slice(&header(name, b'0', data.len(), 0o640, ""));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        Tar::Dir(name) => out.extend_from_slice(&header(name, b'5', 0, 0o750, "")),
        Tar::Symlink(name, to) => out.extend_from_slice(&header(name, b'2', 0, 0o777, to)),
        Tar::HardLink(name, to) => out.extend_from_slice(&header(name, b'1', 0, 0o640, to)),
        Tar::CharDev(name) => out.extend_from_slice(&header(name, b'3', 0, 0o640, "")),
        Tar::Mode(inner, m) => tar_entry(out, inner, Some(*m), mtime),
        Tar::Mtime(inner, t) => tar_entry(out, inner, mode, *t),
    }
}

fn tar_header(name: &str, kind: u8, size: usize, mode: u32, mtime: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |h: &mut [u8], v: u64, width: usize| {
        let s = format!("{v:0w$o}\0", w = width - 1);
        h[..width].copy_from_slice(s.as_bytes());
    };
    octal(&mut h[100..108], u64::from(mode), 8);
    octal(&mut h[108..116], 0, 8);
    octal(&mut h[116..124], 0, 8);
    octal(&mut h[124..136], size as u64, 12);
    octal(&mut h[136..148], mtime, 12);
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    h
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

impl Sandbox {
    pub fn write_bytes(&self, rel: &str, content: &[u8]) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// A listing of the sandbox (paths, sizes, modes, link targets) to compare before and after.
pub fn tree(sb: &Sandbox) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(&sb.root)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let content = if m.is_file() {
                std::fs::read(&path)
                    .map(|b| b.len())
                    .unwrap_or(0)
                    .to_string()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&path).unwrap().display().to_string()
            } else {
                stack.push(path.clone());
                String::new()
            };
            out.push(format!(
                "{} {:o} {} {}",
                path.display(),
                m.mode(),
                m.uid(),
                content
            ));
        }
    }
    out.sort();
    out
}

/// A small log file the helper tests read: three lines, one with `ERROR`.
pub const LOG: &str = "line1\nline2 ERROR x\nline3\n";

impl Sandbox {
    /// A sandbox with [`LOG`] at `allowed/log.txt`.
    pub fn with_log() -> Self {
        let sb = Self::new();
        sb.write("allowed/log.txt", LOG);
        sb
    }
}

/// Runs `source` under the policy text `policy` as principal `tester`, with `args` bound as
/// script variables and `limits` (default limits when `None`), recording every decision.
pub fn run_with(
    source: &str,
    policy: &str,
    args: Vec<(&str, wrex::ArgValue)>,
    limits: Option<wrex::Limits>,
) -> (RunOutcome, Vec<Decision>) {
    let mut script_args = ScriptArgs::new();
    for (name, value) in args {
        script_args.insert(name, value).unwrap();
    }
    let recorder = Arc::new(Recorder::default());
    let mut job = Job::new(source, Policy::parse(policy).expect("test policy"))
        .args(script_args)
        .principal("tester")
        .observer(recorder.clone());
    if let Some(limits) = limits {
        job = job.limits(limits);
    }
    let outcome = runtime().run(job);
    let decisions = recorder.0.lock().unwrap().clone();
    (outcome, decisions)
}

/// A program the test runs: a copy of a system binary under a name of the test's own (so that
/// policies and assertions can pick it out of every process on the machine), killed and
/// reaped when dropped.
pub struct Spawned {
    pub child: std::process::Child,
}

/// A process name unique to this test process and `tag` (at most 15 bytes, the kernel's
/// `comm` length).
pub fn process_name(tag: &str) -> String {
    let name = format!("wx{}{tag}", std::process::id() % 100_000);
    name.chars().take(15).collect()
}

impl Spawned {
    /// Copies `/usr/bin/<binary>` to `<sandbox>/bin/<name>` and starts it with `args`.
    pub fn start(sb: &Sandbox, binary: &str, name: &str, args: &[&str]) -> Self {
        let path = copy_binary(sb, binary, name);
        let child = std::process::Command::new(&path)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        // Wait until the copy, not the test's fork of it, is what `/proc` shows.
        let comm = format!("/proc/{}/comm", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(&comm)
            .ok()
            .as_deref()
            .map(str::trim)
            != Some(name)
        {
            assert!(std::time::Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Self { child }
    }

    pub fn pid(&self) -> i64 {
        i64::from(self.child.id())
    }

    /// How it ended, waiting at most 5 s (`None`: still running).
    pub fn ended(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Puts `/usr/bin/<binary>` at `<sandbox>/bin/<name>` and returns its path: a hard link where
/// the file systems allow (no descriptor open for writing, which a concurrent test's fork
/// could hold while the file is executed: `ETXTBSY`), else a copy.
pub fn copy_binary(sb: &Sandbox, binary: &str, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = sb.path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let source = Path::new("/usr/bin").join(binary);
    if path.exists() {
        // Never written again: it may be a hard link to the system's binary.
        return path;
    }
    if std::fs::hard_link(&source, &path).is_err() {
        std::fs::copy(&source, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

/// Whether a process named `name` is running (zombies do not count).
pub fn running(name: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let dir = e.path();
        std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == name)
            && std::fs::read_to_string(dir.join("stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| !r.trim_start().starts_with('Z'))
            })
    })
}
