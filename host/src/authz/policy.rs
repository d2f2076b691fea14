//! Policy sets: read, parsed and strictly validated once, then indexed by action id so that a
//! request is evaluated only against the policies whose action scope can match it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use cedar_policy::{ActionConstraint, EntityUid, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use super::Store;
use super::schema::{action_entities, schema};
use super::slice::{ActionSlices, Slicer};

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("failed to read policy file `{path}`: {source}")]
    Read {
        /// The file's path.
        path: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The policy text has a syntax error.
    #[error("Failed to parse Cedar policy - check syntax and structure: {0}")]
    Parse(String),
    /// The policy text is larger than [`MAX_POLICY_BYTES`].
    #[error("policy `{name}` is {size} bytes, larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge {
        /// The file name (or `policy` for text).
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The policy text nests parentheses, brackets or braces deeper than
    /// [`MAX_POLICY_NESTING`] (the parser is recursive; refused before parsing).
    #[error(
        "Failed to parse Cedar policy - check syntax and structure: {name}:{line}:{column}: nesting deeper than {MAX_POLICY_NESTING} levels"
    )]
    TooDeep {
        /// The file name (or `policy` for text).
        name: String,
        /// 1-based line of the first bracket past the limit.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
    },
    /// The policy parsed but does not validate against the schema (unknown action, entity type
    /// or attribute, wrong types …).
    #[error("Cedar policy failed validation against the wrex/Rex schema: {0}")]
    Validation(String),
}

/// Largest policy text accepted, in bytes. (10,000 typical policies take about 1.5 MiB.)
pub const MAX_POLICY_BYTES: u64 = 8 << 20;

/// Deepest nesting of `(`, `[` and `{` accepted in policy text. Cedar's parser recurses per
/// level; a 2 KB policy of 1,000 nested parentheses overflowed the stack and aborted the
/// process. Real policies nest a handful of levels.
pub const MAX_POLICY_NESTING: usize = 64;

/// The entities some policy of a set names, by entity type (`file_system::Dir`) and id. A
/// request needs only these of a resource's ancestors (see `Resource::entities`).
#[derive(Debug, Clone, Default)]
pub struct Referenced {
    by_type: HashMap<String, HashSet<String>>,
}

impl Referenced {
    fn of(set: &PolicySet) -> Self {
        let mut by_type: HashMap<String, HashSet<String>> = HashMap::new();
        for uid in set
            .policies()
            .flat_map(cedar_policy::Policy::entity_literals)
        {
            by_type
                .entry(uid.type_name().to_string())
                .or_default()
                .insert(uid.id().unescaped().to_string());
        }
        Self { by_type }
    }

    /// A set naming `ids` of `type_name` (for tests that compare against the full chain).
    #[cfg(test)]
    pub(crate) fn of_ids<'a>(type_name: &str, ids: impl IntoIterator<Item = &'a str>) -> Self {
        let ids = ids.into_iter().map(str::to_string).collect();
        Self {
            by_type: HashMap::from([(type_name.to_string(), ids)]),
        }
    }

    /// Whether a policy names the entity `type_name::"id"`.
    pub fn contains(&self, type_name: &str, id: &str) -> bool {
        self.by_type
            .get(type_name)
            .is_some_and(|ids| ids.contains(id))
    }
}

