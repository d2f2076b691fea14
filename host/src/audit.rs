//! The audit log: one JSON line per authorization decision, allow and deny, hash-chained, and
//! durable before the operation it authorizes goes ahead.
//!
//! Each line is a JSON object with `seq` (1, 2, … through the whole file) and `prev` (the
//! SHA-256 of the previous line's bytes, lower-case hex; 64 zeros for the first), so editing,
//! deleting or reordering a line breaks the chain at the first line after it
//! ([`verify`]). A run writes a `run_start` record, one `decision` record per authorization
//! decision, and a `run_end` summary. Appends hold an exclusive `flock` on the file, so runs in
//! one process or many append to one chain; each line is `fdatasync`ed before the decision is
//! returned, so a process killed mid-run leaves every decision it acted on in the log. If a
//! record cannot be written, the decision is a deny (fail closed).
//!
//! With a signing key, each `run_end` is followed by a `signature` record: an Ed25519
//! signature of the `run_end` line's hash, which (through `prev`) covers every line before it,
//! so a verifier holding the public key can tell this host's log from one rewritten wholesale.
//!
//! `docs/audit.md` describes the fields and how they map to OCSF.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::authz::Decision;
use crate::time::Timestamp;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Longest audit line accepted when reading a log (a decision's context is bounded by the
/// request, so real lines are far shorter).
const MAX_LINE: usize = 1 << 20;

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Why an audit log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("audit log `{path}`: {problem}; check it with `wrex audit verify`, then move it aside")]
    Damaged { path: PathBuf, problem: String },
    #[error("audit key: {0}")]
    Key(String),
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `N` bytes from `text` in hex (surrounding whitespace ignored).
pub fn from_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], AuditError> {
    let text = text.trim();
    let bad = || AuditError::Key(format!("{what} is not {} hex digits", 2 * N));
    if text.len() != 2 * N || !text.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// A new Ed25519 key pair for signing audit logs: (secret seed, public key), each hex.
pub fn generate_key() -> Result<(String, String), AuditError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| AuditError::Key(format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    Ok((hex(&seed), hex(key.verifying_key().as_bytes())))
}

/// The public key (hex) of a secret seed (hex).
pub fn public_key(seed_hex: &str) -> Result<String, AuditError> {
    let key = SigningKey::from_bytes(&from_hex::<32>(seed_hex, "the secret key")?);
    Ok(hex(key.verifying_key().as_bytes()))
}

/// Where the chain stands: the last record's sequence number and hash, and the file length
/// they were read at (another process may have appended since).
#[derive(Debug)]
struct Chain {
    file: File,
    seq: u64,
    last: String,
    len: u64,
}

/// An append-only, hash-chained audit log file, shared by every run that records to it.
pub struct AuditLog {
    path: PathBuf,
    chain: Mutex<Chain>,
    /// Signs each run's summary.
    key: Option<SigningKey>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("signed", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates, mode 0600) the log at `path` for appending. An existing log's last
    /// record must be complete; the chain continues from it.
    pub fn open(path: impl AsRef<Path>) -> Result<Arc<Self>, AuditError> {
        Self::open_signed(path, None)
    }

    /// [`Self::open`], signing each run's summary with the Ed25519 secret key `seed_hex`
    /// (64 hex digits, as `wrex audit keygen` writes it).
    pub fn open_signed(
        path: impl AsRef<Path>,
        seed_hex: Option<&str>,
    ) -> Result<Arc<Self>, AuditError> {
        let key = seed_hex
            .map(|s| from_hex::<32>(s, "the secret key").map(|seed| SigningKey::from_bytes(&seed)))
            .transpose()?;
        let path = path.as_ref().to_path_buf();
        let io = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(io)?;
        let mut chain = Chain {
            file,
            seq: 0,
            last: GENESIS.to_string(),
            len: 0,
        };
        lock(&chain.file).map_err(io)?;
        let refreshed = refresh(&mut chain, &path);
        unlock(&chain.file);
        refreshed?;
        Ok(Arc::new(Self {
            path,
            chain: Mutex::new(chain),
            key,
        }))
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` (a JSON object, given `seq` and `prev` here) as one line, durable
    /// before this returns. Returns the record's sequence number and the line's hash.
    fn append(&self, record: serde_json::Map<String, Value>) -> Result<(u64, String), AuditError> {
        self.append_with(record, true)
    }

    /// [`Self::append`]; with `durable` false, the line is written but not synced (it is on
    /// disk with the next synced line, and survives a killed process, not a power loss).
    fn append_with(
        &self,
        mut record: serde_json::Map<String, Value>,
        durable: bool,
    ) -> Result<(u64, String), AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut chain = self.chain.lock().unwrap_or_else(|e| e.into_inner());
        lock(&chain.file).map_err(io)?;
        let result = (|| {
            refresh(&mut chain, &self.path)?;
            let seq = chain.seq + 1;
            record.insert("seq".into(), json!(seq));
            record.insert("prev".into(), json!(chain.last));
            let mut line =
                serde_json::to_vec(&Value::Object(record)).map_err(|e| io(io::Error::other(e)))?;
            let hash = sha256_hex(&line);
            line.push(b'\n');
            chain.file.write_all(&line).map_err(io)?;
            if durable {
                chain.file.sync_data().map_err(io)?;
            }
            chain.seq = seq;
            chain.last = hash.clone();
            chain.len += line.len() as u64;
            Ok((seq, hash))
        })();
        unlock(&chain.file);
        result
    }

    /// Starts recording one run: writes its `run_start` record.
    pub fn begin(self: &Arc<Self>, run: RunInfo) -> Result<Arc<AuditRun>, AuditError> {
        let mut record = run.fields();
        record.insert("type".into(), json!("run_start"));
        record.insert("time".into(), json!(Timestamp::now().rfc3339()));
        self.append(record)?;
        Ok(Arc::new(AuditRun {
            log: Arc::clone(self),
            run,
            allowed: AtomicU64::new(0),
            denied: AtomicU64::new(0),
            would_deny: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
        }))
    }
}

/// Re-reads the chain's position if the file changed since (another process appended).
fn refresh(chain: &mut Chain, path: &Path) -> Result<(), AuditError> {
    let io = |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = chain.file.metadata().map_err(io)?.len();
    if len == chain.len && (len != 0 || chain.seq == 0) {
        return Ok(());
    }
    let damaged = |problem: String| AuditError::Damaged {
        path: path.to_path_buf(),
        problem,
    };
    if len == 0 {
        chain.seq = 0;
        chain.last = GENESIS.to_string();
        chain.len = 0;
        return Ok(());
    }
    let line = last_line(&mut chain.file, len).map_err(io)?;
    let Some(line) = line else {
        return Err(damaged(
            "it does not end with a complete record (a write was cut off)".into(),
        ));
    };
    let seq = serde_json::from_slice::<Value>(&line)
        .ok()
        .and_then(|v| v.get("seq").and_then(Value::as_u64))
        .ok_or_else(|| damaged("its last line is not an audit record".into()))?;
    chain.seq = seq;
    chain.last = sha256_hex(&line);
    chain.len = len;
    Ok(())
}

/// The last line of the file (without its newline); `None` if the file does not end with
/// one.
fn last_line(file: &mut File, len: u64) -> io::Result<Option<Vec<u8>>> {
    let take = len.min(MAX_LINE as u64 + 1);
    file.seek(SeekFrom::Start(len - take))?;
    let mut tail = vec![0; take as usize];
    file.read_exact(&mut tail)?;
    if tail.last() != Some(&b'\n') {
        return Ok(None);
    }
    tail.pop();
    let start = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if start == 0 && take < len {
        return Err(io::Error::other("the last record is longer than 1 MiB"));
    }
    Ok(Some(tail[start..].to_vec()))
}

fn lock(file: &File) -> io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive).map_err(io::Error::from)
}

fn unlock(file: &File) {
    let _ = rustix::fs::flock(file, rustix::fs::FlockOperation::Unlock);
}

/// What identifies a run in every record it writes.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// A random id, 32 hex digits.
    pub run: String,
    /// SHA-256 of the script text.
    pub script_sha256: String,
    /// SHA-256 of the policy text.
    pub policy_sha256: String,
    /// `User::"<principal>"`.
    pub principal: String,
    /// The parties the run acts for, the first one first.
    pub on_behalf_of: Vec<String>,
    /// What the run is for.
    pub purpose: Option<String>,
}

impl RunInfo {
    fn fields(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("run".into(), json!(self.run));
        m.insert("script_sha256".into(), json!(self.script_sha256));
        m.insert("policy_sha256".into(), json!(self.policy_sha256));
        m.insert("principal".into(), json!(self.principal));
        m.insert("on_behalf_of".into(), json!(self.on_behalf_of));
        if let Some(purpose) = &self.purpose {
            m.insert("purpose".into(), json!(purpose));
        }
        m
    }
}

/// A fresh run id: 128 random bits, hex.
pub fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: time and process id still keep ids apart in practice.
        let t = Timestamp::now().rfc3339();
        return sha256_hex(format!("{t}/{}", std::process::id()).as_bytes())[..32].to_string();
    }
    hex(&bytes)
}

/// One run's recorder: writes its decisions, then its summary.
#[derive(Debug)]
pub struct AuditRun {
    log: Arc<AuditLog>,
    run: RunInfo,
    allowed: AtomicU64,
    denied: AtomicU64,
    would_deny: AtomicU64,
    /// The decisions of the host call in progress, and whether it failed.
    pending: Mutex<Pending>,
}

/// The decisions one host call made, waiting for the call's outcome.
#[derive(Debug, Default)]
struct Pending {
    decisions: Vec<u64>,
    error: Option<String>,
}

impl AuditRun {
    /// Notes that the host call in progress failed with `message` (its `outcome` record will
    /// say so).
    pub fn call_failed(&self, message: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if !pending.decisions.is_empty() && pending.error.is_none() {
            pending.error = Some(crate::log::truncate_message(message));
        }
    }

    /// Writes the `outcome` of the host call that made the pending decisions, if any: `ok`,
    /// or `error` with its message. Called when the next host call starts and when the run
    /// ends. Not synced on its own: it reaches the disk with the next decision.
    pub fn settle(&self) -> Result<(), AuditError> {
        let (decisions, error) = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.decisions.is_empty() {
                return Ok(());
            }
            (std::mem::take(&mut pending.decisions), pending.error.take())
        };
        let mut record = serde_json::Map::new();
        record.insert("run".into(), json!(self.run.run));
        record.insert("type".into(), json!("outcome"));
        record.insert("decisions".into(), json!(decisions));
        record.insert(
            "result".into(),
            json!(if error.is_some() { "error" } else { "ok" }),
        );
        if let Some(e) = error {
            record.insert("error".into(), json!(e));
        }
        self.log.append_with(record, false).map(drop)
    }

    /// Writes one decision; an error means the decision must not be acted on.
    pub fn record(&self, d: &Decision) -> Result<(), AuditError> {
        let mut record = self.run.fields();
        record.insert("type".into(), json!("decision"));
        record.insert("time".into(), json!(Timestamp::now().rfc3339()));
        record.insert("action".into(), json!(d.action));
        record.insert("resource".into(), json!(d.resource));
        record.insert("context".into(), d.context.clone());
        let decision = match (d.allowed, d.enforced) {
            (true, _) => "allow",
            (false, true) => "deny",
            (false, false) => "would_deny",
        };
        record.insert("decision".into(), json!(decision));
        record.insert("policies".into(), json!(d.policies));
        record.insert("errors".into(), json!(d.errors));
        let (seq, _) = self.log.append(record)?;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .decisions
            .push(seq);
        let counter = match decision {
            "allow" => &self.allowed,
            "deny" => &self.denied,
            _ => &self.would_deny,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Writes the run's `run_end` summary: its decisions counted, how it ended, and the
    /// labels of the data it read and wrote.
    pub fn finish(
        &self,
        status: &str,
        error_type: Option<&str>,
        lineage: &crate::labels::Lineage,
    ) -> Result<(), AuditError> {
        self.settle()?;
        let mut record = self.run.fields();
        let allowed = self.allowed.load(Ordering::Relaxed);
        let denied = self.denied.load(Ordering::Relaxed);
        let would_deny = self.would_deny.load(Ordering::Relaxed);
        record.insert("type".into(), json!("run_end"));
        record.insert("time".into(), json!(Timestamp::now().rfc3339()));
        record.insert("decisions".into(), json!(allowed + denied + would_deny));
        record.insert("allowed".into(), json!(allowed));
        record.insert("denied".into(), json!(denied));
        record.insert("would_deny".into(), json!(would_deny));
        record.insert("status".into(), json!(status));
        record.insert("error_type".into(), json!(error_type));
        record.insert("lineage".into(), json!(lineage));
        let (seq, hash) = self.log.append(record)?;
        if let Some(key) = &self.log.key {
            let mut signed = serde_json::Map::new();
            signed.insert("run".into(), json!(self.run.run));
            signed.insert("type".into(), json!("signature"));
            signed.insert("signs".into(), json!(seq));
            signed.insert("hash".into(), json!(hash));
            signed.insert("key".into(), json!(hex(key.verifying_key().as_bytes())));
            let signature = key.sign(hash.as_bytes());
            signed.insert("signature".into(), json!(hex(&signature.to_bytes())));
            self.log.append(signed)?;
        }
        Ok(())
    }
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// Runs that ended with a `run_end` summary matching their decisions.
    pub complete_runs: u64,
    /// Runs with no `run_end` (the process was killed, or the log was cut after them): run
    /// id and the record number of their `run_start`.
    pub unfinished: Vec<(String, u64)>,
}

/// The first record that breaks the log, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {record}: {problem}")]
pub struct Broken {
    /// 1-based line number of the first bad record (one past the last for a log cut short).
    pub record: u64,
    pub problem: String,
}

/// An open run while verifying.
struct OpenRun {
    start: u64,
    script: Value,
    policy: Value,
    allowed: u64,
    denied: u64,
    would_deny: u64,
}

/// Checks a whole log: every line a complete JSON record, `seq` counting from 1, `prev` the
/// hash of the line before, every decision inside a started run with that run's script and
/// policy hashes, every `run_end` matching the run's decisions.
pub fn verify(bytes: &[u8], key: Option<&str>) -> Result<Verified, Broken> {
    use std::collections::HashMap;
    let key = key
        .map(|k| {
            from_hex::<32>(k, "the public key")
                .ok()
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| Broken {
                    record: 0,
                    problem: "the public key is not an Ed25519 key in 64 hex digits".into(),
                })
        })
        .transpose()?;
    // run_end records by sequence number: their hash, run, and whether a signature by `key`
    // covers them.
    let mut summaries: HashMap<u64, (String, String, bool)> = HashMap::new();
    let mut prev = GENESIS.to_string();
    let mut open: HashMap<String, OpenRun> = HashMap::new();
    let mut ended = std::collections::HashSet::new();
    let mut complete_runs = 0;
    let mut n = 0u64;
    let mut rest = bytes;
    while !rest.is_empty() {
        n += 1;
        let bad = |problem: &str| Broken {
            record: n,
            problem: problem.to_string(),
        };
        let Some(end) = rest.iter().position(|b| *b == b'\n') else {
            return Err(bad("incomplete (the log ends in the middle of a record)"));
        };
        let line = &rest[..end];
        rest = &rest[end + 1..];
        let record: Value = serde_json::from_slice(line).map_err(|_| bad("not a JSON record"))?;
        let text = |key: &str| record.get(key).and_then(Value::as_str);
        if record.get("seq").and_then(Value::as_u64) != Some(n) {
            return Err(bad(&format!(
                "sequence number {} where {n} was due (a record was deleted, added or moved)",
                record
                    .get("seq")
                    .map_or("missing".into(), ToString::to_string)
            )));
        }
        if text("prev") != Some(prev.as_str()) {
            let before = if n == 1 {
                "the log's start".to_string()
            } else {
                format!("record {}", n - 1)
            };
            return Err(bad(&format!(
                "its `prev` is not the hash of {before}: {before} was changed, or records were removed or reordered there"
            )));
        }
        let hash = sha256_hex(line);
        prev = hash.clone();
        let run = text("run").ok_or_else(|| bad("no run id"))?.to_string();
        match text("type") {
            Some("run_start") => {
                if open.contains_key(&run) || ended.contains(&run) {
                    return Err(bad(&format!("run {run} starts a second time")));
                }
                open.insert(
                    run,
                    OpenRun {
                        start: n,
                        script: record["script_sha256"].clone(),
                        policy: record["policy_sha256"].clone(),
                        allowed: 0,
                        denied: 0,
                        would_deny: 0,
                    },
                );
            }
            Some("decision") => {
                let r = open
                    .get_mut(&run)
                    .ok_or_else(|| bad(&format!("a decision of run {run}, which is not open")))?;
                if record["script_sha256"] != r.script || record["policy_sha256"] != r.policy {
                    return Err(bad("script or policy hash differs from its run's start"));
                }
                match text("decision") {
                    Some("allow") => r.allowed += 1,
                    Some("deny") => r.denied += 1,
                    Some("would_deny") => r.would_deny += 1,
                    _ => return Err(bad("decision is not `allow`, `deny` or `would_deny`")),
                }
            }
            Some("run_end") => {
                let r = open
                    .remove(&run)
                    .ok_or_else(|| bad(&format!("the end of run {run}, which is not open")))?;
                let count = |key: &str| record.get(key).and_then(Value::as_u64);
                if count("allowed") != Some(r.allowed)
                    || count("denied") != Some(r.denied)
                    || count("would_deny").unwrap_or(0) != r.would_deny
                    || count("decisions") != Some(r.allowed + r.denied + r.would_deny)
                {
                    return Err(bad(&format!(
                        "run {run}'s summary counts {} allowed and {} denied; the log holds {} and {}",
                        count("allowed").unwrap_or(0),
                        count("denied").unwrap_or(0),
                        r.allowed,
                        r.denied
                    )));
                }
                summaries.insert(n, (hash, run.clone(), false));
                ended.insert(run);
                complete_runs += 1;
            }
            Some("outcome") => {
                if !open.contains_key(&run) {
                    return Err(bad(&format!("an outcome of run {run}, which is not open")));
                }
                let named = record["decisions"].as_array().is_some_and(|d| {
                    !d.is_empty() && d.iter().all(|s| s.as_u64().is_some_and(|s| s < n))
                });
                if !named || !matches!(text("result"), Some("ok" | "error")) {
                    return Err(bad(
                        "an outcome must name earlier decisions and say `ok` or `error`",
                    ));
                }
            }
            Some("signature") => {
                let signs = record.get("signs").and_then(Value::as_u64).unwrap_or(0);
                let summary = summaries.get_mut(&signs).ok_or_else(|| {
                    bad(&format!(
                        "a signature of record {signs}, which is not a run's summary"
                    ))
                })?;
                if text("hash") != Some(summary.0.as_str()) || summary.1 != run {
                    return Err(bad(&format!(
                        "a signature of record {signs} that names another hash or run"
                    )));
                }
                let signer = text("key")
                    .and_then(|k| from_hex::<32>(k, "key").ok())
                    .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                    .ok_or_else(|| bad("its key is not an Ed25519 public key"))?;
                let signature = text("signature")
                    .and_then(|s| from_hex::<64>(s, "signature").ok())
                    .map(|b| Signature::from_bytes(&b))
                    .ok_or_else(|| bad("its signature is not 128 hex digits"))?;
                if signer.verify(summary.0.as_bytes(), &signature).is_err() {
                    return Err(bad(&format!(
                        "the signature of record {signs} does not verify"
                    )));
                }
                if key.is_some_and(|k| k == signer) {
                    summary.2 = true;
                }
            }
            _ => return Err(bad("unknown record type")),
        }
    }
    if key.is_some()
        && let Some(unsigned) = summaries
            .iter()
            .filter(|(_, s)| !s.2)
            .map(|(n, _)| *n)
            .min()
    {
        return Err(Broken {
            record: unsigned,
            problem: "this run's summary is not signed by the given key (the log was rewritten, or written without the key)".into(),
        });
    }
    let mut unfinished: Vec<(String, u64)> =
        open.into_iter().map(|(id, r)| (id, r.start)).collect();
    unfinished.sort_by_key(|(_, start)| *start);
    Ok(Verified {
        records: n,
        complete_runs,
        unfinished,
    })
}

/// A least-privilege policy from the decisions in audit logs (typically of report-only runs):
/// a `permit` for every action each principal asked for on each resource — exact resources,
/// except that where one principal's action touched `siblings` or more entries of one
/// directory, one permit covers that directory (`resource in file_system::Dir::"…"`).
/// Decisions of the built-in deny (the runtime's own state) are left out: no policy can allow
/// them. The text is validated against the schema before it is returned.
pub fn suggest(logs: &[&[u8]], siblings: usize) -> Result<String, String> {
    use std::collections::{BTreeMap, BTreeSet};
    use std::str::FromStr;
    // (principal, action) → resources (type, id)
    let mut asked: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        for (n, line) in log.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let record: Value = serde_json::from_slice(line)
                .map_err(|e| format!("log {}: record {}: not JSON: {e}", i + 1, n + 1))?;
            if record["type"] != "decision"
                || record["policies"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == crate::authz::GUARD_POLICY_ID))
            {
                continue;
            }
            let field = |key: &str| {
                record[key]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("log {}: record {}: no `{key}`", i + 1, n + 1))
            };
            let resource = field("resource")?;
            let uid = cedar_policy::EntityUid::from_str(&resource)
                .map_err(|e| format!("log {}: record {}: resource: {e}", i + 1, n + 1))?;
            asked
                .entry((field("principal")?, field("action")?))
                .or_default()
                .insert((
                    uid.type_name().to_string(),
                    uid.id().unescaped().to_string(),
                ));
        }
    }
    let mut out = String::from(
        "// Suggested by `wrex policy suggest` from audit logs: every action each principal\n\
         // asked for, on exactly the resources it asked for (or on a directory where it asked\n\
         // for many of its entries). Review before use.\n",
    );
    let mut n = 0;
    for ((principal, action), resources) in &asked {
        /// A file-system resource's directory, the one an `in` permit would cover.
        fn parent<'a>(ty: &str, id: &'a str) -> Option<&'a str> {
            ty.starts_with("file_system::")
                .then(|| crate::fs::cedar::parent_of(id))
                .flatten()
        }
        // Directories with many entries asked for: one `in` permit each.
        let mut by_parent: BTreeMap<&str, usize> = BTreeMap::new();
        for (ty, id) in resources {
            if let Some(p) = parent(ty, id) {
                *by_parent.entry(p).or_default() += 1;
            }
        }
        let grouped: BTreeSet<&str> = by_parent
            .into_iter()
            .filter(|(_, count)| *count >= siblings.max(2))
            .map(|(p, _)| p)
            .collect();
        let mut permit = |scope: String| {
            n += 1;
            out.push_str(&format!(
                "@id(\"suggested-{n}\")\npermit (principal == {principal}, action == {action}, resource {scope});\n"
            ));
        };
        for parent in &grouped {
            permit(format!("in file_system::Dir::{parent:?}"));
        }
        for (ty, id) in resources {
            if !parent(ty, id).is_some_and(|p| grouped.contains(p)) {
                permit(format!("== {ty}::{id:?}"));
            }
        }
    }
    crate::authz::Policy::parse_named(&out, "suggested policy")
        .map_err(|e| format!("the suggested policy does not validate (a wrex bug): {e}"))?;
    Ok(out)
}
