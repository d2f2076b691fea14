//! `DirHandle` methods beyond the core (`handles.rs`): symlinks, permissions, ownership, move,
//! `find`, `disk_usage`; and `SymlinkHandle`. Walks list each directory with `list-details`
//! (Cedar `read`) and enter it with `dir.open` (Cedar `open`).

use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext};

use super::error::from_wit;
use super::handles::{DirHandle, SymlinkHandle, open_dir};
use super::options::{
    ChmodDirOptions, CreateSymlinkOptions, DiskUsageOptions, FindOptions, MoveOptions,
    SetOwnershipOptions,
};
use super::path::join;
use super::text;
use super::values::{DirEntry, Metadata, Ownership, mode, ownership};
use super::walk::{self, UsageEntry, UsageOptions};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// Rex's `DiskUsageResult`.
#[derive(Clone)]
pub struct DiskUsageResult {
    pub entries: Vec<UsageEntry>,
    pub largest: Option<DirHandle>,
}

fn usage_options(o: &DiskUsageOptions) -> Result<UsageOptions> {
    let max_depth =
        text::non_negative(o.max_depth, "DiskUsageOptions: max_depth")?.map(walk::depth);
    Ok(UsageOptions {
        summarize: o.summarize.unwrap_or(false),
        all_files: o.all_files.unwrap_or(false),
        one_file_system: o.one_file_system.unwrap_or(false),
        count_hard_links: o.count_hard_links.unwrap_or(false),
        apparent_size: o.apparent_size.unwrap_or(false),
        max_depth,
        track_largest_subdir: o.track_largest_subdir.unwrap_or(false),
    })
}

fn find(ctx: &NativeCallContext, d: &DirHandle, o: &FindOptions, callback: &FnPtr) -> Result<()> {
    let name = o
        .name
        .as_deref()
        .map(|p| walk::glob(p, false))
        .transpose()?;
    let iname = o
        .iname
        .as_deref()
        .map(|p| walk::glob(p, true))
        .transpose()?;
    let regex = o
        .regex
        .as_deref()
        .map(|p| text::regex(p, false))
        .transpose()?;
    let negate = o.negate_name.unwrap_or(false);
    let min_depth = o.min_depth.unwrap_or(0).max(0);
    let max_depth =
        text::non_negative(o.max_depth, "FindOptions: max_depth")?.map_or(u32::MAX, walk::depth);
    walk::walk(
        &d.0,
        max_depth,
        o.follow_symlinks.unwrap_or(false),
        &mut |parent, details, _relative, depth| {
            let entry = &details.entry;
            let m = &details.metadata;
            let named = name.as_ref().is_none_or(|g| g.matches(&entry.name))
                && iname.as_ref().is_none_or(|g| g.matches(&entry.name))
                // As Rex, a regex is matched against the entry's full path.
                && regex
                    .as_ref()
                    .is_none_or(|r| r.is_match(&join(&parent.path(), &entry.name)));
            let keep = named != negate
                && i64::from(depth) >= min_depth
                && o.size_range.is_none_or(|r| r.contains(m.size))
                && o.min_modification_time.is_none_or(|t| m.mtime_seconds >= t)
                && o.max_modification_time.is_none_or(|t| m.mtime_seconds <= t)
                && o.min_creation_time
                    .is_none_or(|t| m.btime_seconds.is_some_and(|b| b >= t))
                && o.max_creation_time
                    .is_none_or(|t| m.btime_seconds.is_some_and(|b| b <= t));
            if keep {
                let mut e = DirEntry::from(entry.clone());
                e.parent = Some(parent.clone());
                callback
                    .call_within_context::<Dynamic>(ctx, (e,))
                    .map(drop)?;
            }
            Ok(())
        },
    )
}

