//! The one authorization choke point, for every capability's Cedar namespace.
//!
//! Policies are parsed and strictly validated against the built-in schema once, at load
//! ([`Policy`]). Each capability names its Cedar actions as types implementing [`Action`] and
//! its resources as values implementing [`Resource`]; a host operation asks
//! [`Authorizer::authorize`], which returns a [`Granted`] proof *of that action*. The functions
//! that touch the system take the proof of the action that allows them, so a missed or wrong
//! check does not compile. The authorizer also counts denials and shows every decision to the
//! run's [`DecisionObserver`].

mod data;
mod policy;
mod schema;
mod slice;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use cedar_policy::{
    Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    Request,
};
use serde_json::{Map, Value};

use crate::labels::{Labels, Lineage};

/// A request context: a JSON object of the attributes the action's schema context declares
/// (validated against it when the request is built). The run's `on_behalf_of` is added by the
/// authorizer.
pub type RequestContext = Map<String, Value>;

pub use data::{BUDGET_POLICY_ID, LabelSource};
pub use policy::{
    MAX_CACHED_POLICIES, MAX_POLICY_BYTES, MAX_POLICY_NESTING, Policy, PolicyCache, PolicyError,
    Referenced,
};
pub use schema::{SCHEMA_JSON, SCHEMA_TEXT, schema, schema_json_of};

/// A Cedar action of one capability, as a type (usually a unit struct such as the file
/// system's `action::Read`), so that a [`Granted`] proof names the action it proves.
pub trait Action: fmt::Debug + 'static {
    /// The capability's Cedar namespace, e.g. `file_system`.
    const NAMESPACE: &'static str;
    /// The action's id in that namespace, e.g. `read`.
    const ID: &'static str;
    /// The resources this action is asked about.
    type Resource: Resource;
}

/// A Cedar resource of one capability.
pub trait Resource: fmt::Display {
    /// The entity type, e.g. `file_system::File`.
    fn type_name(&self) -> &'static str;
    /// The entity id, e.g. an absolute path.
    fn id(&self) -> &str;
    /// The resource's entity UID.
    fn uid(&self) -> EntityUid;
    /// The entities a request about this resource needs: the resource itself and the entities
    /// it is `in` that some policy names (`referenced`), each with its attributes and with the
    /// next named entity above it as its parent.
    ///
    /// Leaving out the entities no policy names gives the same decision for every policy (an
    /// `in` test can only ask about an entity a policy names) at a cost linear in the
    /// resource's depth: with every ancestor, Cedar's transitive closure costs depth², which
    /// for a 2,048-component path was seconds and hundreds of MB per request.
    fn entities(&self, referenced: &Referenced) -> Vec<Entity>;
    /// The resource entity's `path` attribute, if it has one (a `resource.path like "/p*"`
    /// condition then slices policies by path; see `slice.rs`).
    fn path_attr(&self) -> Option<&str> {
        None
    }
    /// Whether the entity store built for this resource may be kept and reused for every
    /// later request about the same entity UID. Not for a resource whose attributes change
    /// while its UID stays (a process: its PID can be reused, its command changes with `exec`)
    /// nor one that brings request-specific entities (`execute`'s arguments).
    fn cacheable(&self) -> bool {
        true
    }
}

/// `namespace::Name` as an entity type name.
///
/// # Panics
///
/// On a malformed name: capabilities pass only their own constant type names, which the test
/// suite exercises.
pub fn entity_type(namespace: &str, name: &str) -> EntityTypeName {
    let full = if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}::{name}")
    };
    // INVARIANT: capabilities pass only well-formed constant names.
    EntityTypeName::from_str(&full)
        .unwrap_or_else(|e| panic!("bad built-in type name `{full}`: {e}"))
}

/// An entity UID `namespace::Name::"id"`.
pub fn entity_uid(namespace: &str, name: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(entity_type(namespace, name), EntityId::new(id))
}

/// A built-in deny that no policy can lift: the runtime's own state (its compiled-guest
/// cache, its binary, its policy and audit files, its own process under `/proc`) is outside
/// every script's reach, whatever the policy says.
pub trait Guard: Send + Sync {
    /// Why a request about the resource `type_name::"id"` is refused, if it is.
    fn refuses(&self, type_name: &str, id: &str) -> Option<String>;
}

