//! The network capability through the real guest, against real servers on loopback: an HTTP
//! (and HTTPS) server (`tests/support/http_server.py`), a DNS server (`dnsmasq`), and the
//! machine's own interfaces and sockets. Each function allowed and denied; what was denied
//! never reached the server.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::util::{
    assert_contains_all, assert_error, assert_success, fixture, repo, run_with, script,
};

fn policy(name: &str) -> String {
    std::fs::read_to_string(fixture("policies", name, "cedar")).unwrap()
}

fn example_policy(name: &str) -> String {
    std::fs::read_to_string(
        repo()
            .join("policies/examples")
            .join(format!("{name}.cedar")),
    )
    .unwrap()
}

fn tls_file(name: &str) -> String {
    repo()
        .join("tests/support/tls")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `tests/support/http_server.py` on 127.0.0.1, killed when dropped; it logs the path of
/// every request it answers.
struct HttpServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl HttpServer {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_tls() -> Self {
        Self::start_with(&["--tls", &tls_file("server.pem"), &tls_file("server.key")])
    }

    fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.log");
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/http_server.py"))
            .arg("--log")
            .arg(&log)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test HTTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the server prints its port");
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The paths of the requests that reached the server.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(server: &HttpServer) -> Vec<(&'static str, wrex::ArgValue)> {
    vec![
        ("base", server.base().as_str().into()),
        ("port", i64::from(server.port).into()),
    ]
}

/// Runs `tests/scripts/network/<name>.rhai` under the test policy `policy_name` with the
/// server's `base` and `port`; the run must succeed. Its result as Rhai prints it, and the
/// decisions made.
fn run_script(server: &HttpServer, name: &str, policy_name: &str) -> (String, Vec<wrex::Decision>) {
    let (out, decisions) = run_with(&script(name), &policy(policy_name), args(server), None);
    assert_success(&out);
    (out.output, decisions)
}

#[test]
fn get_returns_status_and_body_and_follows_redirects() {
    let server = HttpServer::start();
    let (o, decisions) = run_script(&server, "http_get", "loopback_get");
    let o = o.as_str();
    assert_contains_all(
        o,
        [
            r#""hello": [200, "Hello, World!", false, 0, true]"#,
            r#""cut": ["Hello", true]"#,
            r#""redirected": [200, "{\"status\": \"ok\"}", 1, true]"#,
            r#""failing": [503, "status 503"]"#,
            // A redirect's target is asked about, and reported, normalized.
            r#""dotted": ["Hello, World!", true]"#,
            // The path the policy saw is the path the server got: dot segments resolved, `%7e`
            // and `%61` decoded (unreserved), the Host header with the port.
            &format!(r#""echo": "/echo/b/~a host=127.0.0.1:{}""#, server.port),
            r#""curl": "Hello, World!""#,
            r#""request": ["Get", 7, true, ()]"#,
        ],
    );
    // Each request is asked about before the connection (no `ip`) and for the address (with
    // it); the redirect's target the same way.
    let gets: Vec<_> = decisions
        .iter()
        .filter(|d| d.action == r#"network::Action::"GET""#)
        .collect();
    assert!(gets.iter().all(|d| d.allowed));
    let health = format!(r#"network::url::"http://127.0.0.1:{}/health""#, server.port);
    assert_eq!(gets.iter().filter(|d| d.resource == health).count(), 2);
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|p| p.as_str() == "/health")
            .count(),
        1
    );
}

#[test]
fn refused_urls_and_redirects_never_reach_the_server() {
    let server = HttpServer::start();
    let (o, decisions) = run_script(&server, "http_refused", "loopback_get");
    let o = o.as_str();
    let port = server.port;
    assert_contains_all(
        o,
        [
            format!(
                r#""secret": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://127.0.0.1:{port}/secret"#
            ),
            // The redirect is followed only as far as the policy allows: its target is refused.
            format!(
                r#""redirect_away": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://localhost:{port}/hello"#
            ),
            format!(
                r#""redirect_secret": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://127.0.0.1:{port}/secret"#
            ),
            r#""userinfo": "InvalidArgument: the URL"#.to_string(),
            "credentials in URLs are refused".to_string(),
            r#""numeric": "InvalidArgument: "#.to_string(),
            "not one in dotted-quad form".to_string(),
            r#""scheme": "InvalidArgument: "#.to_string(),
            // `/hello/../secret` and `/%73ecret` are `/secret` to the server, and so to the policy.
            format!(
                r#""dotdot": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://127.0.0.1:{port}/hello/../secret"#
            ),
            format!(
                r#""encoded": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://127.0.0.1:{port}/%73ecret"#
            ),
        ],
    );
    // Only the two redirects themselves reached the server.
    let mut reached = server.requests();
    reached.sort();
    assert_eq!(
        reached,
        [
            "/redirect?to=/secret".to_string(),
            format!("/redirect?to=http://localhost:{port}/hello"),
        ]
    );
    assert!(
        decisions
            .iter()
            .any(|d| !d.allowed && d.resource.contains("localhost")),
        "{decisions:#?}"
    );
}

#[test]
fn the_address_a_name_resolves_to_is_authorized_before_connecting() {
    let server = HttpServer::start();
    let (out, decisions) = run_with(
        &script("resolved_address"),
        &policy("localhost_by_name"),
        args(&server),
        None,
    );
    assert_success(&out);
    let port = server.port;
    for expected in [
        format!(
            r#""PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://localhost:{port}/hello (forbidden by policy"#
        ),
        // `[::ffff:127.0.0.1]` is 127.0.0.1 to the policy (`ip.isLoopback()` holds), as to the
        // kernel.
        format!(
            r#""PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::http://[::ffff:127.0.0.1]:{port}/hello (forbidden by policy"#
        ),
    ] {
        assert!(
            out.output.contains(&expected),
            "missing {expected} in {}",
            out.output
        );
    }
    // Each allowed by name first, then refused for each address.
    let localhost: Vec<bool> = decisions
        .iter()
        .filter(|d| d.resource.contains("localhost"))
        .map(|d| d.allowed)
        .collect();
    assert!(localhost[0], "{decisions:#?}");
    assert!(
        localhost.len() >= 2 && localhost[1..].iter().all(|a| !a),
        "{decisions:#?}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn bodies_are_capped_and_requests_bounded_in_time() {
    let server = HttpServer::start();
    let (out, _) = run_with(
        &script("http_limits"),
        &policy("loopback_get"),
        args(&server),
        None,
    );
    assert_success(&out);
    assert_contains_all(
        &out.output,
        [
            r#""too_large": "ResponseTooLarge: GET "#,
            "larger than 16777216 bytes; set max_text_bytes",
            r#""cut": [1000, true]"#,
            r#""negative": "InvalidArgument: max_text_bytes: a size is not negative (-1)""#,
            r#""zero_timeout": "InvalidArgument: Client().timeout: a timeout is a positive number of seconds, not 0""#,
        ],
    );
    // A server slower than the client's timeout: given up after its second, not after the
    // server's five.
    let started = std::time::Instant::now();
    let (out, _) = run_with(
        "let r = (); try { Client().timeout(1).get(`${base}/slow?s=5`).send(); } catch (e) { r = `${e.kind}: ${e.message}`; } r",
        &policy("loopback_get"),
        args(&server),
        None,
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_success(&out);
    assert_contains_all(
        &out.output,
        [
            "Timeout: GET ",
            "/slow?s=5: no answer within its timeout of 1000 ms",
        ],
    );
}

#[test]
fn a_body_over_the_runs_read_limit_ends_the_run() {
    let server = HttpServer::start();
    let limits = wrex::Limits {
        max_read_bytes: 100_000,
        ..wrex::Limits::default()
    };
    let (out, _) = run_with(
        &script("http_read_limit"),
        &policy("loopback_get"),
        args(&server),
        Some(limits),
    );
    assert_error(&out, wrex::ErrorType::LimitExceeded, "bytes read");
}

#[test]
fn https_is_verified_against_the_trusted_roots() {
    let server = HttpServer::start_tls();
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.cedar");
    std::fs::write(
        &policy_path,
        "permit (principal, action == network::Action::\"GET\", resource) when { resource.scheme == \"https\" };",
    )
    .unwrap();
    let script_path = dir.path().join("get.rhai");
    std::fs::write(
        &script_path,
        format!(
            "let out = (); try {{ let r = curl(\"https://localhost:{0}/hello\"); out = `${{r.status}} ${{r.text}}`; }} catch (e) {{ out = `${{e.kind}}: ${{e.message}}`; }} out",
            server.port
        ),
    )
    .unwrap();
    let run = |ca: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_wrex"))
            .args(["run", "-o", "json"])
            .arg(&script_path)
            .arg("--policy")
            .arg(&policy_path)
            .env("SSL_CERT_FILE", tls_file(ca))
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let trusted = run("ca.pem");
    assert!(trusted.contains("200 Hello, World!"), "{trusted}");
    let untrusted = run("other_ca.pem");
    assert!(
        untrusted.contains("RequestError: GET https://localhost:"),
        "{untrusted}"
    );
    assert!(
        untrusted.contains("invalid peer certificate"),
        "{untrusted}"
    );
}

#[test]
fn connect_checks_the_endpoint_and_its_port() {
    let server = HttpServer::start();
    let (o, _) = run_script(&server, "connect", "connect_loopback");
    let o = o.as_str();
    let port = server.port;
    assert_contains_all(
        o,
        [
        format!(r#""tcp": ["TCP", "127.0.0.1:{port}"]"#),
        r#""udp": "UDP""#.to_string(),
        r#""auto": "TCP""#.to_string(),
        r#""other_port": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"connect\" for network::url::127.0.0.1"#.to_string(),
        r#""other_host": "PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"connect\" for network::url::localhost"#.to_string(),
        r#""bad_port": "InvalidArgument: connect: the port must be from 1 to 65535, not 70000""#.to_string(),
        ],
    );
}

/// `dnsmasq` answering for `wrex.test` names on 127.0.0.1, a port of its own, UDP and TCP;
/// killed when dropped. It logs every query it receives.
struct NameServer {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl NameServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("queries.log");
        // A free port: bound and released (dnsmasq cannot report the one it was given).
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--user=root",
                "--log-queries",
                "--host-record=svc.wrex.test,127.0.0.7,::7",
                "--host-record=secret.wrex.test,127.0.0.8",
                "--address=/missing.wrex.test/",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--log-facility={}", log.display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .spawn()
            .expect("dnsmasq (Debian package dnsmasq-base) runs");
        // Ready when it answers on TCP.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "dnsmasq did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self {
            child,
            port,
            log,
            _dir: dir,
        }
    }

    fn queries(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn names_are_resolved_by_the_name_server_asked_when_permitted() {
    let dns = NameServer::start();
    let resolver = format!("127.0.0.1:{}", dns.port);
    let (out, _) = run_with(
        &script("resolve"),
        &policy("resolve_svc"),
        vec![("resolver", resolver.as_str().into())],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert_contains_all(
        o,
        [
            r#""both": ["127.0.0.7", "::7"]"#,
            r#""tcp": ["127.0.0.7", "::7"]"#,
            r#""missing": "Other: missing.wrex.test"#,
            r#""refused": "PermissionDenied: Permission denied: tester unauthorized to perform sysinfo::Action::\"resolve_hostname\" for sysinfo::Hostname::secret.wrex.test"#,
            r#""bad_name": "InvalidParameter: the host name \"a b\" holds ' '"#,
            r#""bad_resolver": "InvalidParameter: the resolver \"dns.example\" is not an IP address"#,
            r#""no_hostname": "ResolveOptions: Field not initialized: hostname"#,
        ],
    );
    // The refused name was never asked of the name server.
    let queries = dns.queries();
    assert!(queries.contains("svc.wrex.test"), "{queries}");
    assert!(!queries.contains("secret.wrex.test"), "{queries}");
}

#[test]
fn interfaces_and_sockets_are_listed_with_their_processes() {
    let server = HttpServer::start();
    let (o, _) = run_script(&server, "machine_network", "machine_network");
    let o = o.as_str();
    assert_contains_all(
        o,
        [
            r#""lo": [true]"#.to_string(),
            r#""aliases": true"#.to_string(),
            format!(r#""listening": [["Tcp", "Listen", {}]]"#, server.child.id()),
            r#""plain": [["Tcp", "Listen"]]"#.to_string(),
            r#""unix": true"#.to_string(),
        ],
    );
    // Without `list_fds`, the socket is listed but its process is not named.
    let without = policy("machine_network").replace(
        "permit (principal, action == process_system::Action::\"list_fds\", resource);",
        "",
    );
    let (out, _) = run_with(&script("machine_network"), &without, args(&server), None);
    assert_success(&out);
    assert!(
        out.output
            .contains(r#""listening": [["Tcp", "Listen", ()]]"#),
        "{}",
        out.output
    );
    // Without `sysinfo::list`, no interfaces; the system resolver answers for `localhost`
    // from /etc/hosts when `resolve_hostname` is permitted, and not otherwise.
    let (out, _) = run_with(
        r#"let r = []; try { ip_addresses(); } catch (e) { r.push(e.message); }
           r.push(resolve("localhost"));
           try { resolve("example.wrex.test"); } catch (e) { r.push(e.message); }
           r"#,
        "permit (principal, action == sysinfo::Action::\"resolve_hostname\", resource == sysinfo::Hostname::\"localhost\");",
        vec![],
        None,
    );
    assert_success(&out);
    let o = &out.output;
    assert!(
        o.contains(r#"Permission denied: tester unauthorized to perform sysinfo::Action::\"list\" for sysinfo::Sysinfo::sysinfo"#),
        "{o}"
    );
    assert!(o.contains("\"127.0.0.1\""), "{o}");
    assert!(
        o.contains(r#"Permission denied: tester unauthorized to perform sysinfo::Action::\"resolve_hostname\" for sysinfo::Hostname::example.wrex.test"#),
        "{o}"
    );
    // Without the socket tables, a denial.
    let (out, _) = run_with(
        "netstat()",
        "permit (principal, action == sysinfo::Action::\"list\", resource);",
        vec![],
        None,
    );
    crate::util::assert_denied(&out, "open", "/proc");
}

#[test]
fn the_health_check_runs_under_a_read_only_policy_and_says_what_a_narrower_one_refuses() {
    let server = HttpServer::start();
    let url = format!("{}/health", server.base());
    let run = |policy: &str| {
        run_with(
            &script("health_check"),
            policy,
            vec![("url", url.as_str().into())],
            None,
        )
        .0
    };
    let out = run(&example_policy("health_check"));
    assert_success(&out);
    let o = &out.output;
    assert_contains_all(
        o,
        [
            r#""http_status": 200"#,
            r#""http_body": "{\"status\": \"ok\"}""#,
            r#""disks": "#,
            r#""memory_available_percent": "#,
            r#""kernel_errors": "#,
        ],
    );
    assert!(!o.contains("refused"), "{o}");

    let out = run(&policy("health_without_http"));
    assert_success(&out);
    let o = &out.output;
    assert!(o.contains(r#""healthy": false"#), "{o}");
    assert!(
        o.contains(&format!("HTTP check failed: PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\\\"GET\\\" for network::url::{url} (no permit matched)")),
        "{o}"
    );
    assert!(o.contains(r#""memory_available_percent": "#), "{o}");
    assert_eq!(server.requests(), ["/health"]);
}

#[test]
fn certificates_verify_only_against_the_root_that_signed_them() {
    let sb = crate::util::Sandbox::new();
    for name in ["ca.pem", "other_ca.pem", "server.pem", "server.key"] {
        sb.write(
            &format!("allowed/tls/{name}"),
            &std::fs::read_to_string(tls_file(name)).unwrap(),
        );
    }
    let out = sb.run("verify_cert", "ro");
    assert_success(&out);
    let o = &out.output;
    assert_contains_all(
        o,
        [
            r#""trusted": "ok""#,
            r#""chain": "ok""#,
            r#""other_root": "Other: the certificate chain does not verify: "#,
            r#""not_a_cert": "InvalidArguments: the certificate file holds no certificate""#,
            r#""bad_intermediate": "InvalidArguments: verify_cert_chain: intermediates are file handles, got a string""#,
        ],
    );
    // Reading the files is authorized (Rex checked nothing): without `read`, a denial.
    let out = sb.run_source(
        r#"let tls = DirConfig().path(root + "/allowed/tls").build().open(OpenDirOptions().build());
           let f = tls.open_file("server.pem", OpenFileOptions().read(true).build());
           f.verify_cert(f)"#,
        "open_only",
    );
    crate::util::assert_denied(&out, "read", "/allowed/tls/server.pem");
}

#[test]
fn the_runs_deadline_ends_a_request_in_flight() {
    let server = HttpServer::start();
    let limits = wrex::Limits {
        timeout: std::time::Duration::from_secs(1),
        ..wrex::Limits::default()
    };
    let started = std::time::Instant::now();
    let (out, _) = run_with(
        "Client().get(`${base}/slow?s=5`).send().status",
        &policy("loopback_get"),
        args(&server),
        Some(limits),
    );
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::TimeoutExceeded),
        "{out:#?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

/// Rex's network denial case: a GET the policy limits to another host is an uncaught
/// `ACCESS_DENIED_EXCEPTION`, and (unlike Rex's `Unknown`) its kind says what it is. Denied
/// before any lookup, so it needs no network.
#[test]
fn an_uncaught_denial_is_rexs_access_denied() {
    let policy = "permit (principal, action == network::Action::\"GET\", resource) when { resource.url like \"https://example.com/*\" };";
    for script in [
        r#"Client().get("https://www.google.com").send()"#,
        r#"curl("https://www.google.com")"#,
    ] {
        let (out, _) = run_with(script, policy, vec![], None);
        assert_error(
            &out,
            wrex::ErrorType::AccessDeniedException,
            "NetworkErrorKind: PermissionDenied: Permission denied: tester unauthorized to perform network::Action::\"GET\" for network::url::https://www.google.com (no permit matched)",
        );
    }
}
