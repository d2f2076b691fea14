//! The guest's one way to join and split paths. The host validates and normalizes every path
//! again (it is the authority on paths); these only build the text.

use rhai::EvalAltResult;

use super::error::{IoErrorKind, sdk_error};

/// `dir/name` (`/name` under `/`).
pub fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    format!("{dir}/{name}")
}

/// `dir/a/b/…` for the components `parts` (`dir` itself when there are none).
pub fn join_all(dir: &str, parts: &[&str]) -> String {
    let mut path = dir.trim_end_matches('/').to_string();
    for part in parts {
        path.push('/');
        path.push_str(part);
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

/// Splits an absolute path into its parent directory and final name.
pub fn split(path: &str) -> Result<(&str, &str), Box<EvalAltResult>> {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) if trimmed.len() > 1 => Ok(("/", &trimmed[1..])),
        Some(i) if i > 0 => Ok((&trimmed[..i], &trimmed[i + 1..])),
        _ if trimmed.is_empty() && path.starts_with('/') => Err(sdk_error(
            IoErrorKind::InvalidPath,
            format!("path `{path}` names the root directory, which has no parent"),
        )),
        _ => Err(sdk_error(
            IoErrorKind::InvalidPath,
            format!("path `{path}` is not absolute"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_splits() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/x/", "a"), "/x/a");
        assert_eq!(join_all("/x", &["a", "b"]), "/x/a/b");
        assert_eq!(join_all("/", &[]), "/");
        assert_eq!(split("/a/b").unwrap(), ("/a", "b"));
        assert_eq!(split("/a").unwrap(), ("/", "a"));
        assert!(split("/").is_err());
        assert!(split("a").is_err());
    }
}
