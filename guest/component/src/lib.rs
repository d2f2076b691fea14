//! The guest (Rhai + the wrex SDK) as a WebAssembly component, built by this crate's build
//! script: a nested cargo build of `wrex-guest` for `wasm32-unknown-unknown`, made a component
//! with `wit-component`. The host embeds it (`GUEST_COMPONENT`) and keys its compiled-artifact
//! cache on `GUEST_FINGERPRINT`.
//!
//! It is a crate of its own so that the guest's build runs beside the host's dependencies:
//! cargo starts a package's build script only once that package's dependencies are compiled.

#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/guest.rs"));
