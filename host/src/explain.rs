//! `wrex explain`: what the policy decides for one request, and why, without running a script.

use std::str::FromStr;

use cedar_policy::EntityUid;

use crate::authz::{Authorizer, Explanation, Policy, RequestContext};
use crate::fs::cedar::FsResource;

/// What `policy` decides for `principal` (acting for `on_behalf_of`) doing `action` (an
/// action UID, `file_system::Action::"read"`) on `resource` (`file_system::File::"/etc/hosts"`
/// or a `Dir`) with `context`. Resources of the file system only: wrex's other capabilities are
/// not built yet.
pub fn explain(
    policy: &Policy,
    principal: &str,
    on_behalf_of: &[String],
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
    let authorizer =
        Authorizer::new(policy.clone(), principal, None).with_on_behalf_of(on_behalf_of);
    Ok(authorizer.explain(namespace, &id, &resource, context))
}
