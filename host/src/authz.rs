//! The one authorization choke point. Policies are parsed and strictly validated against the
//! built-in schema once, at load; each host operation then asks [`Authorizer::authorize`], which
//! returns a [`Granted`] proof that the operations on the system require.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use cedar_policy::{
    ActionConstraint, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use miette::Diagnostic;

/// The Cedar schema wrex validates policies and requests against: Rex's schema (REX-COMPAT §4).
pub const SCHEMA_TEXT: &str = include_str!("../../policies/schema.cedarschema");

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

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("failed to read policy file `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The policy text has a syntax error.
    #[error("Failed to parse Cedar policy - check syntax and structure: {0}")]
    Parse(String),
    /// The policy text is larger than [`MAX_POLICY_BYTES`].
    #[error("policy `{name}` is {size} bytes, larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge { name: String, size: u64 },
    /// The policy parsed but does not validate against the schema (unknown action, entity type
    /// or attribute, wrong types …).
    #[error("Cedar policy failed validation against the wrex/Rex schema: {0}")]
    Validation(String),
}

/// Largest policy text accepted, in bytes. (10,000 typical policies take about 1.5 MiB.)
pub const MAX_POLICY_BYTES: u64 = 8 << 20;

/// A parsed policy set, strictly validated against [`schema`], and indexed by action: a
/// request is evaluated only against the policies whose action scope can match its action.
/// Cheap to clone and share across runs and threads.
#[derive(Debug, Clone)]
pub struct Policy {
    set: Arc<PolicySet>,
    by_action: Arc<HashMap<FsAction, PolicySet>>,
}

/// Parsed policies by content: the same policy text is parsed, validated and indexed once, and
/// every later job gets the same shared [`Policy`].
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: std::sync::Mutex<CacheMap>,
}

/// Policies by hash of their text; each bucket keeps the texts to rule out collisions.
type CacheMap = HashMap<u64, Vec<(Arc<str>, Policy)>>;

/// Most distinct policies a [`PolicyCache`] keeps; past it, the cache starts over.
pub const MAX_CACHED_POLICIES: usize = 1024;

impl PolicyCache {
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

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether two policies are the same parsed set (one parse shared).
impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.set, &other.set)
    }
}

/// The schema's action entities (with their action-group parents), for the index.
fn action_entities() -> &'static Entities {
    static ACTIONS: OnceLock<Entities> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        schema()
            .action_entities()
            .unwrap_or_else(|_| Entities::empty())
    })
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

fn index_by_action(set: &PolicySet) -> HashMap<FsAction, PolicySet> {
    FsAction::ALL
        .iter()
        .map(|&action| {
            let uid = action.uid();
            let mut subset = PolicySet::new();
            for policy in set.policies().filter(|p| scope_matches(p, &uid)) {
                // INVARIANT: ids are unique in `set`, so they are unique in the subset.
                let _ = subset.add(policy.clone());
            }
            (action, subset)
        })
        .collect()
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
        let by_action = index_by_action(&set);
        Ok(Self {
            set: Arc::new(set),
            by_action: Arc::new(by_action),
        })
    }

    /// Number of policies (and templates' linked policies) in the set.
    pub fn len(&self) -> usize {
        self.set.policies().count()
    }

    /// Whether the set has no policy (it then denies everything).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A policy's display name: its `@id("…")` annotation if it has one, else Cedar's id
    /// (`policy0`, `policy1` … in file order).
    /// The policies that can apply to `action`.
    fn for_action(&self, action: FsAction) -> &PolicySet {
        self.by_action.get(&action).unwrap_or(&self.set)
    }

    fn display_id(&self, id: &cedar_policy::PolicyId) -> String {
        self.set
            .annotation(id, "id")
            .map_or_else(|| id.to_string(), str::to_string)
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

/// A `file_system` action (REX-COMPAT §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsAction {
    Open,
    Read,
    Write,
    Create,
    Delete,
    Stat,
    Chmod,
    Chown,
    Move,
    RedactedRead,
    SetXAttr,
}

