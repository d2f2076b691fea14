//! Side-by-side benchmarks (criterion). `scripts/bench-table.sh` runs them and prints the
//! comparison table recorded in `benches/README.md`.
//!
//! - `run/warm_one_read`: one authorized file read through a warm `Runtime`.
//! - `run/warm_noop`: `40 + 2` through a warm `Runtime` (no host call): the per-run floor.
//! - `run/warm_one_read_2_threads`: the same, two threads sharing the runtime (time per run).
//! - `run/cold_process`: the same script through `wrex run` as a new process.
//! - `cpu/guest` vs `cpu/native`: fib 25, string building and a sort, in the guest and in Rhai
//!   compiled natively into this benchmark.
//! - `reads/guest` vs `reads/native`: 10,000 `cat`s of small files vs native Rust doing the same
//!   reads with the same Cedar checks.
//! - `grep/guest` vs `grep/native`: `grep([grep::count], "ERROR", p)` over a 16 MiB,
//!   200,000-line log vs native Rust (buffered lines + the same `regex` crate) with the same
//!   Cedar checks.
//! - `cedar/decision/N`: one decision with N policies in the set (one about the action, the
//!   rest about other actions).
//! - `audit/unaudited` vs `audit/audited`: 1,000 `cat`s (3,000 decisions) from one script,
//!   without and with an audit log (one `fdatasync`ed line per decision).
//! - `labels/{one_read,reads_1k}_{off,xattrs,entities}`: the cost of data labels (none; the
//!   default `user.wrex.*` attribute reads; an entities file labelling the files' directory).
//! - `cedar/tenants/N` and `policies/reads_1k/N`: one decision, and 1,000 reads from one
//!   script, under N policies about the same actions — the one that applies and N−1 about
//!   other tenants' directories (policy slicing keeps both flat).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use wrex::authz::Authorizer;
use wrex::fs::cedar::FsResource;
use wrex::fs::cedar::action as fs_action;
use wrex::{Job, Limits, Policy, Runtime, ScriptArgs};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../benches/scripts")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

#[path = "../tests/support/temp_tree.rs"]
mod temp_tree;

struct Files {
    _tree: temp_tree::TempTree,
    root: String,
    policy: Policy,
}

fn files() -> Files {
    let tree = temp_tree::TempTree::new();
    let root = tree.root.clone();
    for i in 0..100 {
        tree.write(&format!("f{i}.txt"), format!("line {i}\n"));
    }
    let policy = Policy::parse(&format!(
        "permit (principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource in file_system::Dir::\"{root}\");"
    ))
    .unwrap();
    Files {
        _tree: tree,
        root,
        policy,
    }
}

fn job(script: &str, f: &Files) -> Job {
    let mut args = ScriptArgs::new();
    args.insert("root", f.root.as_str()).unwrap();
    Job::new(script, f.policy.clone())
        .args(args)
        .principal("bench")
}

fn runs(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let f = files();
    let script = fixture("one_read.rhai");
    let mut group = c.benchmark_group("run");
    group.bench_function("warm_one_read", |b| {
        b.iter(|| assert!(runtime.run(job(&script, &f)).is_success()))
    });
    // The floor under `warm_one_read`: instantiate, run `40 + 2`, finish; no host call.
    let empty = Policy::parse("").unwrap();
    group.bench_function("warm_noop", |b| {
        b.iter(|| assert!(runtime.run(Job::new("40 + 2", empty.clone())).is_success()))
    });
    group.bench_function("warm_one_read_2_threads", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters.div_ceil(2) {
                            assert!(runtime.run(job(&script, &f)).is_success());
                        }
                    });
                }
            });
            started.elapsed()
        })
    });
    let policy_path = Path::new(&f.root).join("policy.cedar");
    std::fs::write(
        &policy_path,
        format!("permit (principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource in file_system::Dir::\"{}\");", f.root),
    )
    .unwrap();
    let script_path = Path::new(&f.root).join("one_read.rhai");
    std::fs::write(&script_path, format!("cat(\"{}/f0.txt\")", f.root)).unwrap();
    group.sample_size(30);
    group.bench_function("cold_process", |b| {
        b.iter(|| {
            let out = Command::new(wrex_benches::wrex_binary())
                .arg("run")
                .arg(&script_path)
                .arg("--policy")
                .arg(&policy_path)
                .output()
                .unwrap();
            assert!(out.status.success());
        })
    });
    group.finish();
}

