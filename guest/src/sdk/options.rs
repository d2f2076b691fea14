//! The one option-builder style of the SDK, as Rex's: `XxxOptions()` starts a builder, one
//! setter per field, `build()` checks the required fields (and any other rule) and returns the
//! options value.

/// Defines an options type `$name` (each field optional until set), its builder `$builder`,
/// and `$name::register`. `check` names a `fn(&$name) -> Result<(), Box<EvalAltResult>>` that
/// `build()` runs after the required fields are checked.
macro_rules! options {
    ($name:ident / $builder:ident { $($field:ident : $ty:ty),* $(,)? } required [$($req:ident),*] $(check $check:path)?) => {
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            $(pub $field: Option<$ty>,)*
        }

        #[derive(Clone, Debug, Default)]
        pub struct $builder($name);

        impl $name {
            pub fn register(engine: &mut ::rhai::Engine) {
                engine
                    .register_type_with_name::<$builder>(stringify!($builder))
                    .register_type_with_name::<$name>(stringify!($name))
                    .register_fn(stringify!($name), $builder::default)
                    .register_fn(
                        "build",
                        |b: &mut $builder| -> ::std::result::Result<$name, Box<::rhai::EvalAltResult>> {
                            $(
                                if b.0.$req.is_none() {
                                    // Rex's builder says `Field not initialized: …`.
                                    return Err($crate::sdk::error::plain(concat!(
                                        stringify!($name), ": Field not initialized: ",
                                        stringify!($req), " (set it before `build()`)"
                                    )));
                                }
                            )*
                            $( $check(&b.0)?; )?
                            Ok(b.0.clone())
                        },
                    );
                $(
                    engine.register_fn(stringify!($field), |b: &mut $builder, v: $ty| {
                        b.0.$field = Some(v);
                        b.clone()
                    });
                )*
            }
        }
    };
}

pub(crate) use options;
