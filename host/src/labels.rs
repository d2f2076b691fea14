//! Data labels: what the host owner says about data (classification, jurisdiction, legal
//! hold, owner …), the read budgets of labels, and the lineage of a run — the labels of the
//! data it read and wrote.
//!
//! Labels come from two places, both the host owner's:
//!
//! - an **entities file** (`--entities`, [`LabelFile::parse`]): Cedar's JSON entity format,
//!   validated against the schema, with `file_system::File`/`Dir` entities carrying tags and
//!   `data::Label` entities carrying a label's `read_budget`;
//! - **extended attributes** `user.wrex.<key>` on the files and directories themselves, read
//!   by the host (never by the script, which cannot set them either).
//!
//! A directory's labels apply to everything below it; a nearer label overrides a farther one
//! with the same key, and at one path the entities file overrides the extended attribute.
//! Policies see a resource's labels as Cedar tags (`resource.getTag("classification")`), and
//! the labels of what the run read so far as `context.lineage.read` (`"classification:phi"`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

/// Labels of one resource: key → value (`classification` → `phi`).
pub type Labels = BTreeMap<String, String>;

/// Most labels one file or directory carries.
pub const MAX_LABELS: usize = 64;
/// Longest label key, in bytes.
pub const MAX_LABEL_KEY: usize = 64;
/// Longest label value, in bytes.
pub const MAX_LABEL_VALUE: usize = 256;
/// Most entities in an entities file.
pub const MAX_ENTITIES: usize = 100_000;

/// The label `key:value` as lineage, budgets and `context.lineage` name it.
pub fn label_name(key: &str, value: &str) -> String {
    format!("{key}:{value}")
}

/// Why a label key is not acceptable, if it is not: 1 to 64 bytes of ASCII letters, digits,
/// `_`, `-` and `.` (no `:`, which separates key and value in a label's name).
pub fn check_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= MAX_LABEL_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "label key `{}` must be 1 to {MAX_LABEL_KEY} ASCII letters, digits, `_`, `-` or `.`",
            key.escape_debug()
        ))
    }
}

/// Why a label value is not acceptable, if it is not: 1 to 256 bytes, no control characters.
pub fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_LABEL_VALUE || value.chars().any(char::is_control) {
        Err(format!(
            "label value `{}` must be 1 to {MAX_LABEL_VALUE} bytes without control characters",
            value.escape_debug()
        ))
    } else {
        Ok(())
    }
}

/// A label as a budget names it: `key:value`, or a bare `value` that matches that value under
/// any key.
pub fn check_label_spec(spec: &str) -> Result<(), String> {
    match spec.split_once(':') {
        Some((key, value)) => check_key(key).and_then(|()| check_value(value)),
        None => check_value(spec),
    }
}

/// Whether the budget named `spec` applies to the label `key:value`.
fn spec_matches(spec: &str, key: &str, value: &str) -> bool {
    match spec.split_once(':') {
        Some((k, v)) => k == key && v == value,
        None => spec == value,
    }
}

/// A byte count with an optional unit: `65536`, `64KiB`, `1.5MiB`, `10MB`, `2GiB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (expected B, KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 65536, 64KiB, 1MiB)"))?;
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(bytes as u64)
}

/// A budget from the command line: `LABEL=SIZE` (`phi=64KiB`, `classification:phi=1MiB`).
pub fn parse_budget(text: &str) -> Result<(String, u64), String> {
    let Some((label, size)) = text.rsplit_once('=') else {
        return Err(format!(
            "`{}`: expected LABEL=SIZE, e.g. phi=64KiB or classification:phi=1MiB",
            text.escape_debug()
        ));
    };
    check_label_spec(label)?;
    Ok((label.to_string(), parse_size(size)?))
}

/// Why an entities file was refused: which entity, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelError(pub String);

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid entities file: {}", self.0)
    }
}

impl std::error::Error for LabelError {}

/// The labels and budgets of an entities file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFile {
    /// Own labels by absolute path (of a file, or of a directory and what is below it).
    paths: HashMap<String, Labels>,
    /// Read budgets by label spec (`classification:phi` or `phi`), in bytes.
    budgets: BTreeMap<String, u64>,
}

