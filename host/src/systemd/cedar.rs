//! systemd's Cedar side: the `systemd` actions (one type each) and its two resources, a unit
//! (`systemd::Service::"<unit>"`, attribute `name`) and the manager (`systemd::Systemd`).

use std::fmt;

use cedar_policy::{Entity, EntityUid};

use crate::authz::{self, Referenced, entity, entity_uid};

/// The Cedar namespace of the systemd actions and entities.
pub const NAMESPACE: &str = "systemd";

/// A unit, as a Cedar resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service(pub String);

/// systemd's manager, as a Cedar resource (`daemon_reload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Systemd;

/// The id of the manager's entity. (Rex names it by a random UUID per request, which no
/// policy can name; a fixed id can be.)
const MANAGER_ID: &str = "systemd";

/// The `systemd` actions, one unit type each.
pub mod action {
    use super::{Service, Systemd};

    macro_rules! actions {
        ($($(#[$doc:meta])* $ty:ident = $id:literal on $res:ty;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl crate::authz::Action for $ty {
                const NAMESPACE: &'static str = super::NAMESPACE;
                const ID: &'static str = $id;
                type Resource = $res;
            }
        )*};
    }

    actions! {
        /// Start a unit.
        Start = "start" on Service;
        /// Stop a unit.
        Stop = "stop" on Service;
        /// Restart a unit (also `try_restart`).
        Restart = "restart" on Service;
        /// Read a unit's status.
        Status = "status" on Service;
        /// Reload systemd's configuration.
        DaemonReload = "daemon_reload" on Systemd;
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::Service::{:?}", self.0)
    }
}

impl authz::Resource for Service {
    fn type_name(&self) -> &'static str {
        "systemd::Service"
    }

    fn id(&self) -> &str {
        &self.0
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Service", &self.0)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        entity(self.uid(), [("name", self.0.clone())], [])
            .into_iter()
            .collect()
    }
}

impl fmt::Display for Systemd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::Systemd::{MANAGER_ID:?}")
    }
}

impl authz::Resource for Systemd {
    fn type_name(&self) -> &'static str {
        "systemd::Systemd"
    }

    fn id(&self) -> &str {
        MANAGER_ID
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Systemd", MANAGER_ID)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        entity(self.uid(), [], []).into_iter().collect()
    }
}