/// Refuses text nested deeper than [`MAX_POLICY_NESTING`] before the recursive parser sees it.
/// Brackets inside string literals and comments do not count.
fn check_nesting(text: &str, name: &str) -> Result<(), PolicyError> {
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                // A string literal: skip to its closing quote, honouring escapes.
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '/' if chars.peek().is_some_and(|(_, c)| *c == '/') => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_POLICY_NESTING {
                    let (line, column) = line_column(text, at);
                    return Err(PolicyError::TooDeep {
                        name: name.to_string(),
                        line,
                        column,
                    });
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// One action of the schema: its UID (built once) and the policies that can apply to it,
/// selected and sliced on first use (a policy set of 10,000 policies that each apply to every
/// action would otherwise be copied once per action of the schema at load: seconds and
/// hundreds of MB before any run).
#[derive(Debug)]
pub(crate) struct ActionPolicies {
    pub(crate) uid: EntityUid,
    slices: OnceLock<ActionSlices>,
}

impl ActionPolicies {
    /// The policies whose action scope can match this action, sliced by resource.
    fn slices(&self, all: &PolicySet, slicer: &Slicer) -> &ActionSlices {
        self.slices.get_or_init(|| {
            ActionSlices::new(
                all.policies().filter(|p| scope_matches(p, &self.uid)),
                slicer,
            )
        })
    }
}

/// Actions by namespace, then by id (`file_system` → `read`), so a lookup by `&str` needs no
/// allocation.
type ActionIndex = HashMap<String, HashMap<String, ActionPolicies>>;

/// A parsed policy set, strictly validated against the schema, and indexed by action id: a
/// request is evaluated only against the policies whose action scope can match its action.
/// Cheap to clone and share across runs and threads.
#[derive(Debug, Clone)]
pub struct Policy {
    set: Arc<PolicySet>,
    by_action: Arc<ActionIndex>,
    slicer: Arc<Slicer>,
    referenced: Arc<Referenced>,
    /// Entity stores of unlabelled resources, shared by every run under this policy.
    stores: Arc<Mutex<SharedStores>>,
    /// SHA-256 of the policy text, lower-case hex (what the audit log records).
    digest: Arc<str>,
}

/// Entity stores by resource, and an upper bound of the bytes they hold together (at most
/// [`MAX_SHARED_STORE_BYTES`]).
#[derive(Debug, Default)]
struct SharedStores {
    stores: HashMap<EntityUid, Store>,
    bytes: usize,
}

/// Most bytes of entity stores a policy keeps for all runs; past it, it starts over.
const MAX_SHARED_STORE_BYTES: usize = 8 << 20;

/// Whether two policies are the same parsed set (one parse shared).
impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.set, &other.set)
    }
}

/// Whether a policy's action scope can match `action` (directly, or through a group the
/// action belongs to).
fn scope_matches(policy: &cedar_policy::Policy, action: &EntityUid) -> bool {
    let in_group = |e: &EntityUid| {
        e == action
            || action_entities()
                .ancestors(action)
                .is_some_and(|mut ancestors| ancestors.any(|a| a == e))
    };
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(e) => &e == action,
        ActionConstraint::In(list) => list.iter().any(in_group),
    }
}

/// Every action of the schema, of every namespace; each action's policies are selected when
/// it is first asked about.
fn index_by_action() -> ActionIndex {
    let mut index = ActionIndex::new();
    for uid in schema().actions() {
        let namespace = uid.type_name().namespace();
        let id = uid.id().unescaped().to_string();
        index.entry(namespace).or_default().insert(
            id,
            ActionPolicies {
                uid: uid.clone(),
                slices: OnceLock::new(),
            },
        );
    }
    index
}

