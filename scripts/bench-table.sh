#!/usr/bin/env bash
# Runs the benchmarks (criterion) and prints one comparison table, with ratios measured side
# by side in the same run. Record its output in benches/README.md with the machine and date.
# TABLE_ONLY=1 reuses the last criterion results (and reruns only the memory measurement).
set -euo pipefail
cd "$(dirname "$0")/.."
# The cold-process benchmark runs the release `wrex` binary.
cargo build --release -p wrex >&2
if [ "${TABLE_ONLY:-0}" != 1 ]; then
  cargo bench -p wrex-benches --bench runtime -- --noplot "$@" >&2
fi
memory=$(cargo bench -p wrex-benches --bench concurrent_memory 2>/dev/null | grep '^concurrent_memory:')
python3 - "$memory" <<'PY'
import json, os, sys, pathlib
root = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", "target")) / "criterion"
def median_ns(*parts):
    f = root.joinpath(*parts, "new", "estimates.json")
    return json.loads(f.read_text())["median"]["point_estimate"]
def fmt(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns/scale:.2f} {unit}"
    return f"{ns:.0f} ns"
warm = median_ns("run", "warm_one_read")
warm2 = median_ns("run", "warm_one_read_2_threads")
noop = median_ns("run", "warm_noop")
cold = median_ns("run", "cold_process")
cpu_g, cpu_n = median_ns("cpu", "guest"), median_ns("cpu", "native")
rd_g, rd_n = median_ns("reads", "guest"), median_ns("reads", "native")
gr_g, gr_n = median_ns("grep", "guest"), median_ns("grep", "native")
d = {n: median_ns("cedar_decision", str(n)) for n in (10, 100, 1000)}
au_off, au_on = median_ns("audit", "unaudited"), median_ns("audit", "audited")
t1, t1001 = median_ns("cedar_tenants", "1"), median_ns("cedar_tenants", "1001")
p1, p1001 = median_ns("policies_reads_1k", "1"), median_ns("policies_reads_1k", "1001")
rows = [
    ("1. warm run, one authorized read (median)", fmt(warm), "", "≤ 50 µs"),
    ("1. warm run, `40 + 2`, no host call (median)", fmt(noop), f"{noop/warm:.2f}× one read", ""),
    ("1. warm runs/s, 2 threads", f"{1e9/warm2:,.0f} runs/s", "", "≥ 20,000 runs/s"),
    ("2. `wrex run` as a new process (median wall)", fmt(cold), f"{cold/warm:.0f}× warm", "≤ 6 ms"),
    ("3. CPU-bound script in the guest", fmt(cpu_g), f"{cpu_g/cpu_n:.2f}× native", "≤ 1.3× native"),
    ("3. same script, native Rhai", fmt(cpu_n), "1.00×", ""),
    ("4. 10,000 reads from one script", fmt(rd_g), f"{rd_g/rd_n:.2f}× native", "≤ 1.5× native"),
    ("4. same reads and Cedar checks, native Rust", fmt(rd_n), "1.00×", ""),
    ("4. grep a 16 MiB, 200,000-line log", fmt(gr_g), f"{gr_g/gr_n:.2f}× native", ""),
    ("4. same grep, native Rust + regex", fmt(gr_n), "1.00×", ""),
    ("5. one decision, 10 policies", fmt(d[10]), "1.00×", "flat"),
    ("5. one decision, 100 policies", fmt(d[100]), f"{d[100]/d[10]:.2f}×", "flat"),
    ("5. one decision, 1,000 policies", fmt(d[1000]), f"{d[1000]/d[10]:.2f}×", "flat"),
    ("5. one decision, 1 policy", fmt(t1), "1.00×", ""),
    ("5. one decision, 1,001 policies (1,000 other tenants' directories)", fmt(t1001), f"{t1001/t1:.2f}×", "flat"),
    ("5. 1,000 reads, 1 policy", fmt(p1), "1.00×", ""),
    ("5. 1,000 reads, 1,001 policies (1,000 other tenants' directories)", fmt(p1001), f"{p1001/p1:.2f}×", "≤ 1.5×"),
    ("7. 1,000 reads (3,000 decisions), audited", fmt(au_on), f"{au_on/au_off:.2f}× unaudited", ""),
    ("7. same, unaudited", fmt(au_off), "1.00×", ""),
    ("7. audit cost per decision", fmt((au_on - au_off) / 3000), "", ""),
]
for name, what in (("one_read", "one warm read"), ("reads_1k", "1,000 reads of 100 files")):
    off = median_ns("labels", f"{name}_off")
    for mode, label in (("off", "labels off"), ("xattrs", "user.wrex.* attributes read"), ("entities", "entities file labels")):
        v = median_ns("labels", f"{name}_{mode}")
        rows.append((f"8. {what}, {label}", fmt(v), f"{v/off:.2f}× off", ""))
mem = sys.argv[1]
per_run = mem.split(",")[-1].strip() if mem else "n/a"
rows.append(("6. resident memory per run, 1,000 alive", per_run, "", "≤ 4 MiB"))
print("| measurement | value | ratio | target |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print(mem)
PY
