//! `wrex mcp`: a Model Context Protocol server (the official Rust SDK, `rmcp`) over stdio or
//! streamable HTTP. Tools: `run_script`, `list_functions`, `explain`. The policy, limits,
//! root, identity, labels and audit log are fixed at start; no tool can change them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use wrex::functions::Function;
use wrex::{Policy, RunOutcome, Runtime, RuntimeOptions, ScriptArgs};

use crate::flags::McpArgs;
use crate::input::read_input;
use crate::setup::Setup;

/// Largest `arguments` object a `run_script` call may carry, in bytes of JSON.
const MAX_ARGUMENTS_BYTES: usize = 1 << 20;

/// Largest HTTP request body (a script is at most the run's script-size limit, 8 MiB by
/// default; the JSON-RPC envelope and escaping add to it).
const MAX_REQUEST_BYTES: usize = 24 << 20;

/// What every tool call shares.
struct Server {
    runtime: Runtime,
    policy: Policy,
    policy_name: String,
    setup: Setup,
    principal: String,
    /// The SDK, described (asked of the guest once, at start).
    functions: Vec<Function>,
    /// One permit per run the pool can hold; a call that finds none is refused.
    slots: Arc<tokio::sync::Semaphore>,
    max_runs: usize,
    /// The cancel flags of the runs in progress, set at shutdown.
    running: Mutex<Vec<Arc<AtomicBool>>>,
}

/// The handler rmcp calls (cheap to clone: one per HTTP session).
#[derive(Clone)]
struct Handler(Arc<Server>);

