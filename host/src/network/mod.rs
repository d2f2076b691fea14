//! The network capability (`wrex:sdk/network`, Cedar namespace `network`, and `sysinfo` for
//! DNS and the interfaces): HTTP GET, TCP/UDP reachability, DNS, addresses, sockets.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the view and the WIT functions: validate → authorize → act |
//! | `cedar.rs` | the actions and the `network::url` and `sysinfo::Hostname` resources |
//! | `url.rs` | URLs parsed strictly and normalized, redirects joined |
//! | `dns.rs` | name resolution (hickory for `resolve`, the system's for connections) |
//! | `http.rs` | one HTTP/1.1 exchange over a connection wrex made (hyper, rustls) |
//! | `certs.rs` | X.509 chain verification for `verify_cert` (webpki) |
//! | `sockets.rs` | `/proc/net` and the processes holding each socket |
//!
//! A URL or endpoint is authorized twice: once as the script named it, before any DNS lookup
//! (a denied name is never looked up, so DNS is no side channel), then for each address it
//! resolved to, with `ip` set, before connecting to that address (a DNS answer cannot take a
//! request where the policy does not let it go). A redirect is a new request, authorized the
//! same way. Every wait is bounded by the request's timeout, the run's deadline and its
//! cancellation.

pub mod cedar;
mod certs;
mod dns;
mod http;
mod sockets;
mod url;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use self::cedar::action::{Connect, Get, ResolveHostname};
use self::cedar::{Hostname, Url};
use self::http::{BodyCap, ExchangeError};
use crate::authz::{Authorizer, Denied};
use crate::bindings::wit_network as wit;
use crate::error::{HostError, guest_error};
use crate::fs::cedar::{FsResource, action as fs_action};
use crate::limits::{Interrupted, Meter};
use crate::process::cedar::action::ListFds;
use crate::process::procs::Machine;
use crate::sysinfo::cedar::{List, Sysinfo};

/// The error type of the network host functions.
pub(crate) type NetworkError = HostError<wit::Error>;

type Result<T> = std::result::Result<T, NetworkError>;

guest_error!(wit::Error {
    InvalidArgument,
    ResolveFailed,
    RequestFailed,
    TooLarge,
    TimedOut,
    Untrusted,
    Io,
});

/// Largest certificate file `verify-certificate` takes.
pub const MAX_CERTIFICATE_FILE: usize = 1 << 20;

/// Most body bytes a GET reads without `max_text_bytes`.
pub const MAX_BODY: u64 = 16 << 20;

/// Most redirects one GET follows.
pub const MAX_REDIRECTS: u32 = 10;

/// Longest timeout a script may ask for (the run's deadline bounds it too).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// `url` as `GET` asks about it before the DNS lookup (for `wrex explain`).
pub fn explained_url(text: &str) -> std::result::Result<Url, String> {
    let url = url::parse(text)?;
    Ok(Url {
        text: text.to_string(),
        scheme: url.scheme().to_string(),
        host: url.host,
        port: url.port,
        path: url.path,
        ip: None,
    })
}

/// What the capability's host functions can reach.
pub(crate) struct NetworkView<'a> {
    pub(crate) authz: &'a Authorizer,
    pub(crate) meter: &'a mut Meter,
}

fn invalid(message: String) -> NetworkError {
    NetworkError::guest(wit::Error::InvalidArgument(message))
}

fn timeout_of(ms: u32) -> Result<Duration> {
    let timeout = Duration::from_millis(u64::from(ms));
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(invalid(format!(
            "the timeout must be from 1 ms to {} s, not {ms} ms",
            MAX_TIMEOUT.as_secs()
        )));
    }
    Ok(timeout)
}

