//! The table runner for Rex's own tests carried over case by case (`rex_*.rs`).
//!
//! Each [`Case`] is one Rex test (or one `#[case]` of an `rstest`): the files it sets up under
//! a fresh directory `t` (`<root>/allowed/t`), the script (which sees `t`, that directory's
//! path, and `open_dir(path)`), the policy, what it must return, and what the file system must
//! look like afterwards. [`run_all`] runs every case of a table and reports every failing one
//! at once, each by its Rex name.

use std::os::unix::fs::MetadataExt;

use wrex::{ErrorType, Job, Policy, RunOutcome, ScriptArgs};

use crate::util::{Sandbox, fixture, message, runtime};

/// Defines `t` and `open_dir` for every case's script.
const PRELUDE: &str = "let t = root + \"/allowed/t\";\n\
fn open_dir(p) { DirConfig().path(p).build().open(OpenDirOptions().build()) }\n";

/// What a case's run must end with.
#[derive(Clone, Copy, Default)]
pub enum Want {
    /// Success, whatever the value.
    #[default]
    Ok,
    /// Success with exactly this output (`{{t}}`, `{{user}}`, `{{group}}` filled in).
    Out(&'static str),
    /// A script error (not a denial) whose message contains this.
    Err(&'static str),
    /// An access denial of this `file_system` action.
    Denied(&'static str),
    /// Success with an output this function accepts, given the case directory's path.
    OutWith(fn(output: &str, t: &str) -> bool),
}

/// The policy a case runs under.
#[derive(Clone, Copy, Default)]
pub enum Pol {
    /// Every action below `<root>/allowed`.
    #[default]
    Rw,
    /// Every action below `<root>/allowed`, but `forbid` this action on resources matching
    /// this scope (`{{t}}` is the case's directory), e.g. `is file_system::File in
    /// file_system::Dir::"{{t}}"`.
    Forbid(&'static str, &'static str),
    /// Only these actions below `<root>/allowed`.
    Only(&'static [&'static str]),
    /// The test policy of this name (`tests/policies/<area>/<name>.cedar`).
    Named(&'static str),
}

/// What must hold of the file system after the run; paths are relative to `t`.
#[derive(Clone, Copy)]
pub enum After {
    /// A regular file with this content.
    File(&'static str, &'static str),
    /// A directory.
    Dir(&'static str),
    /// A symlink with this target.
    Link(&'static str, &'static str),
    /// Nothing at all (not even a dangling link).
    Absent(&'static str),
    /// These permission bits (`mode & 0o7777`).
    Mode(&'static str, u32),
    /// What this function checks (given the case directory's path), described.
    Holds(&'static str, fn(t: &str) -> bool),
}

/// One Rex test case.
#[derive(Clone, Copy, Default)]
pub struct Case {
    /// Rex's test name (and `#[case]`).
    pub rex: &'static str,
    /// Set-up below `t`: `name/` is a directory, content `-> target` a symlink, anything else
    /// a file with these bytes.
    pub files: &'static [(&'static str, &'static [u8])],
    pub source: &'static str,
    pub policy: Pol,
    pub want: Want,
    pub after: &'static [After],
}

/// Fills in `{{t}}`, `{{root}}` (the sandbox's), `{{user}}` and `{{group}}`.
fn fill(text: &str, t: &str) -> String {
    let root = t.strip_suffix("/allowed/t").expect("a case directory");
    text.replace("{{t}}", t)
        .replace("{{root}}", root)
        .replace("{{user}}", &id("-un"))
        .replace("{{group}}", &id("-gn"))
}

/// The current user's or group's name, as `id` prints it.
pub fn id(flag: &str) -> String {
    let out = std::process::Command::new("id").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn policy_text(sb: &Sandbox, policy: Pol, t: &str) -> String {
    let rw = sb.policy_text("rw");
    match policy {
        Pol::Rw => rw,
        Pol::Named(name) => fill(&sb.policy_text(name), t),
        Pol::Forbid(action, scope) => {
            let forbid = std::fs::read_to_string(fixture("policies", "rw_forbid", "cedar"))
                .unwrap()
                .replace("{{action}}", action)
                .replace("{{scope}}", scope);
            format!("{rw}\n{}", fill(&forbid, t))
        }
        Pol::Only(actions) => {
            let list = actions
                .iter()
                .map(|a| format!("file_system::Action::\"{a}\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "permit (principal, action in [{list}], resource in file_system::Dir::\"{}/allowed\");",
                sb.root
            )
        }
    }
}

/// Builds the case's directory, runs its script, and returns the sandbox with the outcome.
pub fn run(case: &Case) -> (Sandbox, RunOutcome) {
    run_with(case, |_| {})
}

/// [`run`], with `setup` given the case directory's path after its files are made (for what
/// `files` cannot describe: FIFOs, sockets).
pub fn run_with(case: &Case, setup: impl FnOnce(&str)) -> (Sandbox, RunOutcome) {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("allowed/t")).unwrap();
    for (name, content) in case.files {
        let path = sb.path(&format!("allowed/t/{name}"));
        if let Some(dir) = name.strip_suffix('/') {
            std::fs::create_dir_all(sb.path(&format!("allowed/t/{dir}"))).unwrap();
        } else if let Some(target) = content.strip_prefix(b"-> ") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let t = format!("{}/allowed/t", sb.root);
            let target = fill(std::str::from_utf8(target).unwrap(), &t);
            std::os::unix::fs::symlink(target, &path).unwrap();
        } else {
            sb.write_bytes(&format!("allowed/t/{name}"), content);
        }
    }
    let t = format!("{}/allowed/t", sb.root);
    setup(&t);
    let policy = Policy::parse(&policy_text(&sb, case.policy, &t))
        .unwrap_or_else(|e| panic!("{}: policy: {e}", case.rex));
    let mut args = ScriptArgs::new();
    args.insert("root", sb.root.as_str()).unwrap();
    let source = format!("{PRELUDE}{}", fill(case.source, &t));
    let job = Job::new(source, policy).args(args).principal("tester");
    let out = runtime().run(job);
    (sb, out)
}

/// Why the case failed, if it did.
pub fn check(case: &Case) -> Result<(), String> {
    let (sb, out) = run(case);
    let t = format!("{}/allowed/t", sb.root);
    let got = || format!("{:?} {:?}: {}", out.error_type(), out.output, message(&out));
    match case.want {
        Want::Ok if !out.is_success() => return Err(format!("expected success, got {}", got())),
        Want::Out(expected) if !out.is_success() || out.output != fill(expected, &t) => {
            return Err(format!("expected `{}`, got {}", fill(expected, &t), got()));
        }
        Want::Err(needle)
            if out.error_type() != Some(ErrorType::ScriptException)
                || !message(&out).contains(needle) =>
        {
            return Err(format!("expected an error with `{needle}`, got {}", got()));
        }
        Want::Denied(action)
            if out.error_type() != Some(ErrorType::AccessDeniedException)
                || !message(&out).contains(&format!("file_system::Action::\"{action}\"")) =>
        {
            return Err(format!("expected `{action}` denied, got {}", got()));
        }
        Want::OutWith(accept) if !out.is_success() || !accept(&out.output, &t) => {
            return Err(format!("output not accepted: {}", got()));
        }
        _ => {}
    }
    for after in case.after {
        let path = |rel: &str| sb.path(&format!("allowed/t/{rel}"));
        let meta = |rel: &str| std::fs::symlink_metadata(path(rel));
        let ok = match *after {
            After::File(rel, content) => {
                std::fs::read(path(rel)).ok().as_deref() == Some(content.as_bytes())
                    && meta(rel).is_ok_and(|m| m.is_file())
            }
            After::Dir(rel) => meta(rel).is_ok_and(|m| m.is_dir()),
            After::Link(rel, target) => std::fs::read_link(path(rel))
                .is_ok_and(|l| l.to_str() == Some(fill(target, &t).as_str())),
            After::Absent(rel) => meta(rel).is_err(),
            After::Mode(rel, mode) => meta(rel).is_ok_and(|m| m.mode() & 0o7777 == mode),
            After::Holds(_, holds) => holds(&t),
        };
        if !ok {
            let now = meta(match *after {
                After::File(r, _)
                | After::Dir(r)
                | After::Link(r, _)
                | After::Absent(r)
                | After::Mode(r, _) => r,
                After::Holds(..) => "",
            })
            .map(|m| format!("mode {:o}, {} bytes", m.mode(), m.len()));
            return Err(format!(
                "after the run: expected {}, found {now:?} (run: {})",
                describe(after),
                got()
            ));
        }
    }
    Ok(())
}

fn describe(after: &After) -> String {
    match after {
        After::File(r, c) => format!("file {r} with {c:?}"),
        After::Dir(r) => format!("directory {r}"),
        After::Link(r, t) => format!("symlink {r} -> {t}"),
        After::Absent(r) => format!("nothing at {r}"),
        After::Mode(r, m) => format!("{r} with mode {m:o}"),
        After::Holds(what, _) => (*what).to_string(),
    }
}

/// Runs every case and fails naming every case that failed.
#[track_caller]
pub fn run_all(cases: &[Case]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check(case).err().map(|e| format!("{}: {e}", case.rex)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} Rex cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A `&'static str` for a case built in a loop (cases borrow their text for the whole test).
pub fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}
