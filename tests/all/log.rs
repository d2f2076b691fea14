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

/// `MetricBuilder` and `AlarmBuilder` as Rex: published metrics (the last value of a name)
/// and alarms come back in the result; names starting with "rex" are the runner's.
#[test]
fn scripts_publish_metrics_and_alarms_as_rex() {
    let sb = Sandbox::new();
    let out = sb.run("metrics_and_alarms", "none");
    assert_success(&out);
    let metrics = out.metrics.unwrap();
    let seen = |name: &str| metrics.iter().filter(|m| m.metric_name == name).count();
    assert_eq!(seen("ErrorsSeen"), 1);
    let errors = metrics
        .iter()
        .find(|m| m.metric_name == "ErrorsSeen")
        .unwrap();
    assert_eq!(errors.metric_value, 4.0);
    assert_eq!(
        errors.metric_dimension.get("host").map(String::as_str),
        Some("web-1")
    );
    assert_eq!(seen("Latency"), 1);
    let alarms: Vec<(String, Option<String>)> = out
        .alarms
        .iter()
        .map(|a| (a.alarm_type.clone(), a.alarm_details.clone()))
        .collect();
    assert_eq!(
        alarms,
        [
            ("DiskAlmostFull".into(), Some("95% on /var".into())),
            ("Plain".into(), None)
        ]
    );
    for (source, needle) in [
        (
            "MetricBuilder().name(\"RexFoo\").value(1.0).publish()",
            "Script metric validation failed: Invalid metric name 'RexFoo': Script metrics cannot start with Rex",
        ),
        (
            "MetricBuilder().name(\"rexlower\").value(1.0).publish()",
            "cannot start with Rex",
        ),
        (
            "MetricBuilder().value(1.0).publish()",
            "Field not initialized: name",
        ),
        (
            "MetricBuilder().name(\"x\").publish()",
            "Field not initialized: value",
        ),
        ("AlarmBuilder().publish()", "Field not initialized: type"),
        (
            "for i in 0..101 { MetricBuilder().name(`m${i}`).value(1.0).publish(); }",
            "at most 100 metrics",
        ),
        (
            "MetricBuilder().name(\"nan\").value(0.0 / 0.0).publish()",
            "not a finite number",
        ),
    ] {
        crate::util::assert_script_error(&sb.run_source(source, "none"), needle);
    }
}
