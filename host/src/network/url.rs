//! HTTP URLs as the policy sees them: parsed strictly and normalized, so that a URL's parts
//! (`scheme`, `host`, `port`, `path`) mean what the server will take them to mean, and what
//! was authorized is exactly what is requested.
//!
//! Refused: user information (`user@host`, a classic way to make a URL look like another
//! host's), anything but `http` and `https`, spaces, control and non-ASCII characters, a
//! numeric host that is not a plain dotted-quad or bracketed IPv6 address (`127.1`,
//! `2130706433` and `0x7f.1` all reach 127.0.0.1 through the system's resolver), a `%` not
//! followed by two hex digits, and characters a URL may not hold (`\`, `"`, `<`, `>`, `{`,
//! `}`, `|`, `^`, `` ` ``). Normalized (RFC 3986 §6.2.2): scheme and host in lower case, one
//! trailing dot of the host dropped, the default port filled in, percent-encoded unreserved
//! characters decoded (`%61` is `a`), other percent-encodings in upper case, `.` and `..`
//! segments removed (`/a/../admin` is `/admin`), an empty path made `/`; the fragment is
//! dropped (it is never sent).

use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest URL wrex takes.
pub const MAX_URL: usize = 8192;

/// An `http` or `https` URL, parsed and normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    pub(crate) https: bool,
    /// Lower case, without brackets for IPv6.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Normalized, starting with `/`.
    pub(crate) path: String,
    /// After `?`, without it; percent-encodings checked.
    pub(crate) query: Option<String>,
}

impl HttpUrl {
    pub(crate) fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    /// The host as it goes in a URL or a `Host` header (IPv6 in brackets).
    pub(crate) fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The `Host` header: the host, and the port when it is not the default.
    pub(crate) fn authority(&self) -> String {
        if self.port == self.default_port() {
            self.host_for_url()
        } else {
            format!("{}:{}", self.host_for_url(), self.port)
        }
    }

    /// What goes on the request line: the normalized path and the query.
    pub(crate) fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    /// The normalized URL.
    pub(crate) fn normalized(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme(),
            self.authority(),
            self.path_and_query()
        )
    }

    /// The absolute URL a redirect's `Location` names, relative to this one (RFC 3986 §5.2).
    pub(crate) fn join(&self, location: &str) -> String {
        let location = location.split('#').next().unwrap_or_default();
        let has_scheme = location
            .split_once(':')
            .is_some_and(|(scheme, _)| is_scheme(scheme));
        if has_scheme {
            location.to_string()
        } else if location.starts_with("//") {
            format!("{}:{location}", self.scheme())
        } else if location.starts_with('/') {
            format!("{}://{}{location}", self.scheme(), self.authority())
        } else if location.starts_with('?') || location.is_empty() {
            format!(
                "{}://{}{}{location}",
                self.scheme(),
                self.authority(),
                self.path
            )
        } else {
            let dir = &self.path[..=self.path.rfind('/').unwrap_or(0)];
            format!("{}://{}{dir}{location}", self.scheme(), self.authority())
        }
    }
}

fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Parses and normalizes `text`; the error says what is wrong with it.
pub(crate) fn parse(text: &str) -> Result<HttpUrl, String> {
    if text.len() > MAX_URL {
        return Err(format!("the URL is longer than {MAX_URL} bytes"));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == ' ')
    {
        return Err(format!(
            "the URL holds {c:?}: spaces, control and non-ASCII characters must be \
             percent-encoded (and a non-ASCII host name written in its xn-- form)"
        ));
    }
    let text = text.split('#').next().unwrap_or_default();
    let (scheme, rest) = text
        .split_once("://")
        .ok_or("the URL has no scheme: write it as http://host/path or https://host/path")?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "the scheme {other:?} is not supported (only http and https)"
            ));
        }
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(end);
    if authority.contains('@') {
        return Err(
            "the URL holds user information (`user@`): credentials in URLs are refused".into(),
        );
    }
    let (host, port) = split_host_port(authority)?;
    let host = parse_host(host)?;
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("the port {p:?} is not a number from 1 to 65535"))?,
    };
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let path = remove_dot_segments(&normalize_percent(path, "path")?);
    let path = if path.is_empty() { "/".into() } else { path };
    let query = query.map(|q| normalize_percent(q, "query")).transpose()?;
    Ok(HttpUrl {
        https,
        host,
        port,
        path,
        query,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("the URL's IPv6 address has no closing `]`")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or("the URL has text after its IPv6 address")?,
            ),
        };
        // Kept in brackets so that `parse_host` knows it must be IPv6.
        return Ok((&authority[..host.len() + 2], port));
    }
    Ok(match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn parse_host(host: &str) -> Result<String, String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("{inner:?} is not an IPv6 address"))?;
        // `[::ffff:127.0.0.1]` is 127.0.0.1 to the kernel, and so to the policy.
        let ip = IpAddr::V6(ip).to_canonical();
        if ip.is_unspecified() {
            return Err(unspecified(ip));
        }
        return Ok(ip.to_string());
    }
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(format!("the host {host:?} holds {c:?}"));
    }
    if host.split('.').any(str::is_empty) {
        return Err(format!("the host {host:?} has an empty label"));
    }
    // A host whose last label starts with a digit is an address to the system's resolver
    // (`inet_aton` reads `127.1`, `2130706433` and `0x7f.1` as 127.0.0.1); only the plain
    // dotted-quad form is taken, so the host a policy sees is the address that is reached.
    let last = host.rsplit('.').next().unwrap_or_default();
    if last.starts_with(|c: char| c.is_ascii_digit()) {
        let ip: Ipv4Addr = host.parse().map_err(|_| {
            format!(
                "the host {host:?} looks like an IPv4 address but is not one in dotted-quad form"
            )
        })?;
        if ip.is_unspecified() {
            return Err(unspecified(IpAddr::V4(ip)));
        }
        return Ok(ip.to_string());
    }
    Ok(host.to_string())
}

