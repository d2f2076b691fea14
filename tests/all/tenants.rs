//! Per-tenant roots: a run given a root directory sees it as `/`. Two tenants in one process
//! cannot reach each other's files, even under a careless permit-everything policy.

use wrex::{Job, Policy};

use crate::util::{TempTree, repo, runtime, script};

struct Tenants {
    _tree: TempTree,
    a: String,
    b: String,
}

fn tenants() -> Tenants {
    let tree = TempTree::new();
    tree.write("a/secret.txt", "secret of A\n");
    tree.write("b/secret.txt", "secret of B\n");
    let (a, b) = (tree.path("a"), tree.path("b"));
    // Ways out of A, each aimed at B's secret by its host path.
    std::os::unix::fs::symlink(&b, a.join("link_abs")).unwrap();
    std::os::unix::fs::symlink("../b", a.join("link_rel")).unwrap();
    std::os::unix::fs::symlink(b.join("secret.txt"), a.join("file_abs")).unwrap();
    Tenants {
        a: a.to_str().unwrap().to_string(),
        b: b.to_str().unwrap().to_string(),
        _tree: tree,
    }
}

fn careless() -> Policy {
    Policy::from_file(repo().join("tests/policies/tenants/careless.cedar")).unwrap()
}

#[test]
fn a_tenant_cannot_reach_another_tenants_files() {
    let t = tenants();
    let out = runtime().run(Job::new(script("tenant_escape"), careless()).root(&t.a));
    assert!(out.is_success(), "{out:#?}");
    assert!(
        !out.output.contains("secret of B"),
        "escaped: {}",
        out.output
    );
    assert!(
        out.output.starts_with("[\"secret of A\\n\""),
        "{}",
        out.output
    );
    // Every way out ended inside A, where the targets do not exist.
    assert_eq!(
        out.output.matches("IoError").count() + out.output.matches("DirectoryOpenError").count(),
        4,
        "{}",
        out.output
    );
}

#[test]
fn two_tenants_run_concurrently_in_one_process() {
    let t = tenants();
    std::thread::scope(|s| {
        let handles: Vec<_> = [(&t.a, "A"), (&t.b, "B")]
            .into_iter()
            .flat_map(|(root, name)| (0..4).map(move |_| (root, name)))
            .map(|(root, name)| {
                s.spawn(move || {
                    for _ in 0..5 {
                        let out =
                            runtime().run(Job::new("cat(\"/secret.txt\")", careless()).root(root));
                        assert_eq!(out.output, format!("secret of {name}\n"), "{out:#?}");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn writes_stay_inside_the_tenant_root() {
    let t = tenants();
    let src = "write([write::replace], \"/../../out.txt\", \"x\")";
    let out = runtime().run(Job::new(src, careless()).root(&t.a));
    assert!(out.error.is_some(), "`..` must be refused: {out:#?}");
    let src = "mkdir([mkdir::p], \"/x/y\"); write([write::replace], \"/x/y/out.txt\", \"x\"); ls(\"/\").keys().len()";
    let out = runtime().run(Job::new(src, careless()).root(&t.b));
    assert!(out.is_success(), "{out:#?}");
    assert_eq!(
        std::fs::read_to_string(format!("{}/x/y/out.txt", t.b)).unwrap(),
        "x"
    );
    assert!(!std::path::Path::new(&format!("{}/x", t.a)).exists());
}

#[test]
fn a_missing_tenant_root_is_an_error() {
    let out = runtime().run(Job::new("1", careless()).root("/nonexistent/tenant"));
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::InternalException),
        "{out:#?}"
    );
    assert!(out.error.unwrap().message.contains("/nonexistent/tenant"));
}
