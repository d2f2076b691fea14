//! The network SDK (`wrex:sdk/network`): Rex's `Client().get(url).send()` and `curl`,
//! `connect` with `TransportProtocol`, `ip_addresses`, `network_stats` and `netstat` (errors
//! are `NetworkErrorKind`), and `SystemInfo().resolve_hostname(ResolveOptions)` and `resolve`
//! (errors are `SysteminfoErrorKind`, as Rex).

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use crate::bindings::wrex::sdk::network as wit;
use crate::sdk::enums::register_enum_named;
use crate::sdk::error::{self, error_kinds};
use crate::sdk::fs::FileHandle;
use crate::sdk::fs::error::IoErrorKind;
use crate::sdk::options::options;
use crate::sdk::sysinfo::{SystemInfo, SysteminfoErrorKind};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

error_kinds!(
    /// Rex's `NetworkErrorKind`, with wrex's `InvalidArgument`, `ResponseTooLarge` and
    /// `Timeout`.
    NetworkErrorKind, denial PermissionDenied,
    [PermissionDenied, AuthorizationError, RequestError, InvalidArgument, ResponseTooLarge, Timeout, Other]
);

fn from_wit(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => {
            return error::denied(NetworkErrorKind::PermissionDenied, d);
        }
        wit::Error::InvalidArgument(m) => (NetworkErrorKind::InvalidArgument, m),
        wit::Error::ResolveFailed(m) | wit::Error::RequestFailed(m) => {
            (NetworkErrorKind::RequestError, m)
        }
        wit::Error::TooLarge(m) => (NetworkErrorKind::ResponseTooLarge, m),
        wit::Error::TimedOut(m) => (NetworkErrorKind::Timeout, m),
        wit::Error::Untrusted(m) | wit::Error::Io(m) => (NetworkErrorKind::Other, m),
    };
    error::sdk_error(kind, message)
}

/// The same errors as Rex's system-information ones (`resolve_hostname`, `ip_addresses`).
fn from_wit_sysinfo(err: wit::Error) -> Box<EvalAltResult> {
    let (kind, message) = match err {
        wit::Error::AccessDenied(d) => {
            return error::denied(SysteminfoErrorKind::PermissionDenied, d);
        }
        wit::Error::InvalidArgument(m) => (SysteminfoErrorKind::InvalidParameter, m),
        wit::Error::Io(m) => (SysteminfoErrorKind::IoError, m),
        wit::Error::ResolveFailed(m)
        | wit::Error::RequestFailed(m)
        | wit::Error::TooLarge(m)
        | wit::Error::TimedOut(m)
        | wit::Error::Untrusted(m) => (SysteminfoErrorKind::Other, m),
    };
    error::sdk_error(kind, message)
}

/// Rex's timeouts: 30 s for HTTP (reqwest's default), 5 s for `connect` and DNS.
const HTTP_TIMEOUT_MS: u32 = 30_000;
const CONNECT_TIMEOUT_MS: u32 = 5_000;
const RESOLVE_TIMEOUT_MS: u32 = 5_000;

/// A timeout in seconds from a script, in milliseconds.
fn timeout_ms(seconds: i64, what: &str) -> std::result::Result<u32, String> {
    u32::try_from(seconds)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .filter(|ms| *ms > 0)
        .ok_or_else(|| format!("{what}: a timeout is a positive number of seconds, not {seconds}"))
}

/// Rex's `Client`: how requests are made (immutable; setters return a new one).
#[derive(Clone, Debug)]
pub struct Client {
    max_text_bytes: Option<u64>,
    timeout_ms: u32,
}

/// Rex's `Request` (a GET not yet sent).
#[derive(Clone, Debug)]
pub struct Request {
    url: String,
    client: Client,
}

/// Rex's `Response`, with wrex's `truncated`, `url` and `redirects`.
#[derive(Clone, Debug)]
pub struct Response(wit::HttpResponse);

/// What `connect` made (closed again at once: it proves the endpoint reachable).
#[derive(Clone, Debug)]
pub struct Connection(wit::Connection);

