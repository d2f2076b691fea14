//! The file system's error kinds (Rex's `IoErrorKind`) and the conversion of `wrex:sdk/fs`
//! errors into them.

use rhai::EvalAltResult;

use crate::bindings::wrex::sdk::fs::Error as WitError;
use crate::sdk::error::{self, error_kinds};

error_kinds!(
    /// Rex's `IoErrorKind` (all registered, so Rex scripts comparing against any compile;
    /// wrex raises a subset).
    IoErrorKind, denial PermissionDenied,
    [InvalidPath, InvalidArguments, InvalidFileMode, ValidationError, DirectoryOpenError, DirectoryError, FileError, DestinationFileNotEmptyError, NotFound, DirectoryNotEmpty, PermissionDenied, AuthorizationError, IdentityResolutionError, UnsupportedOperationError, FileContentTooLargeError, FileCopyError, FileReadError, EntryTypeMismatchError, IoError, TryFromIntError, RustixError, Utf8Error, CallbackError, ProcessNamespaceFatalError, Other]
);

/// Converts an error returned by a host import.
pub fn from_wit(err: WitError) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        WitError::AccessDenied(d) => return error::denied(IoErrorKind::PermissionDenied, d),
        WitError::InvalidPath(m) => (IoErrorKind::InvalidPath, m),
        WitError::InvalidArgument(m) => (IoErrorKind::InvalidArguments, m),
        // Rex raises a missing file or directory as the operating system's error (kind
        // `IoError`), except when deleting (`handles::ignore_not_found`).
        WitError::NotFound(m) => (IoErrorKind::IoError, m),
        WitError::AlreadyExists(m) => (IoErrorKind::IoError, m),
        WitError::NotADirectory(m) => (IoErrorKind::DirectoryOpenError, m),
        WitError::NotAFile(m) => (IoErrorKind::FileError, m),
        WitError::SymlinkNotFollowed(m) => (IoErrorKind::FileError, m),
        WitError::DirectoryNotEmpty(m) => (IoErrorKind::DirectoryNotEmpty, m),
        WitError::BadHandleMode(m) => (IoErrorKind::InvalidFileMode, m),
        WitError::TooManyLinks(m) => (IoErrorKind::IoError, m),
        WitError::DestinationNotEmpty(m) => (IoErrorKind::DestinationFileNotEmptyError, m),
        WitError::Unsupported(m) => (IoErrorKind::UnsupportedOperationError, m),
        WitError::Io(m) => (IoErrorKind::IoError, m),
    };
    error::sdk_error(kind, message)
}

/// Builds the catchable SDK error of kind `kind`.
pub fn sdk_error(kind: IoErrorKind, message: impl Into<String>) -> Box<EvalAltResult> {
    error::sdk_error(kind, message)
}

/// The `IoErrorKind` of an SDK error, `None` for any other error.
pub fn kind_of(err: &EvalAltResult) -> Option<IoErrorKind> {
    error::kind_of::<IoErrorKind>(err)
}

/// Whether an error is the host's file-system access denial.
pub fn is_access_denied(err: &EvalAltResult) -> bool {
    kind_of(err) == Some(IoErrorKind::PermissionDenied)
}
