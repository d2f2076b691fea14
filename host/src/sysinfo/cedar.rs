//! The `sysinfo` namespace's Cedar side: the `list` action on the machine itself
//! (`sysinfo::Sysinfo::"sysinfo"`).

use std::fmt;

use cedar_policy::{Entity, EntityUid};

use crate::authz::{self, Referenced, entity, entity_uid};

/// The Cedar namespace.
pub const NAMESPACE: &str = "sysinfo";

/// The id of the machine's entity. (Rex names it by a random UUID per request, which no
/// policy can name; a fixed id can be.)
const MACHINE_ID: &str = "sysinfo";

/// The machine, as a Cedar resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sysinfo;

/// `sysinfo::Action::"list"`: what the machine is (kernel, host name, CPUs).
#[derive(Debug, Clone, Copy)]
pub struct List;

impl authz::Action for List {
    const NAMESPACE: &'static str = NAMESPACE;
    const ID: &'static str = "list";
    type Resource = Sysinfo;
}

impl fmt::Display for Sysinfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::Sysinfo::{MACHINE_ID:?}")
    }
}

impl authz::Resource for Sysinfo {
    fn type_name(&self) -> &'static str {
        "sysinfo::Sysinfo"
    }

    fn id(&self) -> &str {
        MACHINE_ID
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Sysinfo", MACHINE_ID)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        entity(self.uid(), [], []).into_iter().collect()
    }
}
