//! SDK errors as scripts see them: a catchable runtime error whose payload is the map
//! `#{kind: IoErrorKind::…, message: "…", source: "IoErrorKind"}`, as in Rex.

use std::fmt;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Module, Position};

use crate::bindings::wrex::sdk::fs::Error as WitError;

/// Rex's `IoErrorKind` values (the kinds wrex can raise are a subset; all are registered so that
/// Rex scripts comparing against any of them still compile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoErrorKind {
    InvalidPath,
    InvalidArguments,
    InvalidFileMode,
    ValidationError,
    DirectoryOpenError,
    DirectoryError,
    FileError,
    DestinationFileNotEmptyError,
    NotFound,
    DirectoryNotEmpty,
    PermissionDenied,
    AuthorizationError,
    IdentityResolutionError,
    UnsupportedOperationError,
    FileContentTooLargeError,
    FileCopyError,
    FileReadError,
    EntryTypeMismatchError,
    IoError,
    TryFromIntError,
    RustixError,
    Utf8Error,
    CallbackError,
    ProcessNamespaceFatalError,
    Other,
}

impl IoErrorKind {
    const ALL: [IoErrorKind; 25] = [
        Self::InvalidPath,
        Self::InvalidArguments,
        Self::InvalidFileMode,
        Self::ValidationError,
        Self::DirectoryOpenError,
        Self::DirectoryError,
        Self::FileError,
        Self::DestinationFileNotEmptyError,
        Self::NotFound,
        Self::DirectoryNotEmpty,
        Self::PermissionDenied,
        Self::AuthorizationError,
        Self::IdentityResolutionError,
        Self::UnsupportedOperationError,
        Self::FileContentTooLargeError,
        Self::FileCopyError,
        Self::FileReadError,
        Self::EntryTypeMismatchError,
        Self::IoError,
        Self::TryFromIntError,
        Self::RustixError,
        Self::Utf8Error,
        Self::CallbackError,
        Self::ProcessNamespaceFatalError,
        Self::Other,
    ];
}

impl fmt::Display for IoErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

const SOURCE: &str = "IoErrorKind";

/// Builds the catchable SDK error.
pub fn sdk_error(kind: IoErrorKind, message: impl Into<String>) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("kind".into(), Dynamic::from(kind));
    map.insert("message".into(), Dynamic::from(message.into()));
    map.insert("source".into(), Dynamic::from(SOURCE));
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from_map(map),
        Position::NONE,
    ))
}

/// Converts an error returned by a host import.
pub fn from_wit(err: WitError) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        WitError::AccessDenied(d) => (
            IoErrorKind::PermissionDenied,
            format!(
                "Permission denied: {} unauthorized to perform {} for {}::{}",
                d.principal, d.action, d.resource_type, d.resource_id
            ),
        ),
        WitError::InvalidPath(m) => (IoErrorKind::InvalidPath, m),
        WitError::InvalidArgument(m) => (IoErrorKind::InvalidArguments, m),
        WitError::NotFound(m) => (IoErrorKind::NotFound, m),
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
    sdk_error(kind, message)
}

/// A plain string error, as Rex raises for bad builder input and bad flags.
pub fn plain(message: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(message.into()),
        Position::NONE,
    ))
}

fn sdk_fields(value: &Dynamic) -> Option<(IoErrorKind, String)> {
    let map = value.read_lock::<Map>()?;
    let source = map.get("source")?.clone().into_immutable_string().ok()?;
    if source != SOURCE {
        return None;
    }
    let kind = map.get("kind")?.clone().try_cast::<IoErrorKind>()?;
    let message = map.get("message")?.to_string();
    Some((kind, message))
}

/// `<source>: <kind>: <message>` for an SDK error payload, `None` for anything else.
pub fn describe(value: &Dynamic) -> Option<String> {
    sdk_fields(value).map(|(kind, message)| format!("{SOURCE}: {kind}: {message}"))
}

/// The `IoErrorKind` of an SDK error, `None` for any other error.
pub fn kind_of(err: &EvalAltResult) -> Option<IoErrorKind> {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => sdk_fields(value).map(|(kind, _)| kind),
        _ => None,
    }
}

/// Whether an uncaught error is an SDK access denial. The host confirms this against its own
/// record of denials, so a script cannot make a denial up.
pub fn is_access_denied(err: &EvalAltResult) -> bool {
    kind_of(err) == Some(IoErrorKind::PermissionDenied)
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<IoErrorKind>("IoErrorKind");
    engine.register_fn("to_string", |k: &mut IoErrorKind| k.to_string());
    engine.register_fn("to_debug", |k: &mut IoErrorKind| k.to_string());
    engine.register_fn("==", |a: &mut IoErrorKind, b: IoErrorKind| *a == b);
    engine.register_fn("!=", |a: &mut IoErrorKind, b: IoErrorKind| *a != b);
    let mut module = Module::new();
    for kind in IoErrorKind::ALL {
        module.set_var(kind.to_string(), kind);
    }
    engine.register_static_module("IoErrorKind", module.into());
}
