//! The `authorize()` choke point, without wasm: real policies, real decisions.

use std::sync::Arc;

use wrex::Policy;
use wrex::authz::Authorizer;
use wrex::fs::cedar::FsResource;
use wrex::fs::cedar::action::{Create, Delete, Open, Read, Stat, Write};

use crate::util::{Recorder, repo};

fn authorizer(policy: &str, principal: &str) -> (Authorizer, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let policy = Policy::from_file(repo().join("policies/examples").join(policy)).unwrap();
    (
        Authorizer::new(policy, principal, Some(recorder.clone())),
        recorder,
    )
}

fn file(p: &str) -> FsResource {
    FsResource::File(p.into())
}

fn dir(p: &str) -> FsResource {
    FsResource::Dir(p.into())
}

#[test]
fn hierarchy_allows_below_and_at_the_directory() {
    let (a, _) = authorizer("read_only.cedar", "anyone");
    assert!(a.authorize(Read, &file("/tmp/rex_example/a/b.txt")).is_ok());
    assert!(a.authorize(Open, &dir("/tmp/rex_example")).is_ok());
    assert!(a.authorize(Open, &dir("/tmp")).is_err());
    assert!(
        a.authorize(Read, &file("/tmp/rex_example_other/x"))
            .is_err()
    );
}

#[test]
fn unlisted_actions_are_denied() {
    let (a, _) = authorizer("read_only.cedar", "anyone");
    let denied = a.authorize(Write, &file("/tmp/rex_example/a")).unwrap_err();
    assert_eq!(denied.action, "file_system::Action::\"write\"");
    assert_eq!(denied.resource_type, "file_system::File");
    assert_eq!(denied.resource_id, "/tmp/rex_example/a");
    assert_eq!(denied.principal, "anyone");
}

#[test]
fn principal_and_forbid_are_honoured() {
    let (a, rec) = authorizer("logs_reader.cedar", "oncall-agent");
    assert!(a.authorize(Read, &file("/var/log/syslog")).is_ok());
    assert!(a.authorize(Read, &file("/var/log/auth.log")).is_err());
    let decisions = rec.0.lock().unwrap();
    assert_eq!(decisions[0].policies, ["read-logs"]);
    assert_eq!(decisions[1].policies, ["no-auth-logs"]);
    assert!(decisions[1].resource.contains("/var/log/auth.log"));
    drop(decisions);
    let (other, _) = authorizer("logs_reader.cedar", "intruder");
    assert!(other.authorize(Read, &file("/var/log/syslog")).is_err());
}

#[test]
fn action_groups_work() {
    let (a, _) = authorizer("all_safe_io.cedar", "u");
    let f = file("/tmp/scratch/f");
    assert!(a.authorize(Open, &f).is_ok());
    assert!(a.authorize(Read, &f).is_ok());
    assert!(a.authorize(Write, &f).is_ok());
    assert!(a.authorize(Create, &f).is_ok());
    assert!(a.authorize(Delete, &f).is_ok());
    assert!(a.authorize(Stat, &f).is_ok());
    assert!(a.authorize(Read, &file("/tmp/other")).is_err());
}

#[test]
fn every_decision_is_observed() {
    let (a, rec) = authorizer("read_only.cedar", "u");
    let _ = a.authorize(Read, &file("/tmp/rex_example/x"));
    let _ = a.authorize(Delete, &file("/tmp/rex_example/x"));
    let decisions = rec.0.lock().unwrap();
    assert_eq!(decisions.len(), 2);
    assert!(decisions[0].allowed && !decisions[1].allowed);
    assert_eq!(decisions[0].principal, "User::\"u\"");
    assert!(
        decisions[1].policies.is_empty(),
        "default deny has no deciding policy"
    );
}

#[test]
fn the_action_index_keeps_every_decision() {
    // A mix of scopes: any action, one action, a list, a group, forbids; the index must
    // not change a single decision.
    let text = std::fs::read_to_string(repo().join("tests/policies/fs/index_mix.cedar")).unwrap();
    let (a, _) = (
        Authorizer::new(Policy::parse(&text).unwrap(), "u", None),
        (),
    );
    let allowed = |action: &str, path: &str| {
        let f = file(path);
        match action {
            "read" => a.authorize(Read, &f).is_ok(),
            "delete" => a.authorize(Delete, &f).is_ok(),
            "write" => a.authorize(Write, &f).is_ok(),
            "stat" => a.authorize(Stat, &f).is_ok(),
            "open" => a.authorize(Open, &f).is_ok(),
            "create" => a.authorize(Create, &f).is_ok(),
            other => panic!("no action {other}"),
        }
    };
    let expect = [
        ("read", "/any/x", true),
        ("delete", "/any/x", true),
        ("read", "/one/x", true),
        ("write", "/one/x", false),
        ("stat", "/list/x", true),
        ("open", "/list/x", true),
        ("create", "/list/x", false),
        ("create", "/group/x", true),
        ("write", "/group/secret", false),
        ("read", "/group/secret", true),
        ("read", "/nowhere", false),
    ];
    for (action, path, expected) in expect {
        assert_eq!(allowed(action, path), expected, "{action} {path}");
    }
}

/// The on-call runbook example: its process, unit and execute permits, each allowing and
/// denying, with execute's context (arguments, environment, user) deciding.
#[test]
fn the_oncall_runbook_example_allows_exactly_its_runbook() {
    use wrex::exec::cedar::{Execute, Identity, Program};
    use wrex::process::cedar::{Process, action::Kill};
    use wrex::systemd::cedar::{
        Service,
        action::{Restart, Stop},
    };

    let (a, _) = authorizer("oncall_runbook.cedar", "oncall");
    let process = |name: &str, user: &str| Process {
        pid: "4242".into(),
        name: name.into(),
        username: user.into(),
        command: format!("{name}: worker process"),
    };
    assert!(a.authorize(Kill, &process("nginx", "www-data")).is_ok());
    assert!(
        a.authorize(Kill, &process("nginx", "root")).is_err(),
        "the master is not a worker"
    );
    assert!(a.authorize(Kill, &process("sshd", "www-data")).is_err());
    assert!(a.authorize(Restart, &Service("web.service".into())).is_ok());
    assert!(a.authorize(Restart, &Service("db.service".into())).is_err());
    assert!(a.authorize(Stop, &Service("web.service".into())).is_err());

    let program = |user: &str, args: &[&str], env: &[(&str, &str)]| Program {
        file: file("/usr/local/lib/healthcheck/check"),
        args: args.iter().map(|a| (a.to_string(), None)).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        user: Identity {
            name: user.into(),
            id: 65534,
        },
        group: Identity {
            name: "nogroup".into(),
            id: 65534,
        },
        request_id: "1".into(),
    };
    let run = |p: Program| a.authorize_with(Execute, &p, p.context()).is_ok();
    assert!(run(program("nobody", &["--quick", "web"], &[])));
    assert!(!run(program("root", &["--quick"], &[])), "only as nobody");
    assert!(
        !run(program("nobody", &["--full"], &[])),
        "only the quick check"
    );
    assert!(
        !run(program("nobody", &["--quick"], &[("LD_PRELOAD", "/x.so")])),
        "no environment"
    );
}