impl FsAction {
    pub const ALL: [FsAction; 11] = [
        Self::Open,
        Self::Read,
        Self::Write,
        Self::Create,
        Self::Delete,
        Self::Stat,
        Self::Chmod,
        Self::Chown,
        Self::Move,
        Self::RedactedRead,
        Self::SetXAttr,
    ];

    /// The action's Cedar id (`file_system::Action::"<name>"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Delete => "delete",
            Self::Stat => "stat",
            Self::Chmod => "chmod",
            Self::Chown => "chown",
            Self::Move => "move",
            Self::RedactedRead => "redacted_read",
            Self::SetXAttr => "set_x_attr",
        }
    }

    fn uid(self) -> EntityUid {
        EntityUid::from_type_name_and_id(fs_type("Action"), EntityId::new(self.name()))
    }
}

/// A `file_system` resource: a `File` or `Dir` entity named by its absolute, normalized path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FsResource {
    File(String),
    Dir(String),
}

impl FsResource {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::File(_) => "file_system::File",
            Self::Dir(_) => "file_system::Dir",
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Self::File(p) | Self::Dir(p) => p,
        }
    }

    /// The resource's Cedar entity UID.
    fn uid(&self) -> EntityUid {
        let kind = match self {
            Self::File(_) => "File",
            Self::Dir(_) => "Dir",
        };
        EntityUid::from_type_name_and_id(fs_type(kind), EntityId::new(self.path()))
    }
}

impl fmt::Display for FsResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{:?}", self.type_name(), self.path())
    }
}

fn fs_type(name: &str) -> EntityTypeName {
    // INVARIANT: `file_system::<name>` is a well-formed type name for the names used here.
    EntityTypeName::from_str(&format!("file_system::{name}"))
        .unwrap_or_else(|e| unreachable!("bad built-in type name `{name}`: {e}"))
}

fn user_type() -> EntityTypeName {
    EntityTypeName::from_str("User").unwrap_or_else(|e| unreachable!("bad type name: {e}"))
}

/// The parent directory of an absolute, normalized path (`None` for `/`).
fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        _ if path == "/" => None,
        Some(0) => Some("/"),
        Some(i) => path.get(..i),
        None => None,
    }
}

/// The entity for a resource and its ancestor `Dir`s up to `/`, so that
/// `resource in file_system::Dir::"/var/log"` holds for everything below `/var/log`.
fn entities_for(resource: &FsResource) -> Vec<Entity> {
    let mut out = Vec::new();
    let (mut uid, mut path) = (resource.uid(), resource.path());
    loop {
        let parent = parent_of(path);
        let parent_uid =
            parent.map(|p| EntityUid::from_type_name_and_id(fs_type("Dir"), EntityId::new(p)));
        let attrs = [(
            "path".to_string(),
            RestrictedExpression::new_string(path.to_string()),
        )]
        .into_iter()
        .collect();
        let parents: HashSet<EntityUid> = parent_uid.iter().cloned().collect();
        // INVARIANT: the attribute map has one key, so `Entity::new` cannot report a duplicate.
        if let Ok(entity) = Entity::new(uid, attrs, parents) {
            out.push(entity);
        }
        match (parent, parent_uid) {
            (Some(p), Some(u)) => {
                path = p;
                uid = u;
            }
            _ => return out,
        }
    }
}

/// The context of a request that has one (REX-COMPAT §4.4).
enum RequestContext<'a> {
    Move(&'a Destination),
    XAttr(&'a str),
}

impl RequestContext<'_> {
    /// The request context (`Request::new` validates it against the schema).
    fn context(&self) -> Result<Context, String> {
        let field = |k: &str, v: &str| (k.to_string(), RestrictedExpression::new_string(v.into()));
        let (key, record) = match self {
            Self::Move(d) => (
                "destination",
                RestrictedExpression::new_record([
                    field("path", &d.path),
                    field("name", &d.name),
                    field("parent_path", &d.parent_path),
                ]),
            ),
            Self::XAttr(name) => (
                "xattr",
                RestrictedExpression::new_record([field("name", name)]),
            ),
        };
        let record = record.map_err(|e| e.to_string())?;
        Context::from_pairs([(key.to_string(), record)]).map_err(|e| e.to_string())
    }
}