impl LabelFile {
    /// Parses and validates an entities file: a JSON array in Cedar's entity format, of
    /// `file_system::File`/`file_system::Dir` entities (id: an absolute, normalized path;
    /// `tags`: the labels; `attrs.path` may be left out, and must equal the id if given; no
    /// `parents`: the hierarchy is the paths') and `data::Label` entities (id: a label,
    /// `attrs.read_budget`: bytes per run). The whole file is validated against the schema.
    pub fn parse(text: &str) -> Result<Self, LabelError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| LabelError(format!("line {}, column {}: {e}", e.line(), e.column())))?;
        let Value::Array(entities) = value else {
            return Err(LabelError(
                "expected a JSON array of entities (Cedar's entity format)".into(),
            ));
        };
        if entities.len() > MAX_ENTITIES {
            return Err(LabelError(format!(
                "{} entities; at most {MAX_ENTITIES}",
                entities.len()
            )));
        }
        let mut out = Self::default();
        let mut checked = Vec::with_capacity(entities.len());
        for (index, entity) in entities.into_iter().enumerate() {
            checked.push(out.add(index, entity)?);
        }
        cedar_policy::Entities::from_json_value(
            Value::Array(checked),
            Some(crate::authz::schema()),
        )
        .map_err(|e| LabelError(error_chain(&e)))?;
        Ok(out)
    }

    /// Checks entity number `index`, records its labels or budget, and returns it as Cedar
    /// must see it (with `attrs.path` filled in).
    fn add(&mut self, index: usize, mut entity: Value) -> Result<Value, LabelError> {
        let at = |what: String| LabelError(format!("entity {index}: {what}"));
        let Some(object) = entity.as_object_mut() else {
            return Err(at("expected an object with `uid`, `attrs`, `tags`".into()));
        };
        let uid = object.get("uid").ok_or_else(|| at("no `uid`".into()))?;
        let uid = uid.get("__entity").unwrap_or(uid);
        let (Some(ty), Some(id)) = (
            uid.get("type").and_then(Value::as_str),
            uid.get("id").and_then(Value::as_str),
        ) else {
            return Err(at("`uid` must be {\"type\": …, \"id\": …}".into()));
        };
        let (ty, id) = (ty.to_string(), id.to_string());
        let at = |what: String| LabelError(format!("entity {index} ({ty}::{id:?}): {what}"));
        if object
            .get("parents")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
        {
            return Err(at(
                "`parents` must be empty: a file's place in the hierarchy is its path".into(),
            ));
        }
        // Cedar's format requires both; an entities file may leave them out.
        object
            .entry("parents")
            .or_insert_with(|| Value::Array(Vec::new()));
        object
            .entry("attrs")
            .or_insert_with(|| Value::Object(Map::new()));
        match ty.as_str() {
            "file_system::File" | "file_system::Dir" => {
                let normal = crate::fs::path::normalize_absolute(&id)
                    .map_err(|e| at(format!("the id must be an absolute path: {}", e.message())))?;
                if normal != id {
                    return Err(at(format!("the id must be a normalized path (`{normal}`)")));
                }
                let attrs = object
                    .entry("attrs")
                    .or_insert_with(|| Value::Object(Map::new()));
                let Some(attrs) = attrs.as_object_mut() else {
                    return Err(at("`attrs` must be an object".into()));
                };
                match attrs.get("path") {
                    None => {
                        attrs.insert("path".into(), Value::String(id.clone()));
                    }
                    Some(Value::String(p)) if *p == id => {}
                    Some(_) => return Err(at("`attrs.path` must equal the id".into())),
                }
                let mut labels = Labels::new();
                if let Some(tags) = object.get("tags") {
                    let Some(tags) = tags.as_object() else {
                        return Err(at("`tags` must be an object of strings".into()));
                    };
                    if tags.len() > MAX_LABELS {
                        return Err(at(format!("more than {MAX_LABELS} labels")));
                    }
                    for (key, value) in tags {
                        check_key(key).map_err(&at)?;
                        let Some(value) = value.as_str() else {
                            return Err(at(format!("the label `{key}` must be a string")));
                        };
                        check_value(value).map_err(&at)?;
                        labels.insert(key.clone(), value.to_string());
                    }
                }
                self.paths.entry(id).or_default().extend(labels);
            }
            "data::Label" => {
                check_label_spec(&id).map_err(&at)?;
                let budget = object
                    .get("attrs")
                    .and_then(|a| a.get("read_budget"))
                    .map(|b| {
                        b.as_u64().ok_or_else(|| {
                            at("`read_budget` must be a whole number of bytes ≥ 0".into())
                        })
                    })
                    .transpose()?;
                if let Some(budget) = budget {
                    self.budgets.insert(id, budget);
                }
            }
            other => {
                return Err(at(format!(
                    "entities of type `{other}` carry no labels; expected file_system::File, file_system::Dir or data::Label"
                )));
            }
        }
        Ok(entity)
    }

    /// The labels the file gives `path` itself.
    pub fn own(&self, path: &str) -> Option<&Labels> {
        self.paths.get(path)
    }

    /// Whether the file labels nothing and budgets nothing.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.budgets.is_empty()
    }

    /// The read budgets the file sets, by label.
    pub fn budgets(&self) -> &BTreeMap<String, u64> {
        &self.budgets
    }
}

/// An error and its sources, `: `-separated (Cedar's top-level messages are terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Where a job's labels and budgets come from.
#[derive(Debug, Clone)]
pub struct LabelConfig {
    /// The entities file's labels and budgets.
    pub file: Arc<LabelFile>,
    /// Whether `user.wrex.*` extended attributes are read (default: yes).
    pub xattrs: bool,
    /// Read budgets by label (`phi` or `classification:phi`), in bytes per run; they override
    /// the entities file's.
    pub budgets: BTreeMap<String, u64>,
}

