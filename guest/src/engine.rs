//! Builds the Rhai engine the way Rex does (strict variables, `print` and `eval` disabled) and
//! more strictly (`import` disabled, no module resolver), binds the script arguments and runs
//! the script, turning the outcome into the `runner` interface's result.

use std::cell::RefCell;

use rhai::{Dynamic, Engine, EvalAltResult, Map, ParseErrorType, Position, Scope};

use crate::bindings::exports::wrex::sdk::runner::{Argument, Failure, FailureKind, Limits, Scalar};
use crate::sdk;

fn usize_limit(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

thread_local! {
    /// The engine, built once per instance: by `wizer-initialize` before the snapshot (so
    /// every run starts with it ready), or by the first run otherwise. Each run gets a fresh
    /// instance, so nothing a script does survives into another run.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Builds the engine ahead of time (the `wizer-initialize` export).
pub fn initialize() {
    ENGINE.with_borrow_mut(|slot| {
        slot.get_or_insert_with(build_engine);
    });
}

/// The signatures of every function the SDK registers (not Rhai's own packages).
pub fn functions() -> Vec<String> {
    ENGINE.with_borrow_mut(|slot| {
        let engine = slot.get_or_insert_with(build_engine);
        engine.gen_fn_signatures(false)
    })
}

/// Applies a run's limits (0 = unlimited).
fn apply_limits(engine: &mut Engine, limits: &Limits) {
    engine.set_max_operations(limits.max_operations);
    // Rhai reads a call-level limit of 0 as "no calls at all"; wrex's 0 means unlimited (the
    // guest's stack is then the limit, and exhausting it traps the guest, not the host).
    engine.set_max_call_levels(match limits.max_call_depth {
        0 => usize::MAX,
        depth => usize_limit(depth),
    });
    engine.set_max_expr_depths(
        usize_limit(limits.max_expr_depth),
        usize_limit(limits.max_function_expr_depth),
    );
    engine.set_max_string_size(usize_limit(limits.max_string_size));
    engine.set_max_array_size(usize_limit(limits.max_array_size));
    engine.set_max_map_size(usize_limit(limits.max_map_size));
}

/// Builds an engine with the SDK registered.
pub fn build_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_strict_variables(true);
    // As Rex: `print` and `eval` are disabled keywords (a compile error names them).
    engine.disable_symbol("print");
    engine.disable_symbol("eval");
    // Better than Rex (see docs/rex-compat.md): `import` would load a module from a path without any
    // Cedar check. The guest has no file system anyway, but the keyword is refused at compile
    // time with a clear message, and no resolver is installed.
    engine.disable_symbol("import");
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    sdk::register(&mut engine);
    engine
}

/// Runs one script.
pub fn run(
    script: &str,
    arguments: Vec<(String, Argument)>,
    limits: &Limits,
) -> Result<String, Failure> {
    ENGINE.with_borrow_mut(|slot| {
        let engine = slot.get_or_insert_with(build_engine);
        apply_limits(engine, limits);
        run_with(engine, script, arguments, limits)
    })
}

fn run_with(
    engine: &Engine,
    script: &str,
    arguments: Vec<(String, Argument)>,
    limits: &Limits,
) -> Result<String, Failure> {
    let mut scope = Scope::new();
    for (name, value) in arguments {
        scope.push_dynamic(name, argument_to_dynamic(value));
    }
    let ast = engine.compile_with_scope(&scope, script).map_err(|err| {
        let err = EvalAltResult::from(err);
        Failure {
            kind: if limit_name(&err).is_some() {
                FailureKind::LimitExceeded
            } else {
                FailureKind::Compile
            },
            denial: None,
            message: format_error(&err),
        }
    })?;
    match engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast) {
        Ok(value) => {
            let output = display(engine, value);
            let max = usize_limit(limits.max_output);
            if max != 0 && output.len() > max {
                return Err(Failure {
                    kind: FailureKind::LimitExceeded,
                    denial: None,
                    message: format!(
                        "Limit exceeded: output ({} bytes, the maximum is {max})",
                        output.len()
                    ),
                });
            }
            Ok(output)
        }
        Err(err) => {
            let denial = denial_id(innermost(&err));
            Err(Failure {
                kind: if limit_name(innermost(&err)).is_some() {
                    FailureKind::LimitExceeded
                } else if denial.is_some() {
                    FailureKind::AccessDenied
                } else {
                    FailureKind::Runtime
                },
                denial,
                message: format_error(&err),
            })
        }
    }
}

