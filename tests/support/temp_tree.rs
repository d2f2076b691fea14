//! A temporary directory tree: the one temp-dir fixture of the integration tests, the host's
//! unit tests and the benches (each includes this file with `#[path]`). Its root is the
//! canonical path (symlinks in the temp dir's own path resolved), since that is what policies
//! and Cedar resources name. Removed when dropped.

// Each includer uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub struct TempTree {
    _dir: tempfile::TempDir,
    /// The canonical absolute path of the tree's root.
    pub root: String,
}

impl TempTree {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wrex-test-")
            .tempdir()
            .expect("temporary directory");
        let root = dir
            .path()
            .canonicalize()
            .expect("canonical temporary directory")
            .to_str()
            .expect("UTF-8 temporary directory")
            .to_string();
        Self { _dir: dir, root }
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        Path::new(&self.root).join(rel)
    }

    /// Writes `<root>/<rel>`, creating its parent directories.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create parents");
        std::fs::write(path, content).expect("write fixture file");
    }
}
