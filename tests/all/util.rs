//! Shared helpers: one `Runtime` per test binary, sandboxes in temp directories, fixture loading.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use wrex::{Decision, DecisionObserver, Job, Policy, RunOutcome, Runtime, ScriptArgs};

/// The workspace's top-level directory.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The runtime shared by every test of this binary (the compiled guest is loaded once).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("runtime"))
}

/// A test script from `tests/scripts/<name>.rhai`.
pub fn script(name: &str) -> String {
    let path = repo().join("tests/scripts").join(format!("{name}.rhai"));
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
/// Test policies (`tests/policies/*.cedar`) cover `<root>/allowed` and never `<root>/outside`.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    pub root: String,
}

pub const SECRET: &str = "TOP SECRET\n";

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wrex-test-")
            .tempdir()
            .unwrap();
        let root = dir
            .path()
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let sandbox = Self { _dir: dir, root };
        sandbox.write("allowed/a.txt", "hello\n");
        sandbox.write("allowed/sub/b.txt", "b\n");
        sandbox.write("outside/secret.txt", SECRET);
        sandbox
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        Path::new(&self.root).join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
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

    /// `tests/policies/<name>.cedar` with `{{root}}` replaced by this sandbox's root.
    pub fn policy_text(&self, name: &str) -> String {
        let path = repo().join("tests/policies").join(format!("{name}.cedar"));
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

pub fn message(outcome: &RunOutcome) -> &str {
    outcome.error.as_ref().map_or("", |e| e.message.as_str())
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