impl Policy {
    /// Reads, parses and validates a policy file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let read_error = |source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                name: path.display().to_string(),
                size,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Self::parse_named(&text, &path.display().to_string())
    }

    /// Parses and validates policy text (named `policy` in error locations).
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_named(text, "policy")
    }

    /// Parses and validates policy text; `name` prefixes error locations (`name:line:column`).
    pub fn parse_named(text: &str, name: &str) -> Result<Self, PolicyError> {
        if text.len() as u64 > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                name: name.to_string(),
                size: text.len() as u64,
            });
        }
        check_nesting(text, name)?;
        let set = PolicySet::from_str(text).map_err(|errs| {
            PolicyError::Parse(describe_all(
                errs.iter().map(|e| e as &dyn Diagnostic),
                text,
                name,
            ))
        })?;
        let result = Validator::new(schema().clone()).validate(&set, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors = result.validation_errors().map(|e| e as &dyn Diagnostic);
            return Err(PolicyError::Validation(describe_all(errors, text, name)));
        }
        for warning in result.validation_warnings() {
            tracing::warn!(target: "wrex::policy", "{}", describe(warning, text, name));
        }
        let by_action = index_by_action();
        let referenced = Referenced::of(&set);
        let slicer = Slicer::of(&set);
        Ok(Self {
            set: Arc::new(set),
            by_action: Arc::new(by_action),
            slicer: Arc::new(slicer),
            stores: Arc::default(),
            referenced: Arc::new(referenced),
            digest: crate::audit::sha256_hex(text.as_bytes()).into(),
        })
    }

    /// SHA-256 of the policy text this was parsed from, lower-case hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Number of policies (and templates' linked policies) in the set.
    pub fn len(&self) -> usize {
        self.set.policies().count()
    }

    /// The display names of the policies (their `@id`s, else Cedar's ids), in file order.
    pub fn ids(&self) -> Vec<String> {
        let mut policies: Vec<_> = self.set.policies().collect();
        policies.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        });
        policies.iter().map(|p| self.display_id(p.id())).collect()
    }

    /// Whether the set has no policy (it then denies everything).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The action `namespace::Action::"id"` and the policies that can apply to it, sliced by
    /// resource; `None` for an action the schema does not declare.
    pub(crate) fn for_action(
        &self,
        namespace: &str,
        id: &str,
    ) -> Option<(&EntityUid, &ActionSlices)> {
        let action = self.by_action.get(namespace)?.get(id)?;
        Some((&action.uid, action.slices(&self.set, &self.slicer)))
    }

    /// The whole set (tests compare decisions over it with the sliced ones).
    #[cfg(test)]
    pub(crate) fn set(&self) -> &PolicySet {
        &self.set
    }

    /// The entity store of an unlabelled `resource` and its slicing keys, built once and
    /// shared by every run under this policy (it depends on nothing else). Building one
    /// (validating it against the schema, adding the schema's actions) took a tenth of a
    /// one-read warm run.
    pub(crate) fn shared_store(&self, resource: &dyn super::Resource) -> Result<Store, String> {
        let uid = resource.uid();
        if let Ok(shared) = self.stores.lock()
            && let Some(store) = shared.stores.get(&uid)
        {
            return Ok(store.clone());
        }
        let (store, bytes) = super::build_store(self, resource, Default::default())?;
        if let Ok(mut shared) = self.stores.lock() {
            if shared.bytes + bytes > MAX_SHARED_STORE_BYTES {
                *shared = SharedStores::default();
            }
            shared.bytes += bytes;
            shared.stores.insert(uid, store.clone());
        }
        Ok(store)
    }

    /// What slices the policies by resource.
    pub(crate) fn slicer(&self) -> &Slicer {
        &self.slicer
    }

    /// The entities the policies name.
    pub fn referenced(&self) -> &Referenced {
        &self.referenced
    }

    /// `@id` annotations given to more than one policy (the audit log and denial messages
    /// name policies by `@id`, so a duplicate makes them ambiguous), in file order.
    pub fn duplicate_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut dups = Vec::new();
        for p in self.set.policies() {
            if let Some(id) = id_annotation(p)
                && !seen.insert(id.to_string())
                && !dups.iter().any(|d| d == id)
            {
                dups.push(id.to_string());
            }
        }
        dups
    }

    /// A policy's display name: its `@id("…")` annotation if it has one, else Cedar's id
    /// (`policy0`, `policy1` … in file order).
    pub(crate) fn display_id(&self, id: &PolicyId) -> String {
        // Not `PolicySet::annotation`, which runs Cedar's parser on the key at every call
        // (a few microseconds per denial or allow, on every decision).
        self.set
            .policy(id)
            .and_then(id_annotation)
            .map_or_else(|| id.to_string(), str::to_string)
    }
}

/// A policy's `@id("…")` annotation.
fn id_annotation(policy: &cedar_policy::Policy) -> Option<&str> {
    policy
        .annotations()
        .find_map(|(key, value)| (key == "id").then_some(value))
}

