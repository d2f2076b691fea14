//! The error type of the file-system host functions: an error the guest sees, or a trap.

use std::io;

use crate::authz::Denied;
use crate::bindings::wit_fs as wit;

/// The error type of the `fs` host functions: either an error the guest sees (`wit::Error`),
/// or a trap (a broken host invariant or a bad resource handle) that ends the run.
#[derive(Debug)]
pub(crate) enum FsError {
    /// An error the guest sees and a script can catch (boxed: a denial's record is large, and
    /// every host function returns this).
    Guest(Box<wit::Error>),
    /// A trap: the run ends.
    Trap(wasmtime::Error),
}

impl FsError {
    /// An error the guest sees.
    pub(crate) fn guest(error: wit::Error) -> Self {
        Self::Guest(Box::new(error))
    }

    /// The error's text, as a person reads it.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Trap(t) => t.to_string(),
            Self::Guest(g) => match &**g {
                wit::Error::AccessDenied(d) => crate::error::denial_text(d),
                wit::Error::InvalidPath(m)
                | wit::Error::InvalidArgument(m)
                | wit::Error::NotFound(m)
                | wit::Error::AlreadyExists(m)
                | wit::Error::NotADirectory(m)
                | wit::Error::NotAFile(m)
                | wit::Error::SymlinkNotFollowed(m)
                | wit::Error::DirectoryNotEmpty(m)
                | wit::Error::BadHandleMode(m)
                | wit::Error::TooManyLinks(m)
                | wit::Error::DestinationNotEmpty(m)
                | wit::Error::Unsupported(m)
                | wit::Error::Io(m) => m.clone(),
            },
        }
    }

    pub(crate) fn invalid_path(message: String) -> Self {
        Self::guest(wit::Error::InvalidPath(message))
    }

    pub(crate) fn invalid_argument(message: String) -> Self {
        Self::guest(wit::Error::InvalidArgument(message))
    }

    pub(crate) fn not_found(message: String) -> Self {
        Self::guest(wit::Error::NotFound(message))
    }

    /// An operating-system error while working on `path`.
    pub(crate) fn io(err: impl Into<io::Error>, path: &str) -> Self {
        let err: io::Error = err.into();
        let message = match err.kind() {
            // Rex's message for a non-recursive delete of a non-empty directory.
            io::ErrorKind::DirectoryNotEmpty => format!(
                "Directory not empty: A path led to a non-empty directory location. To include \
                 contents of this directory, use the recursive flag: `{path}`"
            ),
            _ => format!("{err}: `{path}`"),
        };
        Self::guest(match err.kind() {
            io::ErrorKind::NotFound => wit::Error::NotFound(message),
            io::ErrorKind::AlreadyExists => wit::Error::AlreadyExists(message),
            io::ErrorKind::NotADirectory => wit::Error::NotADirectory(message),
            io::ErrorKind::IsADirectory => wit::Error::NotAFile(message),
            io::ErrorKind::DirectoryNotEmpty => wit::Error::DirectoryNotEmpty(message),
            _ => wit::Error::Io(message),
        })
    }
}

impl From<Denied> for FsError {
    fn from(d: Denied) -> Self {
        Self::guest(wit::Error::AccessDenied(d.into()))
    }
}

impl From<wasmtime::Error> for FsError {
    fn from(e: wasmtime::Error) -> Self {
        Self::Trap(e)
    }
}

impl From<wasmtime::component::ResourceTableError> for FsError {
    fn from(e: wasmtime::component::ResourceTableError) -> Self {
        Self::Trap(wasmtime::Error::new(e))
    }
}

/// The result of a file-system host function.
pub(crate) type FsResult<T> = Result<T, FsError>;

/// The error for a target that is not a regular file.
pub(crate) fn not_a_file(path: &str) -> FsError {
    FsError::guest(wit::Error::NotAFile(format!(
        "argument is not a file: `{path}` is not a regular file"
    )))
}