/// Where a `move` sends its resource: Rex's `destination` context record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The destination's absolute path.
    pub path: String,
    /// Its final name.
    pub name: String,
    /// The directory it goes into.
    pub parent_path: String,
}

/// One authorization decision, as handed to a [`DecisionObserver`].
#[derive(Debug, Clone)]
pub struct Decision {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub allowed: bool,
    /// Display ids of the policies that decided (the permits that allowed, or the forbids that
    /// denied; empty for a default deny).
    pub policies: Vec<String>,
    /// Evaluation or request errors (any error makes the decision a deny).
    pub errors: Vec<String>,
}

/// Sees every decision, allow and deny alike, before the operation's result returns to the
/// guest. An audit log attaches here.
pub trait DecisionObserver: Send + Sync {
    fn observe(&self, decision: &Decision);
}

/// Proof that an action was authorized. Only [`Authorizer::authorize`] makes one; the functions
/// that touch the file system take one, so a missed check does not compile.
#[derive(Debug)]
pub struct Granted(());

/// A denial, with what the guest needs to explain it.
#[derive(Debug, Clone)]
pub struct Denied {
    pub principal: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
}

/// Authorizes requests of one principal against one policy.
pub struct Authorizer {
    policy: Policy,
    principal: String,
    principal_uid: EntityUid,
    cedar: cedar_policy::Authorizer,
    observer: Option<Arc<dyn DecisionObserver>>,
    /// Entity stores already built for a resource (the resource and its ancestor `Dir`s),
    /// so a script touching the same paths again does not rebuild them.
    entities: std::sync::Mutex<HashMap<FsResource, Entities>>,
}

