//! Every option builder of the file-system SDK, in the one builder style (`sdk::options!`):
//! `XxxOptions()` starts a builder, one setter per field, `build()` checks and returns the
//! options.

use rhai::{Engine, EvalAltResult};

use super::values::{SizeRange, SizeUnit};
use crate::bindings::wrex::sdk::fs as wit;
use crate::sdk::error::plain;
use crate::sdk::options::options;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

options!(DirConfig / DirConfigBuilder { path: String } required [path]);
options!(OpenDirOptions / OpenDirOptionsBuilder { create: bool, recursive: bool, follow_symlinks: bool } required []);
options!(OpenFileOptions / OpenFileOptionsBuilder {
    read: bool,
    write: bool,
    create: bool,
    permissions: i64,
    follow_symlinks: bool,
} required [] check open_file_rules);
options!(DeleteFileOptions / DeleteFileOptionsBuilder { force: bool } required []);
options!(DeleteDirOptions / DeleteDirOptionsBuilder { force: bool, recursive: bool } required []);
options!(ReadLinesOptions / ReadLinesOptionsBuilder { count: i64, start: i64 } required []);
options!(ReadPageOptions / ReadPageOptionsBuilder { num_lines: i64 } required [num_lines]);
options!(CopyFileOptions / CopyFileOptionsBuilder { force: bool, preserve: bool } required []);
options!(MoveOptions / MoveOptionsBuilder { backup: bool, verbose: bool } required []);
options!(ChmodDirOptions / ChmodDirOptionsBuilder { permissions: i64, recursive: bool } required [permissions]);
options!(SetOwnershipOptions / SetOwnershipOptionsBuilder { user: String, group: String, recursive: bool } required []);
options!(CreateSymlinkOptions / CreateSymlinkOptionsBuilder { force: bool } required []);
options!(DiskUsageOptions / DiskUsageOptionsBuilder {
    summarize: bool,
    all_files: bool,
    one_file_system: bool,
    count_hard_links: bool,
    apparent_size: bool,
    max_depth: i64,
    track_largest_subdir: bool,
} required []);
options!(TruncateOptions / TruncateOptionsBuilder { size: i64, format: SizeUnit } required [size]);
options!(FallocateOptions / FallocateOptionsBuilder { length: i64, format: SizeUnit } required [length]);
options!(WriteOptions / WriteOptionsBuilder { preserve_ownership: bool } required []);
options!(SetXAttrOptions / SetXAttrOptionsBuilder {
    name: String,
    selinux_user: String,
    selinux_role: String,
    selinux_type: String,
    selinux_level: String,
} required [name]);
options!(ReplacementOptions / ReplacementOptionsBuilder { is_regex: bool, replace_all: bool } required []);
options!(FindOptions / FindOptionsBuilder {
    name: String,
    iname: String,
    regex: String,
    negate_name: bool,
    size_range: SizeRange,
    min_depth: i64,
    max_depth: i64,
    min_modification_time: i64,
    max_modification_time: i64,
    min_creation_time: i64,
    max_creation_time: i64,
    follow_symlinks: bool,
} required [] check find_rules);
options!(CompressGzipOptions / CompressGzipOptionsBuilder { level: i64 } required []);
options!(SearchGzipOptions / SearchGzipOptionsBuilder {
    exclude_pattern: String,
    case_insensitive: bool,
    max_results: i64,
} required []);
options!(ExtractArchiveOptions / ExtractArchiveOptionsBuilder {
    preserve_permissions: bool,
    preserve_ownership: bool,
    preserve_timestamps: bool,
} required []);

/// `FindOptions().build()`, as Rex: at most one of `name`, `iname` and `regex`, and
/// `negate_name` only with `name` or `iname`.
fn find_rules(o: &FindOptions) -> Result<()> {
    let patterns = [o.name.is_some(), o.iname.is_some(), o.regex.is_some()];
    if patterns.iter().filter(|p| **p).count() > 1 {
        return Err(plain(
            "FindOptions: Only one of 'name', 'iname', or 'regex' can be specified",
        ));
    }
    if o.negate_name.unwrap_or(false) && o.name.is_none() && o.iname.is_none() {
        return Err(plain(
            "FindOptions: negate_name can only be used with 'name' or 'iname' patterns",
        ));
    }
    Ok(())
}

/// `OpenFileOptions().build()`: read, write or create must be asked for (`create` implies
/// `write`, as Rex); a mode is at most `0o7777`.
fn open_file_rules(o: &OpenFileOptions) -> Result<()> {
    if !o.read.unwrap_or(false) && !o.write.unwrap_or(false) && !o.create.unwrap_or(false) {
        return Err(plain(
            "Invalid open file options: at least one of read, write or create flags must be true",
        ));
    }
    if let Some(mode) = o.permissions
        && !(0..=0o7777).contains(&mode)
    {
        return Err(plain(format!(
            "OpenFileOptions: `permissions` must be a mode between 0 and 0o7777, got {mode}"
        )));
    }
    Ok(())
}

impl DirConfig {
    /// The directory's path (`build()` made sure it is set).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or_default()
    }
}

impl OpenDirOptions {
    /// The WIT record.
    pub fn to_wit(&self) -> wit::OpenDirOptions {
        wit::OpenDirOptions {
            create: self.create.unwrap_or(false),
            recursive: self.recursive.unwrap_or(false),
            follow_symlinks: self.follow_symlinks.unwrap_or(false),
        }
    }
}

impl OpenFileOptions {
    /// The WIT record (`build()` checked the mode's range). `create` opens for writing too,
    /// as Rex's builder does.
    pub fn to_wit(&self) -> wit::OpenFileOptions {
        wit::OpenFileOptions {
            read: self.read.unwrap_or(false),
            write: self.write.unwrap_or(false) || self.create.unwrap_or(false),
            create: self.create.unwrap_or(false),
            permissions: self.permissions.and_then(|m| u32::try_from(m).ok()),
            follow_symlinks: self.follow_symlinks.unwrap_or(false),
        }
    }
}

impl SetOwnershipOptions {
    /// The user and group to set, as given.
    pub fn owner_args(&self) -> (Option<&str>, Option<&str>) {
        (self.user.as_deref(), self.group.as_deref())
    }
}

/// Registers every option builder.
pub fn register(engine: &mut Engine) {
    DirConfig::register(engine);
    OpenDirOptions::register(engine);
    OpenFileOptions::register(engine);
    DeleteFileOptions::register(engine);
    DeleteDirOptions::register(engine);
    ReadLinesOptions::register(engine);
    ReadPageOptions::register(engine);
    CopyFileOptions::register(engine);
    MoveOptions::register(engine);
    ChmodDirOptions::register(engine);
    SetOwnershipOptions::register(engine);
    CreateSymlinkOptions::register(engine);
    DiskUsageOptions::register(engine);
    TruncateOptions::register(engine);
    FallocateOptions::register(engine);
    WriteOptions::register(engine);
    ReplacementOptions::register(engine);
    SetXAttrOptions::register(engine);
    FindOptions::register(engine);
    CompressGzipOptions::register(engine);
    SearchGzipOptions::register(engine);
    ExtractArchiveOptions::register(engine);
}
