//! Script arguments: Rex's JSON format (see `docs/rex-compat.md`), parsed strictly.
//!
//! ```json
//! {"name": {"stringValue": "Alice"}, "ids": {"listValue": [{"integerValue": 1}]}}
//! ```
//!
//! Each top-level key becomes a script variable. Values are tagged with one of seven kinds; a
//! list or map holds scalars only (Rex's maximum nesting depth of 2). Unlike Rex, wrex also
//! refuses duplicate keys (JSON parsers silently keep the last) and keys that are not script
//! identifiers (Rex accepts them, and the script can never read them).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A scalar script argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    String(String),
    /// `integerValue`: a 32-bit integer (widened to Rhai's `i64`).
    Integer(i32),
    /// `longValue`.
    Long(i64),
    Double(f64),
    Boolean(bool),
}

/// A script argument value.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Scalar(Scalar),
    List(Vec<Scalar>),
    Map(Vec<(String, Scalar)>),
}

impl From<&str> for ArgValue {
    fn from(s: &str) -> Self {
        Self::Scalar(Scalar::String(s.to_string()))
    }
}

impl From<i64> for ArgValue {
    fn from(i: i64) -> Self {
        Self::Scalar(Scalar::Long(i))
    }
}

impl From<bool> for ArgValue {
    fn from(b: bool) -> Self {
        Self::Scalar(Scalar::Boolean(b))
    }
}

impl From<f64> for ArgValue {
    fn from(f: f64) -> Self {
        Self::Scalar(Scalar::Double(f))
    }
}

/// Why script arguments were refused. `Malformed` is Rex's `COMMUNICATION_EXCEPTION` (the file
/// is not the expected JSON); `Invalid` is its `VALIDATION_EXCEPTION`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Invalid(String),
}

/// Named script arguments, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScriptArgs {
    entries: Vec<(String, ArgValue)>,
}

const TAGS: [&str; 7] = [
    "stringValue",
    "integerValue",
    "longValue",
    "doubleValue",
    "booleanValue",
    "listValue",
    "mapValue",
];

/// Rhai's reserved words, which cannot name a variable.
const KEYWORDS: &[&str] = &[
    "true",
    "false",
    "let",
    "const",
    "if",
    "else",
    "switch",
    "do",
    "while",
    "until",
    "loop",
    "for",
    "in",
    "continue",
    "break",
    "return",
    "throw",
    "try",
    "catch",
    "fn",
    "private",
    "import",
    "export",
    "as",
    "global",
    "this",
    "is_def_var",
    "is_def_fn",
    "is_shared",
    "Fn",
    "call",
    "curry",
    "type_of",
    "print",
    "debug",
    "eval",
];

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_"
        && !KEYWORDS.contains(&name)
}

impl ScriptArgs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an argument, refusing a name that is not a script identifier or is already used.
    pub fn insert(&mut self, name: &str, value: impl Into<ArgValue>) -> Result<(), ArgsError> {
        if !is_identifier(name) {
            return Err(ArgsError::Invalid(format!(
                "Script arguments validation failed: Argument '{}': the name is not a valid script identifier (letters, digits and `_`, not starting with a digit, not a keyword)",
                name.escape_debug()
            )));
        }
        if self.entries.iter().any(|(n, _)| n == name) {
            return Err(ArgsError::Invalid(format!(
                "Script arguments validation failed: Argument '{name}' is given more than once"
            )));
        }
        self.entries.push((name.to_string(), value.into()));
        Ok(())
    }

    /// Parses Rex's script-arguments JSON.
    pub fn from_json(text: &str) -> Result<Self, ArgsError> {
        let raw: Json = serde_json::from_str(text)
            .map_err(|e| ArgsError::Malformed(format!("Failed to parse script arguments: {e}")))?;
        let Json::Object(top) = raw else {
            return Err(ArgsError::Malformed(
                "Failed to parse script arguments: expected a JSON object mapping argument names to tagged values".into(),
            ));
        };
        let mut args = Self::new();
        for (name, value) in top {
            let value = convert(&name, value, 1)?;
            args.insert(&name, value)?;
        }
        Ok(args)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArgValue)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn malformed(name: &str, problem: impl fmt::Display) -> ArgsError {
    ArgsError::Malformed(format!(
        "Failed to parse script arguments: argument '{}': {problem}",
        name.escape_debug()
    ))
}

fn depth_exceeded(name: &str) -> ArgsError {
    ArgsError::Invalid(format!(
        "Script arguments depth validation failed: Argument '{}': Maximum nesting depth of 2 exceeded",
        name.escape_debug()
    ))
}

