//! The file system's Cedar side: the `file_system` actions (one type each, so a `Granted`
//! proof names its action), the `File` and `Dir` resources, and the request contexts of
//! `move` and `set_x_attr` (see `policies/README.md`).

use std::fmt;

use cedar_policy::{Entity, EntityUid};

use crate::authz::{self, Referenced, RequestContext, entity, entity_uid};

/// The Cedar namespace of the file-system actions and entities.
pub const NAMESPACE: &str = "file_system";

/// The `file_system` actions, one unit type each.
pub mod action {
    use super::FsResource;

    macro_rules! actions {
        ($($(#[$doc:meta])* $ty:ident = $id:literal;)*) => {$(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl crate::authz::Action for $ty {
                const NAMESPACE: &'static str = super::NAMESPACE;
                const ID: &'static str = $id;
                type Resource = FsResource;
            }
        )*};
    }

    actions! {
        /// Open a directory or a file (a handle; nothing is read yet).
        Open = "open";
        /// Read a file's contents or list a directory.
        Read = "read";
        /// Change a file's contents.
        Write = "write";
        /// Create a file, directory or symlink.
        Create = "create";
        /// Remove a file, directory or symlink.
        Delete = "delete";
        /// Read metadata.
        Stat = "stat";
        /// Change permissions.
        Chmod = "chmod";
        /// Change owner or group.
        Chown = "chown";
        /// Move or rename (context `destination`).
        Move = "move";
        /// Read a file with lines outside the redaction dictionary hidden.
        RedactedRead = "redacted_read";
        /// Set an extended attribute (context `xattr`).
        SetXAttr = "set_x_attr";
        /// Unmount the file system mounted on a directory (`wrex:sdk/disk`).
        Unmount = "unmount";
    }
}

/// A `file_system` resource: a `File` or `Dir` entity named by its absolute, normalized path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FsResource {
    /// `file_system::File::"<path>"` (also symlinks and other non-directories).
    File(String),
    /// `file_system::Dir::"<path>"`.
    Dir(String),
}

impl FsResource {
    /// The same kind of resource at another path.
    pub fn at(&self, path: String) -> Self {
        match self {
            Self::File(_) => Self::File(path),
            Self::Dir(_) => Self::Dir(path),
        }
    }

    /// A `Dir` or a `File`, by `is_dir`.
    pub fn entry(is_dir: bool, path: String) -> Self {
        if is_dir {
            Self::Dir(path)
        } else {
            Self::File(path)
        }
    }

    /// The resource's path.
    pub fn path(&self) -> &str {
        match self {
            Self::File(p) | Self::Dir(p) => p,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "File",
            Self::Dir(_) => "Dir",
        }
    }
}

impl fmt::Display for FsResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::{}::{:?}", self.kind(), self.path())
    }
}

impl authz::Resource for FsResource {
    fn type_name(&self) -> &'static str {
        match self {
            Self::File(_) => "file_system::File",
            Self::Dir(_) => "file_system::Dir",
        }
    }

    fn id(&self) -> &str {
        self.path()
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, self.kind(), self.path())
    }

    fn path_attr(&self) -> Option<&str> {
        Some(self.path())
    }

    /// The resource, and those of its ancestor `Dir`s up to `/` that a policy names, chained
    /// nearest first, so that `resource in file_system::Dir::"/var/log"` holds for everything
    /// below `/var/log`.
    fn entities(&self, referenced: &Referenced) -> Vec<Entity> {
        let dir_type = "file_system::Dir";
        let mut out = Vec::new();
        let (mut uid, mut path) = (self.uid(), self.path());
        let mut above = parent_of(path);
        loop {
            // The nearest ancestor a policy names: only those can decide an `in`.
            while let Some(p) = above.filter(|p| !referenced.contains(dir_type, p)) {
                above = parent_of(p);
            }
            let parent_uid = above.map(|p| entity_uid(NAMESPACE, "Dir", p));
            // INVARIANT: one attribute, so `Entity::new` cannot report a duplicate.
            out.extend(entity(
                uid,
                [("path", path.to_string())],
                parent_uid.clone(),
            ));
            match (above, parent_uid) {
                (Some(p), Some(u)) => {
                    path = p;
                    uid = u;
                    above = parent_of(p);
                }
                _ => return out,
            }
        }
    }
}

/// The parent directory of an absolute, normalized path (`None` for `/`).
pub(crate) fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        _ if path == "/" => None,
        Some(0) => Some("/"),
        Some(i) => path.get(..i),
        None => None,
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

/// A request context of one record attribute, `key: record`.
fn context(key: &str, record: serde_json::Value) -> RequestContext {
    RequestContext::from_iter([(key.to_string(), record)])
}

impl Destination {
    /// The request context of `move`: `destination: {path, name, parent_path}`.
    pub fn context(&self) -> RequestContext {
        context(
            "destination",
            serde_json::json!({
                "path": self.path,
                "name": self.name,
                "parent_path": self.parent_path,
            }),
        )
    }
}