/// Parsed policies by content: the same policy text is parsed, validated and indexed once, and
/// every later job gets the same shared [`Policy`].
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<CacheMap>,
}

/// Policies by hash of their text; each bucket keeps the texts to rule out collisions.
type CacheMap = HashMap<u64, Vec<(Arc<str>, Policy)>>;

/// Most distinct policies a [`PolicyCache`] keeps; past it, the cache starts over.
pub const MAX_CACHED_POLICIES: usize = 1024;

impl PolicyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy for `text`, parsed on first use.
    pub fn get_or_parse(&self, text: &str) -> Result<Policy, PolicyError> {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        let key = hasher.finish();
        let lookup = |entries: &CacheMap| {
            entries
                .get(&key)
                .and_then(|v| v.iter().find(|(t, _)| **t == *text))
                .map(|(_, p)| p.clone())
        };
        if let Some(policy) = self.entries.lock().ok().and_then(|e| lookup(&e)) {
            return Ok(policy);
        }
        let policy = Policy::parse(text)?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.values().map(Vec::len).sum::<usize>() >= MAX_CACHED_POLICIES {
                entries.clear();
            }
            entries
                .entry(key)
                .or_default()
                .push((Arc::from(text), policy.clone()));
        }
        Ok(policy)
    }

    /// Number of cached policies.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .map(|e| e.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn describe_all<'a>(
    errors: impl Iterator<Item = &'a dyn Diagnostic>,
    text: &str,
    name: &str,
) -> String {
    errors
        .map(|e| describe(e, text, name))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `name:line:column: message (help)` for a diagnostic with a source label.
fn describe(diagnostic: &dyn Diagnostic, text: &str, name: &str) -> String {
    let mut out = String::new();
    if let Some(label) = diagnostic.labels().and_then(|mut labels| labels.next()) {
        let (line, column) = line_column(text, label.offset());
        out.push_str(&format!("{name}:{line}:{column}: "));
    }
    out.push_str(&diagnostic.to_string());
    if let Some(help) = diagnostic.help() {
        out.push_str(&format!(" (help: {help})"));
    }
    out
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_lines_and_chars() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
    }

    #[test]
    fn nesting_is_bounded_before_parsing() {
        let deep = format!(
            "permit (principal, action, resource) when {{ {}true{} }};",
            "(".repeat(1000),
            ")".repeat(1000)
        );
        let err = Policy::parse(&deep).unwrap_err();
        assert!(matches!(err, PolicyError::TooDeep { line: 1, .. }), "{err}");
        assert!(err.to_string().contains("nesting deeper than"), "{err}");
        // Brackets in strings and comments do not count; ordinary nesting parses.
        let text = format!(
            "// {}\npermit (principal, action, resource is file_system::File) when {{ ((resource.path like \"{}*\")) }};",
            "(".repeat(100),
            "[".repeat(100)
        );
        Policy::parse(&text).unwrap();
    }

    #[test]
    fn the_index_holds_only_policies_that_can_match() {
        let text = "permit (principal, action == file_system::Action::\"write\", resource);\n\
                    permit (principal, action in file_system::Action::\"SafeIO\", resource);\n\
                    permit (principal, action, resource);\n\
                    forbid (principal, action in [file_system::Action::\"read\", file_system::Action::\"stat\"], resource);";
        let policy = Policy::parse(text).unwrap();
        let count = |a| {
            policy
                .for_action("file_system", a)
                .map_or(0, |(_, p)| p.slice(&[]).len())
        };
        assert_eq!(count("write"), 3);
        assert_eq!(count("read"), 3);
        assert_eq!(count("stat"), 3);
        assert_eq!(count("open"), 2);
        // Every namespace of the schema is indexed, not only the file system's.
        assert!(policy.for_action("process_system", "list").is_some());
        assert!(policy.for_action("file_system", "no_such_action").is_none());
    }
}