/// `0.0.0.0` and `::` reach the machine itself when connected to.
pub(crate) fn unspecified(ip: IpAddr) -> String {
    format!("{ip} is the unspecified address, which a connection takes to this machine itself")
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes percent-encoded unreserved characters, upper-cases the other encodings, and
/// refuses a broken `%` or a character a URL may not hold.
fn normalize_percent(s: &str, part: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
                .ok_or_else(|| format!("the {part} has a `%` not followed by two hex digits"))?;
            let decoded = u8::from_str_radix(hex, 16).unwrap_or_default();
            if is_unreserved(decoded) {
                out.push(char::from(decoded));
            } else {
                let _ = write!(out, "%{decoded:02X}");
            }
            i += 3;
            continue;
        }
        if matches!(
            b,
            b'\\' | b'"' | b'<' | b'>' | b'{' | b'}' | b'|' | b'^' | b'`' | b'[' | b']'
        ) {
            return Err(format!(
                "the {part} holds {:?}, which a URL may hold only percent-encoded",
                char::from(b)
            ));
        }
        out.push(char::from(b));
        i += 1;
    }
    Ok(out)
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        parse(s).unwrap().normalized()
    }

    #[test]
    fn urls_are_normalized() {
        assert_eq!(norm("HTTP://Example.COM"), "http://example.com/");
        assert_eq!(norm("http://example.com:80/a"), "http://example.com/a");
        assert_eq!(
            norm("https://example.com:8443/a"),
            "https://example.com:8443/a"
        );
        assert_eq!(norm("http://example.com./x"), "http://example.com/x");
        assert_eq!(norm("http://h/%61dmin/%2e%2E/b"), "http://h/b");
        assert_eq!(norm("http://h/a/../../admin"), "http://h/admin");
        assert_eq!(norm("http://h/a/./b/."), "http://h/a/b/");
        assert_eq!(norm("http://h/a%2fb?x=%2f#frag"), "http://h/a%2Fb?x=%2F");
        assert_eq!(norm("http://[::1]:8080/"), "http://[::1]:8080/");
        assert_eq!(norm("http://[0:0::1]/"), "http://[::1]/");
        assert_eq!(norm("http://h?q"), "http://h/?q");
        // An IPv4-mapped IPv6 address is the IPv4 address it maps.
        assert_eq!(
            norm("http://[::ffff:127.0.0.1]:81/"),
            "http://127.0.0.1:81/"
        );
        assert_eq!(norm("http://[::ffff:7f00:1]/"), "http://127.0.0.1/");
        let u = parse("https://api.internal:8443/v1/health?verbose").unwrap();
        assert_eq!(
            (u.scheme(), u.host.as_str(), u.port, u.path.as_str()),
            ("https", "api.internal", 8443, "/v1/health")
        );
    }

    #[test]
    fn misleading_urls_are_refused() {
        for (url, why) in [
            ("http://good.com@evil.com/", "user information"),
            ("http://user:pw@h/", "user information"),
            ("ftp://h/", "not supported"),
            ("h/path", "no scheme"),
            ("http:///path", "no host"),
            ("http://127.1/", "dotted-quad"),
            ("http://2130706433/", "dotted-quad"),
            ("http://0x7f.1/", "dotted-quad"),
            ("http://h:0/", "1 to 65535"),
            ("http://h:99999/", "1 to 65535"),
            ("http://h/a b", "spaces"),
            ("http://h/\u{e9}", "non-ASCII"),
            ("http://h/a\\..\\b", "percent-encoded"),
            ("http://h/%zz", "two hex digits"),
            ("http://h/%4", "two hex digits"),
            ("http://ex ample.com/", "spaces"),
            ("http://a..b/", "empty label"),
            ("http://[::1/", "closing"),
            ("http://h_%/", "holds"),
            ("http://0.0.0.0:8080/", "unspecified"),
            ("http://[::]/", "unspecified"),
            ("http://[::ffff:0.0.0.0]/", "unspecified"),
        ] {
            let err = parse(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
        assert!(parse(&format!("http://h/{}", "a".repeat(MAX_URL))).is_err());
    }

    #[test]
    fn redirects_are_joined_as_rfc_3986_says() {
        let base = parse("http://h:8080/a/b?q").unwrap();
        assert_eq!(base.join("https://o/x#f"), "https://o/x");
        assert_eq!(base.join("//o/x"), "http://o/x");
        assert_eq!(base.join("/x"), "http://h:8080/x");
        assert_eq!(base.join("c"), "http://h:8080/a/c");
        assert_eq!(base.join("../c"), "http://h:8080/a/../c");
        assert_eq!(norm(&base.join("../c")), "http://h:8080/c");
        assert_eq!(base.join("?z"), "http://h:8080/a/b?z");
    }
}
