//! The symlink-aware, race-free path walk.
//!
//! Every directory is reached by walking from the run's `/` one component at a time with
//! `openat(…, O_DIRECTORY | O_NOFOLLOW)` on the previous component's descriptor, so a
//! component swapped for a symlink mid-walk is seen as a symlink, never silently followed.
//! Symlinks are followed only when asked, by reading the link and continuing the walk from
//! the link's directory (or from `/`); `/proc` magic links are therefore resolved by their
//! text, never jumped through. The caller authorizes the resolved path before using the
//! handle, and authorizes every directory the walk creates before creating it.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;

use super::cedar::action::{Create, Open};
use super::error::FsError;
use super::path;
use super::resources::DirRes;
use super::sys::{mkdir_at, open_dir_at, read_symlink, try_open_dir_at};
use crate::authz::Granted;
use crate::bindings::wit_fs as wit;

/// Most symlinks followed while resolving one path (Linux's `MAXSYMLINKS`).
pub const MAX_LINKS: u32 = 40;

/// What one walk step found.
enum Step {
    Dir(OwnedFd),
    Missing,
    Symlink(String),
    NotDir,
}

fn step(dir: BorrowedFd<'_>, name: &str, path: &str) -> Result<Step, FsError> {
    match try_open_dir_at(dir, name) {
        Ok(fd) => Ok(Step::Dir(fd)),
        Err(Errno::NOENT) => Ok(Step::Missing),
        Err(Errno::LOOP | Errno::NOTDIR) => match read_symlink(dir, name, path)? {
            Some(target) => Ok(Step::Symlink(target)),
            None => Ok(Step::NotDir),
        },
        Err(e) => Err(FsError::io(e, path)),
    }
}

fn stack_path(stack: &[(String, OwnedFd)]) -> String {
    if stack.len() <= 1 {
        return "/".to_string();
    }
    stack
        .iter()
        .skip(1)
        .fold(String::new(), |mut acc, (name, _)| {
            acc.push('/');
            acc.push_str(name);
            acc
        })
}

