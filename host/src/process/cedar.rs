//! The processes' Cedar side: the `process_system` actions (one type each) and the `Process`
//! resource, `process_system::Process::"<pid>"` with attributes `name`, `username` and
//! `command` (Rex's entity).

use std::fmt;

use cedar_policy::{Entity, EntityUid};

use crate::authz::{self, Referenced, entity, entity_uid};

/// The Cedar namespace of the process actions and entities.
pub const NAMESPACE: &str = "process_system";

/// The `process_system` actions, one unit type each.
pub mod action {
    use super::Process;

    macro_rules! actions {
        ($($(#[$doc:meta])* $ty:ident = $id:literal;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, Default)]
            pub struct $ty;

            impl crate::authz::Action for $ty {
                const NAMESPACE: &'static str = super::NAMESPACE;
                const ID: &'static str = $id;
                type Resource = Process;
            }
        )*};
    }

    actions! {
        /// See the process in a listing.
        List = "list";
        /// See the files the process has open.
        ListFds = "list_fds";
        /// Send it a terminating signal (`SIGTERM`, `SIGQUIT`, `SIGKILL`).
        Kill = "kill";
        /// Send it `SIGHUP`.
        Interrupt = "interrupt";
    }
}

/// A process as a Cedar resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The PID, as the entity id.
    pub pid: String,
    pub name: String,
    pub username: String,
    pub command: String,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::Process::{:?}", self.pid)
    }
}

impl authz::Resource for Process {
    fn type_name(&self) -> &'static str {
        "process_system::Process"
    }

    fn id(&self) -> &str {
        &self.pid
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Process", &self.pid)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        // INVARIANT: three distinct attributes, so `Entity::new` cannot fail.
        entity(
            self.uid(),
            [
                ("name", self.name.clone()),
                ("username", self.username.clone()),
                ("command", self.command.clone()),
            ],
            [],
        )
        .into_iter()
        .collect()
    }

    /// A PID is reused and a command changes with `exec`: the attributes are read anew for
    /// every request.
    fn cacheable(&self) -> bool {
        false
    }
}
