//! Pre-initialization: the guest's Rhai engine is built once and snapshotted with
//! wasmtime-wizer, so every run starts from a ready engine.

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

use super::state::HostState;
use crate::authz::{Authorizer, Policy};
use crate::fs::{FsConfig, FsCtx};
use crate::limits::Limits;
use crate::log::LogLevel;

/// Runs the guest's `wizer-initialize` (which builds the Rhai engine and registers the SDK)
/// and snapshots the initialized instance into a new component with wasmtime-wizer: every run
/// then starts from a ready engine. The initializer calls no import.
pub(super) fn preinitialize(
    engine: &Engine,
    linker: &Linker<HostState>,
    component: &[u8],
) -> wasmtime::Result<Vec<u8>> {
    let mut wizer = wasmtime_wizer::Wizer::new();
    // The export stays: the host's bindings check the world's exports.
    wizer.keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(component)?;
    let component = Component::new(engine, &instrumented)?;
    let authz = Authorizer::new(Policy::parse("")?, "wizer", None);
    let fs = FsCtx::open(&FsConfig::default())?;
    let state = HostState::new(authz, fs, LogLevel::Info, Limits::default(), None);
    let mut store = Store::new(engine, state);
    store.set_epoch_deadline(1 << 40);
    let instance = linker.instantiate(&mut store, &component)?;
    let init = instance.get_typed_func::<(), ()>(&mut store, "wizer-initialize")?;
    init.call(&mut store, ())?;
    let mut access = SnapshotAccess {
        store: &mut store,
        instance,
        error: None,
    };
    let snapshot = block_on(wizer.snapshot_component(&cx, &mut access))?;
    if let Some(e) = access.error {
        return Err(e);
    }
    snapshot
}

/// Lets wizer read the initialized instance's state, synchronously.
struct SnapshotAccess<'a> {
    store: &'a mut Store<HostState>,
    instance: wasmtime::component::Instance,
    error: Option<wasmtime::Error>,
}

impl SnapshotAccess<'_> {
    fn call<R: wasmtime::component::Lift + 'static>(
        &mut self,
        instance: &str,
        func: &str,
    ) -> Option<R> {
        let result = (|| {
            let (_, inst) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}`"))?;
            let (_, f) = self
                .instance
                .get_export(&mut *self.store, Some(&inst), func)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}#{func}`"))?;
            let f = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, f)?;
            Ok::<R, wasmtime::Error>(f.call(&mut *self.store, ())?.0)
        })();
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }
}

impl wasmtime_wizer::ComponentInstanceState for SnapshotAccess<'_> {
    fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl std::future::Future<Output = ()> + Send {
        if let Some(list) = self.call::<wasmtime::component::WasmList<u8>>(instance, func) {
            contents(list.as_le_slice(&*self.store));
        }
        std::future::ready(())
    }

    fn call_func_ret_s32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = i32> + Send {
        std::future::ready(self.call::<i32>(instance, func).unwrap_or(0))
    }

    fn call_func_ret_s64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = i64> + Send {
        std::future::ready(self.call::<i64>(instance, func).unwrap_or(0))
    }

    fn call_func_ret_f32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = u32> + Send {
        std::future::ready(self.call::<f32>(instance, func).map_or(0, f32::to_bits))
    }

    fn call_func_ret_f64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl std::future::Future<Output = u64> + Send {
        std::future::ready(self.call::<f64>(instance, func).map_or(0, f64::to_bits))
    }
}

/// Drives a future whose every await point is immediately ready (wizer's snapshot over the
/// synchronous accessor above).
fn block_on<F: std::future::Future>(future: F) -> wasmtime::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000 {
        if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Ok(v);
        }
    }
    wasmtime::bail!("the guest snapshot did not complete")
}