/// Where a walk at `here` with `rest` still to go is heading, resolved lexically (`..` pops
/// a component, never above `/`).
pub(crate) fn heading(here: &str, rest: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut parts: Vec<String> = here
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    for c in rest {
        match c.as_ref() {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name.to_string()),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The error for too many symlinks while resolving `path`.
pub(crate) fn too_many_links(path: &str) -> FsError {
    FsError::guest(wit::Error::TooManyLinks(format!(
        "{}: more than {MAX_LINKS} symlinks while resolving `{path}`",
        std::io::Error::from(Errno::LOOP)
    )))
}

/// How to walk to a directory.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Walk {
    pub follow: bool,
    pub create: bool,
    pub recursive: bool,
}

/// A directory reached by [`walk`].
pub(crate) struct Walked {
    pub fd: OwnedFd,
    pub path: String,
    pub parent: Option<(OwnedFd, String)>,
    /// Bytes of the names of the directories the walk created (charged to the run's writes).
    pub created: usize,
}

impl Walked {
    pub(crate) fn into_dir_res(self) -> DirRes {
        DirRes {
            dir: super::sys::dir_from_fd(self.fd),
            path: self.path,
            parent: self
                .parent
                .map(|(fd, name)| (super::sys::dir_from_fd(fd), name)),
        }
    }
}

/// Walks from `root` (the run's `/`) to the directory `path` (absolute; may contain `..` and
/// `.` when it comes from a symlink target, which are resolved physically against directories
/// already opened). `..` stops at `root` and an absolute symlink restarts there, so the walk
/// never leaves it.
///
/// `authorize_create` is called with the absolute path of each directory the walk is about to
/// create, before it is created, and returns the proof that allows it. `authorize_hop` is
/// called each time a symlink is followed, with the path the walk now heads for (the link's
/// text joined to what is left, resolved lexically), before anything on that path is opened or
/// read: a path outside the policy yields only its denial, never an error that tells what
/// exists there, and a symlink outside the policy is never read.
pub(crate) fn walk(
    _granted: &Granted<Open>,
    root: BorrowedFd<'_>,
    path: &str,
    how: Walk,
    authorize_create: &mut dyn FnMut(&str) -> Result<Granted<Create>, FsError>,
    authorize_hop: &mut dyn FnMut(&str) -> Result<(), FsError>,
) -> Result<Walked, FsError> {
    let root = open_dir_at(root, ".", "/")?;
    let mut stack: Vec<(String, OwnedFd)> = vec![(String::new(), root)];
    let mut queue: VecDeque<String> = path.split('/').map(str::to_string).collect();
    let mut links = 0;
    let mut created = 0;
    while let Some(component) = queue.pop_front() {
        match component.as_str() {
            "" | "." => continue,
            ".." => {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            _ => {}
        }
        let here = stack_path(&stack);
        let target = path::join(&here, &component);
        let Some((_, current)) = stack.last() else {
            return Err(FsError::Trap(wasmtime::format_err!("walk stack emptied")));
        };
        match step(current.as_fd(), &component, &target)? {
            Step::Dir(fd) => stack.push((component, fd)),
            Step::Missing => {
                let last = queue.iter().all(|c| c.is_empty() || c == ".");
                if !(how.create && (last || how.recursive)) {
                    // Rex's words: the OS error, and "failed to open parent" when only the
                    // last component was to be created.
                    let context = if how.create {
                        "failed to open parent: "
                    } else {
                        ""
                    };
                    return Err(FsError::not_found(format!(
                        "{context}{}: directory `{target}`",
                        std::io::Error::from(rustix::io::Errno::NOENT)
                    )));
                }
                // Below a missing directory everything is missing: every directory still to
                // create is authorized before the first is created, so a denial part-way
                // leaves nothing behind (as Rex). A `..` or `.` left in the queue (from a
                // symlink's text) ends the look-ahead; those are authorized as they come.
                let create = authorize_create(&target)?;
                let mut ahead = Vec::new();
                let mut below = target.clone();
                for c in queue.iter().filter(|c| !c.is_empty()) {
                    if c == "." || c == ".." {
                        break;
                    }
                    below = path::join(&below, c);
                    ahead.push((below.clone(), authorize_create(&below)?));
                }
                mkdir_at(&create, current.as_fd(), &component, true, &target)?;
                created += component.len();
                let fd = open_dir_at(current.as_fd(), &component, &target)?;
                stack.push((component, fd));
                for (below, create) in ahead {
                    let Some(name) =
                        std::iter::from_fn(|| queue.pop_front()).find(|c| !c.is_empty())
                    else {
                        break;
                    };
                    let Some((_, current)) = stack.last() else {
                        return Err(FsError::Trap(wasmtime::format_err!("walk stack emptied")));
                    };
                    mkdir_at(&create, current.as_fd(), &name, true, &below)?;
                    created += name.len();
                    let fd = open_dir_at(current.as_fd(), &name, &below)?;
                    stack.push((name, fd));
                }
            }
            Step::Symlink(link) => {
                if !how.follow {
                    return Err(FsError::guest(wit::Error::SymlinkNotFollowed(format!(
                        "Not a directory, enable follow_symlinks to open the target directory: `{target}` is a symlink"
                    ))));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(too_many_links(path));
                }
                if link.starts_with('/') {
                    stack.truncate(1);
                }
                // As Rex: the link's own target is authorized, and (below) where the walk is
                // now heading, before anything there is opened.
                let link_target = heading(&stack_path(&stack), link.split('/'));
                authorize_hop(&link_target)?;
                for part in link.split('/').rev() {
                    queue.push_front(part.to_string());
                }
                let ahead = heading(&stack_path(&stack), &queue);
                if ahead != link_target {
                    authorize_hop(&ahead)?;
                }
            }
            Step::NotDir => {
                return Err(FsError::guest(wit::Error::NotADirectory(format!(
                    "{}: `{target}` is not a directory",
                    std::io::Error::from(Errno::NOTDIR)
                ))));
            }
        }
    }
    let path = stack_path(&stack);
    let Some((name, fd)) = stack.pop() else {
        return Err(FsError::Trap(wasmtime::format_err!("walk stack emptied")));
    };
    let parent = stack.pop().map(|(_, parent)| (parent, name));
    Ok(Walked {
        fd,
        path,
        parent,
        created,
    })
}

#[cfg(test)]
mod tests {
    use super::heading;

    #[test]
    fn heading_resolves_lexically() {
        assert_eq!(heading("/a/b", "../c/./d".split('/')), "/a/c/d");
        assert_eq!(heading("/", "../../x".split('/')), "/x");
        assert_eq!(heading("/a", "".split('/')), "/a");
    }
}