impl NetworkView<'_> {
    fn host_call(&mut self) -> wasmtime::Result<()> {
        self.authz.host_call_starts();
        self.meter.host_call()
    }

    /// Runs async network work within what is left of `timeout` since `started` (and the
    /// run's deadline and cancellation).
    fn wait<T: Send>(
        &self,
        (timeout, started): (Duration, Instant),
        what: &str,
        work: impl Future<Output = T> + Send,
    ) -> Result<T> {
        let left = timeout.saturating_sub(started.elapsed());
        match self.meter.clock().block_on(left, work) {
            Ok(done) => Ok(done),
            Err(Interrupted::Stopped(trap)) => Err(NetworkError::Trap(trap)),
            Err(Interrupted::TimedOut(_)) => {
                Err(NetworkError::guest(wit::Error::TimedOut(format!(
                    "{what}: no answer within its timeout of {} ms",
                    timeout.as_millis()
                ))))
            }
            Err(Interrupted::Failed(e)) => {
                Err(NetworkError::guest(wit::Error::Io(format!("{what}: {e}"))))
            }
        }
    }

    /// Resolves `resource`'s host with the system's resolver and keeps the addresses `A` is
    /// permitted on (each asked with `ip` set); if none is, the first refusal is the error.
    fn permitted_addresses<A>(
        &self,
        action: A,
        resource: &mut Url,
        budget: (Duration, Instant),
    ) -> Result<Vec<SocketAddr>>
    where
        A: crate::authz::Action<Resource = Url> + Copy,
    {
        let found = self
            .wait(
                budget,
                &format!("resolving {}", resource.host),
                dns::addresses_of(&resource.host, resource.port),
            )?
            .map_err(|e| NetworkError::guest(wit::Error::ResolveFailed(e)))?;
        let mut allowed = Vec::new();
        let mut first_denial: Option<Denied> = None;
        let mut unspecified = None;
        for address in found {
            // What the kernel connects to: an IPv4-mapped address is its IPv4 address, and
            // the unspecified address (a DNS answer of 0.0.0.0) is this machine, never taken.
            let address = SocketAddr::new(address.ip().to_canonical(), address.port());
            if address.ip().is_unspecified() {
                unspecified = Some(address.ip());
                continue;
            }
            resource.ip = Some(address.ip());
            match self.authz.authorize(action, resource) {
                Ok(_) => allowed.push(address),
                Err(denied) => {
                    first_denial.get_or_insert(denied);
                }
            }
        }
        match (allowed.is_empty(), first_denial, unspecified) {
            (true, Some(denied), _) => Err(denied.into()),
            (true, None, Some(ip)) => Err(NetworkError::guest(wit::Error::ResolveFailed(format!(
                "{}: {}",
                resource.host,
                url::unspecified(ip)
            )))),
            _ => Ok(allowed),
        }
    }

    /// How much body to read: the script's `max_text_bytes` (cut) or [`MAX_BODY`] (an error
    /// past it), and never past what the run may still read (one byte more, which the charge
    /// then refuses with the run's limit).
    fn body_cap(&self, max_body: Option<u64>) -> BodyCap {
        let (bytes, truncate) = match max_body {
            Some(n) => (n, true),
            None => (MAX_BODY, false),
        };
        let allowance = self.meter.read_allowance();
        if allowance < bytes {
            BodyCap {
                bytes: allowance.saturating_add(1),
                truncate: true,
            }
        } else {
            BodyCap { bytes, truncate }
        }
    }
}

