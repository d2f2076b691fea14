//! Rex's tests of gzip and tar (`rhai-safe-io/tests/safe_io.rs` in the Rex repository), one
//! [`Case`] per Rex test, named by it. The extraction tests that need a built archive are in
//! `rex_fs.rs`.

use crate::rex_case::{After, Case, Pol, Want, leak, run_all};
use crate::util::{Tar, gzip, tar};

const READ_FLAG: &str = "Attempted to read a file without opening it with the read option";

/// Compresses `source.txt` into `source.txt.gz` through the handle `dest`, opened with
/// `dest_options`; then runs `then`.
fn gzipped(dest_options: &str, then: &str) -> &'static str {
    leak(format!(
        "let d = open_dir(t);\n\
         let source = d.open_file(\"source.txt\", OpenFileOptions().read(true).build());\n\
         let dest = d.open_file(\"source.txt.gz\", OpenFileOptions(){dest_options}.create(true).build());\n\
         source.compress_gzip(dest, CompressGzipOptions().build());\n{then}"
    ))
}

/// Opens the compressed file again for writing only and runs `then` on it as `again`.
fn write_only_again(then: &str) -> &'static str {
    gzipped(
        ".write(true)",
        &format!(
            "let again = d.open_file(\"source.txt.gz\", OpenFileOptions().write(true).build());\n{then}"
        ),
    )
}

#[test]
fn gzip_as_rex() {
    const GZIP_POLICY: Pol = Pol::Only(&["open", "read", "create", "write"]);
    let case = |rex, content: &'static [u8], source, want| Case {
        rex,
        files: leak_files(content),
        source,
        policy: GZIP_POLICY,
        want,
        ..Case::default()
    };
    run_all(&[
        case(
            "test_rhai_read_gzip_lines_success",
            b"line1\nline2\nline3\n",
            gzipped(
                ".read(true).write(true)",
                "dest.read_gzip_lines(ReadLinesOptions().count(2).build()).len()",
            ),
            Want::Out("2"),
        ),
        case(
            "test_rhai_read_gzip_lines_no_read_permission",
            b"line1\nline2\n",
            write_only_again("again.read_gzip_lines(ReadLinesOptions().count(2).build()).len()"),
            Want::Err(READ_FLAG),
        ),
        case(
            "test_rhai_gzip_info_success",
            b"Hello, gzip info test content!\n",
            gzipped(
                ".read(true).write(true)",
                "dest.gzip_info().uncompressed_size_bytes",
            ),
            Want::Out("31"),
        ),
        case(
            "test_rhai_gzip_info_no_read_permission",
            b"content",
            write_only_again("again.gzip_info().compressed_size_bytes()"),
            Want::Err(READ_FLAG),
        ),
        case(
            "test_rhai_search_gzip_success",
            b"line1 ERROR here\nline2 info\nline3 ERROR again\n",
            gzipped(
                ".read(true).write(true)",
                "dest.search_gzip(\"ERROR\", SearchGzipOptions().build()).len()",
            ),
            Want::Out("2"),
        ),
        case(
            "test_rhai_search_gzip_invalid_pattern",
            b"content",
            gzipped(
                ".read(true).write(true)",
                "dest.search_gzip(\"[invalid(\", SearchGzipOptions().build()).len()",
            ),
            Want::Err("Invalid regex pattern"),
        ),
        case(
            "test_rhai_search_gzip_exists_found",
            b"info line\nERROR critical\nwarning line\n",
            gzipped(
                ".read(true).write(true)",
                "dest.search_gzip_exists(\"ERROR\", SearchGzipOptions().build())",
            ),
            Want::Out("true"),
        ),
        case(
            "test_rhai_search_gzip_exists_not_found",
            b"info line\nwarning line\n",
            gzipped(
                ".read(true).write(true)",
                "dest.search_gzip_exists(\"CRITICAL\", SearchGzipOptions().build())",
            ),
            Want::Out("false"),
        ),
    ]);
}

