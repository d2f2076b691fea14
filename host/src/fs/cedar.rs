//! The file system's Cedar side: the `file_system` actions (one type each, so a `Granted`
//! proof names its action), the `File` and `Dir` resources, and the request contexts of
//! `move` and `set_x_attr` (see `policies/README.md`).

use std::fmt;

use cedar_policy::{Context, Entity, EntityUid, RestrictedExpression};

use crate::authz::{self, entity, entity_uid};

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

    /// The resource and its ancestor `Dir`s up to `/`, so that
    /// `resource in file_system::Dir::"/var/log"` holds for everything below `/var/log`.
    fn entities(&self) -> Vec<Entity> {
        let mut out = Vec::new();
        let (mut uid, mut path) = (self.uid(), self.path());
        loop {
            let parent = parent_of(path);
            let parent_uid = parent.map(|p| entity_uid(NAMESPACE, "Dir", p));
            // INVARIANT: one attribute, so `Entity::new` cannot report a duplicate.
            out.extend(entity(
                uid,
                [("path", path.to_string())],
                parent_uid.clone(),
            ));
            match (parent, parent_uid) {
                (Some(p), Some(u)) => {
                    path = p;
                    uid = u;
                }
                _ => return out,
            }
        }
    }
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

fn field(key: &str, value: &str) -> (String, RestrictedExpression) {
    (
        key.to_string(),
        RestrictedExpression::new_string(value.to_string()),
    )
}

fn context(key: &str, record: Vec<(String, RestrictedExpression)>) -> Result<Context, String> {
    let record = RestrictedExpression::new_record(record).map_err(|e| e.to_string())?;
    Context::from_pairs([(key.to_string(), record)]).map_err(|e| e.to_string())
}

impl Destination {
    /// The request context of `move`: `destination: {path, name, parent_path}`.
    pub fn context(&self) -> Result<Context, String> {
        context(
            "destination",
            vec![
                field("path", &self.path),
                field("name", &self.name),
                field("parent_path", &self.parent_path),
            ],
        )
    }
}

/// The request context of `set_x_attr`: `xattr: {name}`.
pub fn xattr_context(name: &str) -> Result<Context, String> {
    context("xattr", vec![field("name", name)])
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
        let chain = FsResource::File("/a/b".into()).entities();
        assert_eq!(chain.len(), 3);
    }
}
