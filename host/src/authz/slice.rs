//! Policy slicing: a request is evaluated only against the policies that can apply to its
//! resource, so a decision costs the same under 1 policy or under 1,000 policies about other
//! tenants' directories.
//!
//! At load, each policy's *resource need* is read from what Cedar evaluates first:
//!
//! - its scope: `resource in E`, `resource == E`, `resource is T in E`;
//! - else the first conjunct of its conditions (`when { A && … }`, or the policy's only
//!   `when`), when that conjunct is one of `resource in E`, `resource in [E1, E2]`,
//!   `resource == E`, `resource.path like "/prefix*"`, `resource.path == "/p"`, or a `||` of
//!   these — the forms policies for a file tree are written in.
//!
//! A policy whose need cannot be read so (its scope is `resource` or `resource is T` and its
//! first conjunct is anything else) is *residual*: evaluated for every request of its action.
//!
//! **Why a skipped policy changes nothing.** Cedar evaluates a policy as `scope && c1 && c2 …`,
//! left to right, stopping at the first `false`. The scope cannot fail, and neither can any of
//! the forms above on a `file_system` resource (whose entity always has `path`). So a policy
//! whose need is false for a request is not satisfied *and raises no error*: leaving it out
//! gives the same decision, the same deciding policies and the same errors. A resource that
//! has no `path` attribute (not a file-system resource) matches every `path` need, so Cedar
//! evaluates those policies and reports their errors as before. `tests` checks this against
//! Cedar's own full evaluation on thousands of random policy sets and requests.
//!
//! A request's keys are computed once per resource per run (with its entity store); each
//! action keeps the sliced sets it has built, by key set, so a run touching a few directories
//! builds a few sets.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use cedar_policy::pst::{BinaryOp, Clause, Expr, Literal, PatternElem, Var};
use cedar_policy::{
    Authorizer, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, Policy, PolicyId,
    PolicySet, Request, ResourceConstraint,
};

/// A condition on the resource that a policy needs to apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// `resource in E` (also when the resource is `E`).
    In(EntityUid),
    /// `resource == E`.
    Eq(EntityUid),
    /// `resource.path` starts with this.
    PathPrefix(String),
}

/// Interned keys: a policy needs one of its keys; a request matches a set of keys.
pub(crate) type KeyId = u32;

/// The keys of every policy of a set, interned, and what each policy needs.
#[derive(Debug, Default)]
pub(crate) struct Slicer {
    /// The `In` and `Eq` keys.
    entity_keys: HashMap<Key, KeyId>,
    /// The `PathPrefix` keys, by prefix (looked up by `&str`).
    prefixes: HashMap<String, KeyId>,
    /// Distinct byte lengths of the prefixes, ascending.
    prefix_lengths: Vec<usize>,
    /// The keys each policy needs one of; residual policies are not here.
    needs: HashMap<PolicyId, Vec<KeyId>>,
}

impl Slicer {
    /// Reads the need of every policy of `set`.
    pub(crate) fn of(set: &PolicySet) -> Self {
        let mut slicer = Self::default();
        for policy in set.policies() {
            let Some(keys) = need(policy) else { continue };
            let ids = keys.into_iter().map(|key| slicer.intern(key)).collect();
            slicer.needs.insert(policy.id().clone(), ids);
        }
        let lengths: HashSet<usize> = slicer.prefixes.keys().map(String::len).collect();
        slicer.prefix_lengths = lengths.into_iter().collect();
        slicer.prefix_lengths.sort_unstable();
        slicer
    }

    /// The id of `key`, given on first sight.
    fn intern(&mut self, key: Key) -> KeyId {
        let next = (self.entity_keys.len() + self.prefixes.len()) as KeyId;
        match key {
            Key::PathPrefix(prefix) => *self.prefixes.entry(prefix).or_insert(next),
            key => *self.entity_keys.entry(key).or_insert(next),
        }
    }