pub(crate) fn serve(args: McpArgs) -> ExitCode {
    let server = match Server::new(&args) {
        Ok(s) => Arc::new(s),
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let token = match &args.bearer_token_file {
        None => None,
        Some(path) => match read_input("bearer token", path, 4096) {
            Ok(t) if t.trim().len() >= 16 => Some(Arc::<str>::from(t.trim())),
            Ok(_) => {
                eprintln!(
                    "error: --bearer-token-file {}: the token must be at least 16 characters",
                    path.display()
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    if let Some(addr) = args.http
        && !addr.ip().is_loopback()
        && token.is_none()
    {
        eprintln!(
            "error: --http {addr}: not a loopback address; serving beyond this host needs --bearer-token-file"
        );
        return ExitCode::from(2);
    }
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let shutdown = CancellationToken::new();
    let result = tokio.block_on(async {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            stop.cancel();
        });
        match args.http {
            None => serve_stdio(Arc::clone(&server), shutdown.clone()).await,
            Some(addr) => serve_http(Arc::clone(&server), addr, token, shutdown.clone()).await,
        }
    });
    server.cancel_all();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn serve_stdio(server: Arc<Server>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let running = Handler(server)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| anyhow::anyhow!("MCP over stdio: {e}"))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        quit = running.waiting() => { quit?; }
        _ = shutdown.cancelled() => cancel.cancel(),
    }
    Ok(())
}

async fn serve_http(
    server: Arc<Server>,
    addr: SocketAddr,
    token: Option<Arc<str>>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("--http {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let mut config = StreamableHttpServerConfig::default()
        .with_cancellation_token(shutdown.child_token())
        .with_max_request_body_bytes(MAX_REQUEST_BYTES);
    if !bound.ip().is_loopback() {
        // Host validation (against DNS rebinding) accepts loopback names by default; a server
        // bound elsewhere also answers to its own address.
        config = config.with_allowed_hosts([
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
            bound.ip().to_string(),
            bound.to_string(),
        ]);
    }
    let handler = Handler(server);
    let service: StreamableHttpService<Handler, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    eprintln!("wrex mcp: listening on http://{bound}/mcp");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accepting a connection: {e}");
                    continue;
                }
            },
            _ = shutdown.cancelled() => return Ok(()),
        };
        let service = service.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let handle =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let mut service = service.clone();
                    let token = token.clone();
                    async move {
                        if req.uri().path() != "/mcp" {
                            return Ok::<_, Infallible>(plain(
                                http::StatusCode::NOT_FOUND,
                                "not found: the MCP endpoint is /mcp",
                            ));
                        }
                        if let Some(token) = &token
                            && !bearer_matches(&req, token)
                        {
                            return Ok(plain(
                                http::StatusCode::UNAUTHORIZED,
                                "a valid `Authorization: Bearer` token is required",
                            ));
                        }
                        tower_service::Service::call(&mut service, req).await
                    }
                });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, handle)
                .await
            {
                tracing::debug!("HTTP connection: {e}");
            }
        });
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// Whether the request carries `Authorization: Bearer <token>` (compared in constant time).
fn bearer_matches<B>(req: &http::Request<B>, token: &str) -> bool {
    let Some(given) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Server {
    fn new(args: &McpArgs) -> Result<Self, String> {
        let limits = args.job.limits.to_limits()?;
        let text = read_input("policy", &args.policy, wrex::authz::MAX_POLICY_BYTES)
            .map_err(|e| e.to_string())?;
        let policy_name = args.policy.display().to_string();
        let policy = Policy::parse_named(&text, &policy_name).map_err(|e| e.to_string())?;
        let setup = Setup::new(&args.job, limits.clone()).map_err(|(_, m)| m)?;
        let max_runs = args.max_concurrent_runs as usize;
        let runtime = Runtime::with_options(&RuntimeOptions {
            max_concurrent_runs: args.max_concurrent_runs,
            max_memory: limits.memory,
        })
        .map_err(|e| e.to_string())?;
        let signatures = runtime.sdk_signatures().map_err(|e| e.to_string())?;
        let (functions, _) = wrex::functions::describe(&signatures);
        let principal = args
            .job
            .asker
            .principal
            .clone()
            .unwrap_or_else(wrex::current_user);
        Ok(Self {
            runtime,
            policy,
            policy_name,
            setup,
            principal,
            functions,
            slots: Arc::new(tokio::sync::Semaphore::new(max_runs)),
            max_runs,
            running: Mutex::new(Vec::new()),
        })
    }

    fn cancel_all(&self) {
        for flag in self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// What the policy is, in a few words, for the tool descriptions.
    fn policy_scope(&self) -> String {
        let ids = self.policy.ids();
        let shown: Vec<&str> = ids.iter().take(12).map(String::as_str).collect();
        let more = if ids.len() > shown.len() {
            format!(", and {} more", ids.len() - shown.len())
        } else {
            String::new()
        };
        format!(
            "Runs as User::{:?} under the Cedar policy `{}` ({} policies: {}{more}); anything it does not permit is denied. Use `explain` to ask whether an action on a resource is allowed.",
            self.principal,
            self.policy_name,
            self.policy.len(),
            shown.join(", "),
        )
    }

    fn tools(&self) -> Vec<Tool> {
        let limits = self.setup.limits();
        let run = Tool::new(
            "run_script",
            format!(
                "Run a Rhai script on this host in wrex's sandbox. Every host operation is authorized by a Cedar policy before it happens. \
                 SDK (Rex's): cat(path), ls(path), grep(pattern, path), tail(path), wc(path), write(path, text), mkdir(path), rm(path), cp(src, dst), mv(src, dst), find_files(glob, dir), du(dir); \
                 flags as the first argument, e.g. ls([ls::all], \"/var/log\"); a handle API (DirConfig().path(p).build().open(OpenDirOptions().build()).open_file(name, OpenFileOptions().read(true).build()).read()); \
                 info(msg) logs. Call list_functions for every function and the checks it makes. \
                 The script's last value is the output. A denied operation throws a catchable error; if uncaught the result is ACCESS_DENIED_EXCEPTION, naming the action, the resource and why — adjust the script, don't retry it unchanged. \
                 {} Limits: {} s, {} MiB memory. The result is Rex's result JSON (output, status, error, logs, lineage).",
                self.policy_scope(),
                limits.timeout.as_secs_f64(),
                limits.memory >> 20,
            ),
            schema(json!({
                "type": "object",
                "properties": {
                    "script": {"type": "string", "description": "The Rhai script."},
                    "arguments": {
                        "type": "object",
                        "description": "Script variables in Rex's argument format, e.g. {\"path\": {\"stringValue\": \"/var/log/syslog\"}, \"n\": {\"integerValue\": 10}}.",
                    },
                },
                "required": ["script"],
            })),
        )
        .annotate(ToolAnnotations::from_raw(
            Some("Run a script under policy".into()),
            Some(false),
            Some(true),
            Some(false),
            Some(false),
        ));
        let list = Tool::new(
            "list_functions",
            "List the script SDK: each function's signature, what it does, and the Cedar actions it checks. `filter` keeps the functions whose name or type contains it.",
            schema(json!({
                "type": "object",
                "properties": {"filter": {"type": "string", "description": "Substring of a function or type name, e.g. `cat` or `FileHandle`."}},
            })),
        )
        .annotate(ToolAnnotations::from_raw(
            Some("List SDK functions".into()),
            Some(true),
            Some(false),
            Some(true),
            Some(false),
        ));
        let explain = Tool::new(
            "explain",
            format!(
                "Would the policy allow an action on a file-system resource, and by which policy (or why not)? Nothing is run. {}",
                self.policy_scope()
            ),
            schema(json!({
                "type": "object",
                "properties": {
                    "action": {"type": "string", "description": "An action UID, e.g. file_system::Action::\"read\"."},
                    "resource": {"type": "string", "description": "A resource UID, e.g. file_system::File::\"/var/log/syslog\" or file_system::Dir::\"/var/log\"."},
                    "context": {"type": "object", "description": "The request context, e.g. {\"destination\": {\"path\": …, \"name\": …, \"parent_path\": …}} for move."},
                },
                "required": ["action", "resource"],
            })),
        )
        .annotate(ToolAnnotations::from_raw(
            Some("Explain a policy decision".into()),
            Some(true),
            Some(false),
            Some(true),
            Some(false),
        ));
        vec![run, list, explain]
    }

    async fn run_script(
        server: &Arc<Self>,
        args: &JsonObject,
        ct: CancellationToken,
    ) -> Result<CallToolResult, ErrorData> {
        let this = server.as_ref();
        let Some(script) = args.get("script").and_then(Value::as_str) else {
            return Err(ErrorData::invalid_params(
                "run_script needs `script`, a string",
                None,
            ));
        };
        let max_script = this.setup.limits().max_script_bytes;
        if max_script != 0 && script.len() > max_script {
            return Ok(tool_error(format!(
                "the script is {} bytes; this server runs scripts of at most {max_script} bytes",
                script.len()
            )));
        }
        let arguments = match args.get("arguments") {
            None | Some(Value::Null) => ScriptArgs::new(),
            Some(v @ Value::Object(_)) => {
                let text = v.to_string();
                if text.len() > MAX_ARGUMENTS_BYTES {
                    return Ok(tool_error(format!(
                        "`arguments` is {} bytes of JSON; at most {MAX_ARGUMENTS_BYTES}",
                        text.len()
                    )));
                }
                match ScriptArgs::from_json(&text) {
                    Ok(a) => a,
                    Err(e) => return Ok(tool_error(format!("`arguments`: {e}"))),
                }
            }
            Some(_) => {
                return Err(ErrorData::invalid_params(
                    "`arguments` must be an object in Rex's argument format",
                    None,
                ));
            }
        };
        let Ok(permit) = Arc::clone(&this.slots).try_acquire_owned() else {
            return Ok(tool_error(format!(
                "the server is busy: {} scripts are running, its limit (--max-concurrent-runs); try again when one has finished",
                this.max_runs
            )));
        };
        let cancel = Arc::new(AtomicBool::new(false));
        this.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&cancel));
        let job = this
            .setup
            .job(script.to_string(), this.policy.clone())
            .args(arguments)
            .cancel_flag(Arc::clone(&cancel));
        let run = {
            let server = Arc::clone(server);
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                server.runtime.run(job)
            })
        };
        tokio::pin!(run);
        let joined = tokio::select! {
            done = &mut run => done,
            _ = ct.cancelled() => {
                // The client went away or cancelled the call: stop the script (within one
                // epoch tick) and wait for the run to wind down.
                cancel.store(true, Ordering::Relaxed);
                run.await
            }
        };
        this.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|f| !Arc::ptr_eq(f, &cancel));
        let outcome =
            joined.map_err(|e| ErrorData::internal_error(format!("the run failed: {e}"), None))?;
        Ok(run_result(&outcome))
    }

    fn list_functions(&self, args: &JsonObject) -> CallToolResult {
        let filter = args
            .get("filter")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        let chosen: Vec<&Function> = self
            .functions
            .iter()
            .filter(|f| {
                filter.is_empty()
                    || f.name.to_lowercase().contains(&filter)
                    || f.receiver
                        .as_deref()
                        .is_some_and(|r| r.to_lowercase().contains(&filter))
            })
            .collect();
        let text = chosen
            .iter()
            .map(|f| format!("{} — {} [checks: {}]", f.signature, f.description, f.checks))
            .collect::<Vec<_>>()
            .join("\n");
        let mut result = CallToolResult::success(vec![ContentBlock::text(if text.is_empty() {
            format!("no function matches `{filter}`")
        } else {
            text
        })]);
        result.structured_content = Some(json!({ "functions": chosen }));
        result
    }

    fn explain(&self, args: &JsonObject) -> CallToolResult {
        let (Some(action), Some(resource)) = (
            args.get("action").and_then(Value::as_str),
            args.get("resource").and_then(Value::as_str),
        ) else {
            return tool_error("explain needs `action` and `resource`, strings".into());
        };
        let context = match args.get("context") {
            None | Some(Value::Null) => wrex::authz::RequestContext::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return tool_error("`context` must be a JSON object".into()),
        };
        let asker = self.setup.asker(&self.principal);
        match wrex::explain::explain(&self.policy, &asker, action, resource, context) {
            Err(e) => tool_error(e),
            Ok(answer) => {
                let verdict = if answer.allowed { "ALLOW" } else { "DENY" };
                let mut text = format!("{verdict}: {action} on {resource}: {}", answer.reason);
                for e in &answer.errors {
                    text.push_str(&format!("\nerror: {e}"));
                }
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(json!({
                    "allowed": answer.allowed,
                    "reason": answer.reason,
                    "policies": answer.policies,
                    "errors": answer.errors,
                }));
                result
            }
        }
    }
}

