//! The D-Bus side: systemd's manager (`org.freedesktop.systemd1`) through `zbus`, on a
//! current-thread tokio runtime of its own per call, bounded by the run's deadline and
//! cancellation.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, MatchRule, MessageStream};

use crate::bindings::wit_systemd as wit;
use crate::limits::{Clock, Interrupted};

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// Longest a single systemd operation may take, whatever the run's deadline.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(120);

/// Why a bus operation failed.
#[derive(Debug)]
pub(crate) enum BusError {
    NotFound(String),
    JobFailed(String),
    Bus(String),
    /// The run's deadline or cancellation (the trap that ends it).
    Stopped(wasmtime::Error),
}

impl From<zbus::Error> for BusError {
    fn from(e: zbus::Error) -> Self {
        match &e {
            zbus::Error::MethodError(name, message, _)
                if name.as_str() == "org.freedesktop.systemd1.NoSuchUnit" =>
            {
                Self::NotFound(message.clone().unwrap_or_else(|| e.to_string()))
            }
            _ => Self::Bus(e.to_string()),
        }
    }
}

impl From<zbus::zvariant::Error> for BusError {
    fn from(e: zbus::zvariant::Error) -> Self {
        Self::Bus(format!("unexpected reply from systemd: {e}"))
    }
}

/// Runs `work` to its end, the run's deadline (capped at [`MAX_WAIT`]) or cancellation.
pub(crate) fn run<T, F>(clock: &Clock, what: &str, work: F) -> Result<T, BusError>
where
    T: Send,
    F: Future<Output = Result<T, BusError>> + Send,
{
    match clock.block_on(MAX_WAIT, work) {
        Ok(done) => done,
        Err(Interrupted::Stopped(trap)) => Err(BusError::Stopped(trap)),
        Err(Interrupted::TimedOut(limit)) => Err(BusError::Bus(format!(
            "systemd did not answer {what} within {} s",
            limit.as_secs()
        ))),
        Err(Interrupted::Failed(e)) => Err(BusError::Bus(format!("the D-Bus client: {e}"))),
    }
}

/// Connects to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
async fn connect() -> Result<Connection, BusError> {
    Connection::system()
        .await
        .map_err(|e| BusError::Bus(format!("cannot connect to the system bus: {e}")))
}

/// Calls `method` of systemd's manager and waits for the job it queues to finish: `Ok` when
/// its result is `done`.
pub(crate) async fn manage(unit: &str, method: &str) -> Result<(), BusError> {
    let conn = connect().await?;
    // systemd sends job signals only to subscribers; a manager without `Subscribe` still
    // sends them (the call's failure changes nothing).
    let _ = conn
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            "Subscribe",
            &(),
        )
        .await;
    let rule = MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(MANAGER)?
        .member("JobRemoved")?
        .path(MANAGER_PATH)?
        .build();
    // Listening before the call: the job's end cannot come before the stream exists.
    let mut jobs = MessageStream::for_match_rule(rule, &conn, None).await?;
    let reply = conn
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            method,
            &(unit, "replace"),
        )
        .await?;
    let job: OwnedObjectPath = reply.body().deserialize()?;
    while let Some(signal) = jobs.next().await {
        let Ok(signal) = signal else { continue };
        let Ok((_, path, _, result)) = signal
            .body()
            .deserialize::<(u32, OwnedObjectPath, String, String)>()
        else {
            continue;
        };
        if path == job {
            return match result.as_str() {
                "done" => Ok(()),
                other => Err(BusError::JobFailed(format!(
                    "systemd's {method} job for `{unit}` ended with result `{other}`"
                ))),
            };
        }
    }
    Err(BusError::Bus(format!(
        "the bus closed before systemd's {method} job for `{unit}` finished"
    )))
}

/// `Reload`: systemd reads its configuration again.
pub(crate) async fn daemon_reload() -> Result<(), BusError> {
    let conn = connect().await?;
    conn.call_method(
        Some(DESTINATION),
        MANAGER_PATH,
        Some(MANAGER),
        "Reload",
        &(),
    )
    .await?;
    Ok(())
}

/// All properties of `interface` of the object at `path` (empty when it has none).
async fn properties(
    conn: &Connection,
    path: &OwnedObjectPath,
    interface: &str,
) -> Result<HashMap<String, OwnedValue>, BusError> {
    let reply = conn
        .call_method(
            Some(DESTINATION),
            path.as_str(),
            Some(PROPERTIES),
            "GetAll",
            &(interface,),
        )
        .await?;
    Ok(reply.body().deserialize()?)
}

fn text(props: &HashMap<String, OwnedValue>, name: &str) -> String {
    props
        .get(name)
        .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
        .unwrap_or_default()
}

fn number<T: TryFrom<OwnedValue>>(props: &HashMap<String, OwnedValue>, name: &str) -> Option<T> {
    props
        .get(name)
        .and_then(|v| T::try_from(v.try_clone().ok()?).ok())
}

/// The unit's status (`LoadUnit`, then its `Unit` properties, and while it is active its
/// `Service` ones).
pub(crate) async fn status(unit: &str) -> Result<wit::ServiceInfo, BusError> {
    let conn = connect().await?;
    let reply = conn
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            "LoadUnit",
            &(unit,),
        )
        .await?;
    let path: OwnedObjectPath = reply.body().deserialize()?;
    let props = properties(&conn, &path, UNIT).await?;
    let active_state = text(&props, "ActiveState");
    let mut info = wit::ServiceInfo {
        name: unit.to_string(),
        description: text(&props, "Description"),
        load_state: text(&props, "LoadState"),
        load_path: text(&props, "FragmentPath"),
        unit_file_state: text(&props, "UnitFileState"),
        unit_file_preset: text(&props, "UnitFilePreset"),
        sub_state: text(&props, "SubState"),
        need_daemon_reload: number::<bool>(&props, "NeedDaemonReload").unwrap_or(false),
        documentation: number::<Vec<String>>(&props, "Documentation").unwrap_or_default(),
        main_pid: None,
        tasks: None,
        memory: None,
        active_state,
    };
    // Rex's `State::is_active`: active, reloading, refreshing.
    if matches!(
        info.active_state.as_str(),
        "active" | "reloading" | "refreshing"
    ) && let Ok(service) = properties(&conn, &path, SERVICE).await
    {
        info.main_pid = number::<u32>(&service, "MainPID");
        info.tasks = number::<u64>(&service, "TasksCurrent");
        info.memory = number::<u64>(&service, "MemoryCurrent");
    }
    Ok(info)
}