    /// The keys a resource matches: `entities` are the resource (first) and the entities it
    /// is `in`, `path` its `path` attribute (`None` if it has none). Sorted, no duplicates.
    pub(crate) fn keys_of(&self, entities: &[Entity], path: Option<&str>) -> Box<[KeyId]> {
        if self.needs.is_empty() {
            return Box::default();
        }
        let mut keys = Vec::new();
        for (i, entity) in entities.iter().enumerate() {
            let uid = entity.uid();
            if i == 0
                && let Some(id) = self.entity_keys.get(&Key::Eq(uid.clone()))
            {
                keys.push(*id);
            }
            if let Some(id) = self.entity_keys.get(&Key::In(uid)) {
                keys.push(*id);
            }
        }
        match path {
            Some(path) => {
                for &len in &self.prefix_lengths {
                    if len > path.len() {
                        break;
                    }
                    if let Some(prefix) = path.get(..len)
                        && let Some(id) = self.prefixes.get(prefix)
                    {
                        keys.push(*id);
                    }
                }
            }
            // Without a `path`, every prefix condition is evaluated by Cedar (and fails there
            // as it would over the whole set).
            None => keys.extend(self.prefixes.values()),
        }
        keys.sort_unstable();
        keys.dedup();
        keys.into_boxed_slice()
    }
}

/// The resource need of a policy, or `None` if it is residual.
fn need(policy: &Policy) -> Option<Vec<Key>> {
    match policy.resource_constraint() {
        ResourceConstraint::In(e) | ResourceConstraint::IsIn(_, e) => {
            return Some(vec![Key::In(e)]);
        }
        ResourceConstraint::Eq(e) => return Some(vec![Key::Eq(e)]),
        ResourceConstraint::Any | ResourceConstraint::Is(_) => {}
    }
    if !policy.has_non_scope_constraint() {
        return None;
    }
    let pst = policy.to_pst().ok()?;
    match pst.body().clauses().first()? {
        Clause::When(body) => need_of(first_conjunct(body)),
        Clause::Unless(_) => None,
    }
}

/// The leftmost operand of a chain of `&&`s: what is evaluated first.
fn first_conjunct(mut expr: &Expr) -> &Expr {
    while let Expr::BinaryOp {
        op: BinaryOp::And,
        left,
        ..
    } = expr
    {
        expr = left;
    }
    expr
}

/// The keys of a condition that is true only if the resource matches one of them, and that
/// cannot fail on a file-system resource; `None` for any other condition.
fn need_of(expr: &Expr) -> Option<Vec<Key>> {
    match expr {
        Expr::BinaryOp {
            op: BinaryOp::In,
            left,
            right,
        } if is_resource(left) => match right.as_ref() {
            Expr::Set(items) => items
                .iter()
                .map(|item| entity_literal(item).map(Key::In))
                .collect(),
            other => Some(vec![Key::In(entity_literal(other)?)]),
        },
        Expr::BinaryOp {
            op: BinaryOp::Eq,
            left,
            right,
        } => {
            let (a, b) = (left.as_ref(), right.as_ref());
            if is_resource(a) || is_resource(b) {
                let other = if is_resource(a) { b } else { a };
                Some(vec![Key::Eq(entity_literal(other)?)])
            } else if is_resource_path(a) || is_resource_path(b) {
                let other = if is_resource_path(a) { b } else { a };
                match other {
                    Expr::Literal(Literal::String(s)) => Some(vec![Key::PathPrefix(s.to_string())]),
                    _ => None,
                }
            } else {
                None
            }
        }
        Expr::Like { expr, pattern } if is_resource_path(expr) => {
            let prefix: String = pattern
                .iter()
                .map_while(|p| match p {
                    PatternElem::Char(c) => Some(*c),
                    PatternElem::Wildcard => None,
                })
                .collect();
            // `like "*…"` says nothing about where the path starts.
            (!prefix.is_empty()).then(|| vec![Key::PathPrefix(prefix)])
        }
        Expr::BinaryOp {
            op: BinaryOp::Or,
            left,
            right,
        } => {
            let mut keys = need_of(left)?;
            keys.extend(need_of(right)?);
            Some(keys)
        }
        _ => None,
    }
}

fn is_resource(expr: &Expr) -> bool {
    matches!(expr, Expr::Var(Var::Resource))
}

fn is_resource_path(expr: &Expr) -> bool {
    matches!(expr, Expr::GetAttr { expr, attr } if is_resource(expr) && attr == "path")
}

fn entity_literal(expr: &Expr) -> Option<EntityUid> {
    let Expr::Literal(Literal::EntityUID(uid)) = expr else {
        return None;
    };
    let type_name = EntityTypeName::from_str(&uid.ty.to_string()).ok()?;
    Some(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(uid.eid.as_str()),
    ))
}

/// The policies of one action, sliced.
#[derive(Debug)]
pub(crate) struct ActionSlices {
    /// Policies evaluated for every request of the action.
    residual: PolicySet,
    /// Policies by one key they need (a policy needing any of several keys is under each).
    by_key: HashMap<KeyId, Vec<Policy>>,
    /// Sets built for key sets.
    built: Mutex<Built>,
}

