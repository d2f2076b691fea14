//! Any script, under a permissive policy confined to a temporary directory and tight limits,
//! ends with an outcome: the host never panics or hangs.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wrex::{Job, Limits, Policy, Runtime, ScriptArgs};

struct Fixture {
    runtime: Runtime,
    policy: Policy,
    root: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().to_str().unwrap().to_string();
        std::fs::write(format!("{root}/a.txt"), "hello\n").unwrap();
        let policy = Policy::parse(&format!(
            "permit (principal, action, resource in file_system::Dir::\"{root}\");"
        ))
        .unwrap();
        Fixture {
            runtime: Runtime::new().unwrap(),
            policy,
            root,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let f = fixture();
    let mut args = ScriptArgs::new();
    args.insert("root", f.root.as_str()).unwrap();
    let limits = Limits {
        timeout: Duration::from_millis(500),
        memory: 64 << 20,
        max_operations: 1_000_000,
        ..Limits::default()
    };
    let outcome = f
        .runtime
        .run(Job::new(source, f.policy.clone()).args(args).limits(limits));
    assert!(outcome.is_success() || outcome.error.is_some());
});
