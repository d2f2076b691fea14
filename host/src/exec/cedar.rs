//! The Cedar side of `execute`: the action, the resource (the program's `File`, with Rex's
//! `Arguments` and `Environment` entities that the request's context refers to), and the
//! context itself.

use std::collections::{HashMap, HashSet};
use std::fmt;

use cedar_policy::{Entity, EntityUid, RestrictedExpression};
use serde_json::json;

use crate::authz::{self, Referenced, RequestContext, entity_uid};
use crate::fs::cedar::{FsResource, NAMESPACE};

/// `file_system::Action::"execute"`.
#[derive(Debug, Clone, Copy)]
pub struct Execute;

impl authz::Action for Execute {
    const NAMESPACE: &'static str = NAMESPACE;
    const ID: &'static str = "execute";
    type Resource = Program;
}

/// The user or group a program runs as: its name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub id: u32,
}

/// What `execute` is asked about: the program's `File`, and the arguments and environment it
/// would run with (Rex's `file_system::Arguments` and `file_system::Environment` entities).
#[derive(Debug, Clone)]
pub struct Program {
    /// The program's path (after symlink resolution): the resource `File`.
    pub file: FsResource,
    /// The arguments: a bare word (`None`) or a key and its value.
    pub args: Vec<(String, Option<String>)>,
    pub env: Vec<(String, String)>,
    pub user: Identity,
    pub group: Identity,
    /// The id of this request's `Arguments` and `Environment` entities.
    pub request_id: String,
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.file.fmt(f)
    }
}

fn set(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(values.iter().cloned().map(RestrictedExpression::new_string))
}

impl Program {
    /// Rex's `Arguments` entity: `keys` (of key/value arguments), `flags` (bare words
    /// starting with `-`), `positional_values` (other bare words); tags `key → value`, and for
    /// the i-th bare word `$ARG<i> → word` and `word → "true"`.
    fn arguments(&self) -> Option<Entity> {
        let (mut keys, mut flags, mut positional) = (Vec::new(), Vec::new(), Vec::new());
        let mut tags: HashMap<String, String> = HashMap::new();
        let mut index = 0;
        for (key, value) in &self.args {
            match value {
                Some(v) => {
                    tags.insert(key.clone(), v.clone());
                    keys.push(key.clone());
                }
                None => {
                    tags.insert(format!("$ARG{index}"), key.clone());
                    tags.insert(key.clone(), "true".into());
                    if key.starts_with('-') {
                        flags.push(key.clone());
                    } else {
                        positional.push(key.clone());
                    }
                    index += 1;
                }
            }
        }
        let attrs = HashMap::from([
            ("keys".to_string(), set(&keys)),
            ("flags".to_string(), set(&flags)),
            ("positional_values".to_string(), set(&positional)),
        ]);
        let tags = tags
            .into_iter()
            .map(|(k, v)| (k, RestrictedExpression::new_string(v)));
        Entity::new_with_tags(self.arguments_uid(), attrs, HashSet::new(), tags).ok()
    }

    /// Rex's `Environment` entity: `names`, and a tag per variable.
    fn environment(&self) -> Option<Entity> {
        let names: Vec<String> = self.env.iter().map(|(k, _)| k.clone()).collect();
        let attrs = HashMap::from([("names".to_string(), set(&names))]);
        let tags = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), RestrictedExpression::new_string(v.clone())));
        Entity::new_with_tags(self.environment_uid(), attrs, HashSet::new(), tags).ok()
    }

    fn arguments_uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Arguments", &self.request_id)
    }

    fn environment_uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "Environment", &self.request_id)
    }

    /// The request context: `arguments` and `environment` (references to the entities this
    /// resource brings), `user {username, uid}`, `group {groupname, gid}`.
    pub fn context(&self) -> RequestContext {
        let entity = |kind: &str| json!({ "__entity": { "type": format!("{NAMESPACE}::{kind}"), "id": self.request_id } });
        RequestContext::from_iter([
            ("arguments".to_string(), entity("Arguments")),
            ("environment".to_string(), entity("Environment")),
            (
                "user".to_string(),
                json!({ "username": self.user.name, "uid": self.user.id }),
            ),
            (
                "group".to_string(),
                json!({ "groupname": self.group.name, "gid": self.group.id }),
            ),
        ])
    }
}

impl authz::Resource for Program {
    fn type_name(&self) -> &'static str {
        authz::Resource::type_name(&self.file)
    }

    fn id(&self) -> &str {
        self.file.path()
    }

    fn uid(&self) -> EntityUid {
        self.file.uid()
    }

    /// The `File` first (its labels become its tags), its named ancestors, then this request's
    /// `Arguments` and `Environment`.
    fn entities(&self, referenced: &Referenced) -> Vec<Entity> {
        let mut out = self.file.entities(referenced);
        out.extend(self.arguments());
        out.extend(self.environment());
        out
    }

    fn path_attr(&self) -> Option<&str> {
        Some(self.file.path())
    }

    /// Each request brings its own arguments and environment.
    fn cacheable(&self) -> bool {
        false
    }
}
