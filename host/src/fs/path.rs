//! Path and name hygiene. Every path a guest passes is validated and normalized here before
//! it is used as a Cedar resource id or touches the file system.

use super::error::FsError;

/// Longest path accepted (Linux `PATH_MAX`).
pub const MAX_PATH: usize = 4096;
/// Longest single name accepted (Linux `NAME_MAX`).
pub const MAX_NAME: usize = 255;

fn invalid(path: &str, problem: &str) -> FsError {
    FsError::invalid_path(format!("invalid path `{}`: {problem}", path.escape_debug()))
}

/// Refuses NUL and control characters, in Rex's words ("Path contains invalid characters").
fn check_chars(text: &str, what: &str) -> Result<(), FsError> {
    if text.contains('\0') {
        return Err(invalid(
            text,
            &format!("Path contains invalid characters: {what} contains a NUL byte"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(
            text,
            &format!("Path contains invalid characters: {what} contains a control character"),
        ));
    }
    Ok(())
}

/// Validates an absolute path and returns its normal form: no empty or `.` components, no
/// trailing `/` (except for `/` itself).
///
/// Refused: an empty or relative path, a `..` component (path traversal), NUL and control
/// characters, a path longer than [`MAX_PATH`] or a component longer than [`MAX_NAME`].
pub fn normalize_absolute(path: &str) -> Result<String, FsError> {
    if path.is_empty() {
        return Err(FsError::invalid_path(
            "invalid path ``: the path is empty".into(),
        ));
    }
    check_chars(path, "the path")?;
    if path.len() > MAX_PATH {
        return Err(invalid(
            &path[..path.floor_char_boundary(64)],
            &format!("the path is longer than {MAX_PATH} bytes"),
        ));
    }
    if !path.starts_with('/') {
        return Err(invalid(path, "the path is not absolute"));
    }
    let mut out = String::with_capacity(path.len());
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                return Err(invalid(
                    path,
                    "`..` components are not allowed (path traversal detected)",
                ));
            }
            name if name.len() > MAX_NAME => {
                return Err(invalid(
                    path,
                    &format!("a component is longer than {MAX_NAME} bytes"),
                ));
            }
            name => {
                out.push('/');
                out.push_str(name);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// Validates a single name (one path component) to open or create in a directory.
pub fn validate_name(name: &str) -> Result<(), FsError> {
    if name.is_empty() {
        return Err(FsError::invalid_path(
            "invalid name ``: the name is empty".into(),
        ));
    }
    check_chars(name, "the name")?;
    if name == "." || name == ".." {
        return Err(invalid(
            name,
            "`.` and `..` are not file names (path traversal detected)",
        ));
    }
    if name.contains('/') {
        return Err(invalid(
            name,
            "a name must be a single path component, without `/`",
        ));
    }
    if name.len() > MAX_NAME {
        return Err(invalid(
            &name[..name.floor_char_boundary(64)],
            &format!("the name is longer than {MAX_NAME} bytes"),
        ));
    }
    Ok(())
}

/// `dir/name` for a normalized directory path.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent directory and final name of a normalized absolute path (`("/", "")` for `/`).
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) | None => ("/", path.trim_start_matches('/')),
        Some(i) => (&path[..i], &path[i + 1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize_absolute("/").unwrap(), "/");
        assert_eq!(normalize_absolute("//tmp/./a//b/").unwrap(), "/tmp/a/b");
    }

    #[test]
    fn refuses_bad_paths() {
        for bad in [
            "",
            "tmp/a",
            "/tmp/../etc",
            "/tmp/a\0b",
            "/tmp/a\nb",
            "..",
            "/..",
        ] {
            assert!(normalize_absolute(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalize_absolute(&format!("/{}", "a".repeat(256))).is_err());
        assert!(normalize_absolute(&"/a".repeat(2049)).is_err());
    }

    #[test]
    fn splits_parents() {
        assert_eq!(split_parent("/a/b"), ("/a", "b"));
        assert_eq!(split_parent("/a"), ("/", "a"));
        assert_eq!(split_parent("/"), ("/", ""));
    }

    #[test]
    fn refuses_bad_names() {
        for bad in ["", ".", "..", "a/b", "a\0", "a\u{1b}"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_name("ok.txt").is_ok());
    }
}