/// Rex's `Network`: one interface and its addresses.
#[derive(Clone, Debug)]
pub struct Network(wit::InterfaceAddresses);

/// Rex's `TransportProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportProtocol(wit::Transport);

impl fmt::Display for TransportProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            wit::Transport::Auto => "Auto",
            wit::Transport::Tcp => "TCP",
            wit::Transport::Udp => "UDP",
        })
    }
}

/// One of Rex's netstat enums (`NetworkProtocol`, `TcpState`, `UnixProtocol`,
/// `UnixSocketState`): its value as Rex prints it (`Established`), `T` telling them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named<T>(String, std::marker::PhantomData<T>);

impl<T> Named<T> {
    /// From the constant's name (`SYN_SENT` is `SynSent`, `TCP6` is `Tcp6`).
    fn of(constant: &str) -> Self {
        let mut out = String::new();
        for word in constant.split('_') {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars.map(|c| c.to_ascii_lowercase()));
            }
        }
        Self(out, std::marker::PhantomData)
    }
}

impl<T> fmt::Display for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Markers of the four netstat enums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetProto {}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tcp {}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixProto {}
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnixState {}

const NETWORK_PROTOCOLS: &[&str] = &["TCP", "TCP6", "UDP", "UDP6"];
const TCP_STATES: &[&str] = &[
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
    "NONE",
];
const UNIX_PROTOCOLS: &[&str] = &["STREAM", "DGRAM", "SEQPACKET"];
const UNIX_STATES: &[&str] = &["UNCONNECTED", "CONNECTING", "CONNECTED", "DISCONNECTING"];

/// Rex's `ProcessInfo` of a socket.
#[derive(Clone, Debug)]
pub struct ProcessInfo {
    pid: u32,
    process_name: String,
}

/// Rex's `InternetConnection`.
#[derive(Clone, Debug)]
pub struct InternetConnection(wit::InternetSocket);

/// Rex's `UnixSocket`.
#[derive(Clone, Debug)]
pub struct UnixSocket(wit::UnixSocket);

/// Rex's `NetworkStats`.
#[derive(Clone, Debug)]
pub struct NetworkStats(wit::SocketTable);

options!(ResolveOptions / ResolveOptionsBuilder {
    hostname: String,
    protocol: TransportProtocol,
    resolver: String,
    timeout: i64,
} required [hostname]);

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn process_info(pid: Option<u32>, name: &Option<String>) -> Dynamic {
    match (pid, name) {
        (Some(pid), Some(name)) => Dynamic::from(ProcessInfo {
            pid,
            process_name: name.clone(),
        }),
        _ => Dynamic::UNIT,
    }
}

impl Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.body).into_owned()
    }

    fn to_map(&self) -> Map {
        let mut m = Map::new();
        m.insert("status".into(), Dynamic::from(i64::from(self.0.status)));
        m.insert("text".into(), Dynamic::from(self.text()));
        m.insert("truncated".into(), Dynamic::from(self.0.truncated));
        m.insert("url".into(), Dynamic::from(self.0.url.clone()));
        m.insert(
            "redirects".into(),
            Dynamic::from(i64::from(self.0.redirects)),
        );
        m
    }
}

impl Request {
    fn send(&self) -> Result<Response> {
        wit::http_get(&wit::HttpRequest {
            url: self.url.clone(),
            max_body: self.client.max_text_bytes,
            timeout_ms: self.client.timeout_ms,
        })
        .map(Response)
        .map_err(from_wit)
    }
}

fn client() -> Client {
    Client {
        max_text_bytes: None,
        timeout_ms: HTTP_TIMEOUT_MS,
    }
}

fn connect(endpoint: &str, port: i64, protocol: TransportProtocol) -> Result<Connection> {
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| {
            error::sdk_error(
                NetworkErrorKind::InvalidArgument,
                format!("connect: the port must be from 1 to 65535, not {port}"),
            )
        })?;
    wit::connect(endpoint, port, protocol.0, CONNECT_TIMEOUT_MS)
        .map(Connection)
        .map_err(from_wit)
}

