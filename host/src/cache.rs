//! The compiled guest. Compiling the component with Cranelift takes seconds, so it is done once
//! per machine and kept on disk, keyed by the component's build-time fingerprint and the
//! engine's compatibility hash; later runs map the compiled artifact in milliseconds.
//!
//! Cache directory: `$WREX_CACHE_DIR`, else `$XDG_CACHE_HOME/wrex`, else `$HOME/.cache/wrex`.
//! Set `WREX_CACHE_DIR=off` to compile in memory every time.

// Loading a compiled artifact is `unsafe` in wasmtime (the bytes become executable code); this
// module is the one place the host does it. See `load_trusted` for the conditions upheld.
#![allow(unsafe_code)]

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use wrex_guest_component::{GUEST_COMPONENT, GUEST_FINGERPRINT};

/// The compiled-guest cache directory, `None` when caching is off.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WREX_CACHE_DIR") {
        if dir == "off" || dir.is_empty() {
            return None;
        }
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Some(PathBuf::from(xdg).join("wrex"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("wrex"))
}

/// The cache file name for this guest and this engine configuration.
fn cache_key(engine: &Engine) -> String {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "guest-init-{GUEST_FINGERPRINT:016x}-{:016x}.cwasm",
        hasher.finish()
    )
}

/// Only files this user owns, in a directory this user owns, writable by nobody else, are
/// loaded: anyone who can write the cache can run code in wrex.
fn is_trusted(path: &Path) -> bool {
    let euid = rustix::process::geteuid().as_raw();
    let private = |p: &Path| {
        std::fs::symlink_metadata(p)
            .is_ok_and(|m| m.uid() == euid && m.mode() & 0o022 == 0 && !m.file_type().is_symlink())
    };
    private(path) && path.parent().is_some_and(private)
}

fn load_trusted(engine: &Engine, path: &Path) -> Option<Component> {
    if !is_trusted(path) {
        return None;
    }
    // SAFETY: the file was written by `store` below from `Engine::precompile_component` output
    // of this same guest (its name carries the guest fingerprint and the engine compatibility
    // hash), and `is_trusted` checked that only this user can have written it. wasmtime
    // additionally checks the artifact's header against this engine.
    match unsafe { Component::deserialize_file(engine, path) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!(
                "ignoring unusable compiled guest `{}`: {e:#}",
                path.display()
            );
            None
        }
    }
}

fn store(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, dir.join(name)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// The guest component, pre-initialized by `prepare` (which gets the embedded component and
/// returns the snapshot to compile) and compiled for `engine`: from the cache when possible,
/// else prepared, compiled and cached.
pub fn guest_component(
    engine: &Engine,
    prepare: impl FnOnce(&[u8]) -> wasmtime::Result<Vec<u8>>,
) -> wasmtime::Result<Component> {
    if GUEST_COMPONENT.is_empty() {
        wasmtime::bail!(
            "this wrex build has no guest component (the build script did not embed one)"
        );
    }
    let dir = cache_dir();
    let name = cache_key(engine);
    if let Some(component) = dir
        .as_ref()
        .and_then(|d| load_trusted(engine, &d.join(&name)))
    {
        return Ok(component);
    }
    let prepared = prepare(GUEST_COMPONENT)?;
    let Some(dir) = dir else {
        return Component::new(engine, &prepared);
    };
    let compiled = engine.precompile_component(&prepared)?;
    if let Err(e) = store(&dir, &name, &compiled) {
        tracing::warn!(
            "could not cache the compiled guest in `{}`: {e}",
            dir.display()
        );
    }
    // SAFETY: `compiled` was produced just now by `precompile_component` on this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

/// The embedded guest component's bytes (for tools that inspect it, such as the import test).
pub fn guest_component_bytes() -> &'static [u8] {
    GUEST_COMPONENT
}
