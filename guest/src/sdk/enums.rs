//! Script-visible types with a fixed set of values (error kinds, `EntryType`, `SizeUnit`,
//! command flags): one way to register them, with `to_string`, `to_debug`, `==` and `!=`, and
//! a module of their values (`EntryType::FILE`).

use std::fmt;

use rhai::{Engine, Module};

/// Registers `T` under `name`, printable and comparable.
pub fn register_type<T>(engine: &mut Engine, name: &str)
where
    T: Clone + PartialEq + fmt::Display + Send + Sync + 'static,
{
    engine.register_type_with_name::<T>(name);
    engine.register_fn("to_string", |v: &mut T| v.to_string());
    engine.register_fn("to_debug", |v: &mut T| v.to_string());
    engine.register_fn("==", |a: &mut T, b: T| *a == b);
    engine.register_fn("!=", |a: &mut T, b: T| *a != b);
}

/// Registers `T` under `name` (see [`register_type`]) and the module `name` holding `values`,
/// each under its display name.
pub fn register_enum<T>(engine: &mut Engine, name: &str, values: impl IntoIterator<Item = T>)
where
    T: Clone + PartialEq + fmt::Display + Send + Sync + 'static,
{
    register_type::<T>(engine, name);
    let mut module = Module::new();
    for value in values {
        module.set_var(value.to_string(), value);
    }
    engine.register_static_module(name, module.into());
}

/// [`register_enum`] for a type whose values are named in the module differently from how
/// they print (Rex's `EntryType::FILE` prints `File`): `values` are `(module name, value)`.
pub fn register_enum_named<T>(
    engine: &mut Engine,
    name: &str,
    values: impl IntoIterator<Item = (&'static str, T)>,
) where
    T: Clone + PartialEq + fmt::Display + Send + Sync + 'static,
{
    register_type::<T>(engine, name);
    let mut module = Module::new();
    for (constant, value) in values {
        module.set_var(constant, value);
    }
    engine.register_static_module(name, module.into());
}