/// The request context of `set_x_attr`: `xattr: {name}`.
pub fn xattr_context(name: &str) -> RequestContext {
    context("xattr", serde_json::json!({ "name": name }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Resource;

    #[test]
    fn parents_go_up_to_root() {
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(parent_of("/"), None);
    }

    fn referenced(policy: &str) -> Referenced {
        crate::Policy::parse(policy).unwrap().referenced().clone()
    }

    /// Only the ancestors a policy names are built, chained nearest first: a request's cost
    /// does not grow with the square of the path's depth.
    #[test]
    fn only_named_ancestors_are_built() {
        let none = referenced("permit (principal, action, resource);");
        assert_eq!(FsResource::File("/a/b".into()).entities(&none).len(), 1);

        let named = referenced(
            r#"permit (principal, action, resource in file_system::Dir::"/a")
               when { resource in file_system::Dir::"/" || resource in [file_system::Dir::"/a/b/c"] };"#,
        );
        let chain = FsResource::File("/a/b/c/d/e".into()).entities(&named);
        let links: Vec<(String, Vec<String>)> = chain
            .iter()
            .map(|e| {
                let parents = e
                    .clone()
                    .into_inner()
                    .2
                    .iter()
                    .map(|p| p.id().unescaped().to_string())
                    .collect();
                (e.uid().id().unescaped().to_string(), parents)
            })
            .collect();
        let expected = [
            ("/a/b/c/d/e", vec!["/a/b/c"]),
            ("/a/b/c", vec!["/a"]),
            ("/a", vec!["/"]),
            ("/", vec![]),
        ];
        let expected: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(p, ps)| (p.to_string(), ps.iter().map(|s| s.to_string()).collect()))
            .collect();
        assert_eq!(links, expected);

        // 2,048 components, two of them named (`/a` and `/`): three entities, not 2,049.
        let deep = format!("/a{}", "/x".repeat(2047));
        assert_eq!(FsResource::File(deep).entities(&named).len(), 3);
    }

    /// Leaving out the ancestors no policy names never changes a decision: every request of a
    /// varied policy set is decided alike with the sparse chain and with every ancestor.
    #[test]
    fn the_sparse_chain_decides_as_the_full_chain() {
        use cedar_policy::{Authorizer, Context, Entities, PolicySet, Request};
        let text = r#"
            permit (principal, action, resource in file_system::Dir::"/a/b");
            forbid (principal, action == file_system::Action::"write", resource in file_system::Dir::"/a/b/c");
            permit (principal, action, resource) when { resource in [file_system::Dir::"/x", file_system::Dir::"/a/b/c/d"] };
            permit (principal, action, resource) when { file_system::Dir::"/a/b/c" in file_system::Dir::"/a" && resource in file_system::Dir::"/q" };
            forbid (principal, action, resource == file_system::File::"/a/b/c/secret");
            permit (principal, action, resource is file_system::File) when { resource.path like "/z/*/y" };
            permit (principal, action, resource is file_system::Dir) when { resource.path like "/a/b*" };
        "#;
        let policy = crate::Policy::parse(text).unwrap();
        let set: PolicySet = text.parse().unwrap();
        let cedar = Authorizer::new();
        let schema = crate::authz::schema();
        let paths = [
            "/",
            "/a",
            "/a/b",
            "/a/b/c",
            "/a/b/c/secret",
            "/a/b/c/d/e",
            "/a/bb",
            "/x/1/2",
            "/q/1",
            "/z/1/y",
            "/z/1/2/y",
            "/a/b/c/d",
        ];
        for path in paths {
            for resource in [FsResource::File(path.into()), FsResource::Dir(path.into())] {
                let mut all = vec![];
                let mut p = Some(resource.path());
                while let Some(q) = p {
                    all.push(q);
                    p = parent_of(q);
                }
                let full = Referenced::of_ids("file_system::Dir", all);
                for action in ["read", "write", "delete"] {
                    let action = entity_uid(NAMESPACE, "Action", action);
                    // Combinations the schema does not allow (`write` on a `Dir`) are skipped.
                    let Ok(request) = Request::new(
                        entity_uid("", "User", "u"),
                        action,
                        resource.uid(),
                        Context::empty(),
                        Some(schema),
                    ) else {
                        continue;
                    };
                    let decide = |referenced: &Referenced| {
                        let entities =
                            Entities::from_entities(resource.entities(referenced), Some(schema))
                                .unwrap();
                        let response = cedar.is_authorized(&request, &set, &entities);
                        let mut reasons: Vec<_> =
                            response.diagnostics().reason().cloned().collect();
                        reasons.sort();
                        (response.decision(), reasons)
                    };
                    assert_eq!(
                        decide(policy.referenced()),
                        decide(&full),
                        "{resource} {request:?}"
                    );
                }
            }
        }
    }
}