fn cpu(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let script = fixture("cpu.rhai");
    let unlimited = Limits::unlimited();
    let native = rhai::Engine::new();
    let expected = native.eval::<String>(&script).unwrap();
    let mut group = c.benchmark_group("cpu");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("guest", |b| {
        b.iter(|| {
            let out = runtime.run(
                Job::new(script.as_str(), Policy::parse("").unwrap()).limits(unlimited.clone()),
            );
            assert_eq!(out.output, expected);
        })
    });
    group.bench_function("native", |b| {
        b.iter(|| assert_eq!(native.eval::<String>(&script).unwrap(), expected))
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let f = files();
    let script = fixture("reads_10k.rhai");
    let mut group = c.benchmark_group("reads");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("guest", |b| {
        b.iter(|| assert!(runtime.run(job(&script, &f)).is_success()))
    });
    let authz = Authorizer::new(f.policy.clone(), "bench", None);
    group.bench_function("native", |b| {
        b.iter(|| {
            let mut total = 0;
            for i in 0..10_000 {
                // The checks `cat` makes: open on the parent Dir, open and read on the File.
                let path = format!("{}/f{}.txt", f.root, i % 100);
                authz
                    .authorize(fs_action::Open, &FsResource::Dir(f.root.clone()))
                    .unwrap();
                authz
                    .authorize(fs_action::Open, &FsResource::File(path.clone()))
                    .unwrap();
                authz
                    .authorize(fs_action::Read, &FsResource::File(path.clone()))
                    .unwrap();
                total += std::fs::read_to_string(&path).unwrap().len();
            }
            total
        })
    });
    group.finish();
}

fn grep(c: &mut Criterion) {
    use std::io::BufRead;
    let runtime = Runtime::new().unwrap();
    let f = files();
    let path = format!("{}/big.log", f.root);
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..200_000u32 {
            let level = if i % 1000 == 7 { "ERROR" } else { "INFO" };
            writeln!(
                out,
                "2026-11-22T03:00:00.{i:06}Z {level} request served in {} ms by worker-{}",
                i % 97,
                i % 13
            )
            .unwrap();
        }
    }
    let script = fixture("grep_big.rhai");
    let mut group = c.benchmark_group("grep");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("guest", |b| {
        b.iter(|| {
            let out = runtime.run(job(&script, &f));
            assert_eq!(out.output, "[\"200\"]", "{out:?}");
        })
    });
    let authz = Authorizer::new(f.policy.clone(), "bench", None);
    group.bench_function("native", |b| {
        b.iter(|| {
            authz
                .authorize(fs_action::Open, &FsResource::Dir(f.root.clone()))
                .unwrap();
            authz
                .authorize(fs_action::Open, &FsResource::File(path.clone()))
                .unwrap();
            let re = regex::Regex::new("ERROR").unwrap();
            let reader =
                std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&path).unwrap());
            let (mut count, mut bytes) = (0, 0usize);
            for line in reader.lines() {
                let line = line.unwrap();
                // One `read` check per MiB, as the guest makes.
                if bytes % (1 << 20) + line.len() + 1 > (1 << 20) || bytes == 0 {
                    authz
                        .authorize(fs_action::Read, &FsResource::File(path.clone()))
                        .unwrap();
                }
                bytes += line.len() + 1;
                if re.is_match(&line) {
                    count += 1;
                }
            }
            assert_eq!(count, 200);
        })
    });
    group.finish();
}