/// The policy id a decision by a [`Guard`] reports.
pub const GUARD_POLICY_ID: &str = "wrex::runtime-state";

/// One authorization decision, as handed to a [`DecisionObserver`].
#[derive(Debug, Clone)]
pub struct Decision {
    /// `User::"<principal>"`.
    pub principal: String,
    /// `namespace::Action::"<id>"`.
    pub action: String,
    /// `namespace::Type::"<id>"`.
    pub resource: String,
    /// Whether the action was allowed.
    pub allowed: bool,
    /// Display ids of the policies that decided (the permits that allowed, or the forbids that
    /// denied; empty for a default deny).
    pub policies: Vec<String>,
    /// Evaluation or request errors (any error makes the decision a deny), or the built-in
    /// deny's reason when [`GUARD_POLICY_ID`] decided.
    pub errors: Vec<String>,
    /// The request context, as a JSON object (with `on_behalf_of` when the run has one).
    pub context: Value,
    /// Whether the answer was applied: `false` only for a deny that report-only mode let
    /// through (a would-have-denied).
    pub enforced: bool,
}

/// Whether denials are applied, or only reported (Rex's permissive mode).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Enforcement {
    /// Every deny is applied.
    #[default]
    Enforce,
    /// Denies of actions that only look (open, read, stat, list …) are reported and the
    /// operation proceeds; denies of actions that change something are applied.
    ReportReads,
    /// Every deny is reported and the operation proceeds (`--permissive-allow-writes`).
    ReportAll,
}

/// Actions that change the system: report-only mode lets them through only with
/// [`Enforcement::ReportAll`].
pub fn is_destructive(namespace: &str, id: &str) -> bool {
    matches!(
        (namespace, id),
        (
            "file_system",
            "write"
                | "create"
                | "delete"
                | "move"
                | "chmod"
                | "chown"
                | "set_x_attr"
                | "execute"
                | "unmount"
        ) | ("process_system", "kill" | "interrupt" | "trace")
            | ("systemd", "start" | "stop" | "restart" | "daemon_reload")
            | ("sysctl", "load")
    )
}

impl Enforcement {
    /// Whether a deny of `namespace::Action::"id"` is only reported.
    fn reports(self, namespace: &str, id: &str) -> bool {
        match self {
            Self::Enforce => false,
            Self::ReportReads => !is_destructive(namespace, id),
            Self::ReportAll => true,
        }
    }
}

/// Sees every decision, allow and deny alike, before the operation's result returns to the
/// guest. An audit log attaches here.
pub trait DecisionObserver: Send + Sync {
    /// Called once per decision, on the thread of the run that asked.
    fn observe(&self, decision: &Decision);
}

/// Proof that action `A` was authorized. Only [`Authorizer::authorize`] makes one; the
/// functions that act on the system take the proof of the action that allows them.
///
/// A proof is for its own action only:
///
/// ```
/// use wrex::Policy;
/// use wrex::authz::{Authorizer, Granted};
/// use wrex::fs::cedar::{FsResource, action::Write};
///
/// fn write_to(_proof: &Granted<Write>) {}
///
/// let policy = Policy::parse(r#"permit (principal, action, resource);"#).unwrap();
/// let authz = Authorizer::new(policy, "agent", None);
/// let write = authz.authorize(Write, &FsResource::File("/tmp/a".into())).unwrap();
/// write_to(&write);
/// ```
///
/// ```compile_fail,E0308
/// use wrex::Policy;
/// use wrex::authz::{Authorizer, Granted};
/// use wrex::fs::cedar::{FsResource, action::{Read, Write}};
///
/// fn write_to(_proof: &Granted<Write>) {}
///
/// let policy = Policy::parse(r#"permit (principal, action, resource);"#).unwrap();
/// let authz = Authorizer::new(policy, "agent", None);
/// let read = authz.authorize(Read, &FsResource::File("/tmp/a".into())).unwrap();
/// write_to(&read); // a `read` decision does not allow a write
/// ```
///
/// and cannot be made up:
///
/// ```compile_fail,E0423
/// use wrex::authz::Granted;
/// use wrex::fs::cedar::action::Write;
///
/// let forged: Granted<Write> = Granted(std::marker::PhantomData);
/// ```
pub struct Granted<A>(PhantomData<fn() -> A>);