/// Converts one tagged value at `depth` (1 for a top-level value, 2 inside a list or map).
fn convert(name: &str, value: Json, depth: u32) -> Result<ArgValue, ArgsError> {
    let Json::Object(mut fields) = value else {
        return Err(malformed(
            name,
            format!(
                "expected an object with one of the tags {}",
                TAGS.join(", ")
            ),
        ));
    };
    if fields.len() != 1 {
        return Err(malformed(
            name,
            format!(
                "expected exactly one tag (one of {}), found {}",
                TAGS.join(", "),
                fields.len()
            ),
        ));
    }
    let Some((tag, inner)) = fields.pop() else {
        return Err(malformed(name, "empty object"));
    };
    let scalar = match (tag.as_str(), inner) {
        ("stringValue", Json::String(s)) => Scalar::String(s),
        ("integerValue", Json::Number(n)) => Scalar::Integer(
            n.as_i64()
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(|| {
                    malformed(
                        name,
                        format!("integerValue {n} is not a 32-bit integer (use longValue)"),
                    )
                })?,
        ),
        ("longValue", Json::Number(n)) => Scalar::Long(
            n.as_i64()
                .ok_or_else(|| malformed(name, format!("longValue {n} is not a 64-bit integer")))?,
        ),
        ("doubleValue", Json::Number(n)) => {
            Scalar::Double(n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                malformed(name, format!("doubleValue {n} is not a finite number"))
            })?)
        }
        ("booleanValue", Json::Bool(b)) => Scalar::Boolean(b),
        ("listValue" | "mapValue", _) if depth >= 2 => return Err(depth_exceeded(name)),
        ("listValue", Json::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match convert(name, item, depth + 1)? {
                    ArgValue::Scalar(s) => out.push(s),
                    _ => return Err(depth_exceeded(name)),
                }
            }
            return Ok(ArgValue::List(out));
        }
        ("mapValue", Json::Object(entries)) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, item) in entries {
                match convert(name, item, depth + 1)? {
                    ArgValue::Scalar(s) => out.push((key, s)),
                    _ => return Err(depth_exceeded(name)),
                }
            }
            return Ok(ArgValue::Map(out));
        }
        (tag, value) if TAGS.contains(&tag) => {
            return Err(malformed(
                name,
                format!("{tag} cannot hold {}", value.kind()),
            ));
        }
        (tag, _) => {
            return Err(malformed(
                name,
                format!(
                    "unknown variant `{}`, expected one of {}",
                    tag.escape_debug(),
                    TAGS.join(", ")
                ),
            ));
        }
    };
    Ok(ArgValue::Scalar(scalar))
}

/// A JSON value that keeps object keys in order and refuses duplicates while parsing.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Number(_) => "a number",
            Self::String(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(v)
            .map(Json::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out: Vec<(String, Json)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value()?;
            out.push((key, value));
        }
        Ok(Json::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_seven_kinds() {
        let args = ScriptArgs::from_json(
            r#"{"s":{"stringValue":"x"},"i":{"integerValue":7},"l":{"longValue":9000000000},
               "d":{"doubleValue":2.5},"b":{"booleanValue":true},
               "a":{"listValue":[{"integerValue":1},{"stringValue":"y"}]},
               "m":{"mapValue":{"k":{"booleanValue":false}}}}"#,
        )
        .unwrap();
        assert_eq!(args.len(), 7);
        assert!(matches!(
            args.entries[1].1,
            ArgValue::Scalar(Scalar::Integer(7))
        ));
    }

    #[test]
    fn refuses_depth_three() {
        let err =
            ScriptArgs::from_json(r#"{"k":{"mapValue":{"a":{"listValue":[{"integerValue":1}]}}}}"#)
                .unwrap_err();
        assert!(
            matches!(&err, ArgsError::Invalid(m) if m.contains("Maximum nesting depth of 2 exceeded")),
            "{err}"
        );
    }

    #[test]
    fn refuses_duplicates_bad_names_unknown_tags() {
        let dup =
            ScriptArgs::from_json(r#"{"a":{"longValue":1},"a":{"longValue":2}}"#).unwrap_err();
        assert!(dup.to_string().contains("duplicate key `a`"), "{dup}");
        let bad = ScriptArgs::from_json(r#"{"my-var":{"longValue":1}}"#).unwrap_err();
        assert!(matches!(bad, ArgsError::Invalid(_)));
        let tag = ScriptArgs::from_json(r#"{"a":{"intValue":1}}"#).unwrap_err();
        assert!(matches!(&tag, ArgsError::Malformed(m) if m.contains("stringValue")));
        let overflow = ScriptArgs::from_json(r#"{"a":{"integerValue":3000000000}}"#).unwrap_err();
        assert!(matches!(overflow, ArgsError::Malformed(_)));
    }
}