fn resolve(options: &ResolveOptions) -> Result<Array> {
    let timeout_ms = match options.timeout {
        Some(s) => timeout_ms(s, "ResolveOptions")
            .map_err(|m| error::sdk_error(SysteminfoErrorKind::InvalidParameter, m))?,
        None => RESOLVE_TIMEOUT_MS,
    };
    let request = wit::ResolveRequest {
        hostname: options.hostname.clone().unwrap_or_default(),
        protocol: options.protocol.map_or(wit::Transport::Auto, |p| p.0),
        resolver: options.resolver.clone(),
        timeout_ms,
    };
    wit::resolve(&request)
        .map(|ips| ips.into_iter().map(Dynamic::from).collect())
        .map_err(from_wit_sysinfo)
}

fn ip_addresses() -> Result<Array> {
    wit::interfaces()
        .map(|all| all.into_iter().map(|i| Dynamic::from(Network(i))).collect())
        .map_err(from_wit_sysinfo)
}

fn network_stats() -> Result<NetworkStats> {
    wit::sockets().map(NetworkStats).map_err(from_wit)
}

/// Rex's `netstat()`: plain maps, enums as their printed names.
fn netstat() -> Result<Map> {
    let table = wit::sockets().map_err(from_wit)?;
    let internet: Array = table
        .internet
        .into_iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert(
                "protocol".into(),
                Named::<NetProto>::of(&s.protocol).to_string().into(),
            );
            m.insert("local_address".into(), s.local_address.into());
            m.insert("remote_address".into(), s.remote_address.into());
            m.insert(
                "state".into(),
                Named::<Tcp>::of(&s.state).to_string().into(),
            );
            m.insert("recv_queue".into(), Dynamic::from(i64::from(s.recv_queue)));
            m.insert("send_queue".into(), Dynamic::from(i64::from(s.send_queue)));
            Dynamic::from_map(m)
        })
        .collect();
    let unix: Array = table
        .unix
        .into_iter()
        .map(|s| {
            let mut m = Map::new();
            m.insert(
                "protocol".into(),
                Named::<UnixProto>::of(&s.protocol).to_string().into(),
            );
            m.insert(
                "state".into(),
                Named::<UnixState>::of(&s.state).to_string().into(),
            );
            m.insert("path".into(), s.path.map_or(Dynamic::UNIT, Dynamic::from));
            m.insert("ref_count".into(), Dynamic::from(i64::from(s.ref_count)));
            Dynamic::from_map(m)
        })
        .collect();
    let mut out = Map::new();
    out.insert("internet".into(), Dynamic::from_array(internet));
    out.insert("unix".into(), Dynamic::from_array(unix));
    Ok(out)
}

/// Most bytes of a certificate file `verify_cert` reads.
const MAX_CERTIFICATE_FILE: usize = 1 << 20;

/// A certificate file's bytes, read through the file-system capability (each read authorized).
fn certificate_file(file: &FileHandle) -> Result<Vec<u8>> {
    let (bytes, more) =
        crate::sdk::fs::read_prefix(&file.0, MAX_CERTIFICATE_FILE, crate::sdk::fs::from_wit)?;
    if more {
        return Err(error::sdk_error(
            IoErrorKind::FileContentTooLargeError,
            format!("a certificate file is at most {MAX_CERTIFICATE_FILE} bytes"),
        ));
    }
    Ok(bytes)
}

