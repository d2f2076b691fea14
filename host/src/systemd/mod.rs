//! The systemd capability (`wrex:sdk/systemd`, Cedar namespace `systemd`): start, stop and
//! restart units, read their status, reload the manager, over D-Bus.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the view and the WIT functions: validate → authorize → call |
//! | `cedar.rs` | the Cedar actions and the `Service` and `Systemd` resources |
//! | `bus.rs` | the D-Bus calls (`zbus`), bounded by the run's deadline and cancellation |
//!
//! The capability's ambient authority is the system bus; every call is authorized first.

mod bus;
pub mod cedar;

use self::bus::BusError;
use self::cedar::action::{DaemonReload, Restart, Start, Status, Stop};
use self::cedar::{Service, Systemd};
use crate::authz::Authorizer;
use crate::bindings::wit_systemd as wit;
use crate::error::{HostError, guest_error};
use crate::limits::Meter;

/// The error type of the systemd host functions.
pub(crate) type SystemdError = HostError<wit::Error>;

type Result<T> = std::result::Result<T, SystemdError>;

guest_error!(wit::Error {
    InvalidArgument,
    NotFound,
    JobFailed,
    Dbus
});

impl From<BusError> for SystemdError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::NotFound(m) => Self::guest(wit::Error::NotFound(m)),
            BusError::JobFailed(m) => Self::guest(wit::Error::JobFailed(m)),
            BusError::Bus(m) => Self::guest(wit::Error::Dbus(m)),
            BusError::Stopped(trap) => Self::Trap(trap),
        }
    }
}

/// Longest unit name systemd accepts.
pub const MAX_UNIT_NAME: usize = 255;

/// A unit name as systemd accepts it: 1–255 bytes of ASCII letters, digits and `:-_.\@`.
fn checked_unit(unit: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c);
    if unit.is_empty() || unit.len() > MAX_UNIT_NAME || !unit.chars().all(allowed) {
        return Err(SystemdError::guest(wit::Error::InvalidArgument(format!(
            "invalid unit name {unit:?}: 1 to {MAX_UNIT_NAME} characters among letters, digits and `:-_.\\@` (e.g. `nginx.service`)"
        ))));
    }
    Ok(())
}

/// What the capability's host functions can reach.
pub(crate) struct SystemdView<'a> {
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

impl SystemdView<'_> {
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }
}

impl wit::Host for SystemdView<'_> {
    fn convert_error(&mut self, err: SystemdError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn manage(&mut self, unit: String, action: wit::UnitAction) -> Result<()> {
        self.host_call()?;
        checked_unit(&unit)?;
        let service = Service(unit.clone());
        let method = match action {
            wit::UnitAction::Start => {
                self.authz.authorize(Start, &service)?;
                "StartUnit"
            }
            wit::UnitAction::Stop => {
                self.authz.authorize(Stop, &service)?;
                "StopUnit"
            }
            wit::UnitAction::Restart => {
                self.authz.authorize(Restart, &service)?;
                "RestartUnit"
            }
            wit::UnitAction::TryRestart => {
                self.authz.authorize(Restart, &service)?;
                "TryRestartUnit"
            }
        };
        Ok(bus::run(
            self.meter.clock(),
            method,
            bus::manage(&unit, method),
        )?)
    }

    fn daemon_reload(&mut self) -> Result<()> {
        self.host_call()?;
        self.authz.authorize(DaemonReload, &Systemd)?;
        Ok(bus::run(
            self.meter.clock(),
            "Reload",
            bus::daemon_reload(),
        )?)
    }

    fn status(&mut self, unit: String) -> Result<wit::ServiceInfo> {
        self.host_call()?;
        checked_unit(&unit)?;
        self.authz.authorize(Status, &Service(unit.clone()))?;
        Ok(bus::run(
            self.meter.clock(),
            "LoadUnit",
            bus::status(&unit),
        )?)
    }
}

crate::bindings::capability_linker!(wit, SystemdView, "systemd");

#[cfg(test)]
mod tests {
    use super::checked_unit;

    #[test]
    fn unit_names_are_systemd_names() {
        assert!(checked_unit("nginx.service").is_ok());
        assert!(checked_unit("getty@tty1.service").is_ok());
        assert!(checked_unit("dev-disk-by\\x2dlabel.device").is_ok());
        for bad in [
            "",
            "a b.service",
            "../x",
            "x\0.service",
            "x\n",
            &"a".repeat(256),
        ] {
            assert!(checked_unit(bad).is_err(), "{bad:?}");
        }
    }
}
