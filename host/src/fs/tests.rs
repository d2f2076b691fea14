//! Host-only tests of the `fs` host functions (no wasm): allowed, denied, malformed, and bad
//! handles, each checked against the file system afterwards.

use std::path::Path;

use wasmtime::component::Resource;

use super::MAX_READ_CHUNK;
use super::error::FsError;
use super::resources::{DirRes, FileRes};
use super::{FsConfig, FsCtx};
use crate::authz::{Authorizer, Policy};
use crate::bindings::wit_fs::{Error, HostDir, HostFile, OpenDirOptions, OpenFileOptions};
use crate::limits::Limits;
use crate::log::LogLevel;
use crate::runtime::HostState;

#[path = "../../../tests/support/temp_tree.rs"]
pub(crate) mod temp_tree;

struct Fixture {
    _tree: temp_tree::TempTree,
    root: String,
}

impl Fixture {
    fn new() -> Self {
        let tree = temp_tree::TempTree::new();
        tree.write("ok/a.txt", "alpha");
        tree.write("secret.txt", "secret");
        let root = tree.root.clone();
        Self { _tree: tree, root }
    }

    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    /// A host state whose policy permits `actions` below `<root>/ok`.
    fn state(&self, actions: &[&str]) -> HostState {
        let list = actions
            .iter()
            .map(|a| format!("file_system::Action::{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            "permit (principal, action in [{list}], resource in file_system::Dir::{:?});",
            self.path("ok")
        );
        state_for(&text)
    }
}

/// A host state for the principal `tester` under the policy `text`, with the host's `/`.
fn state_for(text: &str) -> HostState {
    let authz = Authorizer::new(Policy::parse(text).unwrap(), "tester", None);
    let fs = FsCtx::open(&FsConfig::default()).unwrap();
    HostState::new(authz, fs, LogLevel::Info, Limits::default(), None)
}

const DIR: OpenDirOptions = OpenDirOptions {
    create: false,
    recursive: false,
    follow_symlinks: false,
};

const READ: OpenFileOptions = OpenFileOptions {
    read: true,
    write: false,
    create: false,
    permissions: None,
    follow_symlinks: false,
};

fn borrow<T: 'static>(r: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(r.rep())
}

fn guest_error<T: std::fmt::Debug>(r: Result<T, FsError>) -> Error {
    match r {
        Err(FsError::Guest(e)) => *e,
        other => panic!("expected a guest error, got {other:?}"),
    }
}

