//! The `network` namespace's Cedar side: the `GET` and `connect` actions on a
//! `network::url` (Rex's one attribute `url`, plus the parsed parts and, after the DNS
//! lookup, the address), and `sysinfo::Action::"resolve_hostname"` on a `sysinfo::Hostname`.

use std::fmt;
use std::net::IpAddr;

use cedar_policy::{Entity, EntityUid, RestrictedExpression};

use crate::authz::{self, Referenced, entity, entity_uid};

/// The Cedar namespace of the network actions and entities.
pub const NAMESPACE: &str = "network";

/// A URL (for `GET`) or an endpoint (for `connect`), as a Cedar resource. Its id is the text
/// the script passed, as in Rex, so `resource == network::url::"…"` policies keep working;
/// its attributes are what wrex parsed from it, so a policy can test them one by one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The text as the script gave it (or, for a redirect, the URL the `Location` header names,
    /// made absolute and normalized).
    pub text: String,
    /// `http`, `https` (GET) or `tcp`, `udp` (connect), lower case.
    pub scheme: String,
    /// The host name or address, lower case, without brackets.
    pub host: String,
    pub port: u16,
    /// The normalized path (GET), empty for connect.
    pub path: String,
    /// The address about to be connected to; `None` in the check made before the DNS lookup.
    pub ip: Option<IpAddr>,
}

/// A host name to resolve, as a Cedar resource (`sysinfo::Hostname::"<name>"`, attribute
/// `hostname`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(pub String);

/// The network actions.
pub mod action {
    use super::{Hostname, Url};

    /// `network::Action::"GET"`: an HTTP GET of the URL (each redirect's target too).
    #[derive(Debug, Clone, Copy)]
    pub struct Get;

    impl crate::authz::Action for Get {
        const NAMESPACE: &'static str = super::NAMESPACE;
        const ID: &'static str = "GET";
        type Resource = Url;
    }

    /// `network::Action::"connect"`: a TCP connection or a connected UDP socket.
    #[derive(Debug, Clone, Copy)]
    pub struct Connect;

    impl crate::authz::Action for Connect {
        const NAMESPACE: &'static str = super::NAMESPACE;
        const ID: &'static str = "connect";
        type Resource = Url;
    }

    /// `sysinfo::Action::"resolve_hostname"`: a DNS lookup asked for by the script.
    #[derive(Debug, Clone, Copy)]
    pub struct ResolveHostname;

    impl crate::authz::Action for ResolveHostname {
        const NAMESPACE: &'static str = "sysinfo";
        const ID: &'static str = "resolve_hostname";
        type Resource = Hostname;
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}::url::{:?}", self.text)
    }
}

impl authz::Resource for Url {
    fn type_name(&self) -> &'static str {
        "network::url"
    }

    fn id(&self) -> &str {
        &self.text
    }

    fn uid(&self) -> EntityUid {
        entity_uid(NAMESPACE, "url", &self.text)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        let mut attrs = std::collections::HashMap::from([
            ("url".to_string(), string(&self.text)),
            ("scheme".to_string(), string(&self.scheme)),
            ("host".to_string(), string(&self.host)),
            (
                "port".to_string(),
                RestrictedExpression::new_long(i64::from(self.port)),
            ),
            ("path".to_string(), string(&self.path)),
        ]);
        if let Some(ip) = self.ip {
            attrs.insert(
                "ip".to_string(),
                RestrictedExpression::new_ip(ip.to_string()),
            );
        }
        Entity::new(self.uid(), attrs, Default::default())
            .into_iter()
            .collect()
    }

    /// The same URL is checked without and with `ip`, and with a different `ip` per address.
    fn cacheable(&self) -> bool {
        false
    }
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sysinfo::Hostname::{:?}", self.0)
    }
}

impl authz::Resource for Hostname {
    fn type_name(&self) -> &'static str {
        "sysinfo::Hostname"
    }

    fn id(&self) -> &str {
        &self.0
    }

    fn uid(&self) -> EntityUid {
        entity_uid("sysinfo", "Hostname", &self.0)
    }

    fn entities(&self, _referenced: &Referenced) -> Vec<Entity> {
        entity(self.uid(), [("hostname", self.0.clone())], [])
            .into_iter()
            .collect()
    }
}