/// Rex's `fh.verify_cert_chain(root_ca, [intermediates])` (errors are `IoErrorKind`, as Rex's).
fn verify_cert(leaf: &FileHandle, root: &FileHandle, intermediates: &Array) -> Result<()> {
    let intermediates = intermediates
        .iter()
        .map(|i| {
            let handle = i.clone().try_cast::<FileHandle>().ok_or_else(|| {
                error::sdk_error(
                    IoErrorKind::InvalidArguments,
                    format!(
                        "verify_cert_chain: intermediates are file handles, got a {}",
                        i.type_name()
                    ),
                )
            })?;
            certificate_file(&handle)
        })
        .collect::<Result<Vec<_>>>()?;
    let chain = certificate_file(leaf)?;
    let root = certificate_file(root)?;
    wit::verify_certificate(&chain, &root, &intermediates).map_err(|e| {
        let (kind, message) = match e {
            wit::Error::AccessDenied(d) => return error::denied(IoErrorKind::PermissionDenied, d),
            wit::Error::InvalidArgument(m) => (IoErrorKind::InvalidArguments, m),
            wit::Error::Untrusted(m)
            | wit::Error::ResolveFailed(m)
            | wit::Error::RequestFailed(m)
            | wit::Error::TooLarge(m)
            | wit::Error::TimedOut(m)
            | wit::Error::Io(m) => (IoErrorKind::Other, m),
        };
        error::sdk_error(kind, message)
    })
}

fn register_named<T>(engine: &mut Engine, name: &str, constants: &'static [&'static str])
where
    T: Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
{
    register_enum_named(
        engine,
        name,
        constants.iter().map(|c| (*c, Named::<T>::of(c))),
    );
}

