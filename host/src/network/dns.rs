//! Name resolution. `resolve` (Rex's `resolve_hostname`) asks DNS through hickory: the
//! system's name servers (`/etc/resolv.conf`, and `/etc/hosts` first) or one the script names,
//! over UDP, TCP or both. The addresses an HTTP request or `connect` goes to come from the
//! system's resolver (`getaddrinfo`, so `/etc/nsswitch.conf` is honoured), looked up once: the
//! connection is made to exactly the addresses that were authorized.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ProtocolConfig, ResolveHosts,
    ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;

use crate::bindings::wit_network::Transport;

/// Most addresses one lookup returns.
const MAX_ADDRESSES: usize = 64;

/// The name server a script named: `ip` or `ip:port` (IPv6 with a port as `[ip]:port`).
pub(crate) fn parse_resolver(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    text.parse::<SocketAddr>().map_err(|_| {
        format!("the resolver {text:?} is not an IP address (or ip:port, [ipv6]:port)")
    })
}

/// A host name as DNS takes it: 1 to 253 bytes of labels of letters, digits, `-` and `_`.
pub(crate) fn check_hostname(name: &str) -> Result<(), String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() || bare.len() > 253 {
        return Err(format!(
            "the host name {name:?} is empty or longer than 253 bytes"
        ));
    }
    for label in bare.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "the host name {name:?} has an empty label or one longer than 63 bytes"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(format!(
                "the host name {name:?} holds {c:?} (a non-ASCII name is written in its xn-- form)"
            ));
        }
    }
    Ok(())
}

/// The addresses of `hostname` in DNS, sorted and deduplicated.
pub(crate) async fn resolve(
    hostname: &str,
    protocol: Transport,
    resolver: Option<SocketAddr>,
    timeout: Duration,
) -> Result<Vec<IpAddr>, String> {
    let keep = |c: &ConnectionConfig| match protocol {
        Transport::Auto => true,
        Transport::Udp => matches!(c.protocol, ProtocolConfig::Udp),
        Transport::Tcp => matches!(c.protocol, ProtocolConfig::Tcp),
    };
    let (config, mut options) = match resolver {
        Some(server) => {
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .into_iter()
                .map(|mut c| {
                    c.port = server.port();
                    c
                })
                .filter(keep)
                .collect();
            let name_server = NameServerConfig::new(server.ip(), true, connections);
            let mut options = ResolverOpts::default();
            options.use_hosts_file = ResolveHosts::Never;
            (
                ResolverConfig::from_parts(None, Vec::new(), vec![name_server]),
                options,
            )
        }
        None => {
            let (config, options) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("reading /etc/resolv.conf: {e}"))?;
            let servers = config
                .name_servers()
                .iter()
                .cloned()
                .map(|mut ns| {
                    ns.connections.retain(keep);
                    ns
                })
                .filter(|ns| !ns.connections.is_empty())
                .collect();
            (
                ResolverConfig::from_parts(
                    config.domain().cloned(),
                    config.search().to_vec(),
                    servers,
                ),
                options,
            )
        }
    };
    if config.name_servers().is_empty() {
        return Err("no name server to ask (over the protocol asked for)".into());
    }
    options.timeout = timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    let resolver =
        hickory_resolver::Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|e| format!("starting the resolver: {e}"))?;
    let lookup = resolver
        .lookup_ip(hostname)
        .await
        .map_err(|e| format!("{hostname}: {e}"))?;
    let mut ips: Vec<IpAddr> = lookup.iter().take(MAX_ADDRESSES).collect();
    ips.sort();
    ips.dedup();
    Ok(ips)
}

/// The addresses to connect to for `host:port`: the address itself for a literal, else the
/// system resolver's answer, in its order, without repeats.
pub(crate) async fn addresses_of(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host}: {e}"))?;
    let mut out: Vec<SocketAddr> = Vec::new();
    for address in found {
        if out.len() >= MAX_ADDRESSES {
            break;
        }
        if !out.contains(&address) {
            out.push(address);
        }
    }
    if out.is_empty() {
        return Err(format!("{host}: no address"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_resolvers_are_checked() {
        assert!(check_hostname("svc.wrex.test").is_ok());
        assert!(check_hostname("svc.wrex.test.").is_ok());
        assert!(check_hostname("_srv.example").is_ok());
        for bad in [
            "",
            ".",
            "a..b",
            "a b",
            "caf\u{e9}.fr",
            &"a".repeat(64),
            "a/b",
        ] {
            assert!(check_hostname(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_resolver("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        assert!(parse_resolver("dns.google").is_err());
    }
}