fn schema(value: Value) -> JsonObject {
    match value {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

fn tool_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// A run's outcome as a tool result: Rex's result JSON as structured content, and a summary a
/// model can act on. Denials, script errors and limits are normal results (the model adjusts
/// its script); only the server's own failures are errors.
fn run_result(outcome: &RunOutcome) -> CallToolResult {
    let mut text = match &outcome.error {
        None => format!("SUCCESS\n{}", outcome.output),
        Some(e) => {
            let kind = serde_json::to_value(e.error_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let hint = match e.error_type {
                wrex::ErrorType::AccessDeniedException => {
                    "\nThe policy did not permit this operation (the message names the action, the resource and why). Use `explain` to see what is allowed, and change the script; retrying it unchanged is denied again."
                }
                wrex::ErrorType::TimeoutExceeded
                | wrex::ErrorType::MemoryExceeded
                | wrex::ErrorType::LimitExceeded => {
                    "\nThe script hit one of the server's limits; do less per run."
                }
                _ => "",
            };
            format!("ERROR {kind}: {}{hint}", e.message)
        }
    };
    if !outcome.lineage.is_empty() {
        text.push_str(&format!(
            "\nlineage: the script read data labelled {:?}",
            outcome.lineage.read
        ));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = serde_json::to_value(outcome).ok();
    result
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("wrex", env!("CARGO_PKG_VERSION"))
                    .with_title("wrex: policy-checked script execution"),
            )
            .with_instructions(format!(
                "wrex runs Rhai scripts on this host in a WebAssembly sandbox; every host operation is authorized by a Cedar policy first. {} Use list_functions to discover the SDK, explain to check a permission, run_script to act.",
                self.0.policy_scope()
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.0.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let result = match request.name.as_ref() {
            "run_script" => Server::run_script(&self.0, &args, context.ct.clone()).await?,
            "list_functions" => self.0.list_functions(&args),
            "explain" => self.0.explain(&args),
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "unknown tool `{other}`: this server offers run_script, list_functions and explain"
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}
