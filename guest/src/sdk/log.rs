//! Script logging. `info`, `warn`, `error` and `trace` are functions, as in Rex; Rhai's
//! built-in `debug` is routed to the same log. The host timestamps, filters and bounds entries.

use rhai::{Engine, NativeCallContext, Position};

use crate::bindings::wrex::sdk::log::{Level, emit};

fn line_of(pos: Position) -> u32 {
    pos.line().and_then(|l| u32::try_from(l).ok()).unwrap_or(0)
}

pub fn register(engine: &mut Engine) {
    for (name, level) in [
        ("info", Level::Info),
        ("warn", Level::Warn),
        ("error", Level::Error),
        ("trace", Level::Trace),
    ] {
        engine.register_fn(name, move |ctx: NativeCallContext, message: &str| {
            emit(level, message, line_of(ctx.call_position()));
        });
    }
    engine.on_debug(|text, _source, pos| emit(Level::Debug, text, line_of(pos)));
}