#[test]
fn open_dir_and_read_file_when_allowed() {
    let f = Fixture::new();
    let mut s = f.state(&["open", "read"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    assert_eq!(
        HostDir::path(&mut s.fs(), borrow(&dir)).unwrap(),
        f.path("ok")
    );
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "a.txt".into(), READ).unwrap();
    assert_eq!(
        HostFile::read(&mut s.fs(), borrow(&file), 0, 100).unwrap(),
        b"alpha"
    );
    assert_eq!(
        HostFile::read(&mut s.fs(), borrow(&file), 2, 100).unwrap(),
        b"pha"
    );
    assert_eq!(s.authz.denials(), 0);
}

#[test]
fn denied_open_reports_who_what_and_where() {
    let f = Fixture::new();
    let mut s = f.state(&["open", "read"]);
    let err = guest_error(HostDir::open(&mut s.fs(), f.root.clone(), DIR));
    let Error::AccessDenied(d) = err else {
        panic!("{err:?}")
    };
    assert_eq!(d.principal, "tester");
    assert_eq!(d.action, "file_system::Action::\"open\"");
    assert_eq!(d.resource_type, "file_system::Dir");
    assert_eq!(d.resource_id, f.root);
    assert_eq!(s.authz.denials(), 1);
}

#[test]
fn malformed_paths_and_names_are_refused_before_deciding() {
    let f = Fixture::new();
    let mut s = f.state(&["open", "read"]);
    for bad in ["relative/path", "", "/tmp/../etc", "/tmp/a\0b"] {
        let err = guest_error(HostDir::open(&mut s.fs(), bad.into(), DIR));
        assert!(matches!(err, Error::InvalidPath(_)), "{bad:?}: {err:?}");
    }
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    for bad in ["..", ".", "a/b", "", "x\ny"] {
        let err = guest_error(HostDir::open_file(
            &mut s.fs(),
            borrow(&dir),
            bad.into(),
            READ,
        ));
        assert!(matches!(err, Error::InvalidPath(_)), "{bad:?}: {err:?}");
    }
    assert_eq!(s.authz.denials(), 0);
}

#[test]
fn read_is_checked_per_call_and_needs_a_readable_handle() {
    let f = Fixture::new();
    let mut s = f.state(&["open", "write"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "a.txt".into(), READ).unwrap();
    assert!(matches!(
        guest_error(HostFile::read(&mut s.fs(), borrow(&file), 0, 10)),
        Error::AccessDenied(_)
    ));
    let wo = OpenFileOptions {
        read: false,
        write: true,
        ..READ
    };
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "a.txt".into(), wo).unwrap();
    assert!(matches!(
        guest_error(HostFile::read(&mut s.fs(), borrow(&file), 0, 10)),
        Error::BadHandleMode(_)
    ));
}

#[test]
fn read_length_is_capped() {
    let f = Fixture::new();
    std::fs::write(f.path("ok/big"), vec![b'x'; MAX_READ_CHUNK as usize + 10]).unwrap();
    let mut s = f.state(&["open", "read"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "big".into(), READ).unwrap();
    let chunk = HostFile::read(&mut s.fs(), borrow(&file), 0, u32::MAX).unwrap();
    assert_eq!(chunk.len(), MAX_READ_CHUNK as usize);
}

#[test]
fn write_replaces_atomically_and_denied_write_changes_nothing() {
    let f = Fixture::new();
    let rw = OpenFileOptions {
        write: true,
        ..READ
    };
    let mut s = f.state(&["open", "read"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "a.txt".into(), rw).unwrap();
    assert!(matches!(
        guest_error(HostFile::write(&mut s.fs(), borrow(&file), b"new".to_vec())),
        Error::AccessDenied(_)
    ));
    assert_eq!(
        std::fs::read_to_string(f.path("ok/a.txt")).unwrap(),
        "alpha"
    );

    let mut s = f.state(&["open", "read", "write"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let file = HostDir::open_file(&mut s.fs(), borrow(&dir), "a.txt".into(), rw).unwrap();
    let before = std::fs::File::open(f.path("ok/a.txt")).unwrap();
    let newer = HostFile::write(&mut s.fs(), borrow(&file), b"new".to_vec()).unwrap();
    assert_eq!(
        HostFile::read(&mut s.fs(), borrow(&newer), 0, 10).unwrap(),
        b"new"
    );
    // The handle written through stands for the new file too (as Rex).
    assert_eq!(
        HostFile::read(&mut s.fs(), borrow(&file), 0, 10).unwrap(),
        b"new"
    );
    // A descriptor opened before still sees the old inode: the replacement was a rename, not
    // an overwrite.
    let mut old = String::new();
    std::io::Read::read_to_string(&mut &before, &mut old).unwrap();
    assert_eq!(old, "alpha");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(f.path("ok"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.txt"]);
}

/// A FIFO is refused, without blocking and without being opened: a writer blocked opening it
/// stays blocked (opening it for reading, even to refuse it, would have released the writer).
#[test]
fn a_fifo_is_refused_without_being_opened() {
    let f = Fixture::new();
    let fifo = f.path("ok/fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        fifo.as_str(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let (opened, writer_opened) = std::sync::mpsc::channel();
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let file = std::fs::OpenOptions::new().write(true).open(&writer_path);
        let _ = opened.send(());
        file
    });
    let mut s = f.state(&["open", "read"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let err = guest_error(HostDir::open_file(
        &mut s.fs(),
        borrow(&dir),
        "fifo".into(),
        READ,
    ));
    assert!(matches!(err, Error::NotAFile(_)), "{err:?}");
    let released = writer_opened.recv_timeout(std::time::Duration::from_millis(300));
    assert!(
        released.is_err(),
        "refusing the FIFO opened it and released the writer"
    );
    // Release the writer ourselves.
    let _reader = std::fs::File::open(&fifo).unwrap();
    writer.join().unwrap().unwrap();
}

#[test]
fn remove_entry_without_any_delete_permission_observes_nothing() {
    let f = Fixture::new();
    let mut s = f.state(&["open"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    // Whether or not the entry exists, the answer is the same denial.
    for name in ["a.txt", "missing"] {
        let err = guest_error(HostDir::remove_entry(
            &mut s.fs(),
            borrow(&dir),
            name.into(),
            false,
        ));
        let Error::AccessDenied(d) = err else {
            panic!("{err:?}")
        };
        assert_eq!(d.resource_type, "file_system::File");
    }
    assert!(Path::new(&f.path("ok/a.txt")).exists());
}

#[test]
fn create_dir_is_authorized_on_the_new_path() {
    let f = Fixture::new();
    let mut s = f.state(&["open"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    assert!(matches!(
        guest_error(HostDir::create_dir(&mut s.fs(), borrow(&dir), "d".into())),
        Error::AccessDenied(_)
    ));
    assert!(!Path::new(&f.path("ok/d")).exists());
    let mut s = f.state(&["open", "create"]);
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    HostDir::create_dir(&mut s.fs(), borrow(&dir), "d".into()).unwrap();
    assert!(Path::new(&f.path("ok/d")).is_dir());
}

#[test]
fn a_bad_handle_traps_instead_of_acting() {
    let f = Fixture::new();
    let mut s = f.state(&["open", "read"]);
    let bogus: Resource<FileRes> = Resource::new_borrow(4242);
    assert!(matches!(
        HostFile::read(&mut s.fs(), bogus, 0, 10),
        Err(FsError::Trap(_))
    ));
    let bogus: Resource<DirRes> = Resource::new_borrow(4242);
    assert!(matches!(
        HostDir::list_entries(&mut s.fs(), bogus),
        Err(FsError::Trap(_))
    ));
    // A dir handle used as a file handle is a type mismatch in the table: also a trap.
    let dir = HostDir::open(&mut s.fs(), f.path("ok"), DIR).unwrap();
    let confused: Resource<FileRes> = Resource::new_borrow(dir.rep());
    assert!(matches!(
        HostFile::read(&mut s.fs(), confused, 0, 10),
        Err(FsError::Trap(_))
    ));
}

const RW: OpenFileOptions = OpenFileOptions {
    read: true,
    write: true,
    create: false,
    permissions: None,
    follow_symlinks: false,
};

fn mode_of(path: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn recursive_chmod_authorizes_every_entry_before_changing_any() {
    let fx = Fixture::new();
    std::fs::create_dir_all(fx.path("ok/deep/er")).unwrap();
    std::fs::write(fx.path("ok/deep/er/z.txt"), "z").unwrap();
    // chmod permitted everywhere below ok/ except the deepest file.
    let text = format!(
        "permit (principal, action, resource in file_system::Dir::{:?});\n\
         forbid (principal, action == file_system::Action::\"chmod\", resource == file_system::File::{:?});",
        fx.path("ok"),
        fx.path("ok/deep/er/z.txt")
    );
    let mut st = state_for(&text);
    let before: Vec<u32> = ["ok", "ok/a.txt", "ok/deep", "ok/deep/er/z.txt"]
        .iter()
        .map(|p| mode_of(&fx.path(p)))
        .collect();
    let d = HostDir::open(&mut st.fs(), fx.path("ok"), DIR).unwrap();
    let err = guest_error(HostDir::set_permissions(
        &mut st.fs(),
        borrow(&d),
        0o700,
        true,
    ));
    assert!(
        matches!(err, Error::AccessDenied(ref d) if d.resource_id.ends_with("z.txt")),
        "{err:?}"
    );
    let after: Vec<u32> = ["ok", "ok/a.txt", "ok/deep", "ok/deep/er/z.txt"]
        .iter()
        .map(|p| mode_of(&fx.path(p)))
        .collect();
    assert_eq!(
        before, after,
        "a mode changed before every entry was authorized"
    );
    // Without the forbid, everything changes.
    let mut st = fx.state(&["open", "chmod"]);
    let d = HostDir::open(&mut st.fs(), fx.path("ok"), DIR).unwrap();
    HostDir::set_permissions(&mut st.fs(), borrow(&d), 0o750, true).unwrap();
    assert_eq!(mode_of(&fx.path("ok/deep/er/z.txt")), 0o750);
    assert_eq!(mode_of(&fx.path("ok")), 0o750);
    let err = guest_error(HostDir::set_permissions(
        &mut st.fs(),
        borrow(&d),
        0o17777,
        false,
    ));
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

#[test]
fn move_carries_the_destination_context_and_never_replaces_silently() {
    let fx = Fixture::new();
    std::fs::create_dir(fx.path("ok/in")).unwrap();
    std::fs::write(fx.path("ok/b.txt"), "beta").unwrap();
    let text = format!(
        "permit (principal, action, resource in file_system::Dir::{ok:?})\n\
         unless {{ action == file_system::Action::\"move\" || action == file_system::Action::\"delete\" }};\n\
         permit (principal, action == file_system::Action::\"move\", resource)\n\
         when {{ context.destination.parent_path == {inn:?} && context.destination.name like \"*.txt\" }};",
        ok = fx.path("ok"),
        inn = fx.path("ok/in"),
    );
    let mut st = state_for(&text);
    let ok = HostDir::open(&mut st.fs(), fx.path("ok"), DIR).unwrap();
    let inn = HostDir::open(&mut st.fs(), fx.path("ok/in"), DIR).unwrap();
    let a = HostDir::open_file(&mut st.fs(), borrow(&ok), "a.txt".into(), READ).unwrap();
    // Destination outside the permitted context: denied, nothing moved.
    let err = guest_error(HostFile::move_to(
        &mut st.fs(),
        borrow(&a),
        borrow(&ok),
        "c.txt".into(),
    ));
    assert!(
        matches!(err, Error::AccessDenied(ref d) if d.action.contains("move")),
        "{err:?}"
    );
    let err = guest_error(HostFile::move_to(
        &mut st.fs(),
        borrow(&a),
        borrow(&inn),
        "a.bin".into(),
    ));
    assert!(matches!(err, Error::AccessDenied(_)), "{err:?}");
    assert!(Path::new(&fx.path("ok/a.txt")).exists());
    let moved = HostFile::move_to(&mut st.fs(), borrow(&a), borrow(&inn), "a.txt".into()).unwrap();
    assert_eq!(
        HostFile::read(&mut st.fs(), borrow(&moved), 0, 64).unwrap(),
        b"alpha"
    );
    assert!(!Path::new(&fx.path("ok/a.txt")).exists());
    // Replacing an existing destination needs `delete` on it, which is not permitted.
    std::fs::write(fx.path("ok/in/b.txt"), "keep me").unwrap();
    let b = HostDir::open_file(&mut st.fs(), borrow(&ok), "b.txt".into(), READ).unwrap();
    let err = guest_error(HostFile::move_to(
        &mut st.fs(),
        borrow(&b),
        borrow(&inn),
        "b.txt".into(),
    ));
    assert!(
        matches!(err, Error::AccessDenied(ref d) if d.action.contains("delete")),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.path("ok/in/b.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn copy_refuses_a_non_empty_destination_without_force() {
    let fx = Fixture::new();
    std::fs::write(fx.path("ok/dest.txt"), "xy").unwrap();
    let mut st = fx.state(&["open", "read", "write"]);
    let ok = HostDir::open(&mut st.fs(), fx.path("ok"), DIR).unwrap();
    let src = HostDir::open_file(&mut st.fs(), borrow(&ok), "a.txt".into(), READ).unwrap();
    let dest = HostDir::open_file(&mut st.fs(), borrow(&ok), "dest.txt".into(), RW).unwrap();
    let err = guest_error(HostFile::copy_to(
        &mut st.fs(),
        borrow(&src),
        borrow(&dest),
        false,
        false,
    ));
    assert!(
        matches!(err, Error::DestinationNotEmpty(ref m) if m.contains("Size: 2 bytes")),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_to_string(fx.path("ok/dest.txt")).unwrap(),
        "xy"
    );
    HostFile::copy_to(&mut st.fs(), borrow(&src), borrow(&dest), true, false).unwrap();
    assert_eq!(
        std::fs::read_to_string(fx.path("ok/dest.txt")).unwrap(),
        "alpha"
    );
    // A read-only destination handle is refused before anything is decided.
    let err = guest_error(HostFile::copy_to(
        &mut st.fs(),
        borrow(&src),
        borrow(&src),
        true,
        false,
    ));
    assert!(matches!(err, Error::BadHandleMode(_)), "{err:?}");
}

#[test]
fn in_place_changes_refuse_hard_linked_files() {
    let fx = Fixture::new();
    std::fs::hard_link(fx.path("secret.txt"), fx.path("ok/hl")).unwrap();
    let mut st = fx.state(&["open", "read", "write", "chmod", "chown"]);
    let ok = HostDir::open(&mut st.fs(), fx.path("ok"), DIR).unwrap();
    let f = HostDir::open_file(&mut st.fs(), borrow(&ok), "hl".into(), RW).unwrap();
    for err in [
        guest_error(HostFile::append(&mut st.fs(), borrow(&f), b"x".to_vec())),
        guest_error(HostFile::write_in_place(
            &mut st.fs(),
            borrow(&f),
            b"x".to_vec(),
        )),
        guest_error(HostFile::set_len(&mut st.fs(), borrow(&f), 0)),
        guest_error(HostFile::allocate(&mut st.fs(), borrow(&f), 10)),
        guest_error(HostFile::set_permissions(&mut st.fs(), borrow(&f), 0o600)),
        guest_error(HostFile::set_ownership(
            &mut st.fs(),
            borrow(&f),
            None,
            Some("0".into()),
        )),
    ] {
        assert!(
            matches!(err, Error::Unsupported(ref m) if m.contains("hard links")),
            "{err:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(fx.path("secret.txt")).unwrap(),
        "secret"
    );
}

#[test]
fn redaction_keeps_matching_lines_only() {
    let patterns = super::redact::parse_dictionary("# comment\n\n^user=\nok$\n", "/d").unwrap();
    let clock = crate::limits::Meter::new(crate::limits::Limits::default(), None)
        .clock()
        .clone();
    let redacted = super::redact::redact("user=a\npassword=b\nall ok\n", &patterns, &clock);
    assert_eq!(
        redacted.ok().as_deref(),
        Some("user=a\n[REDACTED]\nall ok\n")
    );
    let err = guest_error(super::redact::parse_dictionary("fine\n(unclosed\n", "/d"));
    assert!(
        matches!(err, Error::Io(ref m) if m.contains("line 2")),
        "{err:?}"
    );
}
