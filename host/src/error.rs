//! The error shape every capability's host functions share: an error the guest sees (the
//! capability's WIT `error` variant, whose first case is `access-denied(denial)`), or a trap
//! that ends the run. The file system keeps its own richer `FsError`; the other capabilities
//! use [`HostError`] over their own variant.

use crate::authz::{Authorizer, Denied};
use crate::bindings::wit_types::Denial;

/// A capability's WIT `error` variant.
pub(crate) trait GuestError: Sized {
    /// The `access-denied(denial)` case.
    fn access_denied(denial: Denial) -> Self;
    /// The error's text, as a person reads it.
    fn text(&self) -> String;
}

/// Implements [`GuestError`] for a capability's WIT `error` variant: `access-denied(denial)`
/// and the listed cases, each carrying its message.
macro_rules! guest_error {
    ($ty:ty { $($case:ident),* $(,)? }) => {
        impl $crate::error::GuestError for $ty {
            fn access_denied(denial: $crate::bindings::wit_types::Denial) -> Self {
                Self::AccessDenied(denial)
            }

            fn text(&self) -> String {
                match self {
                    Self::AccessDenied(d) => $crate::error::denial_text(d),
                    $(Self::$case(m))|* => m.clone(),
                }
            }
        }
    };
}

pub(crate) use guest_error;

/// The error of a capability's host function.
#[derive(Debug)]
pub(crate) enum HostError<E> {
    /// An error the guest sees and a script can catch (boxed: a denial's record is large).
    Guest(Box<E>),
    /// A trap: the run ends.
    Trap(wasmtime::Error),
}

impl<E: GuestError> HostError<E> {
    pub(crate) fn guest(error: E) -> Self {
        Self::Guest(Box::new(error))
    }

    /// The error's text, as a person reads it.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Trap(t) => t.to_string(),
            Self::Guest(g) => g.text(),
        }
    }

    /// What the bindings' `convert_error` returns: the guest's error, or the trap. A failed
    /// call is noted for the audit log first.
    pub(crate) fn convert(self, authz: &Authorizer) -> wasmtime::Result<E> {
        authz.host_call_failed(&self.message());
        match self {
            Self::Guest(e) => Ok(*e),
            Self::Trap(t) => Err(t),
        }
    }
}

impl From<Denied> for Denial {
    fn from(d: Denied) -> Self {
        Self {
            principal: d.principal,
            action: d.action,
            resource_type: d.resource_type,
            resource_id: d.resource_id,
            reason: d.reason.into(),
            id: d.id,
        }
    }
}

/// The text of a denial record.
pub(crate) fn denial_text(d: &Denial) -> String {
    crate::authz::denial_text(
        &d.principal,
        &d.action,
        &d.resource_type,
        &d.resource_id,
        &d.reason,
    )
}

impl<E: GuestError> From<Denied> for HostError<E> {
    fn from(d: Denied) -> Self {
        Self::guest(E::access_denied(d.into()))
    }
}

impl<E> From<wasmtime::Error> for HostError<E> {
    fn from(e: wasmtime::Error) -> Self {
        Self::Trap(e)
    }
}

impl<E> From<wasmtime::component::ResourceTableError> for HostError<E> {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Self::Trap(wasmtime::Error::new(e))
    }
}
