//! The runtime's own state, outside every script's reach whatever the policy says: the
//! compiled-guest cache, the `wrex` binary, the files a job names as protected (the CLI's
//! policy and script files), and the host process itself under `/proc` (`/proc/self`,
//! `/proc/thread-self`, `/proc/<wrex's pid>` and `/proc/<any of its thread ids>`: its
//! environment holds secrets, its memory map and descriptors are the host's).
//!
//! Checked by the authorizer before any policy (see `authz::Guard`), on the path the request
//! names: a walk that follows a symlink authorizes the path it resolves to, so a link to
//! protected state is refused too.

use std::path::{Path, PathBuf};

use crate::authz::Guard;

/// What a run may never touch, as paths the run sees.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeState {
    /// Protected paths as the run sees them, with what each is.
    paths: Vec<(String, String)>,
    /// Whether the run's `/proc` is the host's (the run's `/` is the host's `/`).
    host_proc: bool,
}

impl RuntimeState {
    /// The protected state of a run whose `/` is `root` (`None`: the host's `/`): `paths`,
    /// each named by what it is.
    pub(crate) fn new(root: Option<&Path>, paths: &[(PathBuf, String)]) -> Self {
        let root = root.map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.to_path_buf()));
        let mut seen = Vec::new();
        for (path, what) in paths {
            // Both the path as given and its canonical form: either may be how a script
            // names it.
            let canonical = std::fs::canonicalize(path).ok();
            for host in std::iter::once(path.clone())
                .chain(canonical)
                .filter(|p| p.is_absolute())
            {
                if let Some(visible) = as_seen_from(root.as_deref(), &host)
                    && visible != "/"
                    && !seen.iter().any(|(p, _)| *p == visible)
                {
                    seen.push((visible, what.clone()));
                }
            }
        }
        Self {
            paths: seen,
            host_proc: root.is_none(),
        }
    }

    /// Why `path` is the host process under `/proc`, if it is.
    fn host_process(&self, path: &str) -> Option<String> {
        if !self.host_proc {
            return None;
        }
        let rest = path.strip_prefix("/proc/")?;
        let entry = rest.split('/').next().unwrap_or(rest);
        let ours = match entry {
            "self" | "thread-self" => true,
            id => is_host_process(id),
        };
        ours.then(|| format!("`/proc/{entry}` is the wrex host process"))
    }
}

/// `host` as the run sees it: itself when the run's `/` is the host's, its path below `root`
/// otherwise, `None` when the run cannot reach it.
fn as_seen_from(root: Option<&Path>, host: &Path) -> Option<String> {
    let visible = match root {
        None => host.to_path_buf(),
        Some(root) => Path::new("/").join(host.strip_prefix(root).ok()?),
    };
    let text = visible.to_str()?.trim_end_matches('/');
    Some(if text.is_empty() {
        "/".into()
    } else {
        text.into()
    })
}

/// Whether `id` (a decimal PID) names the wrex host process or one of its threads: a thread
/// id is also a `/proc/<tid>` and a PID of its own.
pub(crate) fn is_host_process(id: &str) -> bool {
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == std::process::id().to_string() || Path::new("/proc/self/task").join(id).exists())
}

fn is_within(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Guard for RuntimeState {
    fn refuses(&self, type_name: &str, id: &str) -> Option<String> {
        if type_name == "process_system::Process" {
            // The host process and its threads, whatever the run's `/` (processes are the
            // host's, not the run's).
            return is_host_process(id).then(|| format!("process {id} is the wrex host process"));
        }
        if !type_name.starts_with("file_system::") {
            return None;
        }
        if let Some(why) = self.host_process(id) {
            return Some(why);
        }
        self.paths
            .iter()
            .find(|(p, _)| is_within(id, p))
            .map(|(p, what)| format!("`{p}` is {what}, outside every script's reach"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(root: Option<&str>) -> RuntimeState {
        let paths = [
            (
                PathBuf::from("/srv/cache/wrex"),
                "the compiled-guest cache".to_string(),
            ),
            (
                PathBuf::from("/etc/wrex/policy.cedar"),
                "a policy file".to_string(),
            ),
        ];
        RuntimeState::new(root.map(Path::new), &paths)
    }

    #[test]
    fn protected_paths_and_everything_below_them_are_refused() {
        let s = state(None);
        let refused = |id| s.refuses("file_system::File", id).is_some();
        assert!(refused("/srv/cache/wrex"));
        assert!(refused("/srv/cache/wrex/guest.cwasm"));
        assert!(refused("/etc/wrex/policy.cedar"));
        assert!(!refused("/srv/cache/wrex2"));
        assert!(!refused("/srv/cache"));
        assert!(!refused("/etc/wrex/other.cedar"));
        assert!(
            s.refuses("process_system::Process", "/srv/cache/wrex")
                .is_none()
        );
    }

    #[test]
    fn the_host_process_is_refused_under_proc() {
        let s = state(None);
        let refused = |id: &str| s.refuses("file_system::File", id).is_some();
        let pid = std::process::id();
        assert!(refused("/proc/self/environ"));
        assert!(refused("/proc/thread-self/maps"));
        assert!(refused(&format!("/proc/{pid}")));
        assert!(refused(&format!("/proc/{pid}/mem")));
        // This test's own thread is a thread of the process: its id is refused too.
        let link = std::fs::read_link("/proc/thread-self").unwrap();
        let tid = link.file_name().unwrap().to_str().unwrap();
        assert!(refused(&format!("/proc/{tid}/environ")));
        assert!(!refused("/proc/1/status"));
        assert!(!refused("/proc/cpuinfo"));
        assert!(!refused("/proc/selfish"));
    }

    #[test]
    fn a_tenant_root_sees_protected_paths_below_it_only() {
        let s = state(Some("/srv"));
        assert!(s.refuses("file_system::Dir", "/cache/wrex").is_some());
        assert!(
            s.refuses("file_system::File", "/etc/wrex/policy.cedar")
                .is_none()
        );
        // A tenant's /proc is not the host's.
        assert!(
            s.refuses("file_system::File", "/proc/self/environ")
                .is_none()
        );
    }
}
