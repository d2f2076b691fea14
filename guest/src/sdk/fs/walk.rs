//! Directory-tree walks for `find_files`, `du`, `DirHandle.find` and `DirHandle.disk_usage`.
//! Each directory is listed with `list-details` (Cedar `read` on the `Dir`) and entered with
//! `dir.open` (Cedar `open`, never through a symlink unless asked); a subtree the policy does
//! not permit is skipped with a `WARN` log entry, as Rex does.

use std::collections::HashSet;
use std::rc::Rc;

use rhai::{Dynamic, EvalAltResult, Map};

use super::error::{IoErrorKind, from_wit, is_access_denied, sdk_error};
use super::handles::open_dir_wit;
use super::path::join;
use crate::bindings::wrex::sdk::fs as wit;
use crate::bindings::wrex::sdk::log::{Level, emit};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Compiles a glob (`*`, `?`, `[…]`) matched against entry names.
pub fn glob(pattern: &str, ignore_case: bool) -> Result<Glob> {
    let pattern = glob::Pattern::new(pattern).map_err(|e| {
        sdk_error(
            IoErrorKind::InvalidArguments,
            format!("invalid glob `{pattern}`: {e}"),
        )
    })?;
    Ok(Glob {
        pattern,
        options: glob::MatchOptions {
            case_sensitive: !ignore_case,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        },
    })
}

pub struct Glob {
    pattern: glob::Pattern,
    options: glob::MatchOptions,
}

impl Glob {
    pub fn matches(&self, name: &str) -> bool {
        self.pattern.matches_with(name, self.options)
    }
}

/// Opens the subdirectory `name` of `dir`; `None` (with a WARN log) when the policy denies it.
fn enter(dir: &wit::Dir, name: &str, follow: bool) -> Result<Option<wit::Dir>> {
    match open_dir_wit(&join(&dir.path(), name), false, false, follow) {
        Ok(d) => Ok(Some(d)),
        // A followed symlink to a file, or a dangling one: not a directory to walk into.
        Err(wit::Error::NotADirectory(_) | wit::Error::NotFound(_)) if follow => Ok(None),
        Err(e) => match from_wit(e) {
            e if is_access_denied(&e) => {
                emit(
                    Level::Warn,
                    &format!(
                        "skipping `{}`: not permitted ({e})",
                        join(&dir.path(), name)
                    ),
                    0,
                );
                Ok(None)
            }
            e => Err(e),
        },
    }
}

/// Lists `dir`; `None` (with a WARN log) when the policy denies it below the walk's root.
fn list(dir: &wit::Dir, is_root: bool) -> Result<Option<Vec<wit::EntryDetails>>> {
    match dir.list_details() {
        Ok(v) => Ok(Some(v)),
        Err(e @ wit::Error::AccessDenied(_)) if !is_root => {
            emit(
                Level::Warn,
                &format!("skipping `{}`: not permitted ({})", dir.path(), from_wit(e)),
                0,
            );
            Ok(None)
        }
        Err(e) => Err(from_wit(e)),
    }
}

/// What the walk hands its visitor for each entry: the directory holding it, the entry, its
/// path relative to the walk's root, and its depth (1 for the root's own entries).
pub type Visit<'a> = dyn FnMut(&Rc<wit::Dir>, &wit::EntryDetails, &str, u32) -> Result<()> + 'a;

/// Walks `root` down to `max_depth`, calling `visit` for every entry (parents before their
/// children). With `follow`, symlinks to directories are entered too (each directory once).
pub fn walk(
    root: &Rc<wit::Dir>,
    max_depth: u32,
    follow: bool,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let mut seen = HashSet::new();
    walk_in(root, "", 1, max_depth, follow, &mut seen, visit)
}

fn walk_in(
    dir: &Rc<wit::Dir>,
    prefix: &str,
    depth: u32,
    max_depth: u32,
    follow: bool,
    seen: &mut HashSet<(u64, u64)>,
    visit: &mut Visit<'_>,
) -> Result<()> {
    let Some(entries) = list(dir, depth == 1)? else {
        return Ok(());
    };
    for details in entries {
        let relative = format!("{prefix}{}", details.entry.name);
        visit(dir, &details, &relative, depth)?;
        if depth >= max_depth {
            continue;
        }
        let is_dir = details.entry.entry_type == wit::EntryType::Dir;
        let is_link = details.entry.entry_type == wit::EntryType::Symlink;
        if !(is_dir || (follow && is_link)) {
            continue;
        }
        let Some(sub) = enter(dir, &details.entry.name, follow)? else {
            continue;
        };
        if follow {
            // A symlink loop would otherwise be walked until the depth limit.
            let meta = sub.metadata();
            if let Ok(m) = meta
                && !seen.insert((m.device, m.inode))
            {
                continue;
            }
        }
        walk_in(
            &Rc::new(sub),
            &format!("{relative}/"),
            depth + 1,
            max_depth,
            follow,
            seen,
            visit,
        )?;
    }
    Ok(())
}

