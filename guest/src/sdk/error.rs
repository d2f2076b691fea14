//! SDK errors as scripts see them, for every capability: a catchable runtime error whose
//! payload is the map `#{kind: <Kind>::…, message: "…", source: "<Kind>"}`, as in Rex (the file
//! system's kind type is `IoErrorKind`). Each capability defines its kind type ([`ErrorKind`])
//! and converts its WIT `error` variant with it; bad builder input and bad flags raise plain
//! string errors, as Rex does.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use rhai::{Dynamic, Engine, EvalAltResult, Map, Position};

/// A capability's error kinds (Rex's `IoErrorKind` for the file system).
pub trait ErrorKind: Copy + PartialEq + fmt::Display + Send + Sync + 'static {
    /// The kind type's name, which is also the payload's `source`.
    const SOURCE: &'static str;
    /// Every kind, for the script-visible module `<SOURCE>::<Kind>`.
    const ALL: &'static [Self];
    /// Whether this kind is the host's Cedar denial.
    fn is_denial(self) -> bool;
}

/// Defines a capability's kind type: the enum of its kinds (each printed by its name), its
/// [`ErrorKind`] with the `source` name, and which kind, if any, is the host's denial.
///
/// ```ignore
/// error_kinds!(
///     /// Rex's `DiskinfoErrorKind`.
///     DiskinfoErrorKind, denial PermissionDenied, [InvalidPath, PermissionDenied, Other]
/// );
/// ```
macro_rules! error_kinds {
    ($(#[$doc:meta])* $name:ident $(, denial $denial:ident)?, [$($kind:ident),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($kind,)*
        }

        impl $crate::sdk::error::ErrorKind for $name {
            const SOURCE: &'static str = stringify!($name);
            const ALL: &'static [Self] = &[$(Self::$kind),*];

            fn is_denial(self) -> bool {
                false $(|| self == Self::$denial)?
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(self, f)
            }
        }
    };
}

pub(crate) use error_kinds;

/// Builds the catchable SDK error.
pub fn sdk_error<K: ErrorKind>(kind: K, message: impl Into<String>) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("kind".into(), Dynamic::from(kind));
    map.insert("message".into(), Dynamic::from(message.into()));
    map.insert("source".into(), Dynamic::from(K::SOURCE));
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from_map(map),
        Position::NONE,
    ))
}

/// The catchable error of a host denial, of kind `kind` (the capability's `PermissionDenied`),
/// in Rex's words followed by the reason; the host's id of the denial is remembered for the
/// uncaught case (see [`describe`]).
pub fn denied<K: ErrorKind>(
    kind: K,
    d: crate::bindings::wrex::sdk::types::Denial,
) -> Box<EvalAltResult> {
    let message = format!(
        "Permission denied: {} unauthorized to perform {} for {}::{} ({})",
        d.principal, d.action, d.resource_type, d.resource_id, d.reason
    );
    remember_denial(&message, d.id);
    sdk_error(kind, message)
}

/// A plain string error, as Rex raises for bad builder input and bad flags.
pub fn plain(message: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(message.into()),
        Position::NONE,
    ))
}

fn fields<K: ErrorKind>(value: &Dynamic) -> Option<(K, String)> {
    let map = value.read_lock::<Map>()?;
    let source = map.get("source")?.clone().into_immutable_string().ok()?;
    if source != K::SOURCE {
        return None;
    }
    let kind = map.get("kind")?.clone().try_cast::<K>()?;
    let message = map.get("message")?.to_string();
    Some((kind, message))
}

/// The kind of an SDK error of capability kind type `K`, `None` for any other error.
pub fn kind_of<K: ErrorKind>(err: &EvalAltResult) -> Option<K> {
    match err {
        EvalAltResult::ErrorRuntime(value, _) => fields::<K>(value).map(|(kind, _)| kind),
        _ => None,
    }
}

/// Most denial messages remembered for [`remember_denial`]; past it, the memory starts over
/// (an older denial left uncaught is then reported as a script error, never the reverse).
const MAX_REMEMBERED_DENIALS: usize = 4096;

thread_local! {
    /// The host's denial ids by the message the script saw, out of the script's reach.
    static DENIALS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// Remembers that the host's denial `id` was raised to the script with `message`.
pub fn remember_denial(message: &str, id: u32) {
    DENIALS.with_borrow_mut(|denials| {
        if denials.len() >= MAX_REMEMBERED_DENIALS {
            denials.clear();
        }
        denials.insert(message.to_string(), id);
    });
}

/// What an uncaught SDK error payload says: `<source>: <kind>: <message>`, and, for a denial,
/// the host's id of the denial raised with exactly this message (`None` for any other error,
/// and for a denial the host did not raise: a script-made map).
#[derive(Debug)]
pub struct Described {
    pub text: String,
    pub denial: Option<u32>,
}

/// [`Described`] for a payload of kind type `K`; `None` for any other value.
pub fn describe<K: ErrorKind>(value: &Dynamic) -> Option<Described> {
    fields::<K>(value).map(|(kind, message)| {
        let denial = kind
            .is_denial()
            .then(|| DENIALS.with_borrow(|d| d.get(&message).copied()))
            .flatten();
        Described {
            text: format!("{}: {kind}: {message}", K::SOURCE),
            denial,
        }
    })
}

/// Registers kind type `K`: its type name, comparison, and the module `<SOURCE>::<Kind>`.
pub fn register<K: ErrorKind>(engine: &mut Engine) {
    super::enums::register_enum(engine, K::SOURCE, K::ALL.iter().copied());
}
