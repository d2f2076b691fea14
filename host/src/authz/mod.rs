//! The one authorization choke point, for every capability's Cedar namespace.
//!
//! Policies are parsed and strictly validated against the built-in schema once, at load
//! ([`Policy`]). Each capability names its Cedar actions as types implementing [`Action`] and
//! its resources as values implementing [`Resource`]; a host operation asks
//! [`Authorizer::authorize`], which returns a [`Granted`] proof *of that action*. The functions
//! that touch the system take the proof of the action that allows them, so a missed or wrong
//! check does not compile. The authorizer also counts denials and shows every decision to the
//! run's [`DecisionObserver`].

mod policy;
mod schema;

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

pub use policy::{MAX_CACHED_POLICIES, MAX_POLICY_BYTES, Policy, PolicyCache, PolicyError};
pub use schema::{SCHEMA_TEXT, schema};

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
    /// The entities a request about this resource needs: the resource itself and every entity
    /// it is `in` (for files, the `Dir`s above it), with their attributes.
    fn entities(&self) -> Vec<Entity>;
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
    /// Evaluation or request errors (any error makes the decision a deny).
    pub errors: Vec<String>,
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
}

/// Authorizes the requests of one run: one principal against one policy.
pub struct Authorizer {
    policy: Policy,
    principal: String,
    principal_uid: EntityUid,
    cedar: cedar_policy::Authorizer,
    observer: Option<Arc<dyn DecisionObserver>>,
    /// Denials answered so far; an uncaught "access denied" from the guest is believed only
    /// if this host actually denied something.
    denials: AtomicU32,
    /// Entity stores already built for a resource (the resource and the entities it is in),
    /// so a script touching the same resources again does not rebuild them.
    entities: Mutex<HashMap<EntityUid, Entities>>,
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

/// What one evaluation decided.
struct Evaluated {
    allowed: bool,
    policies: Vec<String>,
    errors: Vec<String>,
}

impl Evaluated {
    fn error(message: String) -> Self {
        Self {
            allowed: false,
            policies: vec![],
            errors: vec![message],
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
            denials: AtomicU32::new(0),
            entities: Mutex::new(HashMap::new()),
        }
    }

    /// The principal's id.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// How many requests were denied so far.
    pub fn denials(&self) -> u32 {
        self.denials.load(Ordering::Relaxed)
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
        self.authorize_with(action, resource, Ok(Context::empty()))
    }

    /// [`Self::authorize`] with a request context (validated against the schema's context
    /// type for `A`); a context that could not be built is a deny.
    pub fn authorize_with<A: Action>(
        &self,
        _action: A,
        resource: &A::Resource,
        context: Result<Context, String>,
    ) -> Result<Granted<A>, Denied> {
        let decided = self.evaluate(A::NAMESPACE, A::ID, resource, context);
        let action = format!("{}::Action::{:?}", A::NAMESPACE, A::ID);
        if let Some(observer) = &self.observer {
            observer.observe(&Decision {
                principal: format!("User::{:?}", self.principal),
                action: action.clone(),
                resource: resource.to_string(),
                allowed: decided.allowed,
                policies: decided.policies,
                errors: decided.errors,
            });
        }
        tracing::debug!(
            target: "wrex::authz",
            action = %action,
            resource = %resource,
            allowed = decided.allowed,
            "authorization decision"
        );
        if decided.allowed {
            Ok(Granted(PhantomData))
        } else {
            self.denials.fetch_add(1, Ordering::Relaxed);
            Err(Denied {
                principal: self.principal.clone(),
                action,
                resource_type: resource.type_name().to_string(),
                resource_id: resource.id().to_string(),
            })
        }
    }

    /// Whether the policy would permit `A` on `resource`, without telling the observer or
    /// counting a denial. Only for choosing which of two checks to make; the check that
    /// decides is always made with [`Self::authorize`].
    pub fn permits<A: Action>(&self, _action: A, resource: &A::Resource) -> bool {
        self.evaluate(A::NAMESPACE, A::ID, resource, Ok(Context::empty()))
            .allowed
    }

    fn evaluate(
        &self,
        namespace: &str,
        id: &str,
        resource: &dyn Resource,
        context: Result<Context, String>,
    ) -> Evaluated {
        let Some(action) = self.policy.for_action(namespace, id) else {
            return Evaluated::error(format!(
                "the schema has no action `{namespace}::Action::\"{id}\"`"
            ));
        };
        let context = match context {
            Ok(c) => c,
            Err(e) => return Evaluated::error(format!("invalid context: {e}")),
        };
        let resource_uid = resource.uid();
        let request = match Request::new(
            self.principal_uid.clone(),
            action.uid.clone(),
            resource_uid.clone(),
            context,
            Some(schema()),
        ) {
            Ok(r) => r,
            Err(e) => return Evaluated::error(format!("invalid request: {e}")),
        };
        let Ok(mut cache) = self.entities.lock() else {
            return Evaluated::error("entity cache poisoned".into());
        };
        if !cache.contains_key(&resource_uid) {
            let entities = match Entities::from_entities(resource.entities(), Some(schema())) {
                Ok(e) => e,
                Err(e) => return Evaluated::error(format!("invalid entities: {e}")),
            };
            if cache.len() >= MAX_CACHED_ENTITIES {
                cache.clear();
            }
            cache.insert(resource_uid.clone(), entities);
        }
        let Some(entities) = cache.get(&resource_uid) else {
            return Evaluated::error("entity cache miss".into());
        };
        // Only the policies whose action scope can match: the same decision, without
        // evaluating policies about other actions.
        let response = self
            .cedar
            .is_authorized(&request, &action.policies, entities);
        let diagnostics = response.diagnostics();
        let policies = diagnostics
            .reason()
            .map(|id| self.policy.display_id(id))
            .collect();
        let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        let allowed = response.decision() == CedarDecision::Allow && errors.is_empty();
        Evaluated {
            allowed,
            policies,
            errors,
        }
    }
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
