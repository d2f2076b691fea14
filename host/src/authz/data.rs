//! The data layer's part of authorization: where labels come from ([`LabelSource`]), the
//! run's purpose and lineage, read budgets, and the label caches a move or delete makes stale.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Action, Authorizer, Denied, Evaluated, RequestContext};
use crate::labels::{Labels, Lineage, label_name};

/// The policy id a denial for an exhausted read budget reports.
pub const BUDGET_POLICY_ID: &str = "wrex::read-budget";

/// Where a run's data labels come from (see [`crate::labels`]).
pub trait LabelSource: Send + Sync {
    /// The labels of `type_name::"id"`: its own and those it inherits from the directories
    /// above it. An error makes every request about the resource a deny.
    fn labels(&self, type_name: &str, id: &str) -> Result<Labels, String>;
    /// The read budget of the label `key:value`, in bytes per run, if one applies.
    fn budget(&self, key: &str, value: &str) -> Option<u64>;
    /// Forgets what it cached: called after a `move` or `delete` is granted, which can put
    /// other data (and labels) at a path already asked about.
    fn forget(&self);
}

impl Authorizer {
    /// Resources carry their data labels as Cedar tags; reads and writes of labelled data are
    /// recorded in the run's lineage, and reads are charged to the labels' budgets.
    pub fn with_labels(mut self, labels: Option<Arc<dyn LabelSource>>) -> Self {
        self.labels = labels;
        self
    }

    /// Every request carries `purpose` (what the run is for).
    pub fn with_purpose(mut self, purpose: Option<String>) -> Self {
        self.purpose = purpose;
        self
    }

    /// The labels of the data the run read and wrote so far.
    pub fn lineage(&self) -> Lineage {
        self.lineage.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Charges `bytes` of `resource`'s contents, just read for action `A` (which was granted),
    /// to the read budgets of its labels. A read that would take a label past its budget is
    /// denied (policy id [`BUDGET_POLICY_ID`], the label named in the reason), and recorded
    /// like any decision; report-only mode reports it and lets the read through.
    pub fn charge_read<A: Action>(
        &self,
        _action: A,
        resource: &A::Resource,
        bytes: u64,
    ) -> Result<(), Denied> {
        let Some(source) = &self.labels else {
            return Ok(());
        };
        if bytes == 0 {
            return Ok(());
        }
        let labels = match self.with_store(resource, |store| store.labels.clone()) {
            Ok(labels) => labels,
            Err(e) => {
                let decided = Evaluated::error(e);
                let context = self.full_context(RequestContext::new());
                return self.conclude(A::NAMESPACE, A::ID, resource, context, decided);
            }
        };
        if labels.is_empty() {
            return Ok(());
        }
        let over = {
            let lineage = self.lineage.lock().unwrap_or_else(|e| e.into_inner());
            labels.iter().find_map(|(key, value)| {
                let budget = source.budget(key, value)?;
                let name = label_name(key, value);
                let spent = lineage.read_bytes.get(&name).copied().unwrap_or(0);
                (spent.saturating_add(bytes) > budget).then_some((name, budget, spent))
            })
        };
        if let Some((name, budget, spent)) = over {
            let why = format!(
                "the read budget of label {name:?} is exhausted: {spent} of its {budget} bytes per run read, and this read is {bytes} more"
            );
            let decided = Evaluated {
                allowed: false,
                policies: vec![BUDGET_POLICY_ID.to_string()],
                errors: vec![why],
                labels: labels.clone(),
            };
            let context = self.full_context(RequestContext::new());
            self.conclude(A::NAMESPACE, A::ID, resource, context, decided)?;
        }
        let mut lineage = self.lineage.lock().unwrap_or_else(|e| e.into_inner());
        for (key, value) in labels.iter() {
            *lineage
                .read_bytes
                .entry(label_name(key, value))
                .or_default() += bytes;
        }
        Ok(())
    }

    /// Records the labels of data that flowed: read (`read`, `redacted_read`) or written
    /// (`write`, `create`) under a granted action; marks the label caches stale after a
    /// `move`, `delete` or `unmount`.
    pub(super) fn flows(&self, namespace: &str, id: &str, labels: &Labels) {
        if self.labels.is_none() || namespace != crate::fs::cedar::NAMESPACE {
            return;
        }
        let (read, written) = match id {
            "read" | "redacted_read" => (true, false),
            "write" | "create" => (false, true),
            "move" | "delete" | "unmount" => {
                self.labels_stale.store(true, Ordering::Relaxed);
                return;
            }
            _ => return,
        };
        if labels.is_empty() {
            return;
        }
        let mut lineage = self.lineage.lock().unwrap_or_else(|e| e.into_inner());
        let mut grew = false;
        for (key, value) in labels {
            let name = label_name(key, value);
            if read {
                grew |= lineage.read.insert(name);
            } else if written {
                grew |= lineage.written.insert(name);
            }
        }
        if grew {
            // Later requests carry the new lineage: the cached contexts are out of date.
            self.lineage_version.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every cached label (and the entity stores that carry them as tags), and with
    /// them the directory the label walk keeps open (an `unmount` needs it closed).
    pub(crate) fn forget_labels(&self) {
        if let Some(source) = &self.labels {
            source.forget();
        }
        if let Ok(mut cache) = self.entities.lock() {
            cache.stores.clear();
            cache.bytes = 0;
        }
    }
}
