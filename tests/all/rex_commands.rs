//! Rex's own tests of the shell-style commands (`rhai-sdk/rhai-safe-io/tests/command/*.rs`
//! in the Rex repository), in wrex's words: every case, the same script behaviour and the same
//! expected result, run through the real guest. Each test names the Rex file it carries over;
//! `docs/rex-compat.md` keeps the table.

use wrex::RunOutcome;

use crate::util::{Sandbox, assert_success};

/// Runs `source` with `p` bound to `allowed/f.txt`, which holds `content`, under `policy`.
fn on_file(content: &str, source: &str, policy: &str) -> RunOutcome {
    let sb = Sandbox::new();
    sb.write("allowed/f.txt", content);
    sb.run_source(
        &format!("let p = root + \"/allowed/f.txt\";\n{source}"),
        policy,
    )
}

/// `command/wc.rs`, every case: counts as `wc` (and Rex) gives them: lines are newlines, so
/// a last line without one is not counted; flags keep only their keys.
#[test]
fn wc_counts_as_rex() {
    let cases = [
        // test_wc_basic
        (
            "hello world\nfoo bar baz\n",
            "let m = wc(p); [m.lines, m.words]",
            "[2, 5]",
        ),
        // test_wc_empty_file
        (
            "",
            "let m = wc(p); [m.lines, m.words, m.bytes]",
            "[0, 0, 0]",
        ),
        // test_wc_single_line_no_newline (and its line count: 0, as Rex)
        (
            "hello world",
            "let m = wc(p); [m.lines, m.words, m.bytes]",
            "[0, 2, 11]",
        ),
        // test_wc_script_access_fields
        (
            "one two three\nfour five\n",
            "let counts = wc(p); counts.words",
            "5",
        ),
        // test_wc_lines_flag
        (
            "hello world\nfoo bar baz\n",
            "wc([wc::lines], p)",
            "#{\"lines\": 2}",
        ),
        // test_wc_short_l_flag
        ("a\nb\nc\n", "wc([wc::l], p)", "#{\"lines\": 3}"),
        // test_wc_words_flag
        (
            "hello world\nfoo bar baz\n",
            "wc([wc::words], p)",
            "#{\"words\": 5}",
        ),
        // test_wc_bytes_flag
        ("hello", "wc([wc::c], p)", "#{\"bytes\": 5}"),
        // test_wc_multiple_flags
        (
            "hello world\n",
            "wc([wc::lines, wc::bytes], p).keys()",
            "[\"bytes\", \"lines\"]",
        ),
    ];
    for (content, source, expected) in cases {
        let out = on_file(content, source, "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source} on {content:?}");
    }
    // test_wc_nonexistent_file
    let out = on_file("", "wc(root + \"/allowed/nope.txt\")", "rw");
    assert!(!out.is_success(), "{out:#?}");
    // test_wc_unauthorized
    let out = on_file("content", "wc(p)", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/du.rs`, every case: the result map and its keys, each flag, a missing directory
/// and a denial.
#[test]
fn du_answers_as_rex() {
    let sb = Sandbox::new();
    sb.write("allowed/du/file1.txt", "hello");
    sb.write("allowed/du/file2.txt", "world");
    sb.write("allowed/du/sub/file.txt", "nested");
    std::fs::create_dir_all(sb.path("allowed/empty")).unwrap();
    let keys = |m: &str| {
        format!(
            "let m = {m}; [\"entries\" in m, \"total_size_bytes\" in m, \"total_inode_count\" in m]"
        )
    };
    let cases = [
        // test_du_basic, test_du_script_access_entries
        (keys("du(d)"), "[true, true, true]"),
        ("du(d).total_size_bytes > 0".to_string(), "true"),
        // test_du_empty_dir
        (keys("du(root + \"/allowed/empty\")"), "[true, true, true]"),
        // test_du_summarize_flag, test_du_short_s_flag, test_du_max_depth_flag,
        // test_du_all_files_flag
        (keys("du([du::summarize], d)"), "[true, true, true]"),
        (keys("du([du::s], d)"), "[true, true, true]"),
        (keys("du([du::max_depth(1)], d)"), "[true, true, true]"),
        (keys("du([du::all_files], d)"), "[true, true, true]"),
    ];
    for (source, expected) in &cases {
        let out = sb.run_source(&format!("let d = root + \"/allowed/du\";\n{source}"), "rw");
        assert_success(&out);
        assert_eq!(out.output, *expected, "{source}");
    }
    // test_du_nonexistent_dir
    let out = sb.run_source("du(root + \"/allowed/nope\")", "rw");
    assert!(!out.is_success(), "{out:#?}");
    // test_du_unauthorized
    let out = sb.run_source("du(root + \"/allowed/du\")", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/rm.rs`: removing a file, a tree with each recursive flag spelling, errors for a
/// missing file and for a denial. Rex's `test_rm_force_nonexistent` and
/// `test_rm_short_f_flag` expect an error for `rm -f` of a missing file, which contradicts
/// Rex's own documentation of `rm::force` ("ignore nonexistent files"); wrex follows the
/// documentation (see `docs/rex-compat.md`), and this test pins that.
#[test]
fn rm_answers_as_rex() {
    let trees = [
        ("rm(root + \"/allowed/a.txt\")", "allowed/a.txt"),
        (
            "rm([rm::recursive], root + \"/allowed/sub\")",
            "allowed/sub",
        ),
        ("rm([rm::r], root + \"/allowed/sub\")", "allowed/sub"),
        (
            "rm([rm::recursive, rm::force], root + \"/allowed/sub\")",
            "allowed/sub",
        ),
    ];
    for (source, gone) in trees {
        let sb = Sandbox::new();
        sb.write("allowed/sub/nested/file.txt", "x");
        assert_success(&sb.run_source(source, "rw"));
        assert!(!sb.exists(gone), "{source}");
    }
    let sb = Sandbox::new();
    // test_rm_nonexistent_without_force
    assert!(
        !sb.run_source("rm(root + \"/allowed/nope.txt\")", "rw")
            .is_success()
    );
    // test_rm_unauthorized
    let out = sb.run_source("rm(root + \"/allowed/a.txt\")", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
    assert!(sb.exists("allowed/a.txt"));
    // Deliberately different: `rm::force` ignores a missing file, as Rex documents it.
    for flag in ["rm::force", "rm::f"] {
        let out = sb.run_source(&format!("rm([{flag}], root + \"/allowed/nope.txt\")"), "rw");
        assert_success(&out);
    }
}

/// `command/ls.rs`: hidden entries only with `ls::all`/`ls::a`; `ls::long`/`ls::l` accepted;
/// subdirectories listed; an empty directory is an empty map; `ls` of a symlink is that link's
/// own entry, whose `metadata(entry)` gives the target; a regular file, a missing directory
/// and a denial are errors.
#[test]
fn ls_answers_as_rex() {
    let sb = Sandbox::new();
    sb.write("allowed/d/file1.txt", "content1");
    sb.write("allowed/d/file2.txt", "content2");
    sb.write("allowed/d/.hidden", "secret");
    sb.write("allowed/d/subdir/x", "x");
    std::fs::create_dir_all(sb.path("allowed/empty")).unwrap();
    sb.symlink(&format!("{}/allowed/d", sb.root), "allowed/my_symlink");
    let cases = [
        ("ls(d).keys()", r#"["file1.txt", "file2.txt", "subdir"]"#),
        ("ls(root + \"/allowed/empty\").len()", "0"),
        ("\".hidden\" in ls([ls::all], d)", "true"),
        ("\".hidden\" in ls([ls::a], d)", "true"),
        ("\"file1.txt\" in ls([ls::long], d)", "true"),
        ("\"file1.txt\" in ls([ls::l], d)", "true"),
        (
            "let m = ls([ls::all, ls::long], d); \".hidden\" in m && \"file1.txt\" in m",
            "true",
        ),
        (
            "let entries = ls(root + \"/allowed/my_symlink\"); metadata(entries[\"my_symlink\"]).symlink_target()",
            "",
        ),
    ];
    for (source, expected) in cases {
        let out = sb.run_source(&format!("let d = root + \"/allowed/d\";\n{source}"), "rw");
        assert_success(&out);
        let expected = if expected.is_empty() {
            format!("{}/allowed/d", sb.root)
        } else {
            expected.to_string()
        };
        assert_eq!(out.output, expected, "{source}");
    }
    for (source, policy) in [
        ("ls(root + \"/allowed/d/file1.txt\")", "rw"),
        ("ls(root + \"/allowed/nonexistent\")", "rw"),
        ("ls(root + \"/allowed/d\")", "none"),
    ] {
        assert!(!sb.run_source(source, policy).is_success(), "{source}");
    }
}

/// Runs each `(source, succeeds)` in a fresh sandbox under `policy`, then `check`s it.
fn each_case(cases: &[(&str, bool)], policy: &str, check: impl Fn(&Sandbox, &str)) {
    for (source, succeeds) in cases {
        let sb = Sandbox::new();
        sb.write("allowed/existing.txt", "content");
        std::fs::create_dir_all(sb.path("allowed/parent")).unwrap();
        let out = sb.run_source(source, policy);
        assert_eq!(out.is_success(), *succeeds, "{source}: {out:#?}");
        check(&sb, source);
    }
}

/// `command/touch.rs`, every case: creates an empty file, keeps an existing one, fails without
/// the parent directory and under a denial.
#[test]
fn touch_answers_as_rex() {
    let cases = [
        ("touch(root + \"/allowed/new.txt\")", true),
        ("touch(root + \"/allowed/existing.txt\")", true),
        ("touch(root + \"/allowed/nonexistent/file.txt\")", false),
    ];
    each_case(&cases, "rw", |sb, source| {
        if source.contains("new.txt") {
            assert_eq!(sb.read("allowed/new.txt").as_deref(), Some(""));
        }
        assert_eq!(sb.read("allowed/existing.txt").as_deref(), Some("content"));
        assert!(!sb.exists("allowed/nonexistent"));
    });
    each_case(
        &[("touch(root + \"/allowed/forbidden.txt\")", false)],
        "none",
        |sb, _| {
            assert!(!sb.exists("allowed/forbidden.txt"));
        },
    );
}

/// `command/mkdir.rs`, every case: one level, a child of an existing directory, `mkdir::parents`
/// and `mkdir::p`, `-p` of an existing directory, a missing parent without `-p`, a denial.
#[test]
fn mkdir_answers_as_rex() {
    let cases = [
        ("mkdir(root + \"/allowed/newdir\")", true),
        ("mkdir(root + \"/allowed/parent/child\")", true),
        ("mkdir([mkdir::parents], root + \"/allowed/a/b/c\")", true),
        ("mkdir([mkdir::p], root + \"/allowed/x/y/z\")", true),
        ("mkdir([mkdir::parents], root + \"/allowed/parent\")", true),
        ("mkdir(root + \"/allowed/nonexistent_parent/child\")", false),
    ];
    each_case(&cases, "rw", |sb, source| {
        for made in ["newdir", "parent/child", "a/b/c", "x/y/z"] {
            if source.contains(&format!("\"/allowed/{made}\"")) {
                assert!(sb.path(&format!("allowed/{made}")).is_dir(), "{source}");
            }
        }
        assert!(!sb.exists("allowed/nonexistent_parent"));
    });
    each_case(
        &[("mkdir(root + \"/allowed/forbidden\")", false)],
        "none",
        |sb, _| {
            assert!(!sb.exists("allowed/forbidden"));
        },
    );
}

/// `command/seq.rs`, every case.
#[test]
fn seq_answers_as_rex() {
    let sb = Sandbox::new();
    for (source, expected) in [
        ("seq(1, 5)", "[1, 2, 3, 4, 5]"),
        ("seq(3, 3)", "[3]"),
        ("seq([seq::step(2)], 1, 10)", "[1, 3, 5, 7, 9]"),
        ("seq([seq::step(3)], 0, 9)", "[0, 3, 6, 9]"),
        ("seq([seq::step(-1)], 5, 1)", "[5, 4, 3, 2, 1]"),
    ] {
        let out = sb.run_source(source, "none");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(
        !sb.run_source("seq([seq::step(0)], 1, 5)", "none")
            .is_success()
    );
}

/// `command/write.rs`, every case: `write::replace` creates, overwrites and empties; the
/// default appends (creating the file first); a missing parent directory and a denial are
/// errors, with either flag.
#[test]
fn write_answers_as_rex() {
    let sb = Sandbox::new();
    let run = |source: &str, policy: &str| {
        sb.run_source(
            &format!("let p = root + \"/allowed/t.txt\";\n{source}"),
            policy,
        )
    };
    for (source, expected) in [
        (
            "write([write::replace], p, \"hello world\\n\")",
            "hello world\n",
        ),
        (
            "write([write::replace], p, \"first\\n\"); write([write::replace], p, \"second\\n\")",
            "second\n",
        ),
        (
            "write([write::replace], p, \"data\"); write([write::replace], p, \"\")",
            "",
        ),
        (
            "write([write::replace], p, \"\"); write(p, \"line one\\n\")",
            "line one\n",
        ),
        (
            "write([write::replace], p, \"line one\\n\"); write(p, \"line two\\n\")",
            "line one\nline two\n",
        ),
        (
            "write([write::replace], p, \"\"); write(p, \"a\"); write(p, \"b\"); write(p, \"c\")",
            "abc",
        ),
    ] {
        assert_success(&run(source, "rw"));
        assert_eq!(
            sb.read("allowed/t.txt").as_deref(),
            Some(expected),
            "{source}"
        );
    }
    // test_write_append_creates_file
    std::fs::remove_file(sb.path("allowed/t.txt")).unwrap();
    assert_success(&run("write(p, \"line one\\n\")", "rw"));
    assert_eq!(sb.read("allowed/t.txt").as_deref(), Some("line one\n"));
    for flags in ["[write::replace], ", ""] {
        let missing = format!("write({flags}root + \"/allowed/nonexistent/file.txt\", \"x\")");
        assert!(!run(&missing, "rw").is_success(), "{missing}");
        let denied = format!("write({flags}root + \"/allowed/forbidden.txt\", \"x\")");
        let out = run(&denied, "none");
        assert_eq!(
            out.error_type(),
            Some(wrex::ErrorType::AccessDeniedException),
            "{out:#?}"
        );
        assert!(!sb.exists("allowed/forbidden.txt"));
    }
}

/// `command/mv.rs`, every case: a rename moves the content; a missing source and a denial are
/// errors.
#[test]
fn mv_answers_as_rex() {
    let sb = Sandbox::new();
    sb.write("allowed/original.txt", "important data");
    assert_success(&sb.run_source(
        "mv(root + \"/allowed/original.txt\", root + \"/allowed/renamed.txt\")",
        "rw",
    ));
    assert!(!sb.exists("allowed/original.txt"));
    assert_eq!(
        sb.read("allowed/renamed.txt").as_deref(),
        Some("important data")
    );
    let missing = "mv(root + \"/allowed/missing.txt\", root + \"/allowed/dst.txt\")";
    assert!(!sb.run_source(missing, "rw").is_success());
    let out = sb.run_source(
        "mv(root + \"/allowed/renamed.txt\", root + \"/allowed/dst.txt\")",
        "none",
    );
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
    assert!(sb.exists("allowed/renamed.txt") && !sb.exists("allowed/dst.txt"));
}

/// `command/cp.rs`, every case: onto an empty destination, and over a non-empty one with
/// `cp::force`/`cp::f`; `cp::preserve`/`cp::p` and both together; a missing source and a
/// denial are errors.
#[test]
fn cp_answers_as_rex() {
    for (flags, old, new) in [
        ("", "", "hello"),
        ("[cp::force], ", "old", "new"),
        ("[cp::f], ", "old", "new"),
        ("[cp::preserve], ", "", "data"),
        ("[cp::p], ", "", "data"),
        ("[cp::force, cp::preserve], ", "old", "combined"),
    ] {
        let sb = Sandbox::new();
        sb.write("allowed/src.txt", new);
        sb.write("allowed/dst.txt", old);
        let source = format!("cp({flags}root + \"/allowed/src.txt\", root + \"/allowed/dst.txt\")");
        assert_success(&sb.run_source(&source, "rw"));
        assert_eq!(sb.read("allowed/dst.txt").as_deref(), Some(new), "{source}");
    }
    let sb = Sandbox::new();
    sb.write("allowed/dst.txt", "");
    let missing = "cp(root + \"/allowed/missing.txt\", root + \"/allowed/dst.txt\")";
    assert!(!sb.run_source(missing, "rw").is_success());
    let out = sb.run_source(
        "cp(root + \"/allowed/a.txt\", root + \"/allowed/dst.txt\")",
        "none",
    );
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
    assert_eq!(sb.read("allowed/dst.txt").as_deref(), Some(""));
}

/// `command/cat.rs`, every case: content as it is (empty, with and without a last newline),
/// `cat::number`/`cat::n` formatting, line counting in a script, a missing file (also caught
/// in a script) and a denial.
#[test]
fn cat_answers_as_rex() {
    let cases = [
        (
            "Hello, World!\nThis is a test file.",
            "cat(p)",
            "Hello, World!\nThis is a test file.",
        ),
        ("", "cat(p)", ""),
        ("line1\nline2\nline3\n", "cat(p)", "line1\nline2\nline3\n"),
        (
            "line1\nline2\nline3",
            "cat([cat::number], p)",
            "     1\tline1\n     2\tline2\n     3\tline3",
        ),
        (
            "line1\nline2",
            "cat([cat::n], p)",
            "     1\tline1\n     2\tline2",
        ),
        (
            "first\nsecond\nthird",
            "cat([cat::number], p).split(\"\\n\").len()",
            "3",
        ),
        (
            "alpha\nbeta\ngamma\ndelta\n",
            "let count = 0; for line in cat(p).split(\"\\n\") { if line != \"\" { count += 1; } } count",
            "4",
        ),
        (
            "",
            "let status = \"ok\"; try { cat(root + \"/allowed/nonexistent.txt\"); status = \"no\"; } catch (err) { status = \"caught\"; } status",
            "caught",
        ),
    ];
    for (content, source, expected) in cases {
        let out = on_file(content, source, "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(!on_file("", "cat(root + \"/allowed/nonexistent.txt\")", "rw").is_success());
    let out = on_file("secret content", "cat(p)", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// Lines `line1` … `line<n>`, joined by newlines without a last one (Rex's test file).
fn numbered(n: usize) -> String {
    (1..=n)
        .map(|i| format!("line{i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `command/tail.rs`, every case: the last 10 lines by default (all of a shorter file),
/// `tail::n(-5)`, `tail::from(5)`, `tail::range(3, 6)`, a missing file and a denial.
#[test]
fn tail_answers_as_rex() {
    let cases = [
        (
            15,
            "let t = tail(p); [t.len(), t[0], t[9]]",
            r#"[10, "line6", "line15"]"#,
        ),
        (3, "tail(p).len()", "3"),
        (
            15,
            "let t = tail([tail::n(-5)], p); [t.len(), t[0], t[4]]",
            r#"[5, "line11", "line15"]"#,
        ),
        (10, "tail([tail::from(5)], p)[0]", "line5"),
        (
            10,
            "let t = tail([tail::range(3, 6)], p); [t.len(), t[0], t[3]]",
            r#"[4, "line3", "line6"]"#,
        ),
    ];
    for (n, source, expected) in cases {
        let out = on_file(&numbered(n), source, "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(!on_file("", "tail(root + \"/allowed/missing.txt\")", "rw").is_success());
    let out = on_file(&numbered(5), "tail(p)", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/glob.rs`, every case: `find_files` by pattern, no match, `glob::recursive` and
/// `glob::r` reach subdirectories and the default does not, a missing directory and a denial.
#[test]
fn find_files_answers_as_rex() {
    let sb = Sandbox::new();
    for (rel, content) in [
        ("g/a.txt", "a"),
        ("g/b.txt", "b"),
        ("g/c.log", "c"),
        ("g/sub/nested.txt", "n"),
    ] {
        sb.write(&format!("allowed/{rel}"), content);
    }
    let cases = [
        (
            "let f = find_files(\"*.txt\", d); [f.len(), f.all(|n| n.ends_with(\".txt\"))]",
            "[2, true]",
        ),
        ("find_files(\"*.csv\", d).len()", "0"),
        (
            "find_files([glob::recursive], \"*.txt\", d).len() >= 3",
            "true",
        ),
        ("find_files([glob::r], \"*.txt\", d).len() >= 3", "true"),
    ];
    for (source, expected) in cases {
        let out = sb.run_source(&format!("let d = root + \"/allowed/g\";\n{source}"), "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(
        !sb.run_source("find_files(\"*\", root + \"/allowed/nope\")", "rw")
            .is_success()
    );
    let out = sb.run_source("find_files(\"*\", root + \"/allowed/g\")", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/grep.rs`, every case: matches in order, no match, each flag in its long and short
/// spelling (`ignore_case`/`i`, `count`/`c`, `invert`/`v`, `line_number`/`n`,
/// `max_count`/`m`) and two combinations, a missing file and a denial.
#[test]
fn grep_answers_as_rex() {
    let cases = [
        (
            "hello world\nfoo bar\nhello again",
            "grep(\"hello\", p)",
            r#"["hello world", "hello again"]"#,
        ),
        ("alpha\nbeta\ngamma", "grep(\"zzz\", p)", "[]"),
        (
            "Hello\nhello\nHELLO\nworld",
            "grep([grep::ignore_case], \"hello\", p).len()",
            "3",
        ),
        (
            "Hello\nhello\nworld",
            "grep([grep::i], \"hello\", p).len()",
            "2",
        ),
        ("a\nb\na\nc\na", "grep([grep::count], \"a\", p)", r#"["3"]"#),
        ("x\ny\nx", "grep([grep::c], \"x\", p)", r#"["2"]"#),
        (
            "keep\nremove\nkeep",
            "grep([grep::invert], \"remove\", p)",
            r#"["keep", "keep"]"#,
        ),
        ("yes\nno\nyes", "grep([grep::v], \"no\", p).len()", "2"),
        (
            "foo\nbar\nfoo",
            "grep([grep::line_number], \"foo\", p)",
            r#"["1:foo", "3:foo"]"#,
        ),
        ("a\nb\na", "grep([grep::n], \"a\", p)[0]", "1:a"),
        (
            "a\na\na\na\na",
            "grep([grep::max_count(2)], \"a\", p).len()",
            "2",
        ),
        ("x\nx\nx\nx", "grep([grep::m(1)], \"x\", p).len()", "1"),
        (
            "Hello\nhello\nworld",
            "grep([grep::ignore_case, grep::count], \"hello\", p)",
            r#"["2"]"#,
        ),
        (
            "a\nb\na\nb\na",
            "grep([grep::line_number, grep::max_count(2)], \"a\", p)",
            r#"["1:a", "3:a"]"#,
        ),
    ];
    for (content, source, expected) in cases {
        let out = on_file(content, source, "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    assert!(!on_file("", "grep(\"x\", root + \"/allowed/nope.txt\")", "rw").is_success());
    let out = on_file("content", "grep(\"c\", p)", "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/sed.rs`, every case: the first occurrence by default, `sed::all`/`g`,
/// `sed::regex`, `sed::in_place`/`i` (written to the file), combinations, a missing file and a
/// denial.
#[test]
fn sed_answers_as_rex() {
    let cases = [
        (
            "hello hello",
            r#"sed("hello", "world", p)"#,
            "world hello",
            None,
        ),
        ("aaa", r#"sed([sed::all], "a", "b", p)"#, "bbb", None),
        ("xx", r#"sed([sed::g], "x", "y", p)"#, "yy", None),
        (
            "err123 err456",
            r#"sed([sed::regex], "err\\d+", "ERROR", p)"#,
            "ERROR err456",
            None,
        ),
        (
            "old content",
            r#"sed([sed::in_place], "old", "new", p)"#,
            "new content",
            Some("new content"),
        ),
        (
            "foo bar",
            r#"sed([sed::i], "foo", "baz", p)"#,
            "baz bar",
            Some("baz bar"),
        ),
        (
            "a1 b2 c3",
            r#"sed([sed::regex, sed::all], "[a-z]\\d", "X", p)"#,
            "X X X",
            None,
        ),
        (
            "ab ab ab",
            r#"sed([sed::all, sed::in_place], "ab", "cd", p)"#,
            "cd cd cd",
            Some("cd cd cd"),
        ),
    ];
    for (content, source, expected, on_disk) in cases {
        let sb = Sandbox::new();
        sb.write("allowed/f.txt", content);
        let out = sb.run_source(
            &format!("let p = root + \"/allowed/f.txt\";\n{source}"),
            "rw",
        );
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
        assert_eq!(
            sb.read("allowed/f.txt").as_deref(),
            Some(on_disk.unwrap_or(content)),
            "{source}"
        );
    }
    assert!(!on_file("", r#"sed("a", "b", root + "/allowed/nope.txt")"#, "rw").is_success());
    let out = on_file("content", r#"sed("a", "b", p)"#, "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}

/// `command/awk.rs`, every case: `awk_split` on spaces and commas; `awk_field`, and its
/// refused field 0; `awk_filter`, `awk_filter_field`; `awk_sum` (a non-numeric column sums to
/// 0.0); `awk_count_unique`; `awk_filter_range`, and its refused reversed range; a denial.
#[test]
fn awk_answers_as_rex() {
    let cases = [
        (
            "",
            r#"let s = awk_split("hello world foo", " "); [s.len(), s[0], s[2]]"#,
            r#"[3, "hello", "foo"]"#,
        ),
        ("", r#"awk_split("a,b,c", ",").len()"#, "3"),
        (
            "a 10 x\nb 20 y\nc 30 z",
            r#"awk_field(2, " ", p)"#,
            r#"["10", "20", "30"]"#,
        ),
        (
            "INFO ok\nERROR bad\nINFO fine\nERROR worse",
            r#"awk_filter("ERROR", p).len()"#,
            "2",
        ),
        (
            "apple 1\nbanana 2\napricot 3",
            r#"awk_filter_field(1, " ", "ap", p).len()"#,
            "2",
        ),
        ("a 10\nb 20\nc 30", r#"awk_sum(2, " ", p) == 60.0"#, "true"),
        ("a x\nb y", r#"awk_sum(2, " ", p) == 0.0"#, "true"),
        (
            "a 1\nb 2\na 3\nb 4\nc 5",
            r#"let m = awk_count_unique(1, " ", p); [m.a, m.b, m.c]"#,
            "[2, 2, 1]",
        ),
        (
            "line1\nline2\nline3\nline4\nline5",
            r#"let r = awk_filter_range(2, 4, p); [r.len(), r[0], r[2]]"#,
            r#"[3, "line2", "line4"]"#,
        ),
    ];
    for (content, source, expected) in cases {
        let out = on_file(content, source, "rw");
        assert_success(&out);
        assert_eq!(out.output, expected, "{source}");
    }
    for source in [r#"awk_field(0, " ", p)"#, r#"awk_filter_range(5, 2, p)"#] {
        assert!(
            !on_file("line1\nline2", source, "rw").is_success(),
            "{source}"
        );
    }
    let out = on_file("a b c", r#"awk_field(1, " ", p)"#, "none");
    assert_eq!(
        out.error_type(),
        Some(wrex::ErrorType::AccessDeniedException),
        "{out:#?}"
    );
}
