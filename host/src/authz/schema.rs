//! The one Cedar schema: every capability's namespace, entity types, actions and contexts.
//! Policies are validated against it at load, and every request is built with it.

use std::sync::OnceLock;

use cedar_policy::{Entities, Schema};

/// The schema's text (`policies/schema.cedarschema`): Rex's schema, so Rex policies validate
/// unchanged (see `docs/rex-compat.md`).
pub const SCHEMA_TEXT: &str = include_str!("../../../policies/schema.cedarschema");

/// The parsed built-in schema.
///
/// # Panics
///
/// Never in a released build: the embedded schema is checked by the test suite.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| match Schema::from_cedarschema_str(SCHEMA_TEXT) {
        Ok((schema, _warnings)) => schema,
        Err(e) => panic!("the built-in Cedar schema does not parse: {e}"),
    })
}

/// The schema's action entities, with their action-group parents.
pub(crate) fn action_entities() -> &'static Entities {
    static ACTIONS: OnceLock<Entities> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        schema()
            .action_entities()
            .unwrap_or_else(|_| Entities::empty())
    })
}
