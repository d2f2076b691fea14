//! The wrex guest: the Rhai interpreter and the Rex-compatible SDK, compiled to a WebAssembly
//! component whose only imports are wrex's own WIT interfaces (`wrex:sdk/fs`, `wrex:sdk/log`).
//!
//! Everything that is pure computation (parsing flags, splitting paths, formatting output,
//! numbering lines) runs here; every operation on the host goes through a WIT import that the
//! host authorizes with Cedar.

// The crate denies `unsafe` everywhere except in `bindings`, whose code `wit-bindgen` generates
// (the canonical ABI glue needs raw pointers).
#![deny(unsafe_code)]

mod bindings;
mod engine;
mod sdk;

use bindings::exports::wrex::sdk::runner::{Argument, Failure, Guest, Limits};

/// The exported entry point.
pub(crate) struct Component;

impl bindings::Guest for Component {
    fn wizer_initialize() {
        engine::initialize();
    }
}

impl Guest for Component {
    fn run(
        script: String,
        arguments: Vec<(String, Argument)>,
        limits: Limits,
    ) -> Result<String, Failure> {
        engine::run(&script, arguments, &limits)
    }

    fn functions() -> Vec<String> {
        engine::functions()
    }
}
