//! The run's data labels on files and directories: the entities file's, and the
//! `user.wrex.<key>` extended attributes, read by a walk from the run's `/` that never follows
//! a symlink (so a label is read from the entry the path names, as the walk that reaches it
//! for the script does). A directory's labels apply to everything below it.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Mutex;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::authz::LabelSource;
use crate::labels::{
    LabelConfig, Labels, MAX_LABEL_VALUE, MAX_LABELS, budget_of, check_key, check_value,
};

/// The extended-attribute namespace of labels: `user.wrex.classification` is the label
/// `classification`.
pub const XATTR_PREFIX: &str = "user.wrex.";

/// Most directories whose own labels a run keeps; past it, it starts over.
const MAX_CACHED_DIRS: usize = 16_384;

/// Longest list of extended-attribute names read from one entry.
const MAX_XATTR_LIST: usize = 64 << 10;

/// A run's label source.
pub(crate) struct RunLabels {
    config: LabelConfig,
    budgets: BTreeMap<String, u64>,
    /// The run's `/`, when extended attributes are read.
    root: Option<OwnedFd>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    /// The own labels of directories already walked.
    dirs: HashMap<String, Labels>,
    /// The directory of the last file asked about, still open: the next file in it is one
    /// `openat` away.
    last: Option<(String, OwnedFd)>,
}

impl RunLabels {
    /// The label source of a run whose `/` is `root` (`None`: extended attributes are not
    /// read), or `None` when no label can exist.
    pub(crate) fn new(
        config: &LabelConfig,
        root: Option<BorrowedFd<'_>>,
    ) -> std::io::Result<Option<Self>> {
        if !config.active() {
            return Ok(None);
        }
        let root = if let Some(root) = root.filter(|_| config.xattrs) {
            // Readable (the run's `/` may be an `O_PATH` descriptor, which has no attributes).
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            Some(rustix::fs::openat(root, ".", flags, Mode::empty())?)
        } else {
            None
        };
        Ok(Some(Self {
            budgets: config.all_budgets(),
            config: config.clone(),
            root,
            cache: Mutex::default(),
        }))
    }

