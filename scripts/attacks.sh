#!/usr/bin/env bash
# The worst host-side attacks of the hardening work, run through the `wrex` binary with a
# 1 s timeout: wall time and peak resident memory of the whole process for each. Each must
# end within about 100 ms of its deadline (or sooner) with bounded memory.
#
#   scripts/attacks.sh [path/to/wrex]     (default: target/release/wrex, else target/debug/wrex)
set -euo pipefail
cd "$(dirname "$0")/.."
wrex="${1:-}"
if [[ -z "$wrex" ]]; then
    wrex=target/release/wrex
    [[ -x "$wrex" ]] || wrex=target/debug/wrex
fi
[[ -x "$wrex" ]] || { echo "build wrex first (cargo build --release)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/allowed/many"
for i in $(seq 0 2999); do : > "$work/allowed/many/f$i"; done
echo '// nothing allowed' > "$work/none.cedar"
echo "permit (principal, action, resource in file_system::Dir::\"$work/allowed\");" > "$work/rw.cedar"
cp "$work/rw.cedar" "$work/many.cedar"
for i in $(seq 0 9999); do
    echo "permit (principal, action, resource in file_system::Dir::\"/tenants/t$i\");"
done >> "$work/many.cedar"

args() { # name=value … as Rex's args JSON (integers as longValue)
    local out="{" sep=""
    for kv in "$@"; do
        local k="${kv%%=*}" v="${kv#*=}"
        if [[ "$v" =~ ^[0-9]+$ ]]; then
            out+="$sep\"$k\": {\"longValue\": $v}"
        else
            out+="$sep\"$k\": {\"stringValue\": \"$v\"}"
        fi
        sep=", "
    done
    echo "$out}"
}

run() { # label policy script args…
    local label="$1" policy="$2" script="$3"
    shift 3
    args "$@" > "$work/args.json"
    /usr/bin/time -f "%e %M" -o "$work/time" \
        "$wrex" run "tests/scripts/host/$script.rhai" --policy "$work/$policy.cedar" \
        --args "$work/args.json" --timeout 1 > "$work/out.json" || true
    read -r wall kib < "$work/time"
    local result
    result="$(grep -o '"error_type":"[A-Z_]*"' "$work/out.json" || echo SUCCESS)"
    printf '| %s | %s s | %s MiB | %s |\n' "$label" "$wall" "$((kib / 1024))" "${result#*:}"
}

# Warm the compiled-guest cache first: a cold cache compiles the guest (seconds).
"$wrex" -s examples/hello/hello.rhai -p examples/hello/policy.cedar > /dev/null || true

echo "| attack (timeout 1 s) | wall | peak RSS | result |"
echo "|---|---|---|---|"
run "20 reads of a 2,048-component path, deny-all policy" none deep_cat root="$work" levels=2000 times=20
run "\`mkdir -p\` 500 levels deep" rw deep_mkdir root="$work" levels=500
run "\`rm -r\` of 3,000 files under 10,001 policies" many rm_tree root="$work"
run "(the same 10,001 policies, loading only)" many deep_cat root="$work" levels=1 times=0
