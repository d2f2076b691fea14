//! Checks of the guest's non-path arguments: modes, owners, link targets, extended-attribute
//! names and SELinux-style contexts. Each refuses bad input with a message naming it.

use rustix::fs::{Gid, Mode, Uid};

use super::error::{FsError, FsResult};
use super::path;
use crate::bindings::wit_fs as wit;

/// A permission mode from the guest: at most `0o777`, as Rex. The set-user-id, set-group-id
/// and sticky bits are never set by a script: a set-id file created or changed by a host that
/// runs as root would give its owner root's privileges.
pub(crate) fn checked_mode(mode: u32) -> FsResult<Mode> {
    if mode > super::sys::PERMISSION_BITS {
        return Err(FsError::guest(wit::Error::InvalidArgument(format!(
            "Invalid permissions. Permissions must be in the range 0-777 octal: {mode:#o}"
        ))));
    }
    Ok(Mode::from_raw_mode(mode))
}

/// A user name or numeric id, resolved to a uid.
fn resolve_user(user: &str) -> FsResult<Uid> {
    if let Ok(id) = user.parse::<u32>() {
        return Ok(Uid::from_raw(id));
    }
    uzers::get_user_by_name(user)
        .map(|u| Uid::from_raw(u.uid()))
        .ok_or_else(|| FsError::invalid_argument(format!("no such user: `{user}`")))
}

/// A group name or numeric id, resolved to a gid.
fn resolve_group(group: &str) -> FsResult<Gid> {
    if let Ok(id) = group.parse::<u32>() {
        return Ok(Gid::from_raw(id));
    }
    uzers::get_group_by_name(group)
        .map(|g| Gid::from_raw(g.gid()))
        .ok_or_else(|| FsError::invalid_argument(format!("no such group: `{group}`")))
}

/// Owner and group from names or numeric ids; at least one must be given.
pub(crate) fn owner_ids(
    user: Option<&str>,
    group: Option<&str>,
) -> FsResult<(Option<Uid>, Option<Gid>)> {
    if user.is_none() && group.is_none() {
        return Err(FsError::invalid_argument(
            "set-ownership: give a user, a group, or both".into(),
        ));
    }
    Ok((
        user.map(resolve_user).transpose()?,
        group.map(resolve_group).transpose()?,
    ))
}

/// A symlink's target text: not empty, no NUL, at most `PATH_MAX` bytes. Its meaning is never
/// trusted: every use of the link authorizes the path it resolves to.
pub(crate) fn validate_link_target(target: &str) -> FsResult<()> {
    if target.is_empty() || target.contains('\0') || target.len() > path::MAX_PATH {
        return Err(FsError::invalid_path(format!(
            "invalid symlink target `{}`: it must be 1 to {} bytes without NUL",
            target.escape_debug(),
            path::MAX_PATH
        )));
    }
    Ok(())
}

/// An extended attribute name: `namespace.name`, at most 255 bytes, no NUL.
pub(crate) fn validate_xattr_name(name: &str) -> FsResult<()> {
    if name.is_empty() || name.len() > 255 || name.contains('\0') || !name.contains('.') {
        return Err(FsError::invalid_argument(format!(
            "invalid extended attribute name `{}`: expected `namespace.name` (e.g. `security.selinux`), at most 255 bytes",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The parts of an SELinux-style context (`user`, `role`, `type`, `level`): each given part
/// must be non-empty, without `:` or control characters.
pub(crate) fn validate_context_parts(parts: &[Option<String>; 4]) -> FsResult<()> {
    for part in parts.iter().flatten() {
        if part.is_empty() || part.contains([':', '\0']) || part.chars().any(char::is_control) {
            return Err(FsError::invalid_argument(format!(
                "set-extended-attr: context part `{}` must be non-empty, without `:` or control characters",
                part.escape_debug()
            )));
        }
    }
    Ok(())
}

/// `user:role:type[:level]` with the given parts replacing the current ones.
pub(crate) fn merge_context(
    current: Option<&str>,
    parts: &[Option<String>; 4],
    path: &str,
) -> FsResult<String> {
    let mut fields: Vec<String> = match current {
        Some(c) => c.splitn(4, ':').map(str::to_string).collect(),
        None => Vec::new(),
    };
    if fields.len() < 3 {
        if current.is_some() {
            return Err(FsError::guest(wit::Error::Io(format!(
                "the current context of `{path}` is not `user:role:type[:level]`"
            ))));
        }
        fields = vec![String::new(); 3];
    }
    for (i, part) in parts.iter().enumerate() {
        if let Some(p) = part {
            if i == 3 && fields.len() == 3 {
                fields.push(String::new());
            }
            fields[i] = p.clone();
        }
    }
    if fields[..3].iter().any(String::is_empty) {
        return Err(FsError::invalid_argument(format!(
            "`{path}` has no context yet: give selinux_user, selinux_role and selinux_type"
        )));
    }
    Ok(fields.join(":"))
}
