//! The file-system configuration of a job.

use std::path::PathBuf;

/// Rex's redaction dictionary path.
pub const DEFAULT_REDACTION_DICTIONARY: &str = "/etc/opt/rex/rex_redaction.config";

/// The file-system configuration of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// A directory that becomes the run's `/`: every script path, and so every Cedar
    /// resource, is resolved inside it (`..` stops at it, absolute symlinks restart at it).
    /// `None`: the host's `/`.
    pub root: Option<PathBuf>,
    /// The redaction dictionary for `redacted_read` (Rex's
    /// `/etc/opt/rex/rex_redaction.config` by default): one regular expression per line; a
    /// line of a redacted file is kept when one matches, and shown as `[REDACTED]` otherwise.
    /// The path is as the run sees it, and reading it is authorized like any file (`open` on
    /// its directory, `open` and `read`).
    pub redaction_dictionary: String,
    /// Host paths of the runtime's own state that no script may touch, whatever the policy
    /// says (the CLI adds its policy and script files). Added by the runtime itself: its
    /// compiled-guest cache, its binary, and its own process under `/proc`.
    pub protected: Vec<PathBuf>,
}

impl Default for FsConfig {
    fn default() -> Self {
        Self {
            root: None,
            redaction_dictionary: DEFAULT_REDACTION_DICTIONARY.to_string(),
            protected: Vec::new(),
        }
    }
}