impl<A: Action> fmt::Debug for Granted<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Granted<{}::{}>", A::NAMESPACE, A::ID)
    }
}

/// A denial, with what the guest needs to explain it.
#[derive(Debug, Clone)]
pub struct Denied {
    /// The principal's id (`root` for `User::"root"`).
    pub principal: String,
    /// The full action UID, `namespace::Action::"id"`.
    pub action: String,
    /// The resource's entity type.
    pub resource_type: String,
    /// The resource's entity id.
    pub resource_id: String,
    /// Why: `no permit matched`, `forbidden by policy "<id>"`, … .
    pub reason: Box<str>,
    /// The authorizer's number for this denial (see [`Authorizer::denial`]); `u32::MAX` once
    /// the run's record of denials is full.
    pub id: u32,
}

impl Denied {
    /// Rex's text of a denial, `Permission denied: <principal> unauthorized to perform
    /// <action> for <type>::<id>`, followed by why: ` (no permit matched)`.
    pub fn message(&self) -> String {
        denial_text(
            &self.principal,
            &self.action,
            &self.resource_type,
            &self.resource_id,
            &self.reason,
        )
    }
}

/// The text of a denial ([`Denied::message`]), from its parts.
pub(crate) fn denial_text(
    principal: &str,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    reason: &str,
) -> String {
    format!(
        "Permission denied: {principal} unauthorized to perform {action} for {resource_type}::{resource_id} ({reason})"
    )
}

/// `"a", "b"`: policy ids as a denial or explanation names them.
fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answer to one authorization question ([`Authorizer::explain`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub allowed: bool,
    /// `permitted by policy "a"`, `forbidden by policy "b"`, `no permit matched`, …
    pub reason: String,
    /// The policies that decided (the permits that allowed, or the forbids that denied).
    pub policies: Vec<String>,
    /// Evaluation or request errors.
    pub errors: Vec<String>,
}

/// Most bytes of denials an [`Authorizer`] records for [`Authorizer::denial`].
const MAX_RECORDED_DENIAL_BYTES: usize = 4 << 20;

/// The denials of a run, by id.
#[derive(Default)]
struct DenialRecord {
    denials: Vec<Denied>,
    bytes: usize,
}

/// Authorizes the requests of one run: one principal against one policy.
pub struct Authorizer {
    policy: Policy,
    principal: String,
    principal_uid: EntityUid,
    cedar: cedar_policy::Authorizer,
    observer: Option<Arc<dyn DecisionObserver>>,
    /// The built-in deny, asked before the policy.
    guard: Option<Arc<dyn Guard>>,
    /// Denials answered so far; an uncaught "access denied" from the guest is believed only
    /// if this host actually denied something.
    denials: AtomicU32,
    /// The denials themselves, by id, so that an uncaught denial is reported from this record
    /// and not from what the guest says.
    record: Mutex<DenialRecord>,
    /// Entity stores already built for a resource (the resource and the entities it is in),
    /// so a script touching the same resources again does not rebuild them.
    entities: Mutex<EntityCache>,
    /// The `on_behalf_of` context record every request carries, when the run acts for someone.
    on_behalf_of: Option<Value>,
    /// The run's audit recorder: every decision is written (durably) before it is acted on.
    audit: Option<Arc<crate::audit::AuditRun>>,
    /// Whether denies are applied or only reported.
    enforcement: Enforcement,
    /// The run's data labels, when any can exist.
    labels: Option<Arc<dyn LabelSource>>,
    /// The labels of what the run read and wrote, and the bytes it read of each.
    lineage: Mutex<Lineage>,
    /// Set when a granted `move` or `delete` may have put other data at a path whose labels
    /// are cached: the caches are dropped when the next host call starts.
    labels_stale: std::sync::atomic::AtomicBool,
    /// What the run is for (`context.purpose`).
    purpose: Option<String>,
    /// The Cedar context of each action for requests that carry only the run's own attributes
    /// (`on_behalf_of`, `purpose`, `lineage`), with the lineage version it was built at:
    /// converting and validating the JSON context costs tens of microseconds per request.
    run_contexts: Mutex<HashMap<String, (u64, Context)>>,
    /// Bumped whenever the lineage gains a label (the run's contexts change).
    lineage_version: std::sync::atomic::AtomicU64,
}

/// Entity stores by resource, with a bound on their size.
#[derive(Default)]
struct EntityCache {
    /// A resource's entities, its labels (also on the resource entity, as tags), and the
    /// policy-slicing keys it matches.
    stores: HashMap<EntityUid, Store>,
    /// An upper bound of the bytes the stores hold (ids and attributes).
    bytes: usize,
}

/// What a request about one resource needs, built once per resource per run (or once per
/// policy, for a resource without labels: [`Policy::shared_store`]). Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    entities: Arc<Entities>,
    labels: Arc<Labels>,
    keys: Arc<[slice::KeyId]>,
}

