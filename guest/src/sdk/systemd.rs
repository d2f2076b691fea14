//! The systemd SDK (`wrex:sdk/systemd`): Rex's `SystemctlManager` (start, stop, restart,
//! try_restart, daemon_reload, status), `ServiceInfo` and `State`. Errors are Rex's
//! `ProcessErrorKind` (`ServiceNotFound`, `DBusError` …).

use std::fmt;

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use crate::bindings::wrex::sdk::systemd as wit;
use crate::sdk::enums::register_enum_named;
use crate::sdk::error;
use crate::sdk::process::error::ProcessErrorKind;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `SystemctlManager`: a handle with no state (each call connects to the bus).
#[derive(Clone, Debug)]
pub struct SystemctlManager;

/// Rex's `State` of a unit (`State::ACTIVE` …), printed lowercase as systemd names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Active,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Maintenance,
    Reloading,
    Refreshing,
    Unknown,
}

impl State {
    const ALL: [(&'static str, State); 9] = [
        ("ACTIVE", Self::Active),
        ("INACTIVE", Self::Inactive),
        ("FAILED", Self::Failed),
        ("ACTIVATING", Self::Activating),
        ("DEACTIVATING", Self::Deactivating),
        ("MAINTENANCE", Self::Maintenance),
        ("RELOADING", Self::Reloading),
        ("REFRESHING", Self::Refreshing),
        ("UNKNOWN", Self::Unknown),
    ];

    fn parse(s: &str) -> Self {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map_or(Self::Unknown, |(_, state)| *state)
    }

    /// Rex's `State::is_active`: active, reloading or refreshing.
    fn is_active(self) -> bool {
        matches!(self, Self::Active | Self::Reloading | Self::Refreshing)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = Self::ALL
            .iter()
            .find(|(_, s)| s == self)
            .map_or("unknown", |(n, _)| n);
        f.write_str(&name.to_ascii_lowercase())
    }
}

/// Rex's `ServiceInfo`.
#[derive(Clone, Debug)]
pub struct ServiceInfo(wit::ServiceInfo);

/// A counter systemd reports: `()` when unset (systemd's "infinity", `u64::MAX`).
fn counter(v: Option<u64>) -> Dynamic {
    v.and_then(|v| i64::try_from(v).ok())
        .map_or(Dynamic::UNIT, Dynamic::from)
}

impl ServiceInfo {
    fn to_map(&self) -> Map {
        let s = &self.0;
        let mut m = Map::new();
        m.insert("name".into(), s.name.clone().into());
        m.insert("description".into(), s.description.clone().into());
        m.insert("load_state".into(), s.load_state.clone().into());
        m.insert("load_path".into(), s.load_path.clone().into());
        m.insert("unit_file_state".into(), s.unit_file_state.clone().into());
        m.insert("unit_file_preset".into(), s.unit_file_preset.clone().into());
        m.insert("active_state".into(), s.active_state.clone().into());
        m.insert("sub_state".into(), s.sub_state.clone().into());
        m.insert("need_daemon_reload".into(), s.need_daemon_reload.into());
        m.insert(
            "documentation".into(),
            Dynamic::from_array(s.documentation.iter().cloned().map(Dynamic::from).collect()),
        );
        m.insert(
            "main_pid".into(),
            s.main_pid
                .map_or(Dynamic::UNIT, |p| Dynamic::from(i64::from(p))),
        );
        m.insert("tasks".into(), counter(s.tasks));
        m.insert("memory".into(), counter(s.memory));
        m
    }
}

fn from_wit(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => return error::denied(ProcessErrorKind::PermissionDenied, d),
        wit::Error::InvalidArgument(m) => (ProcessErrorKind::ValidationError, m),
        wit::Error::NotFound(m) => (ProcessErrorKind::ServiceNotFound, m),
        wit::Error::JobFailed(m) => (ProcessErrorKind::Other, m),
        wit::Error::Dbus(m) => (ProcessErrorKind::DBusError, m),
    };
    error::sdk_error(kind, message)
}

fn manage(unit: &str, action: wit::UnitAction) -> Result<()> {
    wit::manage(unit, action).map_err(from_wit)
}

pub fn register(engine: &mut Engine) {
    register_enum_named(engine, "State", State::ALL);
    // `State::is_active(state)`, as Rex registers it, in the module.
    let mut module = rhai::Module::new();
    for (name, state) in State::ALL {
        module.set_var(name, state);
    }
    module.set_native_fn("is_active", |s: State| Ok(s.is_active()));
    engine.register_static_module("State", module.into());
    engine
        .register_type_with_name::<ServiceInfo>("ServiceInfo")
        .register_get("name", |s: &mut ServiceInfo| s.0.name.clone())
        .register_get("description", |s: &mut ServiceInfo| s.0.description.clone())
        .register_get("load_state", |s: &mut ServiceInfo| s.0.load_state.clone())
        .register_get("load_path", |s: &mut ServiceInfo| s.0.load_path.clone())
        .register_get("unit_file_state", |s: &mut ServiceInfo| {
            s.0.unit_file_state.clone()
        })
        .register_get("unit_file_preset", |s: &mut ServiceInfo| {
            s.0.unit_file_preset.clone()
        })
        .register_get("active_state", |s: &mut ServiceInfo| {
            State::parse(&s.0.active_state)
        })
        .register_get("sub_state", |s: &mut ServiceInfo| s.0.sub_state.clone())
        .register_get("need_daemon_reload", |s: &mut ServiceInfo| {
            s.0.need_daemon_reload
        })
        .register_get("main_pid", |s: &mut ServiceInfo| {
            s.0.main_pid
                .map_or(Dynamic::UNIT, |p| Dynamic::from(i64::from(p)))
        })
        .register_get("tasks", |s: &mut ServiceInfo| counter(s.0.tasks))
        .register_get("memory", |s: &mut ServiceInfo| counter(s.0.memory))
        .register_fn("to_map", |s: &mut ServiceInfo| s.to_map())
        .register_fn("to_string", |s: &mut ServiceInfo| {
            Dynamic::from_map(s.to_map()).to_string()
        });
    engine
        .register_type_with_name::<SystemctlManager>("SystemctlManager")
        .register_fn("SystemctlManager", || SystemctlManager)
        .register_fn("start", |_: &mut SystemctlManager, unit: &str| {
            manage(unit, wit::UnitAction::Start)
        })
        .register_fn("stop", |_: &mut SystemctlManager, unit: &str| {
            manage(unit, wit::UnitAction::Stop)
        })
        .register_fn("restart", |_: &mut SystemctlManager, unit: &str| {
            manage(unit, wit::UnitAction::Restart)
        })
        .register_fn("try_restart", |_: &mut SystemctlManager, unit: &str| {
            manage(unit, wit::UnitAction::TryRestart)
        })
        .register_fn("daemon_reload", |_: &mut SystemctlManager| {
            wit::daemon_reload().map_err(from_wit)
        })
        .register_fn("status", |_: &mut SystemctlManager, unit: &str| {
            wit::status(unit).map(ServiceInfo).map_err(from_wit)
        });
}
