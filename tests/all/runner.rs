//! The script runner (`wrex:sdk/runner`): compile errors with positions, disabled keywords,
//! values and arguments, forged denials, and one runtime serving many runs.

use wrex::{ArgValue, Job, Scalar, ScriptArgs};

use crate::util::{
    Sandbox, assert_not_a_denial, assert_script_error, assert_success, runtime, script,
};

#[test]
fn syntax_errors_name_line_and_position() {
    let sb = Sandbox::new();
    let out = sb.run("syntax_error", "ro");
    assert_script_error(&out, "(line 2, position 9)");
    assert!(
        out.alarms
            .iter()
            .any(|a| a.alarm_type == "RexRunnerScriptCompilationFailure")
    );
}

#[test]
fn unknown_function_is_a_script_error() {
    let sb = Sandbox::new();
    assert_script_error(
        &sb.run("unknown_function", "ro"),
        "Function not found: no_such_function",
    );
    assert_script_error(
        &sb.run("undefined_variable", "ro"),
        "Undefined variable: undefined_var",
    );
}

#[test]
fn print_eval_and_import_are_disabled() {
    let sb = Sandbox::new();
    assert_script_error(&sb.run("print_disabled", "ro"), "'print' is disabled");
    assert_script_error(&sb.run("eval_disabled", "ro"), "'eval' is disabled");
    assert_script_error(
        &sb.run("import_disabled", "ro"),
        "'import' is a reserved keyword",
    );
}

#[test]
fn values_render_as_rhai_displays_them() {
    let sb = Sandbox::new();
    assert_eq!(sb.run("values", "none").output, r#"[1, "x", 2.5, true]"#);
    assert_eq!(sb.run_source("()", "none").output, "");
    assert_eq!(
        sb.run_source("#{a: 1, b: [1, 2]}", "none").output,
        r#"#{"a": 1, "b": [1, 2]}"#
    );
}

#[test]
fn arguments_of_every_kind_become_variables() {
    let mut args = ScriptArgs::new();
    args.insert("name", "Alice").unwrap();
    args.insert("count", ArgValue::Scalar(Scalar::Integer(41)))
        .unwrap();
    args.insert("big", 9_000_000_000_i64).unwrap();
    args.insert("ratio", 0.5).unwrap();
    args.insert("flag", true).unwrap();
    args.insert(
        "list",
        ArgValue::List(vec![Scalar::Long(1), Scalar::String("x".into())]),
    )
    .unwrap();
    args.insert(
        "map",
        ArgValue::Map(vec![("k".into(), Scalar::Boolean(false))]),
    )
    .unwrap();
    let job = Job::new(script("args"), wrex::Policy::parse("").unwrap()).args(args);
    let out = runtime().run(job);
    assert_success(&out);
    assert_eq!(
        out.output,
        r#"Alice|42|9000000000|0.5|true|[1, "x"]|false|i64"#
    );
}

#[test]
fn the_runtime_serves_runs_from_many_threads() {
    let sb = Sandbox::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| sb.run("cat_allowed", "ro")))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().output, "hello\n");
        }
    });
}

#[test]
fn a_runtime_with_one_slot_serves_runs_one_after_another() {
    let options = wrex::RuntimeOptions {
        max_concurrent_runs: 1,
        max_memory: 64 << 20,
    };
    let runtime = wrex::Runtime::with_options(&options).unwrap();
    for _ in 0..3 {
        let out = runtime.run(Job::new("40 + 2", wrex::Policy::parse("").unwrap()));
        assert_eq!(out.output, "42", "{out:#?}");
    }
}

#[test]
fn nothing_of_one_run_is_visible_to_the_next() {
    let policy = wrex::Policy::parse("").unwrap();
    let first = "fn leaked() { 42 } let big = \"x\"; for i in 0..20 { big += big; } big.len()";
    let out = runtime().run(Job::new(first, policy.clone()));
    assert_eq!(out.output, "1048576", "{out:#?}");
    let out = runtime().run(Job::new("leaked()", policy.clone()));
    assert_script_error(&out, "Function not found: leaked");
    let out = runtime().run(Job::new("big", policy));
    assert_script_error(&out, "Undefined variable: big");
}

#[test]
fn a_script_cannot_forge_an_access_denial() {
    let sb = Sandbox::new();
    assert_not_a_denial(&sb.run("forged_denial", "ro"));
}