fn cedar(c: &mut Criterion) {
    let mut group = c.benchmark_group("cedar/decision");
    for n in [10, 100, 1000] {
        // One policy about `read`; the others about `write`, which the index sets aside.
        let mut text = String::from(
            "permit (principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/data\");\n",
        );
        for i in 1..n {
            text.push_str(&format!(
                "permit (principal, action == file_system::Action::\"write\", resource in file_system::Dir::\"/t{i}\");\n"
            ));
        }
        let authz = Authorizer::new(Policy::parse(&text).unwrap(), "bench", None);
        let file = FsResource::File("/data/a/b.txt".into());
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| authz.authorize(fs_action::Read, &file).unwrap())
        });
    }
    group.finish();
    let mut group = c.benchmark_group("cedar/tenants");
    for n in [1, 1001] {
        let text = tenants_policy("/data", n);
        let authz = Authorizer::new(Policy::parse(&text).unwrap(), "bench", None);
        let file = FsResource::File("/data/a/b.txt".into());
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| authz.authorize(fs_action::Read, &file).unwrap())
        });
    }
    group.finish();
}

/// `n` policies about `open` and `read`: one on `dir`, and `n - 1` on other tenants'
/// directories (`/srv/tenants/t<i>`), as a host serving many tenants writes them.
fn tenants_policy(dir: &str, n: usize) -> String {
    let rule = |d: &str| {
        format!(
            "permit (principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource in file_system::Dir::\"{d}\");\n"
        )
    };
    let mut text = rule(dir);
    for i in 1..n {
        text.push_str(&rule(&format!("/srv/tenants/t{i}")));
    }
    text
}

/// 1,000 reads from one script under 1 policy and under 1,001 (the one that applies and
/// 1,000 about other tenants' directories).
fn policies(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let f = files();
    let script = fixture("reads_1k.rhai");
    let mut group = c.benchmark_group("policies/reads_1k");
    group.sample_size(20);
    for n in [1, 1001] {
        let policy = Policy::parse(&tenants_policy(&f.root, n)).unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let mut job = job(&script, &f);
                job.policy = policy.clone();
                assert!(runtime.run(job).is_success())
            })
        });
    }
    group.finish();
}

fn audit(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let f = files();
    let script = fixture("reads_1k.rhai");
    let log_dir = temp_tree::TempTree::new();
    let log = wrex::audit::AuditLog::open(log_dir.path("audit.jsonl")).unwrap();
    let mut group = c.benchmark_group("audit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("unaudited", |b| {
        b.iter(|| assert!(runtime.run(job(&script, &f)).is_success()))
    });
    group.bench_function("audited", |b| {
        b.iter(|| {
            assert!(
                runtime
                    .run(job(&script, &f).audit(log.clone()))
                    .is_success()
            )
        })
    });
    group.finish();
}

/// What data labels cost: one warm read and 1,000 reads (of 100 files) with labels off (no
/// entities file, no extended attributes read), with `user.wrex.*` attributes read (the
/// default; the files carry none), and with an entities file labelling their directory.
fn labels(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let f = files();
    let entities = wrex::LabelFile::parse(&format!(
        r#"[{{"uid": {{"type": "file_system::Dir", "id": "{}"}}, "tags": {{"classification": "internal"}}}}]"#,
        f.root
    ))
    .unwrap();
    let mut group = c.benchmark_group("labels");
    for (name, script) in [("one_read", "one_read.rhai"), ("reads_1k", "reads_1k.rhai")] {
        let script = fixture(script);
        group.bench_function(format!("{name}_off"), |b| {
            b.iter(|| {
                assert!(
                    runtime
                        .run(job(&script, &f).xattr_labels(false))
                        .is_success()
                )
            })
        });
        group.bench_function(format!("{name}_xattrs"), |b| {
            b.iter(|| assert!(runtime.run(job(&script, &f)).is_success()))
        });
        group.bench_function(format!("{name}_entities"), |b| {
            b.iter(|| {
                let out = runtime.run(job(&script, &f).entities(entities.clone()));
                assert!(out.is_success() && !out.lineage.is_empty());
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches, runs, cpu, reads, grep, cedar, policies, audit, labels
);
criterion_main!(benches);
