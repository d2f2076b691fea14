//! Explaining decisions: a denial says which `forbid` denied it or that no permit matched;
//! `wrex explain` answers one question without a script; `wrex policy check` validates a
//! file and warns about duplicate `@id`s.

use crate::util::{Sandbox, message, wrex};

#[test]
fn a_denial_says_why() {
    let sb = Sandbox::new();
    let out = sb.run_source("cat(root + \"/allowed/sub/b.txt\")", "explain");
    assert!(
        message(&out).ends_with("(forbidden by policy \"no-sub\") (line 1, position 1)"),
        "{}",
        message(&out)
    );
    let out = sb.run_source("cat(root + \"/outside/secret.txt\")", "explain");
    assert!(
        message(&out).contains("(no permit matched)"),
        "{}",
        message(&out)
    );
    // The uncaught denial is still Rex's error type, and its text the host's own.
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException)
    );
}

#[test]
fn explain_answers_one_question() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("explain");
    let ask = |action: &str, resource: &str, extra: &[&str]| {
        let mut args = vec![
            "explain",
            "--policy",
            policy.to_str().unwrap(),
            "--action",
            action,
            "--resource",
            resource,
            "--principal",
            "alice",
        ];
        args.extend_from_slice(extra);
        let out = wrex(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let read = "file_system::Action::\"read\"";
    let file = |rel: &str| format!("file_system::File::\"{}/allowed/{rel}\"", sb.root);
    let (code, text) = ask(read, &file("a.txt"), &[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.starts_with("ALLOW: User::\"alice\""), "{text}");
    assert!(
        text.contains("permitted by policy \"read-allowed\""),
        "{text}"
    );
    let (code, text) = ask(read, &file("sub/b.txt"), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("DENY") && text.contains("forbidden by policy \"no-sub\""),
        "{text}"
    );
    let (code, text) = ask("file_system::Action::\"write\"", &file("a.txt"), &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no permit matched"), "{text}");
    for (action, resource, needle) in [
        (
            "file_system::Action::\"reed\"",
            file("a.txt"),
            "no such action",
        ),
        (
            read,
            "file_system::File::\"relative/x\"".to_string(),
            "not absolute",
        ),
        (
            read,
            "process_system::Process::\"1\"".to_string(),
            "a process's attributes are read from /proc",
        ),
        ("read", file("a.txt"), "not an action UID"),
    ] {
        let (code, text) = ask(action, &resource, &[]);
        assert_eq!(code, Some(2), "{action} {resource}: {text}");
        assert!(text.contains(needle), "{action} {resource}: {text}");
    }
    let (code, text) = ask(read, &file("a.txt"), &["--context", "[1]"]);
    assert_eq!(code, Some(2), "{text}");
}

/// A URL is explained as `GET` sees it before the DNS lookup: its parts, normalized.
#[test]
fn explain_answers_about_urls_and_services() {
    let policy = crate::util::repo().join("policies/examples/health_check.cedar");
    let policy = policy.to_str().unwrap();
    let ask = |action: &str, resource: &str| {
        let out = wrex(&[
            "explain",
            "--policy",
            policy,
            "--action",
            action,
            "--resource",
            resource,
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let get = "network::Action::\"GET\"";
    let (code, text) = ask(get, "network::url::\"http://127.0.0.1:8080/health\"");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("permitted by policy \"health-endpoint\""),
        "{text}"
    );
    // `/x/../health` is `/health` to the server, and so to the policy.
    let (code, text) = ask(get, "network::url::\"http://127.0.0.1/x/../health\"");
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = ask(get, "network::url::\"http://127.0.0.1/metrics\"");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no permit matched"), "{text}");
    let (code, text) = ask(get, "network::url::\"http://user@127.0.0.1/health\"");
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("credentials in URLs are refused"), "{text}");
    let (code, text) = ask(
        "systemd::Action::\"restart\"",
        "systemd::Service::\"nginx.service\"",
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no permit matched"), "{text}");
}

#[test]
fn policy_check_validates_and_warns() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("explain");
    let out = wrex(&["policy", "check", policy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("valid:") && text.contains("3 policies"),
        "{text}"
    );
    assert!(
        text.contains("warning: @id(\"read-allowed\") names more than one policy"),
        "{text}"
    );
    let bad = crate::util::fixture("policies", "typo_action", "cedar");
    let out = wrex(&["policy", "check", bad.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("invalid:") && text.contains("typo_action.cedar:"),
        "{text}"
    );
}

/// `wrex run` warns (on stderr) about an `@id` given to more than one policy.
#[test]
fn run_warns_about_duplicate_ids() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("explain");
    let script = crate::util::fixture("scripts", "cat_a", "rhai");
    let out = wrex(&[
        "run",
        script.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("@id(\"read-allowed\") names more than one policy"),
        "{stderr}"
    );
}