fn disk_usage(d: &DirHandle, o: &DiskUsageOptions) -> Result<DiskUsageResult> {
    let usage = walk::disk_usage(&d.0, &usage_options(o)?)?;
    let largest = match usage.largest_subdir {
        None => None,
        Some(path) => Some(DirHandle(Rc::new(open_dir(&path, false, false, false)?))),
    };
    Ok(DiskUsageResult {
        entries: usage.entries,
        largest,
    })
}

pub fn register(engine: &mut Engine) {
    engine
        .register_type_with_name::<UsageEntry>("DiskUsageEntry")
        .register_get("path", |e: &mut UsageEntry| e.path.clone())
        .register_get("size_bytes", |e: &mut UsageEntry| e.size_bytes)
        .register_get("inode_count", |e: &mut UsageEntry| e.inode_count)
        .register_fn("to_map", |e: &mut UsageEntry| e.to_map());

    engine
        .register_fn(
            "read_link_target",
            |d: &mut DirHandle, name: &str| -> Result<String> {
                d.0.read_link(name).map_err(from_wit)
            },
        )
        .register_fn("get_ownership", |d: &mut DirHandle| -> Result<Ownership> {
            Ok(ownership(&d.0.metadata().map_err(from_wit)?))
        })
        .register_fn(
            "chmod",
            |d: &mut DirHandle, o: ChmodDirOptions| -> Result<()> {
                d.0.set_permissions(
                    mode(o.permissions.unwrap_or(-1))?,
                    o.recursive.unwrap_or(false),
                )
                .map_err(from_wit)
            },
        )
        .register_fn(
            "set_ownership",
            |d: &mut DirHandle, o: SetOwnershipOptions| -> Result<()> {
                let (u, g) = o.owner_args();
                d.0.set_ownership(u, g, o.recursive.unwrap_or(false))
                    .map_err(from_wit)
            },
        )
        .register_fn(
            "create_symlink",
            |d: &mut DirHandle, target: &str, name: &str, o: CreateSymlinkOptions| -> Result<()> {
                d.0.create_symlink(target, name, o.force.unwrap_or(false))
                    .map_err(from_wit)
            },
        )
        .register_fn(
            "open_symlink",
            |d: &mut DirHandle, name: &str| -> Result<SymlinkHandle> {
                Ok(SymlinkHandle(Rc::new(
                    d.0.open_symlink(name).map_err(from_wit)?,
                )))
            },
        )
        .register_fn(
            "move",
            |_parent: &mut DirHandle,
             src: DirHandle,
             dest_parent: DirHandle,
             name: &str,
             _o: MoveOptions|
             -> Result<DirHandle> {
                Ok(DirHandle(Rc::new(
                    src.0.move_to(&dest_parent.0, name).map_err(from_wit)?,
                )))
            },
        )
        .register_fn(
            "find",
            |ctx: NativeCallContext, d: &mut DirHandle, o: FindOptions, f: FnPtr| -> Result<()> {
                find(&ctx, d, &o, &f)
            },
        )
        .register_fn("disk_usage", |d: &mut DirHandle, o: DiskUsageOptions| {
            disk_usage(d, &o)
        });

    engine
        .register_type_with_name::<SymlinkHandle>("SymlinkHandle")
        .register_fn("metadata", |l: &mut SymlinkHandle| -> Result<Metadata> {
            l.0.metadata().map(Metadata).map_err(from_wit)
        })
        .register_fn(
            "set_ownership",
            |l: &mut SymlinkHandle, o: SetOwnershipOptions| -> Result<()> {
                let (u, g) = o.owner_args();
                l.0.set_ownership(u, g).map_err(from_wit)
            },
        );

    engine
        .register_type_with_name::<DiskUsageResult>("DiskUsageResult")
        .register_get("entries", |r: &mut DiskUsageResult| {
            r.entries
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        })
        .register_get("largest_subdir_handle", |r: &mut DiskUsageResult| {
            r.largest.clone().map_or(Dynamic::UNIT, Dynamic::from)
        });
}