/// Which interpreter limit an error reports, if it is a limit error. Rhai does not let
/// `try/catch` catch these.
fn limit_name(err: &EvalAltResult) -> Option<&'static str> {
    match err {
        EvalAltResult::ErrorTooManyOperations(_) => Some("operations"),
        EvalAltResult::ErrorStackOverflow(_) => Some("call depth"),
        EvalAltResult::ErrorDataTooLarge(what, _) => Some(data_limit(what)),
        EvalAltResult::ErrorParsing(ParseErrorType::ExprTooDeep, _) => Some("expression depth"),
        EvalAltResult::ErrorParsing(ParseErrorType::LiteralTooLarge(what, _), _) => {
            Some(data_limit(what))
        }
        _ => None,
    }
}

fn data_limit(what: &str) -> &'static str {
    let what = what.to_ascii_lowercase();
    if what.contains("string") {
        "string size"
    } else if what.contains("array") {
        "array size"
    } else if what.contains("map") {
        "map size"
    } else {
        "data size"
    }
}

fn scalar_to_dynamic(value: Scalar) -> Dynamic {
    match value {
        Scalar::StringValue(s) => s.into(),
        Scalar::IntegerValue(i) => Dynamic::from_int(i64::from(i)),
        Scalar::LongValue(i) => Dynamic::from_int(i),
        Scalar::DoubleValue(f) => Dynamic::from_float(f),
        Scalar::BooleanValue(b) => Dynamic::from_bool(b),
    }
}

fn argument_to_dynamic(value: Argument) -> Dynamic {
    match value {
        Argument::Scalar(s) => scalar_to_dynamic(s),
        Argument::ListValue(items) => {
            Dynamic::from_array(items.into_iter().map(scalar_to_dynamic).collect())
        }
        Argument::MapValue(entries) => {
            let map: Map = entries
                .into_iter()
                .map(|(k, v)| (k.into(), scalar_to_dynamic(v)))
                .collect();
            Dynamic::from_map(map)
        }
    }
}

/// The error that actually happened, looking through "error in function call" wrappers.
fn innermost(err: &EvalAltResult) -> &EvalAltResult {
    match err {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => innermost(inner),
        other => other,
    }
}

/// Formats an error the way Rex's runner does: an SDK error as
/// The host's id of the denial an uncaught error is, if it is an SDK access denial the host
/// raised (of any capability). The host confirms this against its own record of denials, so a
/// script cannot make a denial up.
fn denial_id(err: &EvalAltResult) -> Option<u32> {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => sdk::describe_error(value)?.denial,
        _ => None,
    }
}

/// `<source>: <kind>: <message> (line L, position P)`, anything else with Rhai's own text,
/// which already carries the position.
pub fn format_error(err: &EvalAltResult) -> String {
    let inner = innermost(err);
    if let Some(limit) = limit_name(inner) {
        return format!("Limit exceeded: {limit}: {err}");
    }
    if let EvalAltResult::ErrorRuntime(value, pos) = inner
        && let Some(text) = sdk::describe_error(value).map(|d| d.text)
    {
        // The position of the outermost call is where the script went wrong from its own
        // point of view; fall back to the inner one.
        let pos = if err.position().is_none() {
            *pos
        } else {
            err.position()
        };
        return with_position(text, pos);
    }
    err.to_string()
}

fn with_position(text: String, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => format!("{text} (line {line}, position {column})"),
        (Some(line), None) => format!("{text} (line {line})"),
        _ => text,
    }
}

/// The script's value as text: an SDK type (`EntryType`, `Metadata`, …) as its `to_string`
/// shows it in the script, not as its Rust type name.
fn display(engine: &Engine, value: Dynamic) -> String {
    if !value.is_variant() {
        return value.to_string();
    }
    let mut scope = Scope::new();
    scope.push_dynamic("value", value.clone());
    engine
        .eval_with_scope::<String>(&mut scope, "value.to_string()")
        .unwrap_or_else(|_| value.to_string())
}