/// The sets an action built, by key set, and the number of policies they hold in all.
#[derive(Debug, Default)]
struct Built {
    sets: HashMap<Box<[KeyId]>, Arc<PolicySet>>,
    policies: usize,
}

/// Most policies (counted once per set holding them) an action's built sets hold together;
/// past it they are built anew. Bounds the memory a run of many distinct directories under a
/// large policy set can make the host spend.
const MAX_BUILT_POLICIES: usize = 1 << 16;

/// What a request is evaluated against: the residual policies, and the sliced set of its keys.
#[derive(Debug)]
pub(crate) struct Slice<'a> {
    residual: &'a PolicySet,
    matched: Option<Arc<PolicySet>>,
}

impl ActionSlices {
    /// Slices `policies` (those whose action scope can match the action).
    pub(crate) fn new<'a>(policies: impl Iterator<Item = &'a Policy>, slicer: &Slicer) -> Self {
        let mut residual = PolicySet::new();
        let mut by_key: HashMap<KeyId, Vec<Policy>> = HashMap::new();
        for policy in policies {
            match slicer.needs.get(policy.id()) {
                Some(keys) => {
                    for key in keys {
                        by_key.entry(*key).or_default().push(policy.clone());
                    }
                }
                // INVARIANT: ids are unique in the source set, so in the subset.
                None => drop(residual.add(policy.clone())),
            }
        }
        Self {
            residual,
            by_key,
            built: Mutex::default(),
        }
    }

    /// The policies a request whose resource matches `keys` is evaluated against.
    pub(crate) fn slice(&self, keys: &[KeyId]) -> Slice<'_> {
        let wanted: Vec<KeyId> = keys
            .iter()
            .copied()
            .filter(|k| self.by_key.contains_key(k))
            .collect();
        if wanted.is_empty() {
            return Slice {
                residual: &self.residual,
                matched: None,
            };
        }
        if let Ok(built) = self.built.lock()
            && let Some(set) = built.sets.get(wanted.as_slice())
        {
            return Slice {
                residual: &self.residual,
                matched: Some(set.clone()),
            };
        }
        let mut set = PolicySet::new();
        for key in &wanted {
            for policy in &self.by_key[key] {
                // A policy under two matched keys is added once; the second add reports the
                // duplicate id.
                drop(set.add(policy.clone()));
            }
        }
        let set = Arc::new(set);
        if let Ok(mut built) = self.built.lock() {
            let size = set.policies().count();
            if built.policies + size > MAX_BUILT_POLICIES {
                *built = Built::default();
            }
            built.policies += size;
            built.sets.insert(wanted.into_boxed_slice(), set.clone());
        }
        Slice {
            residual: &self.residual,
            matched: Some(set),
        }
    }
}

/// A decision: Cedar's, over the residual and the matched policies together.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) decision: Decision,
    /// The deciding policies: the satisfied `forbid`s on a deny, the satisfied `permit`s on an
    /// allow.
    pub(crate) reasons: Vec<PolicyId>,
    pub(crate) errors: Vec<String>,
}

impl Slice<'_> {
    /// Decides `request`, exactly as Cedar would over the union of the two sets: a satisfied
    /// `forbid` in either denies (and the satisfied `forbid`s are the reasons), else a
    /// satisfied `permit` in either allows, else deny; errors from both.
    pub(crate) fn decide(
        &self,
        cedar: &Authorizer,
        request: &Request,
        entities: &Entities,
    ) -> Answer {
        let parts = [Some(self.residual), self.matched.as_deref()];
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        let mut errors = Vec::new();
        for set in parts.into_iter().flatten() {
            if set.is_empty() {
                continue;
            }
            let response = cedar.is_authorized(request, set, entities);
            let reasons = response.diagnostics().reason().cloned();
            match response.decision() {
                Decision::Allow => permits.extend(reasons),
                Decision::Deny => forbids.extend(reasons),
            }
            errors.extend(response.diagnostics().errors().map(ToString::to_string));
        }
        let (decision, reasons) = if !forbids.is_empty() {
            (Decision::Deny, forbids)
        } else if !permits.is_empty() {
            (Decision::Allow, permits)
        } else {
            (Decision::Deny, Vec::new())
        };
        Answer {
            decision,
            reasons,
            errors,
        }
    }

    /// Number of policies evaluated (for tests and benchmarks).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.residual.policies().count() + self.matched.as_ref().map_or(0, |m| m.policies().count())
    }
}

#[cfg(test)]
mod tests {
    use cedar_policy::{Context, RestrictedExpression};
    use proptest::prelude::*;

