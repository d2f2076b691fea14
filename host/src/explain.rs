//! `wrex explain`: what the policy decides for one request, and why, without running a script.

use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::EntityUid;

use crate::authz::{Authorizer, Explanation, Policy, RequestContext, Resource};
use crate::fs::cedar::FsResource;
use crate::labels::{LabelConfig, LabelFile};

/// Who asks, and for what: the request's principal and context besides the action's own.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    /// The principal's id (`User::"<id>"`).
    pub principal: String,
    /// The parties the run would act for, the first one first.
    pub on_behalf_of: Vec<String>,
    /// The run's purpose.
    pub purpose: Option<String>,
    /// Data labels from an entities file. (Extended attributes are not read: the question is
    /// about a policy, not about this machine's files.)
    pub entities: Option<Arc<LabelFile>>,
}

/// What `policy` decides for `asker` doing `action` (an action UID,
/// `file_system::Action::"read"`) on `resource` (`file_system::File::"/etc/hosts"` or a `Dir`)
/// with `context`. The resources a question can name without looking at the machine:
/// `file_system::File`/`Dir` (by path), `network::url` (a URL, as `GET` sees it before the DNS
/// lookup), `sysinfo::Hostname`, `sysinfo::Sysinfo`, `systemd::Service`, `systemd::Systemd`.
/// (A process's attributes are read from `/proc` when it is asked about, so
/// `process_system::Process` cannot be explained from its PID alone.)
pub fn explain(
    policy: &Policy,
    asker: &Asker,
    action: &str,
    resource: &str,
    context: RequestContext,
) -> Result<Explanation, String> {
    let action_uid = EntityUid::from_str(action).map_err(|e| {
        format!("action `{action}`: not an action UID such as file_system::Action::\"read\": {e}")
    })?;
    let action_type = action_uid.type_name().to_string();
    let Some(namespace) = action_type.strip_suffix("::Action") else {
        return Err(format!(
            "action `{action}`: expected an action UID such as file_system::Action::\"read\""
        ));
    };
    let id = action_uid.id().unescaped().to_string();
    let resource_uid = EntityUid::from_str(resource).map_err(|e| {
        format!("resource `{resource}`: not an entity UID such as file_system::File::\"/etc/hosts\": {e}")
    })?;
    let id_text = resource_uid.id().unescaped();
    let resource: Box<dyn Resource> = match resource_uid.type_name().to_string().as_str() {
        kind @ ("file_system::File" | "file_system::Dir") => {
            let path = crate::fs::path::normalize_absolute(id_text)
                .map_err(|e| format!("resource `{resource}`: {}", e.message()))?;
            Box::new(FsResource::entry(kind == "file_system::Dir", path))
        }
        "network::url" => Box::new(
            crate::network::explained_url(id_text)
                .map_err(|e| format!("resource `{resource}`: {e}"))?,
        ),
        "sysinfo::Hostname" => Box::new(crate::network::cedar::Hostname(id_text.to_string())),
        "sysinfo::Sysinfo" => Box::new(crate::sysinfo::cedar::Sysinfo),
        "systemd::Service" => Box::new(crate::systemd::cedar::Service(id_text.to_string())),
        "systemd::Systemd" => Box::new(crate::systemd::cedar::Systemd),
        other => {
            return Err(format!(
                "resource type `{other}`: explain takes file_system::File, file_system::Dir, network::url, sysinfo::Hostname, sysinfo::Sysinfo, systemd::Service or systemd::Systemd (a process's attributes are read from /proc when it is asked about)"
            ));
        }
    };
    if policy.for_action(namespace, &id).is_none() {
        return Err(format!("action `{action}`: the schema has no such action"));
    }
    let labels = match &asker.entities {
        None => None,
        Some(file) => {
            let config = LabelConfig {
                file: Arc::clone(file),
                xattrs: false,
                ..LabelConfig::default()
            };
            crate::fs::RunLabels::new(&config, None)
                .map_err(|e| e.to_string())?
                .map(|l| Arc::new(l) as Arc<dyn crate::authz::LabelSource>)
        }
    };
    let authorizer = Authorizer::new(policy.clone(), &asker.principal, None)
        .with_on_behalf_of(&asker.on_behalf_of)
        .with_purpose(asker.purpose.clone())
        .with_labels(labels);
    Ok(authorizer.explain(namespace, &id, resource.as_ref(), context))
}
