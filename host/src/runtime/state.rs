//! The per-run store data: one context per capability, plus what they share (the resource
//! table, the authorizer, the meter). Each capability sees only its own view of it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use wasmtime::component::{Linker, ResourceTable};

use crate::authz::Authorizer;
use crate::clock::{self, ClockView};
use crate::disk::{self, DiskView};
use crate::exec::{self, ExecView};
use crate::fs::{self, FsCtx, FsView};
use crate::limits::{Limits, Meter};
use crate::log::{self, LogBuffer, LogLevel, LogView, Published};
use crate::network::{self, NetworkView};
use crate::process::{self, ProcessCtx, ProcessView};
use crate::sysinfo::{self, SysinfoView};
use crate::systemd::{self, SystemdView};

/// Per-run host state: what the guest's imports can reach, and nothing else.
pub(crate) struct HostState {
    /// Handles the guest holds (every capability's resources).
    pub(crate) table: ResourceTable,
    /// The one authorization choke point of the run.
    pub(crate) authz: Authorizer,
    /// Host-side limits: deadline, memory, host calls, bytes read and written.
    pub(crate) meter: Meter,
    /// The file-system capability.
    pub(crate) fs: FsCtx,
    /// The process capability.
    pub(crate) process: ProcessCtx,
    /// Execute requests made so far.
    pub(crate) executions: u64,
    /// The script log.
    pub(crate) log: LogBuffer,
    /// The metrics and alarms the script published.
    pub(crate) published: Published,
}

impl HostState {
    pub(crate) fn new(
        authz: Authorizer,
        fs: FsCtx,
        log_level: LogLevel,
        limits: Limits,
        cancel: Option<Arc<AtomicBool>>,
    ) -> Self {
        Self {
            table: ResourceTable::new(),
            authz,
            meter: Meter::new(limits, cancel),
            fs,
            process: ProcessCtx::default(),
            executions: 0,
            log: LogBuffer::new(log_level),
            published: Published::default(),
        }
    }

    /// The file-system capability's view.
    pub(crate) fn fs(&mut self) -> FsView<'_> {
        FsView {
            ctx: &self.fs,
            table: &mut self.table,
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The process capability's view.
    pub(crate) fn process(&mut self) -> ProcessView<'_> {
        ProcessView {
            ctx: &mut self.process,
            fs: &self.fs,
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The execute capability's view.
    pub(crate) fn exec(&mut self) -> ExecView<'_> {
        ExecView {
            table: &self.table,
            fs: &self.fs,
            authz: &self.authz,
            meter: &mut self.meter,
            requests: &mut self.executions,
        }
    }

    /// The systemd capability's view.
    pub(crate) fn systemd(&mut self) -> SystemdView<'_> {
        SystemdView {
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The system-information capability's view.
    pub(crate) fn sysinfo(&mut self) -> SysinfoView<'_> {
        SysinfoView {
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The disk capability's view.
    pub(crate) fn disk(&mut self) -> DiskView<'_> {
        DiskView {
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The network capability's view.
    pub(crate) fn network(&mut self) -> NetworkView<'_> {
        NetworkView {
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The clock capability's view.
    pub(crate) fn clock(&mut self) -> ClockView<'_> {
        ClockView {
            authz: &self.authz,
            meter: &mut self.meter,
        }
    }

    /// The log capability's view.
    pub(crate) fn log(&mut self) -> LogView<'_> {
        LogView {
            log: &mut self.log,
            published: &mut self.published,
            meter: &mut self.meter,
        }
    }
}

/// Adds every capability's imports to `linker`: wrex's own interfaces and nothing else (no
/// WASI, no other authority).
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    fs::add_to_linker(linker, HostState::fs)?;
    log::add_to_linker(linker, HostState::log)?;
    process::add_to_linker(linker, HostState::process)?;
    exec::add_to_linker(linker, HostState::exec)?;
    systemd::add_to_linker(linker, HostState::systemd)?;
    clock::add_to_linker(linker, HostState::clock)?;
    sysinfo::add_to_linker(linker, HostState::sysinfo)?;
    disk::add_to_linker(linker, HostState::disk)?;
    network::add_to_linker(linker, HostState::network)?;
    Ok(())
}