    /// The labels the entities file gives `path`, over `xattr` (its extended attributes).
    fn own(&self, path: &str, mut xattr: Labels) -> Labels {
        if let Some(file) = self.config.file.own(path) {
            xattr.extend(file.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        xattr
    }
}

impl LabelSource for RunLabels {
    fn labels(&self, type_name: &str, id: &str) -> Result<Labels, String> {
        let is_dir = match type_name {
            "file_system::Dir" => true,
            "file_system::File" => false,
            _ => return Ok(Labels::new()),
        };
        let parts: Vec<&str> = id.split('/').filter(|c| !c.is_empty()).collect();
        if parts.iter().any(|c| matches!(*c, "." | "..")) || !id.starts_with('/') {
            return Err(format!("`{id}` is not an absolute, normalized path"));
        }
        // The directories whose labels apply: `/`, each ancestor, and a `Dir` itself.
        let dirs = if is_dir {
            parts.len()
        } else {
            parts.len().saturating_sub(1)
        };
        let mut paths = Vec::with_capacity(dirs + 1);
        paths.push("/".to_string());
        for part in &parts[..dirs] {
            let above = paths.last().map(String::as_str).unwrap_or("/");
            paths.push(super::path::join(above, part));
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.dirs.len() > MAX_CACHED_DIRS {
            cache.dirs.clear();
        }
        let innermost = &paths[dirs];
        let need_file = !is_dir && self.root.is_some();
        let have_dir = cache.last.as_ref().is_some_and(|(p, _)| p == innermost);
        let all_cached = paths.iter().all(|p| cache.dirs.contains_key(p));
        if !all_cached || (need_file && !have_dir) {
            cache.last = self.walk(&paths, &mut cache.dirs)?;
        }
        let mut labels = Labels::new();
        for path in &paths {
            if let Some(own) = cache.dirs.get(path) {
                labels.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        if !is_dir && let Some(name) = parts.last() {
            let xattr = match &cache.last {
                Some((dir, fd)) if self.root.is_some() && dir == innermost => {
                    file_xattrs(fd.as_fd(), name, id)?
                }
                _ => Labels::new(),
            };
            labels.extend(self.own(id, xattr));
        }
        Ok(labels)
    }

    fn budget(&self, key: &str, value: &str) -> Option<u64> {
        budget_of(&self.budgets, key, value)
    }

    fn forget(&self) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        *cache = Cache::default();
    }
}

impl RunLabels {
    /// Walks from `/` down `paths` (each directory the next one's parent), recording each
    /// directory's own labels; returns the last directory, open, when the walk reached it.
    /// A directory that is missing, not a directory, a symlink or not searchable ends the
    /// walk: it and those below it carry only the entities file's labels.
    fn walk(
        &self,
        paths: &[String],
        dirs: &mut HashMap<String, Labels>,
    ) -> Result<Option<(String, OwnedFd)>, String> {
        let mut here = match &self.root {
            Some(root) => Some(root.try_clone().map_err(|e| format!("`/`: {e}"))?),
            None => None,
        };
        for (i, path) in paths.iter().enumerate() {
            if i > 0 {
                here = match here {
                    None => None,
                    Some(parent) => {
                        let name = path.rsplit('/').next().unwrap_or(path);
                        match rustix::fs::openat(
                            parent.as_fd(),
                            name,
                            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                            Mode::empty(),
                        ) {
                            Ok(fd) => Some(fd),
                            Err(
                                Errno::NOENT
                                | Errno::NOTDIR
                                | Errno::LOOP
                                | Errno::ACCESS
                                | Errno::PERM,
                            ) => None,
                            Err(e) => return Err(format!("`{path}`: {e}")),
                        }
                    }
                };
            }
            if !dirs.contains_key(path) {
                let xattr = match &here {
                    Some(fd) => xattrs(fd.as_fd(), path)?,
                    None => Labels::new(),
                };
                dirs.insert(path.clone(), self.own(path, xattr));
            }
        }
        Ok(here.and_then(|fd| paths.last().map(|p| (p.clone(), fd))))
    }
}

/// The `user.wrex.*` labels of the entry `name` of `dir`, if it is a regular file (only
/// regular files and directories can carry `user.*` attributes). Opened read-only,
/// non-blocking and without following a symlink; nothing is read. An entry that is missing
/// or that the host may not open carries none.
fn file_xattrs(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Labels, String> {
    match open_regular(dir, name, path)? {
        Some(fd) => xattrs(fd.as_fd(), path),
        None => Ok(Labels::new()),
    }
}

/// The entry `name` of `dir` opened read-only, non-blocking and without following a
/// symlink, if it is a regular file the host may open; nothing is read from it.
fn open_regular(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Option<OwnedFd>, String> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        Ok(_) | Err(Errno::NOENT | Errno::NOTDIR | Errno::ACCESS) => return Ok(None),
        Err(e) => return Err(format!("`{path}`: {e}")),
    }
    let flags =
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::LOOP | Errno::ACCESS | Errno::PERM | Errno::NXIO) => {
            return Ok(None);
        }
        Err(e) => return Err(format!("`{path}`: {e}")),
    };
    // Swapped since the check: only a regular file counts.
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => Ok(Some(fd)),
        Ok(_) => Ok(None),
        Err(e) => Err(format!("`{path}`: {e}")),
    }
}

/// The `user.wrex.<key>` labels of an open file or directory. A label that is not valid (bad
/// key, value too long or not UTF-8, too many) is an error: every request about the entry is
/// then denied, rather than decided without a label its owner set.
pub(crate) fn xattrs(fd: BorrowedFd<'_>, path: &str) -> Result<Labels, String> {
    let mut list = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::flistxattr(fd, &mut list[..]) {
            Ok(n) => break n,
            Err(Errno::NOTSUP) => return Ok(Labels::new()),
            Err(Errno::RANGE) if list.len() < MAX_XATTR_LIST => {
                list.resize(list.len() * 4, 0);
            }
            Err(e) => return Err(format!("`{path}`: listing extended attributes: {e}")),
        }
    };
    let mut labels = Labels::new();
    for name in list[..n].split(|b| *b == 0) {
        let Some(key) = name.strip_prefix(XATTR_PREFIX.as_bytes()) else {
            continue;
        };
        let bad = |what: String| format!("`{path}`: extended attribute {XATTR_PREFIX}…: {what}");
        let key = std::str::from_utf8(key).map_err(|_| bad("the key is not UTF-8".into()))?;
        check_key(key).map_err(bad)?;
        let mut value = vec![0u8; MAX_LABEL_VALUE];
        let len = match rustix::fs::fgetxattr(fd, format!("{XATTR_PREFIX}{key}"), &mut value[..]) {
            Ok(len) => len,
            // Removed since it was listed.
            Err(Errno::NODATA) => continue,
            Err(Errno::RANGE) => {
                return Err(bad(format!(
                    "the value of `{key}` is longer than {MAX_LABEL_VALUE} bytes"
                )));
            }
            Err(e) => return Err(bad(format!("reading `{key}`: {e}"))),
        };
        value.truncate(len);
        let value = String::from_utf8(value)
            .map_err(|_| bad(format!("the value of `{key}` is not UTF-8")))?;
        check_value(&value).map_err(bad)?;
        labels.insert(key.to_string(), value);
        if labels.len() > MAX_LABELS {
            return Err(bad(format!("more than {MAX_LABELS} labels")));
        }
    }
    Ok(labels)
}

