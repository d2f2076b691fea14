//! Builds the guest (Rhai + the wrex SDK) for `wasm32-unknown-unknown` with a nested cargo,
//! turns the core module into a component with `wit-component`, and writes it to `OUT_DIR`
//! for `include_bytes!`, together with a fingerprint used as the compiled-artifact cache key.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST_TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .ok_or("guest/component has no workspace root above it")?
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    for watched in ["guest/src", "guest/Cargo.toml", "wit", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    ensure_guest_target();

    // Under clippy (`cargo clippy`, or clippy-driver as the workspace wrapper, as CI builds),
    // the guest is linted as it is built, with the same lint arguments: no separate
    // `cargo clippy --target wasm32-unknown-unknown` that would check every dependency again.
    println!("cargo:rerun-if-env-changed=RUSTC_WORKSPACE_WRAPPER");
    println!("cargo:rerun-if-env-changed=CLIPPY_ARGS");
    let clippy = env::var("RUSTC_WORKSPACE_WRAPPER").ok().filter(|w| {
        Path::new(w)
            .file_stem()
            .is_some_and(|s| s == "clippy-driver")
    });

    // A target directory of its own, beside the outer one: the outer build holds its lock. A
    // linted build keeps its own, so linting and plain builds do not undo each other's work.
    let target_dir = outer_target_dir(&out_dir)
        .unwrap_or_else(|| root.join("target"))
        .join(if clippy.is_some() {
            "wasm-guest-clippy"
        } else {
            "wasm-guest"
        });
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "-p",
            "wrex-guest",
            "--target",
            GUEST_TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // The outer build's flags and wrappers are for the host target (and clippy), not
        // for the wasm guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    if env::var("RUSTFLAGS").is_ok_and(|f| f.contains("-D warnings")) {
        cmd.env("RUSTFLAGS", "-D warnings");
    }
    if let Some(wrapper) = &clippy {
        cmd.env("RUSTC_WORKSPACE_WRAPPER", wrapper);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("failed to run cargo to build the guest: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the guest failed ({status}); if the target is missing, install it with \
             `rustup target add {GUEST_TARGET}`"
        ));
    }

    let module_path = target_dir
        .join(GUEST_TARGET)
        .join("release")
        .join("wrex_guest.wasm");
    let module = std::fs::read(&module_path)
        .map_err(|e| format!("failed to read `{}`: {e}", module_path.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("failed to turn the guest into a component: {e:#}"))?;

    let component_path = out_dir.join("guest.component.wasm");
    std::fs::write(&component_path, &component)
        .map_err(|e| format!("failed to write `{}`: {e}", component_path.display()))?;
    let generated = format!(
        "/// The guest component (Rhai + SDK), built by `wrex-guest-component`'s build script.\n\
         pub const GUEST_COMPONENT: &[u8] = include_bytes!({path:?});\n\
         /// FNV-1a fingerprint of `GUEST_COMPONENT`, computed at build time (a cache key).\n\
         pub const GUEST_FINGERPRINT: u64 = {hash:#018x};\n",
        path = component_path,
        hash = fnv1a(&component),
    );
    std::fs::write(out_dir.join("guest.rs"), generated)
        .map_err(|e| format!("failed to write guest.rs: {e}"))?;
    Ok(())
}

/// Installs the guest's standard library with rustup when the toolchain lacks it, so that a
/// fresh clone builds with `cargo build` alone. Without rustup, the guest build below fails
/// with a message naming the target.
fn ensure_guest_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|root| {
        root.join("lib/rustlib")
            .join(GUEST_TARGET)
            .join("lib")
            .is_dir()
    });
    if installed {
        return;
    }
    println!("cargo:warning=installing the guest's target with `rustup target add {GUEST_TARGET}`");
    match Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => {
            println!("cargo:warning=`rustup target add {GUEST_TARGET}` failed ({status})")
        }
        Err(e) => println!("cargo:warning=could not run rustup: {e}"),
    }
}

/// The outer build's target directory: the ancestor of `OUT_DIR` that cargo tagged.
fn outer_target_dir(out_dir: &Path) -> Option<PathBuf> {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
