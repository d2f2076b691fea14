//! The `authorize()` choke point, without wasm: real policies, real decisions.

use std::sync::Arc;

use wrex::Policy;
use wrex::authz::{Authorizer, FsAction, FsResource};

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
    assert!(
        a.authorize(FsAction::Read, &file("/tmp/rex_example/a/b.txt"))
            .is_ok()
    );
    assert!(
        a.authorize(FsAction::Open, &dir("/tmp/rex_example"))
            .is_ok()
    );
    assert!(a.authorize(FsAction::Open, &dir("/tmp")).is_err());
    assert!(
        a.authorize(FsAction::Read, &file("/tmp/rex_example_other/x"))
            .is_err()
    );
}

#[test]
fn unlisted_actions_are_denied() {
    let (a, _) = authorizer("read_only.cedar", "anyone");
    let denied = a
        .authorize(FsAction::Write, &file("/tmp/rex_example/a"))
        .unwrap_err();
    assert_eq!(denied.action, "file_system::Action::\"write\"");
    assert_eq!(denied.resource_type, "file_system::File");
    assert_eq!(denied.resource_id, "/tmp/rex_example/a");
    assert_eq!(denied.principal, "anyone");
}

#[test]
fn principal_and_forbid_are_honoured() {
    let (a, rec) = authorizer("logs_reader.cedar", "oncall-agent");
    assert!(
        a.authorize(FsAction::Read, &file("/var/log/syslog"))
            .is_ok()
    );
    assert!(
        a.authorize(FsAction::Read, &file("/var/log/auth.log"))
            .is_err()
    );
    let decisions = rec.0.lock().unwrap();
    assert_eq!(decisions[0].policies, ["read-logs"]);
    assert_eq!(decisions[1].policies, ["no-auth-logs"]);
    assert!(decisions[1].resource.contains("/var/log/auth.log"));
    drop(decisions);
    let (other, _) = authorizer("logs_reader.cedar", "intruder");
    assert!(
        other
            .authorize(FsAction::Read, &file("/var/log/syslog"))
            .is_err()
    );
}

#[test]
fn action_groups_work() {
    let (a, _) = authorizer("all_safe_io.cedar", "u");
    for action in [
        FsAction::Open,
        FsAction::Read,
        FsAction::Write,
        FsAction::Create,
        FsAction::Delete,
        FsAction::Stat,
    ] {
        assert!(
            a.authorize(action, &file("/tmp/scratch/f")).is_ok(),
            "{action:?}"
        );
    }
    assert!(a.authorize(FsAction::Read, &file("/tmp/other")).is_err());
}

#[test]
fn every_decision_is_observed() {
    let (a, rec) = authorizer("read_only.cedar", "u");
    let _ = a.authorize(FsAction::Read, &file("/tmp/rex_example/x"));
    let _ = a.authorize(FsAction::Delete, &file("/tmp/rex_example/x"));
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
    let text = std::fs::read_to_string(repo().join("tests/policies/index_mix.cedar")).unwrap();
    let (a, _) = (
        Authorizer::new(Policy::parse(&text).unwrap(), "u", None),
        (),
    );
    let expect = [
        (FsAction::Read, "/any/x", true),
        (FsAction::Delete, "/any/x", true),
        (FsAction::Read, "/one/x", true),
        (FsAction::Write, "/one/x", false),
        (FsAction::Stat, "/list/x", true),
        (FsAction::Open, "/list/x", true),
        (FsAction::Create, "/list/x", false),
        (FsAction::Create, "/group/x", true),
        (FsAction::Write, "/group/secret", false),
        (FsAction::Read, "/group/secret", true),
        (FsAction::Read, "/nowhere", false),
    ];
    for (action, path, allowed) in expect {
        assert_eq!(
            a.authorize(action, &file(path)).is_ok(),
            allowed,
            "{action:?} {path}"
        );
    }
}
