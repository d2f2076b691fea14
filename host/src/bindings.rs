//! The one `bindgen!` invocation of the host. Other modules use `crate::bindings`.

#![allow(missing_docs, missing_debug_implementations)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "script",
    imports: { default: trappable },
    trappable_error_type: {
        "wrex:sdk/fs.error" => crate::fs::error::FsError,
        "wrex:sdk/process.error" => crate::process::ProcessError,
        "wrex:sdk/exec.error" => crate::exec::ExecError,
        "wrex:sdk/systemd.error" => crate::systemd::SystemdError,
        "wrex:sdk/sysinfo.error" => crate::sysinfo::SysinfoError,
        "wrex:sdk/disk.error" => crate::disk::DiskError,
        "wrex:sdk/network.error" => crate::network::NetworkError,
    },
    with: {
        "wrex:sdk/fs.dir": crate::fs::resources::DirRes,
        "wrex:sdk/fs.file": crate::fs::resources::FileRes,
        "wrex:sdk/fs.symlink": crate::fs::resources::SymlinkRes,
    },
});

pub use self::exports::wrex::sdk::runner as wit_runner;
pub use self::wrex::sdk::clock as wit_clock;
pub use self::wrex::sdk::disk as wit_disk;
pub use self::wrex::sdk::exec as wit_exec;
pub use self::wrex::sdk::fs as wit_fs;
pub use self::wrex::sdk::log as wit_log;
pub use self::wrex::sdk::network as wit_network;
pub use self::wrex::sdk::process as wit_process;
pub use self::wrex::sdk::sysinfo as wit_sysinfo;
pub use self::wrex::sdk::systemd as wit_systemd;
pub use self::wrex::sdk::types as wit_types;

/// Defines a capability's `add_to_linker`: the `HasData` marker that gives the bindings the
/// capability's view, and the function that adds its interface (the bindings module `$wit`,
/// `wrex:sdk/$interface`) to a linker.
macro_rules! capability_linker {
    ($wit:ident, $view:ident, $interface:literal) => {
        /// The `HasData` marker that gives the bindings this capability's view.
        struct Marker;

        impl ::wasmtime::component::HasData for Marker {
            type Data<'a> = $view<'a>;
        }

        #[doc = concat!("Adds `wrex:sdk/", $interface, "` to `linker`; `view` picks the capability's view out of the store data.")]
        pub(crate) fn add_to_linker<T: 'static>(
            linker: &mut ::wasmtime::component::Linker<T>,
            view: fn(&mut T) -> $view<'_>,
        ) -> ::wasmtime::Result<()> {
            $wit::add_to_linker::<T, Marker>(linker, view)
        }
    };
}

pub(crate) use capability_linker;
