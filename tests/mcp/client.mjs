// Drives `wrex mcp` with the official MCP TypeScript SDK client, over stdio or streamable
// HTTP, and asserts what an agent sees. Run by tests/all/mcp.rs:
//
//   node client.mjs stdio <wrex> <policy> <dir>      (starts `wrex mcp` itself)
//   node client.mjs http <url> <policy> <dir> [token]  (a server tests/all/mcp.rs started)
//
// The server runs with --timeout 2 --max-concurrent-runs 2 --max-operations 0 and a policy that permits reading
// below <dir>/allowed only; <dir>/allowed/a.txt holds "hello\n". Prints `ok <check>` per
// check; exits non-zero at the first failure.

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [mode, target, policy, dir, token] = process.argv.slice(2);

function transport() {
  if (mode === "stdio") {
    return new StdioClientTransport({
      command: target,
      args: ["mcp", "--policy", policy, "--timeout", "2", "--max-concurrent-runs", "2", "--max-operations", "0"],
      stderr: "inherit",
    });
  }
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  return new StreamableHTTPClientTransport(new URL(target), { requestInit: { headers } });
}

const client = new Client({ name: "wrex-test-client", version: "1.0.0" });
await client.connect(transport());
const ok = (what) => console.log(`ok ${what}`);
const run = (script, options) =>
  client.callTool({ name: "run_script", arguments: { script } }, undefined, options);
const text = (result) => result.content.map((c) => c.text).join("\n");

// Initialize: who the server is.
assert.equal(client.getServerVersion().name, "wrex");
assert.match(client.getInstructions(), /Cedar policy/);
ok("initialize");

// The tools, and descriptions that tell a model the SDK and the policy's scope.
const { tools } = await client.listTools();
assert.deepEqual(tools.map((t) => t.name).sort(), ["explain", "list_functions", "run_script"]);
const runTool = tools.find((t) => t.name === "run_script");
assert.match(runTool.description, /cat\(path\)/);
assert.ok(runTool.description.includes(policy), runTool.description);
assert.deepEqual(runTool.inputSchema.required, ["script"]);
ok("tools/list");

// Allowed: Rex's result JSON as structured content.
let r = await run(`cat("${dir}/allowed/a.txt")`);
assert.equal(r.isError, false);
assert.equal(r.structuredContent.status, "SUCCESS");
assert.equal(r.structuredContent.output, "hello\n");
assert.match(text(r), /^SUCCESS\nhello/);
ok("run_script allowed");

// Denied: a normal result that says what was denied and why.
r = await run(`cat("${dir}/outside/secret.txt")`);
assert.equal(r.isError, false);
assert.equal(r.structuredContent.status, "ERROR");
assert.equal(r.structuredContent.error.error_type, "ACCESS_DENIED_EXCEPTION");
assert.match(text(r), /Permission denied: .* file_system::Action::"open" .*\(no permit matched\)/);
assert.match(text(r), /explain/);
assert.ok(!JSON.stringify(r).includes("TOP SECRET"));
ok("run_script denied");

// A syntax error names the line and position.
r = await run("let x = ;");
assert.equal(r.structuredContent.error.error_type, "SCRIPT_EXCEPTION");
assert.match(r.structuredContent.error.message, /line 1/);
ok("run_script syntax error");

// A script that runs past the server's deadline is stopped.
r = await run("loop { }");
assert.equal(r.structuredContent.error.error_type, "TIMEOUT_EXCEEDED");
ok("run_script timeout");

// Concurrent calls up to the pool size all run.
const both = await Promise.all([run("40 + 2"), run("6 * 7")]);
assert.deepEqual(both.map((b) => b.structuredContent.output), ["42", "42"]);
ok("run_script concurrent");

// A flood above the pool size: the excess is refused with a clear error, the rest run, and
// the server stays up.
// Each flooding script runs until the server's 2 s deadline, so the pool is surely full
// while the rest arrive, however fast the machine.
const flood = await Promise.all(Array.from({ length: 8 }, () => run("loop { }")));
const refused = flood.filter((f) => f.isError);
const ran = flood.filter((f) => !f.isError);
assert.ok(refused.length >= 1, "some calls beyond the pool size are refused");
assert.ok(ran.length >= 2, "the calls the pool holds run");
for (const f of refused) assert.match(text(f), /busy: 2 scripts are running/);
for (const f of ran) assert.equal(f.structuredContent.error.error_type, "TIMEOUT_EXCEEDED");
r = await run("1");
assert.equal(r.structuredContent.output, "1");
ok("run_script flood");

// A call the client cancels stops its script and frees its slot.
const controller = new AbortController();
const cancelled = run("loop { }", { signal: controller.signal, timeout: 60_000 }).catch((e) => e);
await new Promise((res) => setTimeout(res, 300));
const aborted = Date.now();
controller.abort("test cancels the call");
assert.ok((await cancelled) instanceof Error);
// Left alone, the script would hold its slot until the 2 s deadline, 1.7 s from now; the
// cancellation must free it well before.
// Two calls that overlap (each counts for a while) need both slots at once.
const counting = "let t = 0; for i in 0..200000 { t += i; } t";
let freed = false;
while (!freed && Date.now() - aborted < 1500) {
  const [a, b] = await Promise.all([run(counting), run(counting)]);
  freed = !a.isError && !b.isError;
  if (!freed) await new Promise((res) => setTimeout(res, 20));
}
assert.ok(freed, "the cancelled run's slot is free again well before its deadline");
ok("run_script cancelled");

// Oversized scripts are refused before anything runs.
r = await run("1;".repeat(5 * 1024 * 1024));
assert.equal(r.isError, true);
assert.match(text(r), /bytes; this server runs scripts of at most/);
ok("run_script oversized");

// Arguments in Rex's format.
r = await client.callTool({
  name: "run_script",
  arguments: { script: "name + 1", arguments: { name: { integerValue: 41 } } },
});
assert.equal(r.structuredContent.output, "42");
r = await client.callTool({
  name: "run_script",
  arguments: { script: "1", arguments: { name: { noSuchType: 1 } } },
});
assert.equal(r.isError, true);
ok("run_script arguments");

// The SDK, described.
r = await client.callTool({ name: "list_functions", arguments: { filter: "cat" } });
const cat = r.structuredContent.functions.find((f) => f.signature === "cat(string) -> string");
assert.ok(cat, JSON.stringify(r.structuredContent));
assert.match(cat.checks, /`read`/);
r = await client.callTool({ name: "list_functions", arguments: {} });
assert.ok(r.structuredContent.functions.length > 200);
ok("list_functions");

// One decision, explained.
r = await client.callTool({
  name: "explain",
  arguments: { action: 'file_system::Action::"read"', resource: `file_system::File::"${dir}/allowed/a.txt"` },
});
assert.equal(r.structuredContent.allowed, true);
assert.match(text(r), /^ALLOW/);
r = await client.callTool({
  name: "explain",
  arguments: { action: 'file_system::Action::"write"', resource: `file_system::File::"${dir}/allowed/a.txt"` },
});
assert.equal(r.structuredContent.allowed, false);
assert.match(r.structuredContent.reason, /no permit matched/);
r = await client.callTool({ name: "explain", arguments: { action: "nonsense", resource: "x" } });
assert.equal(r.isError, true);
ok("explain");

// Unknown tools and bad parameters are protocol errors.
await assert.rejects(client.callTool({ name: "format_disk", arguments: {} }), /unknown tool `format_disk`/);
await assert.rejects(client.callTool({ name: "run_script", arguments: {} }), /needs `script`/);
ok("bad input");

await client.close();
ok("done");
