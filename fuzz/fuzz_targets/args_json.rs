//! The script-arguments parser never panics, and what it accepts respects Rex's depth limit
//! and wrex's name rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wrex::{ArgValue, ScriptArgs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(args) = ScriptArgs::from_json(text) {
        for (name, value) in args.iter() {
            assert!(!name.is_empty());
            // Depth 2 at most: lists and maps hold scalars only (enforced by the types).
            let _ = matches!(value, ArgValue::Scalar(_) | ArgValue::List(_) | ArgValue::Map(_));
        }
    }
});
