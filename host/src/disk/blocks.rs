//! `lsblk`: the block devices of `/proc/partitions`, their type, flags and parents from
//! `/sys/dev/block/<major>:<minor>`, device-mapper names from `/dev/disk/by-id`, mount points
//! from `/proc/mounts` and `/proc/swaps`. Everything here observes; the caller authorizes the
//! files and directories first.

use std::collections::HashMap;
use std::path::Path;

use crate::bindings::wit_disk as wit;

/// Most devices reported.
const MAX_DEVICES: usize = 16_384;

/// Why the listing failed.
#[derive(Debug)]
pub(crate) enum Error {
    Io(String),
    /// The run's deadline or cancellation.
    Stopped(wasmtime::Error),
}

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Io(format!("{path}: {e}")))
}

/// A small sysfs attribute, trimmed; empty when it cannot be read.
fn attribute(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn basename(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `dm-0` → `vg-root`, from `/dev/disk/by-id/dm-name-vg-root -> ../../dm-0` (none when the
/// directory does not exist, as in most containers).
fn device_mapper_names() -> HashMap<String, String> {
    let mut names = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/dev/disk/by-id") else {
        return names;
    };
    for entry in entries.flatten().take(MAX_DEVICES) {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_prefix("dm-name-") else {
            continue;
        };
        if let Ok(target) = std::fs::read_link(entry.path()) {
            names.insert(basename(&target), name.to_string());
        }
    }
    names
}

/// Device name (without `/dev/` or `/dev/mapper/`) → mount point (the last mount of it);
/// swap devices → `[SWAP]`.
fn mount_points(dm_names: &HashMap<String, String>) -> Result<HashMap<String, String>, Error> {
    let mut points = HashMap::new();
    // `procfs` unescapes the mount points (`\040` for a space), as the disk listing's.
    let mounts = procfs::mounts().map_err(|e| Error::Io(format!("/proc/mounts: {e}")))?;
    for m in mounts {
        if let Some(name) = m
            .fs_spec
            .strip_prefix("/dev/mapper/")
            .or_else(|| m.fs_spec.strip_prefix("/dev/"))
        {
            points.insert(name.to_string(), m.fs_file);
        }
    }
    for line in read("/proc/swaps")?.lines().skip(1) {
        let Some(device) = line.split_whitespace().next() else {
            continue;
        };
        let name = device.strip_prefix("/dev/").unwrap_or(device);
        let name = dm_names
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string());
        points.insert(name, "[SWAP]".to_string());
    }
    Ok(points)
}

/// Every device of `/proc/partitions`; `stop` is asked between two (the run's deadline).
pub(crate) fn devices(
    mut stop: impl FnMut() -> wasmtime::Result<()>,
) -> Result<Vec<wit::BlockDevice>, Error> {
    let dm_names = device_mapper_names();
    let points = mount_points(&dm_names)?;
    let mut out = Vec::new();
    // `major minor #blocks name`, after a header and a blank line.
    for line in read("/proc/partitions")?.lines().skip(2).take(MAX_DEVICES) {
        stop().map_err(Error::Stopped)?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [major, minor, blocks, name] = fields[..] else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
            continue;
        };
        let sys = Path::new("/sys/dev/block").join(format!("{major}:{minor}"));
        let kind = attribute(&sys, "uevent")
            .lines()
            .find_map(|l| l.strip_prefix("DEVTYPE="))
            .unwrap_or("unknown")
            .to_string();
        let mut parents = Vec::new();
        if kind == "partition" {
            // /sys/dev/block/8:1 -> ../../devices/…/block/sda/sda1: the disk is the parent.
            if let Ok(real) = std::fs::canonicalize(&sys)
                && let Some(disk) = real.parent()
            {
                parents.push(basename(disk));
            }
        }
        if let Ok(slaves) = std::fs::read_dir(sys.join("slaves")) {
            parents.extend(
                slaves
                    .flatten()
                    .take(MAX_DEVICES)
                    .map(|s| s.file_name().to_string_lossy().into_owned()),
            );
        }
        let lvm_name = dm_names.get(name).cloned();
        let shown = lvm_name.as_deref().unwrap_or(name);
        out.push(wit::BlockDevice {
            name: name.to_string(),
            lvm_name: lvm_name.clone(),
            kind,
            major,
            minor,
            size_kib: blocks.parse().unwrap_or(0),
            removable: attribute(&sys, "removable") == "1",
            read_only: attribute(&sys, "ro") == "1",
            mount_point: points.get(shown).or_else(|| points.get(name)).cloned(),
            parents,
        });
    }
    Ok(out)
}
