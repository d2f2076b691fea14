//! The one Cedar schema: every capability's namespace, entity types, actions and contexts.
//! Policies are validated against it at load, and every request is built with it.

use std::sync::OnceLock;

use cedar_policy::{Entities, Schema};

/// The schema's text (`policies/schema.cedarschema`): Rex's schema, so Rex policies validate
/// unchanged (see `docs/rex-compat.md`).
pub const SCHEMA_TEXT: &str = include_str!("../../../policies/schema.cedarschema");

/// The same schema in Cedar's JSON schema format (`policies/schema.json`, written from
/// [`SCHEMA_TEXT`] by `WREX_WRITE_SCHEMA_JSON=1 cargo test --lib schema`; that test fails
/// when it is stale). wrex parses this one: Cedar reads it in about 2 ms where it takes 5 ms
/// for its own syntax, on every start of the `wrex` process.
pub const SCHEMA_JSON: &str = include_str!("../../../policies/schema.json");

/// The parsed built-in schema.
///
/// # Panics
///
/// Never in a released build: the embedded schema is checked by the test suite.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| match Schema::from_json_str(SCHEMA_JSON) {
        Ok(schema) => schema,
        Err(e) => panic!("the built-in Cedar schema does not parse: {e}"),
    })
}

/// Cedar's JSON form of a schema in its own syntax, pretty-printed with a final newline.
pub fn schema_json_of(text: &str) -> Result<String, String> {
    let (fragment, _warnings) =
        cedar_policy::SchemaFragment::from_cedarschema_str(text).map_err(|e| e.to_string())?;
    let value = fragment.to_json_value().map_err(|e| e.to_string())?;
    let mut json = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    json.push('\n');
    Ok(json)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `policies/schema.json` is `policies/schema.cedarschema`, converted. With
    /// `WREX_WRITE_SCHEMA_JSON=1`, (re)writes it.
    #[test]
    fn the_json_schema_is_the_text_schema() {
        let json = schema_json_of(SCHEMA_TEXT).unwrap();
        if std::env::var_os("WREX_WRITE_SCHEMA_JSON").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies/schema.json");
            std::fs::write(path, &json).unwrap();
            return;
        }
        let want: serde_json::Value = serde_json::from_str(&json).unwrap();
        let have: serde_json::Value = serde_json::from_str(SCHEMA_JSON).unwrap();
        assert!(
            want == have,
            "policies/schema.json is stale: run `WREX_WRITE_SCHEMA_JSON=1 cargo test --lib schema`"
        );
        schema();
    }
}