impl Default for LabelConfig {
    fn default() -> Self {
        Self {
            file: Arc::default(),
            xattrs: true,
            budgets: BTreeMap::new(),
        }
    }
}

impl LabelConfig {
    /// Whether any label can exist in a run.
    pub fn active(&self) -> bool {
        self.xattrs || !self.file.is_empty()
    }

    /// Every read budget: the entities file's, overridden by [`Self::budgets`].
    pub fn all_budgets(&self) -> BTreeMap<String, u64> {
        let mut all = self.file.budgets().clone();
        all.extend(self.budgets.iter().map(|(k, v)| (k.clone(), *v)));
        all
    }
}

/// The budget of the label `key:value` among `budgets`, if one applies (the smallest, when
/// both `key:value` and a bare `value` name it).
pub fn budget_of(budgets: &BTreeMap<String, u64>, key: &str, value: &str) -> Option<u64> {
    budgets
        .iter()
        .filter(|(spec, _)| spec_matches(spec, key, value))
        .map(|(_, b)| *b)
        .min()
}

/// The labels of the data a run read and wrote: in the run result, the audit log's run
/// summary, and (`read`, `written`) every later request's `context.lineage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lineage {
    /// Labels (`key:value`) of what the run read: file contents and directory listings.
    pub read: BTreeSet<String>,
    /// Labels of what the run wrote or created.
    pub written: BTreeSet<String>,
    /// Bytes of file contents read, per label.
    pub read_bytes: BTreeMap<String, u64>,
}

impl Lineage {
    /// Whether the run touched no labelled data.
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.written.is_empty()
    }

    /// `{read: [...], written: [...]}`: the request context's `lineage`.
    pub(crate) fn context(&self) -> Value {
        serde_json::json!({ "read": self.read, "written": self.written })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1.5MiB"), Ok(3 << 19));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn budgets_parse_and_match() {
        assert_eq!(parse_budget("phi=64KiB"), Ok(("phi".into(), 65536)));
        assert_eq!(
            parse_budget("classification:phi=1"),
            Ok(("classification:phi".into(), 1))
        );
        assert!(parse_budget("phi").is_err());
        assert!(parse_budget("bad key:phi=1").is_err());
        let config = LabelConfig {
            budgets: [("phi".into(), 10), ("classification:phi".into(), 5)].into(),
            ..LabelConfig::default()
        };
        let all = config.all_budgets();
        assert_eq!(budget_of(&all, "classification", "phi"), Some(5));
        assert_eq!(budget_of(&all, "kind", "phi"), Some(10));
        assert_eq!(budget_of(&all, "classification", "public"), None);
    }

    #[test]
    fn an_entities_file_gives_labels_and_budgets() {
        let file = LabelFile::parse(
            r#"[
                {"uid": {"type": "file_system::Dir", "id": "/srv/records"},
                 "tags": {"classification": "phi", "jurisdiction": "eu"}},
                {"uid": {"__entity": {"type": "file_system::File", "id": "/srv/a.txt"}},
                 "attrs": {"path": "/srv/a.txt"}, "parents": [], "tags": {"owner": "bob"}},
                {"uid": {"type": "data::Label", "id": "classification:phi"},
                 "attrs": {"read_budget": 65536}}
            ]"#,
        )
        .unwrap();
        assert_eq!(file.own("/srv/records").unwrap()["classification"], "phi");
        assert_eq!(file.own("/srv/a.txt").unwrap()["owner"], "bob");
        assert_eq!(file.budgets()["classification:phi"], 65536);
    }

    #[test]
    fn a_bad_entities_file_is_refused_with_the_entity_named() {
        let refused = |text: &str, want: &str| {
            let e = LabelFile::parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{e}\nwanted: {want}");
        };
        refused("[\n{]", "line 2, column 2");
        refused("{}", "JSON array");
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "srv"}}]"#,
            r#"entity 0 (file_system::Dir::"srv"): the id must be an absolute path"#,
        );
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "/a//b/"}}]"#,
            "normalized path (`/a/b`)",
        );
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "/a"}, "attrs": {"path": "/b"}}]"#,
            "`attrs.path` must equal the id",
        );
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "/a"}, "tags": {"c": 1}}]"#,
            "the label `c` must be a string",
        );
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "/a"}, "tags": {"a:b": "x"}}]"#,
            "label key `a:b`",
        );
        refused(
            r#"[{"uid": {"type": "file_system::Dir", "id": "/a"}, "parents": [{"type": "file_system::Dir", "id": "/"}]}]"#,
            "`parents` must be empty",
        );
        refused(
            r#"[{"uid": {"type": "User", "id": "alice"}}]"#,
            "entities of type `User` carry no labels",
        );
        refused(
            r#"[{"uid": {"type": "data::Label", "id": "phi"}, "attrs": {"read_budget": -1}}]"#,
            "`read_budget` must be a whole number",
        );
        // The schema is Cedar's to check: an attribute it does not declare.
        refused(
            r#"[{"uid": {"type": "data::Label", "id": "phi"}, "attrs": {"owner": "x"}}]"#,
            "owner",
        );
    }
}
