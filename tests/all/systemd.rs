//! The systemd capability through the `wrex` binary, against a real `dbus-daemon` on a private
//! bus serving systemd's manager interface through python-dbusmock's systemd template
//! (completed by `tests/support/systemd_units.py`): each operation allowed and denied, a job
//! that fails, an unknown unit, a bad name, no bus; and the hung-service runbook end to end.
//!
//! Needs `dbus-daemon` and python3-dbusmock (Debian packages): `.ci/run` installs both, and
//! so does the first test here when they are missing and it runs as root with `apt-get`, so
//! that `cargo test` alone passes on a fresh machine (as `tests/mcp` runs `npm ci` itself).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Sandbox, Spawned, TempTree, fixture, process_name, repo};

/// A private system bus with systemd's manager mocked on it; both processes end on drop.
struct Bus {
    daemon: Child,
    mock: Child,
    address: String,
    _dir: TempTree,
}

/// Installs `dbus-daemon` and python3-dbusmock when missing (root with `apt-get` only), once.
fn ensure_packages() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let present = Command::new("dbus-daemon").arg("--version").output().is_ok()
            && Command::new("/usr/bin/python3")
                .args(["-c", "import dbusmock"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        let root = effective_root();
        if !present && root && Path::new("/usr/bin/apt-get").exists() {
            let sh = "apt-get update -qq && apt-get install -y -qq --no-install-recommends dbus-daemon python3-dbusmock";
            let _ = Command::new("sh").args(["-c", sh]).status();
        }
    });
}

fn effective_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
    })
}

/// A Python that has python-dbusmock (Debian's lives under `/usr/bin/python3`).
fn python() -> &'static str {
    ensure_packages();
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import dbusmock"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    panic!(
        "python3-dbusmock is missing: `apt-get install python3-dbusmock dbus-daemon` (.ci/run does)"
    )
}

impl Bus {
    /// Starts the bus and the mock, with `units` (`name` or `name=<main pid>`).
    fn start(units: &[String]) -> Self {
        ensure_packages();
        let dir = TempTree::new();
        let socket = Path::new(&dir.root).join("bus.sock");
        let config = std::fs::read_to_string(repo().join("tests/support/dbus-system.conf"))
            .unwrap()
            .replace("{{socket}}", socket.to_str().unwrap());
        let config_path = Path::new(&dir.root).join("bus.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config_path.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is missing: `apt-get install dbus-daemon` (.ci/run does)");
        let mut line = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon said {line:?}");
        let python = python();
        let mock = Command::new(python)
            .args(["-m", "dbusmock", "--system", "--template", "systemd"])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bus = Self {
            daemon,
            mock,
            address,
            _dir: dir,
        };
        // The mock owns its name a moment after it starts: retry the setup until it answers.
        let setup = repo().join("tests/support/systemd_units.py");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new(python)
                .arg(&setup)
                .arg(&bus.address)
                .args(units)
                .output()
                .unwrap();
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the systemd mock did not come up: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bus
    }

