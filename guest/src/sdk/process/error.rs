//! The process capability's error kinds (Rex's `ProcessErrorKind`) and the conversion of
//! `wrex:sdk/process` errors into them.

use rhai::EvalAltResult;

use crate::bindings::wrex::sdk::process::Error as WitError;
use crate::sdk::error::{self, error_kinds};

error_kinds!(
    /// Rex's `ProcessErrorKind` (all registered, so Rex scripts comparing against any compile;
    /// wrex raises a subset).
    ProcessErrorKind, denial PermissionDenied,
    [ProcessNotFound, PidNamespaceOperationError, NamespaceOperationError, PermissionDenied, AuthorizationError, ValidationError, CallbackExecutionError, ProcessEnumerationError, DBusError, PrivilegeError, ServiceNotFound, Other]
);

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
