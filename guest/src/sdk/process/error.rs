//! The process capability's error kinds (Rex's `ProcessErrorKind`) and the conversion of
//! `wrex:sdk/process` errors into them.

use std::fmt;

use rhai::EvalAltResult;

use crate::bindings::wrex::sdk::process::Error as WitError;
use crate::sdk::error::{self, ErrorKind};

/// Rex's `ProcessErrorKind` values (all registered, so Rex scripts comparing against any of
/// them compile; wrex raises a subset).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessErrorKind {
    ProcessNotFound,
    PidNamespaceOperationError,
    NamespaceOperationError,
    PermissionDenied,
    AuthorizationError,
    ValidationError,
    CallbackExecutionError,
    ProcessEnumerationError,
    DBusError,
    PrivilegeError,
    ServiceNotFound,
    Other,
}

impl ErrorKind for ProcessErrorKind {
    const SOURCE: &'static str = "ProcessErrorKind";
    const ALL: &'static [Self] = &[
        Self::ProcessNotFound,
        Self::PidNamespaceOperationError,
        Self::NamespaceOperationError,
        Self::PermissionDenied,
        Self::AuthorizationError,
        Self::ValidationError,
        Self::CallbackExecutionError,
        Self::ProcessEnumerationError,
        Self::DBusError,
        Self::PrivilegeError,
        Self::ServiceNotFound,
        Self::Other,
    ];

    fn is_denial(self) -> bool {
        self == Self::PermissionDenied
    }
}

impl fmt::Display for ProcessErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Converts an error returned by a `wrex:sdk/process` import.
pub fn from_wit(err: WitError) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        WitError::AccessDenied(d) => return error::denied(ProcessErrorKind::PermissionDenied, d),
        WitError::InvalidArgument(m) => (ProcessErrorKind::ValidationError, m),
        WitError::NotFound(m) => (ProcessErrorKind::ProcessNotFound, m),
        WitError::Io(m) => (ProcessErrorKind::Other, m),
    };
    error::sdk_error(kind, message)
}

/// Builds the catchable SDK error of kind `kind`.
pub fn sdk_error(kind: ProcessErrorKind, message: impl Into<String>) -> Box<EvalAltResult> {
    error::sdk_error(kind, message)
}