impl wit::Host for NetworkView<'_> {
    fn convert_error(&mut self, err: NetworkError) -> wasmtime::Result<wit::Error> {
        err.convert(self.authz)
    }

    fn http_get(&mut self, request: wit::HttpRequest) -> Result<wit::HttpResponse> {
        self.host_call()?;
        let timeout = timeout_of(request.timeout_ms)?;
        let started = Instant::now();
        let mut text = request.url;
        let mut redirects = 0;
        loop {
            let url = url::parse(&text).map_err(|e| invalid(format!("the URL {text:?}: {e}")))?;
            let mut resource = Url {
                text: text.clone(),
                scheme: url.scheme().to_string(),
                host: url.host.clone(),
                port: url.port,
                path: url.path.clone(),
                ip: None,
            };
            self.authz.authorize(Get, &resource)?;
            let budget = (timeout, started);
            let addresses = self.permitted_addresses(Get, &mut resource, budget)?;
            let cap = self.body_cap(request.max_body);
            let answer = self
                .wait(
                    budget,
                    &format!("GET {text}"),
                    http::get(&url, &addresses, cap),
                )?
                .map_err(|e| match e {
                    ExchangeError::Failed(m) => {
                        NetworkError::guest(wit::Error::RequestFailed(format!("GET {text}: {m}")))
                    }
                    ExchangeError::TooLarge => NetworkError::guest(wit::Error::TooLarge(format!(
                        "GET {text}: the response body is larger than {MAX_BODY} bytes; set \
                         max_text_bytes to read only its beginning"
                    ))),
                })?;
            self.meter.charge_read(answer.body.len())?;
            if let Some(location) = answer.location {
                if redirects == MAX_REDIRECTS {
                    return Err(NetworkError::guest(wit::Error::RequestFailed(format!(
                        "GET {text}: more than {MAX_REDIRECTS} redirects"
                    ))));
                }
                redirects += 1;
                // A redirect has no text of the script's: its resource is the URL the
                // `Location` names, normalized (a malformed one is refused by name next turn).
                let joined = url.join(&location);
                text = url::parse(&joined).map_or(joined, |u| u.normalized());
                continue;
            }
            return Ok(wit::HttpResponse {
                status: answer.status,
                body: answer.body,
                truncated: answer.truncated,
                url: text,
                redirects,
            });
        }
    }

    fn connect(
        &mut self,
        endpoint: String,
        port: u16,
        protocol: wit::Transport,
        timeout_ms: u32,
    ) -> Result<wit::Connection> {
        self.host_call()?;
        let timeout = timeout_of(timeout_ms)?;
        if port == 0 {
            return Err(invalid("the port must be from 1 to 65535".into()));
        }
        let host = match endpoint
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) if ip.to_canonical().is_unspecified() => {
                return Err(invalid(url::unspecified(ip)));
            }
            Ok(ip) => ip.to_canonical().to_string(),
            Err(_) => {
                dns::check_hostname(&endpoint).map_err(invalid)?;
                endpoint.trim_end_matches('.').to_ascii_lowercase()
            }
        };
        let started = Instant::now();
        let tries: &[wit::Transport] = match protocol {
            wit::Transport::Auto => &[wit::Transport::Tcp, wit::Transport::Udp],
            wit::Transport::Tcp => &[wit::Transport::Tcp],
            wit::Transport::Udp => &[wit::Transport::Udp],
        };
        let mut last = None;
        for &transport in tries {
            let tcp = transport == wit::Transport::Tcp;
            let mut resource = Url {
                text: endpoint.clone(),
                scheme: if tcp { "tcp" } else { "udp" }.to_string(),
                host: host.clone(),
                port,
                path: String::new(),
                ip: None,
            };
            self.authz.authorize(Connect, &resource)?;
            let budget = (timeout, started);
            let addresses = self.permitted_addresses(Connect, &mut resource, budget)?;
            let made = if tcp {
                self.wait(
                    budget,
                    &format!("connecting to {endpoint}:{port}"),
                    tcp_connect(&addresses),
                )?
            } else {
                udp_connect(&addresses)
            };
            match made {
                Ok((local, remote)) => {
                    return Ok(wit::Connection {
                        protocol: transport,
                        local_address: local.to_string(),
                        remote_address: remote.to_string(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(NetworkError::guest(wit::Error::RequestFailed(format!(
            "connecting to {endpoint}:{port}: {}",
            last.unwrap_or_default()
        ))))
    }

    fn resolve(&mut self, request: wit::ResolveRequest) -> Result<Vec<String>> {
        self.host_call()?;
        let timeout = timeout_of(request.timeout_ms)?;
        dns::check_hostname(&request.hostname).map_err(invalid)?;
        let resolver = request
            .resolver
            .as_deref()
            .map(dns::parse_resolver)
            .transpose()
            .map_err(invalid)?;
        self.authz
            .authorize(ResolveHostname, &Hostname(request.hostname.clone()))?;
        let found = self
            .wait(
                (timeout, Instant::now()),
                &format!("resolving {}", request.hostname),
                dns::resolve(&request.hostname, request.protocol, resolver, timeout),
            )?
            .map_err(|e| NetworkError::guest(wit::Error::ResolveFailed(e)))?;
        Ok(found.iter().map(ToString::to_string).collect())
    }

    fn verify_certificate(
        &mut self,
        chain: Vec<u8>,
        root: Vec<u8>,
        intermediates: Vec<Vec<u8>>,
    ) -> Result<()> {
        self.host_call()?;
        if std::iter::once(&chain)
            .chain([&root])
            .chain(&intermediates)
            .any(|f| f.len() > MAX_CERTIFICATE_FILE)
            || intermediates.len() > 64
        {
            return Err(invalid(format!(
                "certificate files are at most {MAX_CERTIFICATE_FILE} bytes, and at most 64 intermediates"
            )));
        }
        certs::verify(&chain, &root, &intermediates).map_err(|e| match e {
            certs::CertError::Parse(m) => invalid(m),
            certs::CertError::Untrusted(m) => NetworkError::guest(wit::Error::Untrusted(m)),
        })
    }

    fn interfaces(&mut self) -> Result<Vec<wit::InterfaceAddresses>> {
        self.host_call()?;
        self.authz.authorize(List, &Sysinfo)?;
        let found = if_addrs::get_if_addrs()
            .map_err(|e| NetworkError::guest(wit::Error::Io(format!("the interfaces: {e}"))))?;
        let mut by_name: Vec<wit::InterfaceAddresses> = Vec::new();
        for interface in found {
            let address = interface.ip().to_string();
            match by_name.iter_mut().find(|i| i.name == interface.name) {
                Some(i) => i.addresses.push(address),
                None => by_name.push(wit::InterfaceAddresses {
                    name: interface.name,
                    addresses: vec![address],
                }),
            }
        }
        Ok(by_name)
    }

    fn sockets(&mut self) -> Result<wit::SocketTable> {
        self.host_call()?;
        let proc = FsResource::File("/proc".into());
        self.authz.authorize(fs_action::Open, &proc)?;
        self.authz.authorize(fs_action::Read, &proc)?;
        for file in sockets::FILES {
            let file = FsResource::File(file.into());
            self.authz.authorize(fs_action::Open, &file)?;
            self.authz.authorize(fs_action::Read, &file)?;
        }
        let io = |e: String| NetworkError::guest(wit::Error::Io(e));
        let mut table = wit::SocketTable {
            internet: sockets::internet().map_err(io)?,
            unix: sockets::unix().map_err(io)?,
        };
        // Which process holds each socket: only the processes the policy lets the run see
        // the descriptors of (`list_fds`, as lsof), never the host's own.
        let mut machine = Machine::read();
        let clock = self.meter.clock().clone();
        let all = machine.all(false, || clock.check()).map_err(|e| match e {
            crate::process::procs::ListError::Proc(m) => io(m),
            crate::process::procs::ListError::Stopped(trap) => NetworkError::Trap(trap),
        })?;
        let mut holders = HashMap::new();
        for seen in crate::process::only_permitted::<ListFds>(self.authz, all) {
            self.meter.clock().check()?;
            let Some(proc) = machine.reopen(&seen) else {
                continue;
            };
            for inode in sockets::socket_inodes(&proc) {
                holders.insert(inode, (seen.info.pid, seen.info.name.clone()));
            }
        }
        sockets::name_holders(&mut table, &holders);
        Ok(table)
    }
}

/// A TCP connection to the first of `addresses` that accepts one: its two ends (the
/// connection is closed when it is dropped).
async fn tcp_connect(
    addresses: &[SocketAddr],
) -> std::result::Result<(SocketAddr, SocketAddr), String> {
    let stream = http::connect_any(addresses).await?;
    let ends = (stream.local_addr(), stream.peer_addr());
    match ends {
        (Ok(local), Ok(remote)) => Ok((local, remote)),
        (Err(e), _) | (_, Err(e)) => Err(e.to_string()),
    }
}

/// A UDP socket connected to the first of `addresses` (no packet is sent: it proves a route).
fn udp_connect(addresses: &[SocketAddr]) -> std::result::Result<(SocketAddr, SocketAddr), String> {
    let mut last = String::from("no address to connect to");
    for address in addresses {
        let bind: SocketAddr = if address.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let made = std::net::UdpSocket::bind(bind).and_then(|s| {
            s.connect(address)?;
            Ok((s.local_addr()?, s.peer_addr()?))
        });
        match made {
            Ok(pair) => return Ok(pair),
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(last)
}

crate::bindings::capability_linker!(wit, NetworkView, "network");