/// Most bytes of entity stores an [`Authorizer`] keeps (about 2,000 stores of the longest
/// paths, or many more of ordinary ones); past it, it starts over. Host memory a run spends
/// on authorization is bounded by this, whatever the script asks.
const MAX_CACHED_ENTITY_BYTES: usize = 8 << 20;

impl fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorizer")
            .field("principal", &self.principal)
            .field("policies", &self.policy.len())
            .finish_non_exhaustive()
    }
}

/// What one evaluation decided.
struct Evaluated {
    allowed: bool,
    policies: Vec<String>,
    errors: Vec<String>,
    /// The resource's labels.
    labels: Arc<Labels>,
}

impl Evaluated {
    /// Whether the built-in deny decided.
    fn guarded(&self) -> bool {
        self.policies.iter().any(|p| p == GUARD_POLICY_ID)
    }

    /// Why a deny was decided, for the denial's message: the `forbid` policies that denied,
    /// "no permit matched", the built-in deny, an exhausted read budget, or the first error.
    fn reason(&self) -> String {
        if self.guarded() {
            return format!("the runtime's own state ({GUARD_POLICY_ID})");
        }
        if self.policies.iter().any(|p| p == BUDGET_POLICY_ID)
            && let Some(why) = self.errors.first()
        {
            return why.clone();
        }
        if let Some(error) = self.errors.first() {
            let cut = error.floor_char_boundary(300);
            let more = if cut < error.len() { "…" } else { "" };
            return format!("a policy could not be evaluated: {}{more}", &error[..cut]);
        }
        if self.policies.is_empty() {
            return "no permit matched".into();
        }
        format!("forbidden by policy {}", quoted(&self.policies))
    }

    fn error(message: String) -> Self {
        Self {
            allowed: false,
            policies: vec![],
            errors: vec![message],
            labels: Arc::default(),
        }
    }
}

