//! `wrex explain`: what the policy decides for one request, and why, without running a script.

use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::EntityUid;

use crate::authz::{Authorizer, Explanation, Policy, RequestContext};
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
/// with `context`. Resources of the file system only: wrex's other capabilities are not built
/// yet.
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
    let is_dir = match resource_uid.type_name().to_string().as_str() {
        "file_system::File" => false,
        "file_system::Dir" => true,
        other => {
            return Err(format!(
                "resource type `{other}`: only file_system::File and file_system::Dir can be explained (wrex's other capabilities are not built yet)"
            ));
        }
    };
    let path = crate::fs::path::normalize_absolute(resource_uid.id().unescaped())
        .map_err(|e| format!("resource `{resource}`: {}", e.message()))?;
    let resource = FsResource::entry(is_dir, path);
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
    Ok(authorizer.explain(namespace, &id, &resource, context))
}