/// A walk depth from a script's count (deeper than `u32::MAX` is unlimited anyway).
pub fn depth(d: u64) -> u32 {
    u32::try_from(d).unwrap_or(u32::MAX)
}

/// `du` / `disk_usage` options.
#[derive(Clone, Debug, Default)]
pub struct UsageOptions {
    pub summarize: bool,
    pub all_files: bool,
    pub one_file_system: bool,
    pub count_hard_links: bool,
    pub apparent_size: bool,
    pub max_depth: Option<u32>,
    pub track_largest_subdir: bool,
}

/// One `du` line: a path, its size in bytes, and the inodes below it.
#[derive(Clone, Debug, Default)]
pub struct UsageEntry {
    pub path: String,
    pub size_bytes: i64,
    pub inode_count: i64,
}

impl UsageEntry {
    pub fn to_map(&self) -> Map {
        let mut map = Map::new();
        map.insert("path".into(), self.path.clone().into());
        map.insert("size_bytes".into(), Dynamic::from_int(self.size_bytes));
        map.insert("inode_count".into(), Dynamic::from_int(self.inode_count));
        map
    }
}

/// The result of a directory's `disk_usage`: entries in `du`'s order (children before their
/// directory; the root last), and the root's largest immediate subdirectory when tracked.
pub struct Usage {
    pub entries: Vec<UsageEntry>,
    pub largest_subdir: Option<String>,
}

pub fn size_of(m: &wit::Metadata, apparent: bool) -> i64 {
    let bytes = if apparent {
        m.size
    } else {
        m.blocks.saturating_mul(512)
    };
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

struct UsageWalk<'a> {
    opts: &'a UsageOptions,
    seen_links: HashSet<(u64, u64)>,
    entries: Vec<UsageEntry>,
    /// The root's largest immediate subdirectory so far: path and size.
    largest: Option<(String, i64)>,
}

impl UsageWalk<'_> {
    /// Totals below `dir` (at `depth`); `device` is the file system of `dir`, when known.
    fn dir(&mut self, dir: &wit::Dir, depth: u32, device: Option<u64>) -> Result<(i64, i64)> {
        let (mut size, mut inodes) = (0i64, 1i64);
        let path = dir.path();
        let listed = self.opts.max_depth.is_none_or(|m| depth <= m) && !self.opts.summarize;
        let Some(entries) = list(dir, depth == 0)? else {
            return Ok((size, inodes));
        };
        let device = device.or_else(|| {
            entries
                .iter()
                .find(|e| e.entry.entry_type != wit::EntryType::Dir)
                .map(|e| e.metadata.device)
        });
        for details in entries {
            let m = &details.metadata;
            if details.entry.entry_type == wit::EntryType::Dir {
                if self.opts.one_file_system && device.is_some_and(|d| d != m.device) {
                    continue;
                }
                let Some(sub) = enter(dir, &details.entry.name, false)? else {
                    continue;
                };
                let (s, n) = self.dir(&sub, depth + 1, Some(m.device))?;
                let s = s.saturating_add(size_of(m, self.opts.apparent_size));
                if depth == 0 && self.largest.as_ref().is_none_or(|(_, l)| s > *l) {
                    self.largest = Some((sub.path(), s));
                }
                size = size.saturating_add(s);
                inodes += n;
                continue;
            }
            if !self.opts.count_hard_links
                && m.nlink > 1
                && !self.seen_links.insert((m.device, m.inode))
            {
                continue;
            }
            let s = size_of(m, self.opts.apparent_size);
            size = size.saturating_add(s);
            inodes += 1;
            if self.opts.all_files && listed && self.opts.max_depth.is_none_or(|d| depth < d) {
                self.entries.push(UsageEntry {
                    path: join(&path, &details.entry.name),
                    size_bytes: s,
                    inode_count: 1,
                });
            }
        }
        if listed || depth == 0 {
            self.entries.push(UsageEntry {
                path,
                size_bytes: size,
                inode_count: inodes,
            });
        }
        Ok((size, inodes))
    }
}

/// Disk usage below `root`, as `du` (and Rex) report it: the root directory's own blocks
/// count too (reading them needs `stat` on it, as in Rex); hard-linked files count once
/// unless `count_hard_links`.
pub fn disk_usage(root: &wit::Dir, opts: &UsageOptions) -> Result<Usage> {
    let own = size_of(&root.metadata().map_err(from_wit)?, opts.apparent_size);
    let mut w = UsageWalk {
        opts,
        seen_links: HashSet::new(),
        entries: Vec::new(),
        largest: None,
    };
    w.dir(root, 0, None)?;
    // The root's entry is the last one the walk pushed.
    if let Some(entry) = w.entries.last_mut() {
        entry.size_bytes = entry.size_bytes.saturating_add(own);
    }
    let largest_subdir = if opts.track_largest_subdir {
        w.largest.map(|(path, _)| path)
    } else {
        None
    };
    Ok(Usage {
        entries: w.entries,
        largest_subdir,
    })
}