impl Authorizer {
    /// An authorizer for `principal` (`User::"<principal>"`) under `policy`.
    pub fn new(
        policy: Policy,
        principal: &str,
        observer: Option<Arc<dyn DecisionObserver>>,
    ) -> Self {
        Self {
            policy,
            principal: principal.to_string(),
            principal_uid: entity_uid("", "User", principal),
            cedar: cedar_policy::Authorizer::new(),
            observer,
            guard: None,
            denials: AtomicU32::new(0),
            record: Mutex::new(DenialRecord::default()),
            entities: Mutex::new(EntityCache::default()),
            on_behalf_of: None,
            audit: None,
            enforcement: Enforcement::Enforce,
            labels: None,
            lineage: Mutex::new(Lineage::default()),
            labels_stale: std::sync::atomic::AtomicBool::new(false),
            purpose: None,
            run_contexts: Mutex::new(HashMap::new()),
            lineage_version: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Report-only mode: denies the mode covers are recorded (as would-have-denied, with the
    /// deciding policies) and the operation proceeds. The built-in deny of the runtime's own
    /// state is always applied.
    pub fn with_enforcement(mut self, enforcement: Enforcement) -> Self {
        self.enforcement = enforcement;
        self
    }

    /// A host call starts: the previous call's decisions get their outcome in the audit log.
    /// A failure to write it is logged; the next decision's write reports the log's state.
    pub fn host_call_starts(&self) {
        if self.labels_stale.swap(false, Ordering::Relaxed) {
            self.forget_labels();
        }
        if let Some(audit) = &self.audit
            && let Err(e) = audit.settle()
        {
            tracing::error!(target: "wrex::audit", "{e}: an operation's outcome is missing");
        }
    }

    /// The host call in progress failed with `message`.
    pub fn host_call_failed(&self, message: &str) {
        if let Some(audit) = &self.audit {
            audit.call_failed(message);
        }
    }

    /// Records every decision in `audit` before it is returned; a decision that cannot be
    /// recorded is a deny.
    pub fn with_audit(mut self, audit: Option<Arc<crate::audit::AuditRun>>) -> Self {
        self.audit = audit;
        self
    }

    /// Every request carries `on_behalf_of: {origin, chain}` (`chain` the parties the run acts
    /// for, the one it acts for first; `origin` that first one). An empty chain adds nothing.
    pub fn with_on_behalf_of(mut self, chain: &[String]) -> Self {
        self.on_behalf_of = chain
            .first()
            .map(|origin| serde_json::json!({ "origin": origin, "chain": chain }));
        self
    }

    /// Adds the built-in deny: every request `guard` refuses is denied before the policy is
    /// asked, and reported as decided by [`GUARD_POLICY_ID`].
    pub fn with_guard(mut self, guard: Arc<dyn Guard>) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The principal's id.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// How many requests were denied so far.
    pub fn denials(&self) -> u32 {
        self.denials.load(Ordering::Relaxed)
    }

    /// The denial numbered `id` in this run, as the authorizer answered it.
    pub fn denial(&self, id: u32) -> Option<Denied> {
        let record = self.record.lock().ok()?;
        record.denials.get(id as usize).cloned()
    }

    /// Records a denial and returns it with its id.
    fn record(&self, mut denied: Denied) -> Denied {
        denied.id = u32::MAX;
        let Ok(mut record) = self.record.lock() else {
            return denied;
        };
        let bytes = denied.resource_id.len()
            + denied.action.len()
            + denied.principal.len()
            + denied.reason.len()
            + 64;
        if record.bytes + bytes <= MAX_RECORDED_DENIAL_BYTES
            && let Ok(id) = u32::try_from(record.denials.len())
            && id != u32::MAX
        {
            denied.id = id;
            record.bytes += bytes;
            record.denials.push(denied.clone());
        }
        denied
    }

    /// Asks the policy whether the principal may perform `A` on `resource`, with an empty
    /// request context.
    ///
    /// Default deny; `forbid` overrides `permit`; any error while building the request or
    /// evaluating a policy makes the answer a deny (and is reported to the observer).
    pub fn authorize<A: Action>(
        &self,
        action: A,
        resource: &A::Resource,
    ) -> Result<Granted<A>, Denied> {
        self.authorize_with(action, resource, RequestContext::new())
    }

    /// [`Self::authorize`] with a request context (validated against the schema's context
    /// type for `A`); a context that does not validate is a deny.
    pub fn authorize_with<A: Action>(
        &self,
        _action: A,
        resource: &A::Resource,
        context: RequestContext,
    ) -> Result<Granted<A>, Denied> {
        let shared = context.is_empty();
        let context = self.full_context(context);
        let decided = self.evaluate(A::NAMESPACE, A::ID, resource, &context, shared);
        let labels = decided.labels.clone();
        self.conclude(A::NAMESPACE, A::ID, resource, context, decided)?;
        self.flows(A::NAMESPACE, A::ID, &labels);
        Ok(Granted(PhantomData))
    }

    /// Applies what `decided` says about `namespace::Action::"id"` on `resource`: logs it,
    /// records it in the audit log (a decision that cannot be recorded is a deny) and shows
    /// it to the observer; a deny (unless report-only mode lets it through) is counted,
    /// recorded and returned.
    fn conclude(
        &self,
        namespace: &str,
        id: &str,
        resource: &dyn Resource,
        context: RequestContext,
        decided: Evaluated,
    ) -> Result<(), Denied> {
        let mut reason = if decided.allowed {
            String::new()
        } else {
            decided.reason()
        };
        let action = format!("{namespace}::Action::{id:?}");
        let guarded = decided.guarded();
        if guarded {
            let why = decided.errors.join("; ");
            tracing::warn!(target: "wrex::authz", action = %action, resource = %resource, "built-in deny: {why}");
        }
        // Report-only: a deny the mode covers is recorded, and the operation proceeds.
        let reported = !decided.allowed && !guarded && self.enforcement.reports(namespace, id);
        if reported {
            tracing::warn!(target: "wrex::authz", action = %action, resource = %resource, "report-only: would have denied ({reason})");
        }
        let mut proceeds = decided.allowed || reported;
        if self.observer.is_some() || self.audit.is_some() {
            let mut decision = Decision {
                principal: format!("User::{:?}", self.principal),
                action: action.clone(),
                resource: resource.to_string(),
                allowed: decided.allowed,
                policies: decided.policies,
                errors: decided.errors,
                context: Value::Object(context),
                enforced: !reported,
            };
            if let Some(audit) = &self.audit
                && let Err(e) = audit.record(&decision)
            {
                // Fail closed: nothing happens that the log does not hold.
                tracing::error!(target: "wrex::audit", action = %action, resource = %resource, "{e}; the operation is refused");
                if decision.allowed || !decision.enforced {
                    reason = "the decision could not be recorded in the audit log".into();
                }
                decision.allowed = false;
                decision.enforced = true;
                proceeds = false;
                decision
                    .errors
                    .push(format!("not recorded in the audit log: {e}"));
            }
            if let Some(observer) = &self.observer {
                observer.observe(&decision);
            }
        }
        tracing::debug!(
            target: "wrex::authz",
            action = %action,
            resource = %resource,
            allowed = decided.allowed,
            proceeds,
            "authorization decision"
        );
        if proceeds {
            Ok(())
        } else {
            self.denials.fetch_add(1, Ordering::Relaxed);
            Err(self.record(Denied {
                principal: self.principal.clone(),
                action,
                resource_type: resource.type_name().to_string(),
                resource_id: resource.id().to_string(),
                reason: reason.into(),
                id: u32::MAX,
            }))
        }
    }

    /// What the policy decides for `namespace::Action::"id"` on `resource` with `context`
    /// (plus the run's `on_behalf_of`), without telling the observer or counting a denial:
    /// `wrex explain`'s answer.
    pub fn explain(
        &self,
        namespace: &str,
        id: &str,
        resource: &dyn Resource,
        context: RequestContext,
    ) -> Explanation {
        let shared = context.is_empty();
        let context = self.full_context(context);
        let decided = self.evaluate(namespace, id, resource, &context, shared);
        Explanation {
            allowed: decided.allowed,
            reason: if decided.allowed {
                format!("permitted by policy {}", quoted(&decided.policies))
            } else {
                decided.reason()
            },
            policies: decided.policies,
            errors: decided.errors,
        }
    }

    /// Whether the policy would permit `A` on `resource`, without telling the observer or
    /// counting a denial. Only for choosing which of two checks to make; the check that
    /// decides is always made with [`Self::authorize`].
    pub fn permits<A: Action>(&self, _action: A, resource: &A::Resource) -> bool {
        let context = self.full_context(RequestContext::new());
        self.evaluate(A::NAMESPACE, A::ID, resource, &context, true)
            .allowed
    }

    /// `context` with the run's `on_behalf_of`, `purpose` and (once it read or wrote
    /// labelled data) `lineage` added.
    fn full_context(&self, mut context: RequestContext) -> RequestContext {
        if let Some(on_behalf_of) = &self.on_behalf_of {
            context.insert("on_behalf_of".into(), on_behalf_of.clone());
        }
        if let Some(purpose) = &self.purpose {
            context.insert("purpose".into(), Value::String(purpose.clone()));
        }
        if self.labels.is_some()
            && let Ok(lineage) = self.lineage.lock()
            && !lineage.is_empty()
        {
            context.insert("lineage".into(), lineage.context());
        }
        context
    }

    /// Decides one request. `shared`: `context` holds only the run's own attributes, so its
    /// Cedar form can be reused by every such request for the action.
    fn evaluate(
        &self,
        namespace: &str,
        id: &str,
        resource: &dyn Resource,
        context: &RequestContext,
        shared: bool,
    ) -> Evaluated {
        if let Some(why) = self
            .guard
            .as_ref()
            .and_then(|g| g.refuses(resource.type_name(), resource.id()))
        {
            return Evaluated {
                allowed: false,
                policies: vec![GUARD_POLICY_ID.to_string()],
                errors: vec![why],
                labels: Arc::default(),
            };
        }
        let Some((action_uid, policies)) = self.policy.for_action(namespace, id) else {
            return Evaluated::error(format!(
                "the schema has no action `{namespace}::Action::\"{id}\"`"
            ));
        };
        let context = if context.is_empty() {
            Context::empty()
        } else {
            let version = self.lineage_version.load(Ordering::Relaxed);
            let key = shared.then(|| format!("{namespace}::{id}"));
            let cached = key.as_ref().and_then(|k| {
                let contexts = self.run_contexts.lock().ok()?;
                let (at, context) = contexts.get(k)?;
                (*at == version).then(|| context.clone())
            });
            match cached {
                Some(c) => c,
                None => match Context::from_json_value(
                    Value::Object(context.clone()),
                    Some((schema(), action_uid)),
                ) {
                    Ok(c) => {
                        if let Some(k) = key
                            && let Ok(mut contexts) = self.run_contexts.lock()
                        {
                            contexts.insert(k, (version, c.clone()));
                        }
                        c
                    }
                    Err(e) => return Evaluated::error(format!("invalid context: {e}")),
                },
            }
        };
        let request = match Request::new(
            self.principal_uid.clone(),
            action_uid.clone(),
            resource.uid(),
            context,
            Some(schema()),
        ) {
            Ok(r) => r,
            Err(e) => return Evaluated::error(format!("invalid request: {e}")),
        };
        // Only the policies whose action scope can match, and of those only the ones that can
        // apply to the resource: the same decision as over the whole set (see `slice.rs`).
        let answer = self.with_store(resource, |store| {
            let slice = policies.slice(&store.keys);
            (
                slice.decide(&self.cedar, &request, &store.entities),
                store.labels.clone(),
            )
        });
        let (answer, labels) = match answer {
            Ok(answer) => answer,
            Err(e) => return Evaluated::error(e),
        };
        let policies = answer
            .reasons
            .iter()
            .map(|id| self.policy.display_id(id))
            .collect();
        let errors = answer.errors;
        let allowed = answer.decision == CedarDecision::Allow && errors.is_empty();
        Evaluated {
            allowed,
            policies,
            errors,
            labels,
        }
    }

    /// Calls `f` with the entity store, labels and slicing keys of `resource`, built (and
    /// cached) on first use: the resource with its labels as tags, and the entities it is `in`
    /// that a policy names. A resource without labels gets the store every run shares
    /// ([`Policy::shared_store`]): it depends on nothing but the resource and the policy.
    fn with_store<T>(
        &self,
        resource: &dyn Resource,
        f: impl FnOnce(&Store) -> T,
    ) -> Result<T, String> {
        if !resource.cacheable() {
            let labels = self.labels_of(resource)?;
            let (store, _) = build_store(&self.policy, resource, labels)?;
            return Ok(f(&store));
        }
        let mut cache = self
            .entities
            .lock()
            .map_err(|_| "entity cache poisoned".to_string())?;
        let resource_uid = resource.uid();
        if !cache.stores.contains_key(&resource_uid) {
            let labels = self.labels_of(resource)?;
            let (store, bytes) = if labels.is_empty() {
                // The run holds only a reference to the shared store.
                (
                    self.policy.shared_store(resource)?,
                    resource.id().len() + 64,
                )
            } else {
                build_store(&self.policy, resource, labels)?
            };
            if cache.bytes + bytes > MAX_CACHED_ENTITY_BYTES {
                cache.stores.clear();
                cache.bytes = 0;
            }
            cache.bytes += bytes;
            cache.stores.insert(resource_uid.clone(), store);
        }
        let store = cache
            .stores
            .get(&resource_uid)
            .ok_or_else(|| "entity cache miss".to_string())?;
        Ok(f(store))
    }
}

impl Authorizer {
    /// The data labels of `resource` (none without a label source).
    fn labels_of(&self, resource: &dyn Resource) -> Result<Labels, String> {
        match &self.labels {
            Some(source) => source
                .labels(resource.type_name(), resource.id())
                .map_err(|e| format!("the labels of {resource} could not be read: {e}")),
            None => Ok(Labels::new()),
        }
    }
}

/// The entity store of `resource` (its labels as tags on the resource entity), with an upper
/// bound of the bytes it holds (ids and attributes).
fn build_store(
    policy: &Policy,
    resource: &dyn Resource,
    labels: Labels,
) -> Result<(Store, usize), String> {
    let mut built = resource.entities(policy.referenced());
    // Each entity holds an id and a `path` no longer than the resource's own.
    let mut bytes = built.len() * (2 * resource.id().len() + 64);
    if !labels.is_empty()
        && let Some(first) = built.first_mut()
    {
        bytes += labels
            .iter()
            .map(|(k, v)| k.len() + v.len() + 32)
            .sum::<usize>();
        let (uid, attrs, parents) = first.clone().into_inner();
        let tags = labels.iter().map(|(k, v)| {
            (
                k.clone(),
                cedar_policy::RestrictedExpression::new_string(v.clone()),
            )
        });
        *first = Entity::new_with_tags(uid, attrs, parents, tags)
            .map_err(|e| format!("invalid labels on {resource}: {e}"))?;
    }
    let keys = policy.slicer().keys_of(&built, resource.path_attr());
    let entities = Entities::from_entities(built, Some(schema()))
        .map_err(|e| format!("invalid entities: {e}"))?;
    let store = Store {
        entities: Arc::new(entities),
        labels: Arc::new(labels),
        keys: keys.into(),
    };
    Ok((store, bytes))
}

/// An entity with string attributes and parents, for [`Resource::entities`].
pub fn entity(
    uid: EntityUid,
    attrs: impl IntoIterator<Item = (&'static str, String)>,
    parents: impl IntoIterator<Item = EntityUid>,
) -> Option<Entity> {
    let attrs = attrs
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                cedar_policy::RestrictedExpression::new_string(v),
            )
        })
        .collect();
    let parents: HashSet<EntityUid> = parents.into_iter().collect();
    Entity::new(uid, attrs, parents).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::cedar::FsResource;
    use crate::fs::cedar::action::{Read, Write};

    #[derive(Default)]
    struct Seen(Mutex<Vec<Decision>>);

    impl DecisionObserver for Seen {
        fn observe(&self, decision: &Decision) {
            if let Ok(mut seen) = self.0.lock() {
                seen.push(decision.clone());
            }
        }
    }

    fn authorizer(text: &str) -> (Authorizer, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let policy = Policy::parse(text).unwrap();
        (Authorizer::new(policy, "u", Some(seen.clone())), seen)
    }

    const READ_TMP: &str = r#"permit (principal, action == file_system::Action::"read", resource in file_system::Dir::"/tmp");"#;

    #[test]
    fn the_authorizer_counts_its_denials_and_permits_counts_nothing() {
        let (authz, seen) = authorizer(READ_TMP);
        let file = FsResource::File("/tmp/a".into());
        assert!(authz.authorize(Read, &file).is_ok());
        assert!(authz.authorize(Write, &file).is_err());
        assert!(
            authz
                .authorize(Read, &FsResource::File("/etc/a".into()))
                .is_err()
        );
        assert_eq!(authz.denials(), 2);
        // `permits` only chooses between checks: no decision recorded, no denial counted.
        assert!(!authz.permits(Write, &file));
        assert_eq!(authz.denials(), 2);
        assert_eq!(seen.0.lock().unwrap().len(), 3);
    }

    /// A capability that names an action the schema does not declare is denied, with the
    /// reason shown to the observer, never allowed.
    #[test]
    fn an_action_the_schema_does_not_declare_is_denied() {
        #[derive(Debug)]
        struct Undeclared;
        impl Action for Undeclared {
            const NAMESPACE: &'static str = "file_system";
            const ID: &'static str = "format_disk";
            type Resource = FsResource;
        }
        let (authz, seen) = authorizer("permit (principal, action, resource);");
        let denied = authz
            .authorize(Undeclared, &FsResource::Dir("/".into()))
            .unwrap_err();
        assert_eq!(denied.action, "file_system::Action::\"format_disk\"");
        assert_eq!(authz.denials(), 1);
        let seen = seen.0.lock().unwrap();
        assert!(!seen[0].allowed);
        assert!(seen[0].errors[0].contains("no action"), "{:?}", seen[0]);
    }

    /// The entity store built for a resource is reused: a second decision about it gives the
    /// same answer (and a different resource is not confused with it).
    #[test]
    fn decisions_about_the_same_resource_agree() {
        let (authz, _) = authorizer(READ_TMP);
        let inside = FsResource::File("/tmp/x".into());
        let outside = FsResource::File("/var/x".into());
        for _ in 0..2 {
            assert!(authz.authorize(Read, &inside).is_ok());
            assert!(authz.authorize(Read, &outside).is_err());
        }
    }
}
