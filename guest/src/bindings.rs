//! The one `wit-bindgen` invocation of the guest, and the export of its entry point. Other
//! modules use `crate::bindings`.

// The generated canonical-ABI glue is `unsafe` by nature; nothing else in the guest is.
#![allow(unsafe_code)]
#![allow(missing_debug_implementations)]

wit_bindgen::generate!({
    path: "../wit",
    world: "script",
});

use crate::Component;
export!(Component);