/// Gives `to` (a new file about to replace the entry `name` of `dir`) the `user.wrex.*`
/// labels of the regular file it replaces, if any.
pub(crate) fn keep_labels(
    dir: BorrowedFd<'_>,
    name: &str,
    to: BorrowedFd<'_>,
    path: &str,
) -> Result<(), String> {
    match open_regular(dir, name, path)? {
        Some(old) => copy_labels(old.as_fd(), to, path),
        None => Ok(()),
    }
}

/// Copies the `user.wrex.*` labels of `from` onto `to` (a file that replaces or copies it):
/// labels stay with the data. A label that cannot be copied fails the operation.
pub(crate) fn copy_labels(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    path: &str,
) -> Result<(), String> {
    for (key, value) in xattrs(from, path)? {
        rustix::fs::fsetxattr(
            to,
            format!("{XATTR_PREFIX}{key}"),
            value.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(|e| format!("`{path}`: keeping the label `{key}`: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::labels::LabelFile;

    use crate::fs::tests::temp_tree;

    fn label(path: &std::path::Path, key: &str, value: &str) {
        rustix::fs::setxattr(
            path,
            format!("{XATTR_PREFIX}{key}"),
            value.as_bytes(),
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
    }

    /// A label source over `tree`'s root, with the entities file `entities`.
    fn source(tree: &temp_tree::TempTree, entities: &str) -> RunLabels {
        let config = LabelConfig {
            file: Arc::new(LabelFile::parse(entities).unwrap()),
            ..LabelConfig::default()
        };
        let root = std::fs::File::open(&tree.root).unwrap();
        RunLabels::new(&config, Some(root.as_fd()))
            .unwrap()
            .unwrap()
    }

    fn of(source: &RunLabels, ty: &str, id: &str) -> Vec<(String, String)> {
        source
            .labels(&format!("file_system::{ty}"), id)
            .unwrap()
            .into_iter()
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Directories pass labels down; the nearer label wins; at one path the entities file
    /// wins over the attribute.
    #[test]
    fn labels_are_inherited_and_the_nearest_wins() {
        let tree = temp_tree::TempTree::new();
        tree.write("a/b/c.txt", "c");
        tree.write("a/b/d.txt", "d");
        label(&tree.path("a"), "classification", "phi");
        label(&tree.path("a"), "owner", "x");
        label(&tree.path("a/b/c.txt"), "classification", "internal");
        label(&tree.path("a/b/d.txt"), "owner", "from-xattr");
        let source = source(
            &tree,
            r#"[{"uid": {"type": "file_system::File", "id": "/a/b/d.txt"}, "tags": {"owner": "from-file"}},
                {"uid": {"type": "file_system::Dir", "id": "/a/b"}, "tags": {"jurisdiction": "eu"}}]"#,
        );
        assert_eq!(
            of(&source, "File", "/a/b/c.txt"),
            pairs(&[
                ("classification", "internal"),
                ("jurisdiction", "eu"),
                ("owner", "x")
            ])
        );
        assert_eq!(
            of(&source, "File", "/a/b/d.txt"),
            pairs(&[
                ("classification", "phi"),
                ("jurisdiction", "eu"),
                ("owner", "from-file")
            ])
        );
        assert_eq!(
            of(&source, "Dir", "/a/b"),
            pairs(&[
                ("classification", "phi"),
                ("jurisdiction", "eu"),
                ("owner", "x")
            ])
        );
        // A missing file inherits what is above it; the root has nothing.
        assert_eq!(of(&source, "File", "/a/new.txt").len(), 2);
        assert!(of(&source, "Dir", "/").is_empty());
    }

    /// A symlink on the way is not followed: the labels behind it are not the path's.
    #[test]
    fn a_symlink_is_never_followed_to_find_labels() {
        let tree = temp_tree::TempTree::new();
        tree.write("real/f.txt", "f");
        label(&tree.path("real"), "classification", "phi");
        std::os::unix::fs::symlink("real", tree.path("link")).unwrap();
        let source = source(&tree, "[]");
        assert_eq!(of(&source, "File", "/real/f.txt").len(), 1);
        assert!(of(&source, "File", "/link/f.txt").is_empty());
    }

    /// Cached labels are dropped by `forget`: an entry replaced on disk is read anew.
    #[test]
    fn forget_drops_the_cache() {
        let tree = temp_tree::TempTree::new();
        tree.write("d/f.txt", "f");
        let source = source(&tree, "[]");
        assert!(of(&source, "File", "/d/f.txt").is_empty());
        label(&tree.path("d"), "legal_hold", "true");
        // Cached: the directory's new label is not seen yet within the run …
        assert!(of(&source, "File", "/d/f.txt").is_empty());
        source.forget();
        // … and is after a move or delete dropped the cache.
        assert_eq!(of(&source, "File", "/d/f.txt").len(), 1);
    }

    #[test]
    fn bad_labels_are_errors_and_labels_are_copied() {
        let tree = temp_tree::TempTree::new();
        tree.write("f.txt", "f");
        tree.write("g.txt", "g");
        let f = std::fs::File::open(tree.path("f.txt")).unwrap();
        let g = std::fs::File::open(tree.path("g.txt")).unwrap();
        label(&tree.path("f.txt"), "owner", "bob");
        copy_labels(f.as_fd(), g.as_fd(), "/g.txt").unwrap();
        assert_eq!(xattrs(g.as_fd(), "/g.txt").unwrap()["owner"], "bob");
        label(
            &tree.path("f.txt"),
            "owner",
            &"x".repeat(MAX_LABEL_VALUE + 1),
        );
        let e = xattrs(f.as_fd(), "/f.txt").unwrap_err();
        assert!(e.contains("longer than 256 bytes"), "{e}");
        label(&tree.path("g.txt"), "a:b", "x");
        let e = xattrs(g.as_fd(), "/g.txt").unwrap_err();
        assert!(e.contains("label key `a:b`"), "{e}");
    }
}
