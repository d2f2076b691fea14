//! Command flags, shared by every capability's shell-style commands: a flag is a value from a
//! module named after its command (`cat::number`, `tail::n(5)`), passed in an optional first
//! array argument (`cat([cat::number], p)`). [`command!`] registers a command once, with and
//! without that array.

use std::fmt;

use rhai::{Array, Engine, EvalAltResult, Module};

use super::error::{ErrorKind, sdk_error};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A command flag such as `cat::number` or `tail::n(5)`. `name` is the canonical (long)
/// name; aliases map to the same value. Value-carrying flags hold their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    pub command: &'static str,
    pub name: &'static str,
    pub values: [i64; 2],
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.command, self.name)
    }
}

/// A flag's canonical name, its aliases, and how many integer arguments it takes.
pub type FlagSpec = (&'static str, &'static [&'static str], usize);

/// A command's parsed flags.
#[derive(Debug, Default)]
pub struct Flags(Vec<Flag>);

impl Flags {
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|f| f.name == name)
    }

    /// The arguments of the last occurrence of a value-carrying flag.
    pub fn values(&self, name: &str) -> Option<[i64; 2]> {
        self.0
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| f.values)
    }

    pub fn value(&self, name: &str) -> Option<i64> {
        self.values(name).map(|v| v[0])
    }
}

/// Checks a flag array: every element must be a flag of `command`; anything else is an SDK
/// error of kind `invalid`.
pub fn parse<K: ErrorKind>(command: &str, flags: &Array, invalid: K) -> Result<Flags> {
    flags
        .iter()
        .map(|value| match value.clone().try_cast::<Flag>() {
            Some(flag) if flag.command == command => Ok(flag),
            Some(flag) => Err(sdk_error(
                invalid,
                format!("`{flag}` is not a flag of `{command}`: use `{command}::…` flags"),
            )),
            None => Err(sdk_error(
                invalid,
                format!(
                    "the flags of `{command}` must be `{command}::…` values, got a value of type `{}`",
                    value.type_name()
                ),
            )),
        })
        .collect::<Result<Vec<_>>>()
        .map(Flags)
}

/// Registers the `Flag` type and one module per command with its flags (`cat::number`,
/// `tail::n(5)` …).
pub fn register_modules(
    engine: &mut Engine,
    table: &'static [(&'static str, &'static [FlagSpec])],
) {
    super::enums::register_type::<Flag>(engine, "Flag");
    for (command, flags) in table {
        let mut module = Module::new();
        for (name, aliases, arity) in *flags {
            let flag = Flag {
                command,
                name,
                values: [0, 0],
            };
            for id in std::iter::once(name).chain(aliases.iter()) {
                match arity {
                    0 => {
                        module.set_var(*id, flag);
                    }
                    1 => {
                        module.set_native_fn(*id, move |v: i64| {
                            Ok(Flag {
                                values: [v, 0],
                                ..flag
                            })
                        });
                    }
                    _ => {
                        module.set_native_fn(*id, move |a: i64, b: i64| {
                            Ok(Flag {
                                values: [a, b],
                                ..flag
                            })
                        });
                    }
                }
            }
        }
        engine.register_static_module(*command, module.into());
    }
}

/// Registers each command once, as `name(args…)` and as `name(flags, args…)`: `flags` must be
/// values of the module named after the command (or the module given with `in`), else the
/// call fails with an SDK error of kind `$invalid`. The body sees the parsed flags as
/// `$flags: &Flags`.
///
/// ```ignore
/// commands!(engine, IoErrorKind::InvalidArguments;
///     "cat" => |flags, path: &str| cat(flags, path);
///     "find_files" in "glob" => |flags, pattern: &str, path: &str| find_files(flags, pattern, path);
/// );
/// ```
macro_rules! commands {
    ($engine:expr, $invalid:expr; $($name:literal $(in $module:literal)? => |$flags:ident $(, $arg:ident : $ty:ty)*| $body:expr;)*) => {$({
        #[allow(unused_variables)]
        let module = $name;
        $(let module = $module;)?
        $engine.register_fn($name, move |$($arg: $ty),*| {
            let $flags = &$crate::sdk::flags::Flags::default();
            $body
        });
        $engine.register_fn($name, move |flags: ::rhai::Array $(, $arg: $ty)*| {
            let $flags = &$crate::sdk::flags::parse(module, &flags, $invalid)?;
            $body
        });
    })*};
}

pub(crate) use commands;
