//! How a run is set up from the command line (`wrex run` and `wrex mcp` alike): identity,
//! purpose and labels, report-only mode, audit log, root, redaction dictionary, limits.

use std::path::PathBuf;
use std::sync::Arc;

use wrex::audit::AuditLog;
use wrex::{ErrorType, Job, LabelFile, Limits, Policy};

use crate::flags::JobArgs;
use crate::input::{input_failed_parts, load_entities, read_input};

/// What every run of this process shares, loaded once.
pub(crate) struct Setup {
    args: JobArgs,
    limits: Limits,
    audit: Option<Arc<AuditLog>>,
    entities: Option<LabelFile>,
    /// Files the runs must not touch: the audit log and key, the entities file.
    protected: Vec<PathBuf>,
}

impl Setup {
    /// Opens the audit log (with its signing key) and loads the entities file.
    pub(crate) fn new(args: &JobArgs, limits: Limits) -> Result<Self, (ErrorType, String)> {
        let mut protected = Vec::new();
        let audit = match &args.audit {
            None => None,
            Some(path) => {
                let key = match &args.audit_key {
                    None => None,
                    Some(key_path) => {
                        protected.push(key_path.clone());
                        Some(read_input("audit key", key_path, 1024).map_err(input_failed_parts)?)
                    }
                };
                let log = AuditLog::open_signed(path, key.as_deref())
                    .map_err(|e| (ErrorType::InternalException, e.to_string()))?;
                protected.push(path.clone());
                Some(log)
            }
        };
        let entities = match &args.asker.entities {
            None => None,
            Some(path) => {
                let file =
                    load_entities(path).map_err(|m| (ErrorType::CommunicationException, m))?;
                protected.push(path.clone());
                Some(file)
            }
        };
        Ok(Self {
            args: args.clone(),
            limits,
            audit,
            entities,
            protected,
        })
    }

    /// Who asks `explain` questions: the runs' principal, parties, purpose and labels.
    pub(crate) fn asker(&self, principal: &str) -> wrex::explain::Asker {
        wrex::explain::Asker {
            principal: principal.to_string(),
            on_behalf_of: self.args.asker.on_behalf_of.clone(),
            purpose: self.args.asker.purpose.clone(),
            entities: self.entities.clone().map(Arc::new),
        }
    }

    /// The limits every run gets.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A job for `script` under `policy`, set up as the flags say.
    pub(crate) fn job(&self, script: String, policy: Policy) -> Job {
        let a = &self.args;
        let mut job = Job::new(script, policy)
            .limits(self.limits.clone())
            .on_behalf_of(a.asker.on_behalf_of.clone())
            .xattr_labels(!a.no_xattr_labels)
            .redaction_dictionary(a.redaction_dictionary.clone());
        if let Some(principal) = &a.asker.principal {
            job = job.principal(principal.clone());
        }
        if let Some(purpose) = &a.asker.purpose {
            job = job.purpose(purpose.clone());
        }
        if let Some(entities) = &self.entities {
            job = job.entities(entities.clone());
        }
        for (label, bytes) in &a.budget {
            job = job.budget(label.clone(), *bytes);
        }
        if a.permissive {
            job = job.report_only(a.permissive_allow_writes);
        }
        if let Some(log) = &self.audit {
            job = job.audit(Arc::clone(log));
        }
        if let Some(root) = &a.root {
            job = job.root(root.clone());
        }
        for path in &self.protected {
            job = job.protect(path);
        }
        job
    }
}