    /// Runs `wrex run` on the script `tests/scripts/systemd/<script>.rhai` under `policy`
    /// (a file), with this bus as the system bus and `args` (a JSON object in Rex's format).
    fn wrex(&self, script: &str, policy: &Path, args: &str) -> serde_json::Value {
        run_wrex(script, policy, args, &self.address)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        for child in [&mut self.mock, &mut self.daemon] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run_wrex(script: &str, policy: &Path, args: &str, bus: &str) -> serde_json::Value {
    let dir = TempTree::new();
    let args_file = Path::new(&dir.root).join("args.json");
    std::fs::write(&args_file, args).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wrex"))
        .arg("run")
        .arg("--policy")
        .arg(policy)
        .arg("--args")
        .arg(&args_file)
        .arg(fixture("scripts", script, "rhai"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `tests/policies/systemd/<name>.cedar` with `{{name}}` filled in, written to `dir`.
fn policy(dir: &Sandbox, name: &str, process: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture("policies", name, "cedar"))
        .unwrap()
        .replace("{{name}}", process);
    let path = dir.path(&format!("{name}.cedar"));
    std::fs::write(&path, text).unwrap();
    path
}

fn output(result: &serde_json::Value) -> &str {
    assert_eq!(result["status"], "SUCCESS", "{result:#}");
    result["output"].as_str().unwrap()
}

#[test]
fn units_are_managed_as_the_policy_allows() {
    let bus = Bus::start(&[
        "web.service=4242".into(),
        "broken.service".into(),
        "secret.service".into(),
    ]);
    let sb = Sandbox::new();
    let result = bus.wrex("units", &policy(&sb, "web", ""), "{}");
    let o = output(&result);
    assert!(o.contains("\"started\": [\"active\", true, true]"), "{o}");
    assert!(o.contains("\"stopped\": \"inactive\""), "{o}");
    assert!(
        o.contains("\"main_pid\": 4242") && o.contains("\"memory\": 4096"),
        "{o}"
    );
    assert!(
        o.contains("\"description\": \"wrex test unit web.service\""),
        "{o}"
    );
    assert!(
        o.contains("\"restart\": \"PermissionDenied: Permission denied: ")
            && o.contains("systemd::Action::\\\"restart\\\" for systemd::Service::web.service"),
        "{o}"
    );
    assert!(o.contains("\"broken\": \"Other: systemd's RestartUnit job for `broken.service` ended with result `failed`\""), "{o}");
    assert!(
        o.contains("\"absent\": \"ServiceNotFound: Unit absent.service not found.\""),
        "{o}"
    );
    assert!(o.contains("\"secret\": \"PermissionDenied\""), "{o}");
    assert!(
        o.contains("\"bad\": \"ValidationError: invalid unit name \\\"web service\\\""),
        "{o}"
    );
}

#[test]
fn without_a_bus_the_error_says_so_and_bad_names_never_reach_it() {
    let sb = Sandbox::new();
    let nowhere = format!("unix:path={}", sb.path("no-bus.sock").display());
    let result = run_wrex(
        "status_only",
        &policy(&sb, "web", ""),
        r#"{"unit": {"stringValue": "web.service"}}"#,
        &nowhere,
    );
    assert_eq!(
        result["error"]["error_type"], "SCRIPT_EXCEPTION",
        "{result:#}"
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("DBusError: cannot connect to the system bus"),
        "{message}"
    );
    let result = run_wrex(
        "status_only",
        &policy(&sb, "web", ""),
        r#"{"unit": {"stringValue": "../../etc"}}"#,
        &nowhere,
    );
    let message = result["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("ValidationError: invalid unit name"),
        "{message}"
    );
}

/// The issue's end-to-end case: a hung service's main process is found, killed and the unit
/// restarted under a policy that permits exactly that; under one without `kill`, the run
/// stops at the kill with nothing changed.
#[test]
fn a_hung_service_is_killed_and_restarted_under_the_runbook_policy() {
    let sb = Sandbox::new();
    let name = process_name("hung");
    let mut hung = Spawned::start(&sb, "sleep", &name, &["600"]);
    let bus = Bus::start(&[format!("web.service={}", hung.pid())]);
    let args = r#"{"unit": {"stringValue": "web.service"}}"#;

    let narrow = bus.wrex(
        "restart_hung",
        &policy(&sb, "hung_service_no_kill", &name),
        args,
    );
    assert_eq!(
        narrow["error"]["error_type"], "ACCESS_DENIED_EXCEPTION",
        "{narrow:#}"
    );
    let message = narrow["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("process_system::Action::\"kill\""),
        "{message}"
    );
    assert!(
        hung.child.try_wait().unwrap().is_none(),
        "nothing was killed"
    );

    let result = bus.wrex("restart_hung", &policy(&sb, "hung_service", &name), args);
    assert_eq!(output(&result), "#{\"killed\": 1, \"state\": \"active\"}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(hung.ended().and_then(|s| s.signal()), Some(9));
    assert!(
        result["logs"]
            .to_string()
            .contains(&format!("killed {name}")),
        "{result:#}"
    );
}
