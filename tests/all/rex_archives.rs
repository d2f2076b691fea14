//! Rex's tests of gzip and tar (`rhai-safe-io/tests/safe_io.rs` in the Rex repository), one
//! [`Case`] per Rex test, named by it. The extraction tests that need a built archive are in
//! `rex_fs.rs`.

use crate::rex_case::{Case, Pol, Want, leak, run_all};

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
