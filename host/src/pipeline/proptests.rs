//! Property tests of the pipeline loader, the entry point the `pipeline_yaml` fuzz target
//! drives: whatever the text, [`LoadedPipeline::parse`] returns (never panics), and every
//! error is positioned inside the text as `file:line:col: key.path: message`.

use proptest::prelude::*;

use super::*;

const FILE: &str = "pipelines/p.yaml";

const VALID: &str = "name: vip\nsource:\n  path: data/*.parquet\n  batch_rows: 5000\ncolumns:\n  email: email_address\n  phone: mobile\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience:\n    fields: [email, phone]\nrejects:\n  include_values: true\nnotify:\n  webhook: { url: \"https://example.com/${HOOK:-x}\" }\n";

/// Checks the loader's contract on one text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match LoadedPipeline::parse(text, Path::new(FILE)) {
        Ok(p) => {
            prop_assert!(!p.pipeline.name.trim().is_empty());
            prop_assert!(!p.plugin().is_empty());
        }
        Err(e) => {
            let lines = text.lines().count().max(1);
            prop_assert!(
                e.line >= 1 && e.line <= lines + 1,
                "line {} of {lines}: {e}",
                e.line
            );
            prop_assert!(e.column >= 1, "{e}");
            prop_assert!(!e.key.is_empty(), "{e}");
            prop_assert!(!e.message.is_empty(), "{e}");
            let prefix = format!("{FILE}:{}:{}: {}: ", e.line, e.column, e.key);
            prop_assert!(e.to_string().starts_with(&prefix), "{e}");
        }
    }
    Ok(())
}

/// Pieces of pipeline-like YAML: the schema's keys (right and misspelt), values of every
/// type, interpolation, and YAML's own syntax (flow collections, anchors, tags, blocks).
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "name",
            "source",
            "path",
            "format",
            "batch_rows",
            "delimiter",
            "columns",
            "email",
            "phone",
            "madid",
            "country",
            "destination",
            "plugin",
            "connection",
            "graph_url",
            "ad_account",
            "audience",
            "fields",
            "multi_key",
            "notify",
            "webhook",
            "url",
            "to",
            "on",
            "rejects",
            "include_values",
            "sourse",
            "colour",
            "é",
            "\"quoted key\"",
        ])
        .prop_map(|k| format!("{k}:")),
        prop::sample::select(vec![
            " ",
            "  ",
            "\n",
            "\n  ",
            "\n    ",
            "\t",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "? ",
            "&a ",
            "*a",
            "!!str ",
            "!!int ",
            "| ",
            "> ",
            "#",
            "'",
            "\"",
            "---",
            "...",
            "~",
            "null",
            "true",
            "yes",
            "0",
            "-1",
            "1e400",
            "0x1f",
            "10000",
            "0.5",
            "${X}",
            "${HOME}",
            "${AUDEX_SURELY_UNSET}",
            "${A:-b}",
            "${A:?needed}",
            "${",
            "$$",
            "}",
            "facebook",
            "parquet",
            "csv",
            "act_1",
            "data/*.csv",
            "\u{feff}",
            "é",
            "用户",
            "\r\n",
            "<<: *a",
            "%YAML 1.2\n",
            "@",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
        any::<String>(),
    ]
}

/// YAML-ish text made of [`token`]s.
fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..48).prop_map(|tokens| tokens.concat())
}

/// A valid pipeline with one random edit: a deletion, an insertion or a replacement.
fn mutated() -> impl Strategy<Value = String> {
    (0..VALID.len(), 0..12usize, token()).prop_map(|(at, len, insert)| {
        let mut start = at;
        while !VALID.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(VALID.len());
        while !VALID.is_char_boundary(end) {
            end -= 1;
        }
        let end = end.max(start);
        format!("{}{}{}", &VALID[..start], insert, &VALID[end..])
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_errors_are_positioned(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn yaml_like_text_never_panics_and_errors_are_positioned(text in yamlish()) {
        check(&text)?;
    }

    #[test]
    fn edited_pipelines_never_panic_and_errors_are_positioned(text in mutated()) {
        check(&text)?;
    }
}

#[test]
fn the_valid_pipeline_loads_with_its_rejects_section() {
    let p = LoadedPipeline::parse(VALID, Path::new(FILE)).expect("valid");
    assert!(p.pipeline.rejects.include_values);
    let without = VALID.replace("rejects:\n  include_values: true\n", "");
    let p = LoadedPipeline::parse(&without, Path::new(FILE)).expect("valid");
    assert!(!p.pipeline.rejects.include_values, "raw values are opt-in");
}

#[test]
fn rejects_section_mistakes_are_positioned() {
    let text = VALID.replace("include_values: true", "include_values: yes please");
    let e = LoadedPipeline::parse(&text, Path::new(FILE)).expect_err("not a bool");
    assert_eq!(e.key, "rejects.include_values", "{e}");
    assert_eq!((e.line, e.column), (14, 19), "{e}");
    let text = VALID.replace("include_values: true", "include_value: true");
    let e = LoadedPipeline::parse(&text, Path::new(FILE)).expect_err("unknown key");
    assert!(e.message.contains("unknown field `include_value`"), "{e}");
    assert_eq!(e.line, 14, "{e}");
}

/// Nested aliases that expand to 9^8 (43 million) scalars.
fn laughs() -> String {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for i in 1..8 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text
}

#[test]
fn pathological_inputs_are_errors_not_crashes() {
    for text in [
        "[".repeat(100_000),
        "{a: ".repeat(20_000),
        "- ".repeat(50_000),
        // Alias expansion ("billion laughs").
        format!("{VALID}{}", laughs()),
        format!(
            "name: x\nsource: {{ path: a.csv }}\ncolumns: {{}}\ndestination:\n  plugin: facebook\n{}",
            laughs().replace('\n', "\n  ")
        ),
        format!("{VALID}destination:\n  plugin: again\n"),
        "\u{0}".to_owned(),
        String::new(),
        // An empty (null) top-level key: the error still has a key path, `(top)`.
        "?".to_owned(),
        ": x".to_owned(),
    ] {
        check(&text).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_quoted_non_ascii_key_in_an_error_path_is_located_without_panicking() {
    // `locate::key` walks the key path through the text; a quoted multi-byte key must not
    // leave it in the middle of a character.
    let text = "name: x\nsource: { path: a.csv }\ncolumns: { \"é\": [1] }\ndestination: { plugin: facebook }\n";
    let e = LoadedPipeline::parse(text, Path::new(FILE)).expect_err("a list is not a column");
    assert_eq!(e.line, 3, "{e}");
    assert_eq!(locate::key(text, "columns.é.x"), Some((3, 12)));
}