pub fn register(engine: &mut Engine) {
    error::register::<NetworkErrorKind>(engine);
    ResolveOptions::register(engine);
    register_enum_named(
        engine,
        "TransportProtocol",
        [
            ("AUTO", TransportProtocol(wit::Transport::Auto)),
            ("TCP", TransportProtocol(wit::Transport::Tcp)),
            ("UDP", TransportProtocol(wit::Transport::Udp)),
        ],
    );
    register_named::<NetProto>(engine, "NetworkProtocol", NETWORK_PROTOCOLS);
    register_named::<Tcp>(engine, "TcpState", TCP_STATES);
    register_named::<UnixProto>(engine, "UnixProtocol", UNIX_PROTOCOLS);
    register_named::<UnixState>(engine, "UnixSocketState", UNIX_STATES);
    engine
        .register_type_with_name::<Client>("Client")
        .register_fn("Client", client)
        .register_fn(
            "max_text_bytes",
            |c: &mut Client, n: i64| -> Result<Client> {
                let n = u64::try_from(n).map_err(|_| {
                    error::sdk_error(
                        NetworkErrorKind::InvalidArgument,
                        format!("max_text_bytes: a size is not negative ({n})"),
                    )
                })?;
                Ok(Client {
                    max_text_bytes: Some(n),
                    ..c.clone()
                })
            },
        )
        .register_fn(
            "timeout",
            |c: &mut Client, seconds: i64| -> Result<Client> {
                Ok(Client {
                    timeout_ms: timeout_ms(seconds, "Client().timeout")
                        .map_err(|m| error::sdk_error(NetworkErrorKind::InvalidArgument, m))?,
                    ..c.clone()
                })
            },
        )
        .register_fn("get", |c: &mut Client, url: &str| Request {
            url: url.to_string(),
            client: c.clone(),
        });
    engine
        .register_type_with_name::<Request>("Request")
        .register_get("url", |r: &mut Request| r.url.clone())
        .register_get("method", |_: &mut Request| "Get".to_string())
        .register_get("max_text_size", |r: &mut Request| {
            r.client
                .max_text_bytes
                .map_or(Dynamic::UNIT, |n| Dynamic::from(int(n)))
        })
        .register_fn("send", |r: &mut Request| r.send());
    engine
        .register_type_with_name::<Response>("Response")
        .register_get("status", |r: &mut Response| i64::from(r.0.status))
        .register_get("text", |r: &mut Response| r.text())
        .register_get("truncated", |r: &mut Response| r.0.truncated)
        .register_get("url", |r: &mut Response| r.0.url.clone())
        .register_get("redirects", |r: &mut Response| i64::from(r.0.redirects))
        .register_fn("to_map", |r: &mut Response| r.to_map());
    engine
        .register_type_with_name::<Connection>("Connection")
        .register_get("protocol", |c: &mut Connection| {
            TransportProtocol(c.0.protocol)
        })
        .register_get("local_address", |c: &mut Connection| {
            c.0.local_address.clone()
        })
        .register_get("remote_address", |c: &mut Connection| {
            c.0.remote_address.clone()
        });
    engine
        .register_type_with_name::<Network>("Network")
        .register_get("interface_name", |n: &mut Network| n.0.name.clone())
        .register_get("addresses", |n: &mut Network| {
            n.0.addresses
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect::<Array>()
        });
    engine
        .register_type_with_name::<ProcessInfo>("ProcessInfo")
        .register_get("pid", |p: &mut ProcessInfo| i64::from(p.pid))
        .register_get("process_name", |p: &mut ProcessInfo| p.process_name.clone());
    engine
        .register_type_with_name::<InternetConnection>("InternetConnection")
        .register_get("protocol", |c: &mut InternetConnection| {
            Named::<NetProto>::of(&c.0.protocol)
        })
        .register_get("recv_queue", |c: &mut InternetConnection| {
            i64::from(c.0.recv_queue)
        })
        .register_get("send_queue", |c: &mut InternetConnection| {
            i64::from(c.0.send_queue)
        })
        .register_get("local_address", |c: &mut InternetConnection| {
            c.0.local_address.clone()
        })
        .register_get("remote_address", |c: &mut InternetConnection| {
            c.0.remote_address.clone()
        })
        .register_get("state", |c: &mut InternetConnection| {
            Named::<Tcp>::of(&c.0.state)
        })
        .register_get("inode", |c: &mut InternetConnection| int(c.0.inode))
        .register_get("process_info", |c: &mut InternetConnection| {
            process_info(c.0.pid, &c.0.process_name)
        });
    engine
        .register_type_with_name::<UnixSocket>("UnixSocket")
        .register_get("protocol", |s: &mut UnixSocket| {
            Named::<UnixProto>::of(&s.0.protocol)
        })
        .register_get("ref_count", |s: &mut UnixSocket| i64::from(s.0.ref_count))
        .register_get("state", |s: &mut UnixSocket| {
            Named::<UnixState>::of(&s.0.state)
        })
        .register_get("inode", |s: &mut UnixSocket| int(s.0.inode))
        .register_get("path", |s: &mut UnixSocket| {
            s.0.path.clone().map_or(Dynamic::UNIT, Dynamic::from)
        })
        .register_get("process_info", |s: &mut UnixSocket| {
            process_info(s.0.pid, &s.0.process_name)
        });
    engine
        .register_type_with_name::<NetworkStats>("NetworkStats")
        .register_get("internet_connections", |n: &mut NetworkStats| {
            n.0.internet
                .iter()
                .cloned()
                .map(|c| Dynamic::from(InternetConnection(c)))
                .collect::<Array>()
        })
        .register_get("unix_sockets", |n: &mut NetworkStats| {
            n.0.unix
                .iter()
                .cloned()
                .map(|s| Dynamic::from(UnixSocket(s)))
                .collect::<Array>()
        });
    engine
        .register_fn("curl", |url: &str| {
            Request {
                url: url.to_string(),
                client: client(),
            }
            .send()
        })
        .register_fn(
            "connect",
            |endpoint: &str, port: i64, protocol: TransportProtocol| {
                connect(endpoint, port, protocol)
            },
        )
        .register_fn("ip_addresses", ip_addresses)
        .register_fn("ip_addr", ip_addresses)
        .register_fn("network_stats", network_stats)
        .register_fn("netstat", netstat)
        .register_fn("resolve", |hostname: &str| {
            resolve(&ResolveOptions {
                hostname: Some(hostname.to_string()),
                ..ResolveOptions::default()
            })
        })
        .register_fn("verify_cert", |leaf: &mut FileHandle, root: FileHandle| {
            verify_cert(leaf, &root, &Array::new())
        })
        .register_fn(
            "verify_cert_chain",
            |leaf: &mut FileHandle, root: FileHandle, intermediates: Array| {
                verify_cert(leaf, &root, &intermediates)
            },
        )
        .register_fn(
            "resolve_hostname",
            |_: &mut SystemInfo, options: ResolveOptions| resolve(&options),
        );
}