    use super::*;
    use crate::authz::{Policy as WrexPolicy, Resource, entity_uid, schema};
    use crate::fs::cedar::FsResource;

    /// Paths of the random requests and the policies' entity literals and patterns: nested,
    /// sharing prefixes (`/a` and `/ab`), and one with a non-ASCII component.
    const PATHS: &[&str] = &[
        "/",
        "/a",
        "/a/b",
        "/a/b/c",
        "/ab",
        "/t1",
        "/t2",
        "/t2/x",
        "/é",
        "/a/f",
        "/a/b/f",
        "/a/b/c/f.txt",
        "/ab/f",
        "/t1/f",
        "/t2/x/f",
        "/é/f",
        "/f",
    ];

    fn path() -> impl Strategy<Value = &'static str> {
        proptest::sample::select(PATHS)
    }

    fn entity() -> impl Strategy<Value = String> {
        (prop_oneof!["Dir", "File"], path())
            .prop_map(|(kind, p)| format!("file_system::{kind}::{p:?}"))
    }

    /// A `like` pattern: a path, cut short or not, with wildcards before or after.
    fn pattern() -> impl Strategy<Value = String> {
        (path(), 0usize..6, any::<bool>(), any::<bool>()).prop_map(|(p, cut, lead, trail)| {
            let mut end = p.len().saturating_sub(cut);
            while !p.is_char_boundary(end) {
                end -= 1;
            }
            format!(
                "{}{}{}",
                if lead { "*" } else { "" },
                &p[..end],
                if trail { "*" } else { "" }
            )
        })
    }

    /// A condition: the forms the slicer reads, forms it does not, and forms that fail
    /// (integer overflow, a tag the resource may not have), combined with `&&`, `||`, `!` and
    /// `if`.
    fn condition() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            entity().prop_map(|e| format!("resource in {e}")),
            entity().prop_map(|e| format!("resource == {e}")),
            entity().prop_map(|e| format!("{e} == resource")),
            (entity(), entity()).prop_map(|(a, b)| format!("resource in [{a}, {b}]")),
            pattern().prop_map(|p| format!("resource.path like {p:?}")),
            path().prop_map(|p| format!("resource.path == {p:?}")),
            Just("true".to_string()),
            Just("false".to_string()),
            Just("9223372036854775807 + 1 > 0".to_string()),
            Just("(resource.hasTag(\"c\") && resource.getTag(\"c\") == \"x\")".to_string()),
            Just("context has purpose".to_string()),
            Just("resource is file_system::File".to_string()),
        ];
        atom.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
                inner.clone().prop_map(|a| format!("!({a})")),
                (inner.clone(), inner.clone(), inner)
                    .prop_map(|(a, b, c)| format!("(if {a} then {b} else {c})")),
            ]
        })
    }

    fn policy() -> impl Strategy<Value = String> {
        let effect = prop_oneof!["permit", "forbid"];
        let principal = prop_oneof![
            Just("principal".to_string()),
            Just("principal == User::\"u\"".to_string()),
        ];
        // `action` alone also covers other namespaces' resources, which have no `path`: the
        // validator then refuses `resource.path`, so it is rarer here.
        let action = prop_oneof![
            1 => Just("action".to_string()),
            2 => Just("action == file_system::Action::\"read\"".to_string()),
            2 => Just(
                "action in [file_system::Action::\"open\", file_system::Action::\"write\"]"
                    .to_string()
            ),
            3 => Just("action in file_system::Action::\"SafeIO\"".to_string()),
        ];
        let resource = prop_oneof![
            Just("resource".to_string()),
            entity().prop_map(|e| format!("resource in {e}")),
            entity().prop_map(|e| format!("resource == {e}")),
            Just("resource is file_system::File".to_string()),
            entity().prop_map(|e| format!("resource is file_system::Dir in {e}")),
        ];
        let clause = (any::<bool>(), condition())
            .prop_map(|(when, c)| format!("{} {{ {c} }}", if when { "when" } else { "unless" }));
        (
            effect,
            principal,
            action,
            resource,
            proptest::collection::vec(clause, 0..3),
        )
            .prop_map(|(effect, p, a, r, clauses)| {
                format!("{effect} ({p}, {a}, {r}) {};", clauses.join(" "))
            })
    }

    /// Every request of the universe: each action, principal, and resource (as a `File` and as
    /// a `Dir`), the resource carrying the tag `c` when `tagged` says so.
    fn check_all(policy: &WrexPolicy, tagged: u32) -> Result<usize, TestCaseError> {
        let cedar = Authorizer::new();
        let mut sliced_away = 0;
        for (i, path) in PATHS.iter().enumerate() {
            for resource in [
                FsResource::File(path.to_string()),
                FsResource::Dir(path.to_string()),
            ] {
                let mut built = resource.entities(policy.referenced());
                if tagged & (1 << i) != 0 {
                    let (uid, attrs, parents) = built[0].clone().into_inner();
                    let tags = [(
                        "c".to_string(),
                        RestrictedExpression::new_string("x".into()),
                    )];
                    built[0] = Entity::new_with_tags(uid, attrs, parents, tags).unwrap();
                }
                let keys = policy.slicer().keys_of(&built, resource.path_attr());
                let entities = Entities::from_entities(built, Some(schema())).unwrap();
                for action in ["read", "open", "write", "delete"] {
                    let (action_uid, slices) = policy.for_action("file_system", action).unwrap();
                    for principal in ["u", "v"] {
                        let Ok(request) = Request::new(
                            entity_uid("", "User", principal),
                            action_uid.clone(),
                            resource.uid(),
                            Context::empty(),
                            Some(schema()),
                        ) else {
                            // `write` on a `Dir`: not a request the schema allows.
                            continue;
                        };
                        let full = cedar.is_authorized(&request, policy.set(), &entities);
                        let mut want = Answer {
                            decision: full.decision(),
                            reasons: full.diagnostics().reason().cloned().collect(),
                            errors: full.diagnostics().errors().map(|e| e.to_string()).collect(),
                        };
                        let slice = slices.slice(&keys);
                        let mut got = slice.decide(&cedar, &request, &entities);
                        for answer in [&mut want, &mut got] {
                            answer.reasons.sort();
                            answer.errors.sort();
                        }
                        prop_assert_eq!(&got, &want, "{} {}", action, resource);
                        sliced_away += policy.len() - slice.len();
                    }
                }
            }
        }
        Ok(sliced_away)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// The sliced decision is Cedar's decision over the whole set: the same allow or deny,
        /// the same deciding policies, the same errors.
        #[test]
        fn slicing_decides_as_cedar_does(
            policies in proptest::collection::vec(policy(), 1..8),
            tagged in any::<u32>(),
        ) {
            let text = policies.join("\n");
            // Sets that do not validate are refused at load; they never reach a request.
            let Ok(policy) = WrexPolicy::parse(&text) else { return Ok(()) };
            check_all(&policy, tagged)?;
        }
    }

    /// The generator makes sets that validate and that slicing thins; otherwise the property
    /// above would hold vacuously.
    #[test]
    fn the_random_sets_validate_and_get_sliced() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = proptest::collection::vec(policy(), 1..8);
        let (mut valid, mut thinned) = (0, 0);
        for _ in 0..200 {
            let text = strategy.new_tree(&mut runner).unwrap().current().join("\n");
            if let Ok(policy) = WrexPolicy::parse(&text) {
                valid += 1;
                if check_all(&policy, 0).unwrap() > 0 {
                    thinned += 1;
                }
            }
        }
        assert!(valid >= 100, "only {valid} of 200 random sets validate");
        assert!(
            thinned >= 50,
            "slicing thinned only {thinned} of {valid} sets"
        );
    }

    /// 1,000 policies about other tenants' directories and one that applies: a request is
    /// evaluated against the one.
    #[test]
    fn a_tenant_request_sees_only_its_tenants_policies() {
        let mut text = String::from(
            "permit (principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/data\");\n\
             forbid (principal, action in file_system::Action::\"SafeIO\", resource) when { resource.path like \"/data/secret*\" };\n\
             permit (principal, action, resource) when { resource == file_system::Dir::\"/\" || resource == file_system::Dir::\"/t7\" };\n",
        );
        for i in 0..1000 {
            text.push_str(&format!(
                "permit (principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/t{i}\");\n"
            ));
        }
        let policy = WrexPolicy::parse(&text).unwrap();
        let (_, slices) = policy.for_action("file_system", "read").unwrap();
        let count = |path: &str| {
            let resource = FsResource::File(path.into());
            let built = resource.entities(policy.referenced());
            slices
                .slice(&policy.slicer().keys_of(&built, resource.path_attr()))
                .len()
        };
        assert_eq!(count("/data/a/b.txt"), 1);
        assert_eq!(count("/data/secret/b.txt"), 2);
        assert_eq!(count("/t7/x"), 1);
        assert_eq!(count("/elsewhere"), 0);
    }
}