/// Most resources whose entity stores an [`Authorizer`] keeps; past it, it starts over.
const MAX_CACHED_ENTITIES: usize = 4096;

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("principal", &self.principal)
            .field("policies", &self.policy.len())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    pub fn new(
        policy: Policy,
        principal: &str,
        observer: Option<Arc<dyn DecisionObserver>>,
    ) -> Self {
        Self {
            policy,
            principal: principal.to_string(),
            principal_uid: EntityUid::from_type_name_and_id(user_type(), EntityId::new(principal)),
            cedar: cedar_policy::Authorizer::new(),
            observer,
            entities: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// Asks the policy whether the principal may perform `action` on `resource`.
    ///
    /// Default deny; `forbid` overrides `permit`; any error while building the request or
    /// evaluating a policy makes the answer a deny (and is reported to the observer).
    pub fn authorize(&self, action: FsAction, resource: &FsResource) -> Result<Granted, Denied> {
        self.authorize_in(action, resource, None)
    }

    /// [`Self::authorize`] for `move`, with Rex's context
    /// `destination: {path, name, parent_path}` naming where the resource goes.
    pub fn authorize_move(
        &self,
        resource: &FsResource,
        destination: &Destination,
    ) -> Result<Granted, Denied> {
        self.authorize_in(
            FsAction::Move,
            resource,
            Some(&RequestContext::Move(destination)),
        )
    }

    /// [`Self::authorize`] for `set_x_attr`, with Rex's context `xattr: {name}`.
    pub fn authorize_xattr(&self, resource: &FsResource, name: &str) -> Result<Granted, Denied> {
        self.authorize_in(
            FsAction::SetXAttr,
            resource,
            Some(&RequestContext::XAttr(name)),
        )
    }

    fn authorize_in(
        &self,
        action: FsAction,
        resource: &FsResource,
        context: Option<&RequestContext<'_>>,
    ) -> Result<Granted, Denied> {
        let (allowed, policies, errors) = self.decide(action, resource, context);
        let action_text = format!("file_system::Action::{:?}", action.name());
        if let Some(observer) = &self.observer {
            observer.observe(&Decision {
                principal: format!("User::{:?}", self.principal),
                action: action_text.clone(),
                resource: resource.to_string(),
                allowed,
                policies,
                errors,
            });
        }
        tracing::debug!(
            target: "wrex::authz",
            action = action.name(),
            resource = %resource,
            allowed,
            "authorization decision"
        );
        if allowed {
            Ok(Granted(()))
        } else {
            Err(Denied {
                principal: self.principal.clone(),
                action: action_text,
                resource_type: resource.type_name().to_string(),
                resource_id: resource.path().to_string(),
            })
        }
    }

    /// Whether the policy would permit, without telling the observer. Only for choosing which
    /// of two checks to make; the check that decides is always made with [`Self::authorize`].
    pub fn permits(&self, action: FsAction, resource: &FsResource) -> bool {
        self.decide(action, resource, None).0
    }

    fn decide(
        &self,
        action: FsAction,
        resource: &FsResource,
        context: Option<&RequestContext<'_>>,
    ) -> (bool, Vec<String>, Vec<String>) {
        let schema = schema();
        let resource_uid = resource.uid();
        let context = match context {
            None => Context::empty(),
            Some(c) => match c.context() {
                Ok(c) => c,
                Err(e) => return (false, vec![], vec![format!("invalid context: {e}")]),
            },
        };
        let request = match Request::new(
            self.principal_uid.clone(),
            action.uid(),
            resource_uid,
            context,
            Some(schema),
        ) {
            Ok(r) => r,
            Err(e) => return (false, vec![], vec![format!("invalid request: {e}")]),
        };
        let Ok(mut cache) = self.entities.lock() else {
            return (false, vec![], vec!["entity cache poisoned".into()]);
        };
        if !cache.contains_key(resource) {
            let entities = match Entities::from_entities(entities_for(resource), Some(schema)) {
                Ok(e) => e,
                Err(e) => return (false, vec![], vec![format!("invalid entities: {e}")]),
            };
            if cache.len() >= MAX_CACHED_ENTITIES {
                cache.clear();
            }
            cache.insert(resource.clone(), entities);
        }
        let Some(entities) = cache.get(resource) else {
            return (false, vec![], vec!["entity cache miss".into()]);
        };
        // Only the policies whose action scope can match: the same decision, without
        // evaluating policies about other actions.
        let policies = self.policy.for_action(action);
        let response = self.cedar.is_authorized(&request, policies, entities);
        let diagnostics = response.diagnostics();
        let policies = diagnostics
            .reason()
            .map(|id| self.policy.display_id(id))
            .collect();
        let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        let allowed = response.decision() == CedarDecision::Allow && errors.is_empty();
        (allowed, policies, errors)
    }
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
    fn the_index_holds_only_policies_that_can_match() {
        let text = "permit (principal, action == file_system::Action::\"write\", resource);\n\
                    permit (principal, action in file_system::Action::\"SafeIO\", resource);\n\
                    permit (principal, action, resource);\n\
                    forbid (principal, action in [file_system::Action::\"read\", file_system::Action::\"stat\"], resource);";
        let policy = Policy::parse(text).unwrap();
        let count = |a| policy.for_action(a).policies().count();
        assert_eq!(count(FsAction::Write), 3);
        assert_eq!(count(FsAction::Read), 3);
        assert_eq!(count(FsAction::Stat), 3);
        assert_eq!(count(FsAction::Open), 2);
    }

    #[test]
    fn parents_go_up_to_root() {
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(parent_of("/"), None);
        let chain = entities_for(&FsResource::File("/a/b".into()));
        assert_eq!(chain.len(), 3);
    }
}
