//! The log capability (`wrex:sdk/log`): script log entries are captured in order, with their
//! lines.

use crate::util::{Sandbox, assert_success};

#[test]
fn logs_are_captured_in_order_with_lines() {
    let sb = Sandbox::new();
    let out = sb.run("logs", "none");
    assert_success(&out);
    let logs = out.logs.unwrap();
    let seen: Vec<(String, String, String)> = logs
        .iter()
        .map(|l| {
            (
                l.attributes.level.to_string(),
                l.attributes.message.clone(),
                l.attributes.line_number.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("INFO".into(), "first".into(), "1".into()),
            ("WARN".into(), "second".into(), "2".into()),
            ("ERROR".into(), "third".into(), "3".into()),
        ]
    );
}
