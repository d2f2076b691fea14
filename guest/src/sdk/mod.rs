//! The script-facing SDK: Rex's global names, registered on the Rhai engine.
//!
//! | module      | what it registers                                                         |
//! |-------------|---------------------------------------------------------------------------|
//! | `error`     | `IoErrorKind`, the SDK error map `#{kind, message, source}`               |
//! | `fs`        | `DirConfig`, `OpenDirOptions`, `OpenFileOptions`, handles, `Metadata` …   |
//! | `commands`  | `cat`, `ls`, `write`, `touch`, `mkdir`, `rm` and their flag modules        |
//! | `log`       | `info`, `warn`, `error`, `trace`, and `debug` routed to the host log      |

pub mod archive;
pub mod commands;
pub mod error;
pub mod fs;
pub mod handles;
pub mod lines;
pub mod log;
pub mod text;
pub mod walk;

use rhai::Engine;

/// Registers the whole SDK.
pub fn register(engine: &mut Engine) {
    error::register(engine);
    fs::register(engine);
    handles::register(engine);
    commands::register(engine);
    log::register(engine);
}
