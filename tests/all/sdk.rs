//! The self-described SDK: `wrex functions` lists every function the sandboxed interpreter
//! registers — asked of the guest itself — each with a description and its Cedar checks.

use serde_json::Value;

use crate::util::{runtime, wrex};

/// Every function the guest registers is described, and every description names a function
/// the guest has: the list cannot drift from what scripts can call.
#[test]
fn every_registered_function_is_listed_and_described() {
    let signatures = runtime().sdk_signatures().unwrap();
    assert!(signatures.len() > 200, "{}", signatures.len());
    let (functions, undescribed) = wrex::functions::describe(&signatures);
    assert!(
        undescribed.is_empty(),
        "functions the guest registers without a description in host/src/functions.rs: {undescribed:#?}"
    );
    assert_eq!(functions.len(), signatures.len());
    let stale = wrex::functions::unused_docs(&signatures);
    assert!(
        stale.is_empty(),
        "descriptions of functions the guest does not register: {stale:?}"
    );
    // Rex's commands are there, with the checks they make.
    for (name, action) in [("cat", "read"), ("rm", "delete"), ("mkdir", "create")] {
        let f = functions
            .iter()
            .find(|f| f.name == name && f.receiver.is_none())
            .unwrap_or_else(|| panic!("no {name}"));
        assert!(f.checks.contains(action), "{f:?}");
    }
}

#[test]
fn wrex_functions_prints_text_and_json() {
    let out = wrex(&["functions", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let read = list
        .iter()
        .find(|f| f["receiver"] == "FileHandle" && f["name"] == "read")
        .expect("FileHandle.read");
    assert_eq!(read["signature"], "FileHandle.read() -> string");
    assert!(read["checks"].as_str().unwrap().contains("`read` File"));
    let text = wrex(&["functions"]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("cat(string) -> string\n    Reads a file's text"),
        "{text}"
    );
    assert!(text.lines().count() > 600);
}
