//! One HTTP/1.1 exchange (hyper's client) over a connection wrex made itself to an address it
//! authorized, with TLS by rustls for `https`: the request line, the response head and at
//! most `cap` bytes of body.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::url::HttpUrl;

/// Longest wait for one TCP connection (the request's own timeout may be shorter).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an exchange failed.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// Connecting, TLS or HTTP failed, with the reason.
    Failed(String),
    /// The body is longer than the cap (which was not the script's own `max_text_bytes`).
    TooLarge,
}

/// What came back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The `Location` of a redirect.
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
    /// Whether the body was cut at the cap.
    pub(crate) truncated: bool,
}

/// How much of the body to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyCap {
    pub(crate) bytes: u64,
    /// Whether a longer body is cut (`max_text_bytes`) rather than an error.
    pub(crate) truncate: bool,
}

/// Connects to the first of `addresses` that answers, then makes the exchange. For a
/// redirect (3xx with a `Location`) the body is not read.
pub(crate) async fn get(
    url: &HttpUrl,
    addresses: &[SocketAddr],
    cap: BodyCap,
) -> Result<Answer, ExchangeError> {
    let stream = connect_any(addresses)
        .await
        .map_err(ExchangeError::Failed)?;
    if url.https {
        let config = tls_config().map_err(ExchangeError::Failed)?;
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|e| ExchangeError::Failed(format!("{:?} as a TLS name: {e}", url.host)))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| ExchangeError::Failed(format!("TLS with {}: {e}", url.host)))?;
        exchange(tls, url, cap).await
    } else {
        exchange(stream, url, cap).await
    }
}

/// The first connection one of `addresses` accepts (in order), or the last one's error.
pub(crate) async fn connect_any(addresses: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = String::from("no address to connect to");
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = format!("connecting to {address}: {e}"),
            Err(_) => {
                last = format!(
                    "connecting to {address}: no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )
            }
        }
    }
    Err(last)
}

async fn exchange<S>(stream: S, url: &HttpUrl, cap: BodyCap) -> Result<Answer, ExchangeError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let failed = |what: &str, e: hyper::Error| ExchangeError::Failed(format!("{what}: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| failed("the HTTP connection", e))?;
    // The connection is driven beside the request; it ends with the runtime.
    tokio::spawn(connection);
    let request = http::Request::get(url.path_and_query())
        .header(http::header::HOST, url.authority())
        .header(
            http::header::USER_AGENT,
            concat!("wrex/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::ACCEPT, "*/*")
        .body(Empty::<Bytes>::new())
        .map_err(|e| ExchangeError::Failed(format!("the request: {e}")))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| failed("the HTTP exchange", e))?;
    let status = response.status();
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    if status.is_redirection() && location.is_some() {
        return Ok(Answer {
            status: status.as_u16(),
            location,
            body: Vec::new(),
            truncated: false,
        });
    }
    let mut body = response.into_body();
    let mut out = Vec::new();
    let mut truncated = false;
    let limit = usize::try_from(cap.bytes).unwrap_or(usize::MAX);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed("reading the body", e))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let room = limit - out.len();
        if data.len() > room {
            if !cap.truncate {
                return Err(ExchangeError::TooLarge);
            }
            out.extend_from_slice(&data[..room]);
            truncated = true;
            break;
        }
        out.extend_from_slice(&data);
    }
    Ok(Answer {
        status: status.as_u16(),
        location: None,
        body: out,
        truncated,
    })
}

/// The TLS client configuration: the system's trusted roots (`rustls-native-certs`, which
/// reads `SSL_CERT_FILE` and `SSL_CERT_DIR` when they are set, as OpenSSL does), read once
/// per process.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "no trusted root certificate found for https (set SSL_CERT_FILE to a PEM \
                     bundle){}",
                    if errors.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", errors.join("; "))
                    }
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS configuration: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}