/// `source.txt` holding `content`.
fn leak_files(content: &'static [u8]) -> &'static [(&'static str, &'static [u8])] {
    Box::leak(Box::new([("source.txt", content)]))
}

/// `a.tar.gz` holding `entries`, for a case's `files`.
fn archive(entries: &[Tar<'_>]) -> &'static [(&'static str, &'static [u8])] {
    let bytes: &'static [u8] = Box::leak(gzip(&tar(entries)).into_boxed_slice());
    Box::leak(Box::new([("a.tar.gz", bytes)]))
}

/// Extracts `a.tar.gz` (opened with `archive_options`) into `t/extracted` (created) with
/// `ExtractArchiveOptions()` + `options`.
fn extract(archive_options: &str, options: &str) -> &'static str {
    leak(format!(
        "let d = open_dir(t);\n\
         let a = d.open_file(\"a.tar.gz\", OpenFileOptions(){archive_options}.build());\n\
         let x = DirConfig().path(t + \"/extracted\").build().open(OpenDirOptions().create(true).recursive(true).build());\n\
         a.extract_archive(x, ExtractArchiveOptions(){options}.build());"
    ))
}

/// Seconds since the epoch of 2000-01-01, Rex's "very old" timestamp.
const Y2000: u64 = 946_684_800;

fn mtime(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().mtime() as u64
}

#[test]
fn extraction_as_rex() {
    let four = archive(&[
        Tar::File("file1.txt", b"Content of file 1"),
        Tar::File("file2.txt", b"Content of file 2"),
        Tar::Dir("subdir/"),
        Tar::File("subdir/nested_file.txt", b"Nested file content"),
    ]);
    let one = archive(&[Tar::File("file1.txt", b"Content of file 1")]);
    let modes = archive(&[
        Tar::Mode(
            &Tar::File("executable.sh", b"#!/bin/bash\necho hello"),
            0o755,
        ),
        Tar::Mode(&Tar::Dir("test_directory/"), 0o700),
        Tar::Mode(
            &Tar::File("test_directory/nested_file.txt", b"nested"),
            0o755,
        ),
    ]);
    let times = archive(&[
        Tar::Mtime(&Tar::File("timestamped_file.txt", b"file content"), Y2000),
        Tar::Mtime(&Tar::Dir("timestamped_directory/"), Y2000),
    ]);
    const ALL: &[&str] = &["open", "read", "create", "write", "chmod", "chown"];
    run_all(&[
        Case {
            rex: "test_extract_archive_success",
            files: four,
            source: extract(
                ".read(true)",
                ".preserve_permissions(true).preserve_timestamps(true)",
            ),
            policy: Pol::Only(ALL),
            after: &[
                After::File("extracted/file1.txt", "Content of file 1"),
                After::File("extracted/file2.txt", "Content of file 2"),
                After::File("extracted/subdir/nested_file.txt", "Nested file content"),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_unauthorized_read",
            files: one,
            source: extract(".read(true)", ""),
            policy: Pol::Only(&["open", "create"]),
            want: Want::Denied("read"),
            after: &[After::Absent("extracted/file1.txt")],
        },
        Case {
            rex: "test_extract_archive_no_read_option",
            files: one,
            source: extract(".write(true)", ""),
            policy: Pol::Only(&["open", "read", "create"]),
            want: Want::Err(READ_FLAG),
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_skip_special_files",
            files: archive(&[
                Tar::File("regular.txt", b"regular file content"),
                Tar::Symlink("symlink", "regular.txt"),
                Tar::CharDev("chardev"),
            ]),
            source: extract(".read(true)", ""),
            policy: Pol::Only(&["open", "read", "write", "create"]),
            after: &[
                After::File("extracted/regular.txt", "regular file content"),
                After::Absent("extracted/symlink"),
                After::Absent("extracted/chardev"),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_overwrite_files",
            files: {
                let a = archive(&[Tar::File("existing_file.txt", b"new content from archive")]);
                Box::leak(Box::new([
                    a[0],
                    ("extracted/existing_file.txt", b"original content"),
                ]))
            },
            source: extract(".read(true)", ""),
            policy: Pol::Only(&["open", "read", "write", "create"]),
            after: &[After::File(
                "extracted/existing_file.txt",
                "new content from archive",
            )],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_preserve_permissions::preserve_true",
            files: modes,
            source: extract(".read(true)", ".preserve_permissions(true)"),
            policy: Pol::Only(&["open", "read", "create", "write", "chmod"]),
            after: &[
                After::Mode("extracted/executable.sh", 0o755),
                After::Mode("extracted/test_directory", 0o700),
                After::Mode("extracted/test_directory/nested_file.txt", 0o755),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_preserve_permissions::preserve_false",
            files: modes,
            source: extract(".read(true)", ".preserve_permissions(false)"),
            policy: Pol::Only(&["open", "read", "create", "write", "chmod"]),
            after: &[
                After::Mode("extracted/executable.sh", 0o644),
                After::Mode("extracted/test_directory", 0o755),
                After::Mode("extracted/test_directory/nested_file.txt", 0o644),
            ],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_preserve_timestamps::preserve_true",
            files: times,
            source: extract(".read(true)", ".preserve_timestamps(true)"),
            policy: Pol::Only(&["open", "read", "write", "create"]),
            after: &[After::Holds("both modified in 2000", |t| {
                mtime(&format!("{t}/extracted/timestamped_file.txt")) == Y2000
                    && mtime(&format!("{t}/extracted/timestamped_directory")) == Y2000
            })],
            ..Case::default()
        },
        Case {
            rex: "test_extract_archive_preserve_timestamps::preserve_false",
            files: times,
            source: extract(".read(true)", ".preserve_timestamps(false)"),
            policy: Pol::Only(&["open", "read", "write", "create"]),
            after: &[After::Holds("both modified after 2010", |t| {
                mtime(&format!("{t}/extracted/timestamped_file.txt")) > 1_262_304_000
                    && mtime(&format!("{t}/extracted/timestamped_directory")) > 1_262_304_000
            })],
            ..Case::default()
        },
    ]);
}
