//! Rex's common utilities through the real guest: `DateTime` (built, parsed, formatted,
//! compared, moved; checked when made, unlike Rex), `now` from the host's clock,
//! `random_alphanumeric` from the host's random source, `to_json`.

use crate::util::{assert_contains_all, assert_success, run_with, script};

const ANY: &str = "permit (principal, action == file_system::Action::\"stat\", resource == file_system::Dir::\"/nowhere\");";

#[test]
fn datetime_and_utilities_behave_as_rex_documents() {
    let (out, decisions) = run_with(&script("datetime"), ANY, vec![], None);
    assert_success(&out);
    let o = &out.output;
    assert_contains_all(
        o,
        [
            "\"epoch\": 1730033580",
            "\"nanos\": 123456789",
            "\"rfc3339\": \"2024-10-27T12:53:00.123456789Z\"",
            "\"rfc2822\": \"Sun, 27 Oct 2024 12:53:00 +0000\"",
            "\"month\": [\"October\", \"Oct\", 10, 2024, 27, 12, 53, 0, 123456789]",
            "\"parsed\": 1730033580",
            "\"plus\": 13",
            "\"diff\": 90",
            "\"cmp\": [true, true, false]",
            "\"now\": true",
            "\"rand\": 20",
            "\"bad\": \"InvalidArguments: DateTime: month was not in range\"",
            "\"parse\": \"ParseError\"",
            "\"range\": \"epoch 9223372036854775807: timestamp was not in range\"",
            "\"rneg\": \"random_alphanumeric: length -1; between 0 and 1048576\"",
            "\"json\": \"{\\\"a\\\":1,\\\"b\\\":\\\"x\\\"}\"",
        ],
    );
    // The clock and randomness grant no authority: no decision was asked.
    assert!(decisions.is_empty(), "{decisions:#?}");
}

#[test]
fn random_strings_differ_and_use_only_letters_and_digits() {
    let source = "let a = random_alphanumeric(64); let b = random_alphanumeric(64); [a == b, a]";
    let (out, _) = run_with(source, ANY, vec![], None);
    assert_success(&out);
    assert!(out.output.starts_with("[false, \""), "{}", out.output);
    let text = out
        .output
        .trim_start_matches("[false, \"")
        .trim_end_matches("\"]");
    assert_eq!(text.len(), 64);
    assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
}
