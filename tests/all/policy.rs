//! The schema and policies: examples validate, bad policies are refused with a location.

use wrex::{Policy, PolicyError};

use crate::util::repo;

#[test]
fn schema_parses() {
    let _ = wrex::authz::schema();
}

#[test]
fn every_example_policy_validates() {
    let dir = repo().join("policies/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            Policy::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 5, "found only {count} examples");
    Policy::from_file(repo().join("examples/hello/policy.cedar")).unwrap();
}

/// Every example entities file (`*.entities.json`) validates against the schema.
#[test]
fn every_example_entities_file_validates() {
    let dir = repo().join("policies/examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".entities.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            wrex::LabelFile::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 1, "no example entities file");
}

fn invalid(name: &str) -> (PolicyError, String) {
    let path = repo()
        .join("tests/policies/invalid")
        .join(format!("{name}.cedar"));
    let err = Policy::from_file(&path).expect_err("must be refused");
    let text = err.to_string();
    (err, text)
}

#[test]
fn typo_in_an_action_is_refused_with_line_and_column() {
    let (err, text) = invalid("typo_action");
    assert!(matches!(err, PolicyError::Validation(_)), "{err:?}");
    assert!(text.contains("typo_action.cedar:4:13"), "{text}");
    assert!(text.contains("raed"), "{text}");
}

#[test]
fn syntax_error_is_refused_with_line_and_column() {
    let (err, text) = invalid("syntax");
    assert!(matches!(err, PolicyError::Parse(_)), "{err:?}");
    assert!(text.contains("syntax.cedar:4:3"), "{text}");
    assert!(
        text.starts_with("Failed to parse Cedar policy - check syntax and structure"),
        "{text}"
    );
}

#[test]
fn unknown_attribute_is_refused() {
    let (err, text) = invalid("unknown_attribute");
    assert!(matches!(err, PolicyError::Validation(_)), "{err:?}");
    assert!(text.contains("owner"), "{text}");
}

#[test]
fn missing_policy_file_names_the_path() {
    let err = Policy::from_file("/nonexistent/p.cedar").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/p.cedar"), "{err}");
}

#[test]
fn empty_policy_is_valid_and_empty() {
    assert!(Policy::parse("").unwrap().is_empty());
}

#[test]
fn the_runtime_parses_each_policy_text_once() {
    let runtime = crate::util::runtime();
    let text = "permit (principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/cache-test\");";
    let a = runtime.policy(text).unwrap();
    let b = runtime.policy(text).unwrap();
    assert!(
        a == b,
        "the second lookup must return the same parsed policy"
    );
    let c = runtime.policy(&format!("{text}\n")).unwrap();
    assert!(a != c);
    assert!(
        runtime
            .policy("permit (principal, action == file_system::Action::\"raed\", resource);")
            .is_err()
    );
}

/// Every example policy names each of its policies with a unique `@id`, so denials and the
/// audit log can name them.
#[test]
fn example_policies_have_unique_ids() {
    let dir = crate::util::repo().join("policies/examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "cedar") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let policy = wrex::Policy::parse(&text).unwrap();
        let ids = text.matches("@id(").count();
        assert_eq!(
            ids,
            policy.len(),
            "{}: a policy without @id",
            path.display()
        );
        assert!(policy.duplicate_ids().is_empty(), "{}", path.display());
    }
}
