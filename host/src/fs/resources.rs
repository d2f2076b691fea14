//! The resources behind the guest's `dir`, `file` and `symlink` handles. The types are `pub`
//! because the bindings re-export them, but this module is private to the crate.

use cap_std::fs::Dir;

/// An open directory behind a `dir` handle.
#[derive(Debug)]
pub struct DirRes {
    pub(crate) dir: Dir,
    /// Absolute path after symlink resolution; the Cedar resource id of this directory.
    pub(crate) path: String,
    /// The parent directory and this directory's name in it (`None` for `/`), for deletion.
    pub(crate) parent: Option<(Dir, String)>,
}

/// An open regular file behind a `file` handle.
#[derive(Debug)]
pub struct FileRes {
    pub(crate) file: std::fs::File,
    /// The directory holding the file (after symlink resolution), and the file's name in it.
    pub(crate) dir: Dir,
    pub(crate) name: String,
    /// Absolute path after symlink resolution; the Cedar resource id of this file.
    pub(crate) path: String,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The symlink the script named, when the file was opened through one
    /// (`follow_symlinks`): deleting the handle deletes that link, never its target (as Rex).
    pub(crate) link: Option<SymlinkRes>,
}

/// A symlink itself, behind a `symlink` handle: its directory, name, and identity when opened
/// (every use checks that the name still holds the same link).
#[derive(Debug)]
pub struct SymlinkRes {
    pub(crate) dir: Dir,
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) identity: (u64, u64),
}
