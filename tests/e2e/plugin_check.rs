//! `audex plugin check`: it passes for both plugins of the repository (the built-in Facebook
//! plugin against the embedded emulator, the webhook plugin against canned answers) and for
//! the fixture's conformant behaviour, and fails with a precise line for deliberately broken
//! plugins: a wrong WIT version (in the manifest, or compiled into the component), unhashed
//! output, upper-case digests, a forbidden header, an oversized batch.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use audex::plugin::{PluginError, PluginSource, Runtime, RuntimeOptions};
use audex::plugin_kit::check::{CHECK_FAILED, CHECKS};
use audex_tests::{audex, cache_dir, text, write_pipeline};
use serde_json::Value;

const FIXTURE: &str = env!("FIXTURE_MISBEHAVE_WASM");
const WEBHOOK: &str = env!("WEBHOOK_PLUGIN_WASM");

/// Runs `audex plugin check ARGS --json` and returns the exit code and the report.
fn check_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["plugin", "check"];
    all.extend_from_slice(args);
    all.push("--json");
    let output = audex!(dir, &all);
    let code = output.status.code().expect("exit code");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));
    assert_eq!(
        report["checks"].as_array().map(Vec::len),
        Some(CHECKS.len()),
        "{report:#}"
    );
    (code, report)
}

/// `(status, detail)` of check `name`.
fn line<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}"));
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap())
}

fn failed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_all_pass(code: i32, report: &Value) {
    assert_eq!(failed(report), Vec::<String>::new(), "{report:#}");
    assert!(
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "pass"),
        "{report:#}"
    );
    assert_eq!(report["passed"], true);
    assert_eq!(code, 0, "{report:#}");
}

/// A copy of the fixture (component and manifest) in `dir`, the manifest edited by `edit`.
fn fixture_copy(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let wasm = dir.join(format!("{name}.wasm"));
    std::fs::copy(FIXTURE, &wasm).unwrap();
    let manifest = std::fs::read_to_string(Path::new(FIXTURE).with_extension("toml")).unwrap();
    std::fs::write(wasm.with_extension("toml"), edit(manifest)).unwrap();
    wasm
}

/// Checks the fixture with `behaviour`.
fn check_behaviour(behaviour: &str) -> (i32, Value) {
    let dir = audex_tests::tempdir();
    let settings = dir.path().join("check.yaml");
    std::fs::write(&settings, format!("settings:\n  behaviour: {behaviour}\n")).unwrap();
    check_json(
        dir.path(),
        &[FIXTURE, "--settings", settings.to_str().unwrap()],
    )
}

#[test]
fn the_built_in_facebook_plugin_passes_against_the_embedded_emulator() {
    let dir = audex_tests::tempdir();
    let (code, report) = check_json(dir.path(), &["builtin:facebook"]);
    assert_all_pass(code, &report);
    // Every field has more valid values than Facebook's 10,000 rows a request, so the limit
    // is exercised: the fullest requests hold exactly 10,000 rows.
    assert_eq!(report["fixture_rows"], 14_001);
    let (_, batch) = line(&report, "batch-size");
    assert!(
        batch.starts_with("at most 10000 rows a request") && batch.ends_with("limit 10000"),
        "{batch}"
    );
    let (_, digests) = line(&report, "hashed-identifiers");
    assert!(
        digests.contains("email ")
            && digests.contains("phone ")
            && digests.contains("advertiser ids sent as they are"),
        "{digests}"
    );
    let (_, accounting) = line(&report, "accounting");
    assert!(accounting.contains("= 14001"), "{accounting}");
    // Facebook's plugin saves checkpoints; the last one of each audience covers every row.
    let (_, checkpoints) = line(&report, "checkpoints");
    assert!(
        checkpoints.contains("email: 14001 rows done")
            && checkpoints.contains("phone: 14001 rows done"),
        "{checkpoints}"
    );
}

#[test]
fn the_webhook_plugin_passes() {
    let dir = audex_tests::tempdir();
    let (code, report) = check_json(dir.path(), &[WEBHOOK]);
    assert_all_pass(code, &report);
    assert_eq!(report["plugin"], "webhook@0.1.0");
    assert_eq!(report["wit"], "0.1.1");
    let (_, batch) = line(&report, "batch-size");
    assert!(
        batch.contains("at most 500 rows") && batch.contains("limit 10000"),
        "{batch}"
    );
}

#[test]
fn the_fixture_passes_when_it_behaves() {
    let dir = audex_tests::tempdir();
    let output = audex!(dir.path(), &["plugin", "check", FIXTURE]);
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // The table: a header, one line per check, the verdict.
    assert!(
        table.starts_with("audex plugin check: misbehave@0.0.1 ("),
        "{table}"
    );
    // 489 valid e-mails of 600 rows, at most 100 a request.
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .ends_with(", audex:destination@0.1.0, 600 fixture rows, 5 requests"),
        "{table}"
    );
    for name in CHECKS {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("PASS  ") && l[6..].starts_with(name)),
            "no PASS line for {name}:\n{table}"
        );
    }
    assert!(table.ends_with("passed: all 15 checks\n"), "{table}");

    // The manifest's [check] section picks the `hashed` behaviour.
    let (code, report) = check_json(dir.path(), &[FIXTURE]);
    assert_all_pass(code, &report);
    let (_, batch) = line(&report, "batch-size");
    assert!(
        batch.contains("at most 100 rows") && batch.contains("limit 100"),
        "{batch}"
    );
}

#[test]
fn unhashed_output_fails_the_raw_identifier_check() {
    let (code, report) = check_behaviour("raw-output");
    assert_eq!(code, CHECK_FAILED);
    assert_eq!(report["passed"], false);
    let (status, detail) = line(&report, "raw-identifiers");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("request 1 (POST api /v1/upload), body: the e-mail of fixture row ")
            && detail.contains("@example.")
            && detail.contains("unhashed")
            && detail.contains("in all"),
        "{detail}"
    );
    // Nothing hashed was sent either; every other check holds.
    assert_eq!(
        failed(&report),
        ["raw-identifiers", "hashed-identifiers"],
        "{report:#}"
    );
    let (_, hashed) = line(&report, "hashed-identifiers");
    assert!(
        hashed.contains("no SHA-256 digest of a normalized fixture e-mail"),
        "{hashed}"
    );
}

#[test]
fn a_failing_check_prints_its_reason_in_the_table() {
    let dir = audex_tests::tempdir();
    let settings = dir.path().join("check.yaml");
    std::fs::write(&settings, "settings: { behaviour: upper-hex }\n").unwrap();
    let output = audex!(
        dir.path(),
        &[
            "plugin",
            "check",
            FIXTURE,
            "--settings",
            settings.to_str().unwrap()
        ]
    );
    assert_eq!(
        output.status.code(),
        Some(CHECK_FAILED),
        "{}",
        text(&output)
    );
    let table = String::from_utf8_lossy(&output.stdout);
    let fail = table
        .lines()
        .find(|l| l.starts_with("FAIL  hashed-identifiers  "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(fail.contains("upper-case hex"), "{fail}");
    assert!(
        table.ends_with("FAILED: 1 failed (hashed-identifiers), 14 passed, 0 skipped\n"),
        "{table}"
    );
}

#[test]
fn upper_case_digests_fail_the_hashed_identifier_check() {
    let (code, report) = check_behaviour("upper-hex");
    assert_eq!(code, CHECK_FAILED);
    assert_eq!(failed(&report), ["hashed-identifiers"], "{report:#}");
    let (_, detail) = line(&report, "hashed-identifiers");
    assert!(
        detail.contains("is the SHA-256 of fixture row ")
            && detail.contains("in upper-case hex; digests must be 64 lowercase hex characters"),
        "{detail}"
    );
}

#[test]
fn a_forbidden_header_fails_the_header_check() {
    let (code, report) = check_behaviour("set-auth");
    assert_eq!(code, CHECK_FAILED);
    let (status, detail) = line(&report, "forbidden-headers");
    assert_eq!(status, "fail");
    assert_eq!(
        detail,
        "the host refused 1 request(s): header `Authorization` is reserved for the host"
    );
    // The plugin's export failed on the refusal; endpoints and secrets were fine.
    assert_eq!(line(&report, "export-segment").0, "fail");
    assert_eq!(line(&report, "declared-endpoints").0, "pass");
    assert_eq!(line(&report, "declared-secrets").0, "pass");
    assert_eq!(line(&report, "accounting").0, "skip");

    let (_, report) = check_behaviour("undeclared-endpoint");
    let (status, detail) = line(&report, "declared-endpoints");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("endpoint `exfiltrate` is not declared"),
        "{detail}"
    );
    let (_, report) = check_behaviour("undeclared-secret");
    let (status, detail) = line(&report, "declared-secrets");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("secret `root-password` is not declared"),
        "{detail}"
    );
}

#[test]
fn checkpoints_that_do_not_add_up_fail_the_checkpoint_check() {
    let (code, report) = check_behaviour("bad-checkpoint");
    assert_eq!(code, CHECK_FAILED);
    assert_eq!(failed(&report), ["checkpoints"], "{report:#}");
    let (_, detail) = line(&report, "checkpoints");
    assert!(
        detail.contains("`email`: the checkpoint says 0 uploaded + 0 rejected but ")
            && detail.contains(" rows done"),
        "{detail}"
    );
    // The same uploads without checkpoints are conformant: checkpoints are optional.
    let (code, report) = check_behaviour("hashed");
    assert_eq!(code, 0, "{report:#}");
    assert!(line(&report, "checkpoints").1.starts_with("none saved"));
}

#[test]
fn an_oversized_batch_fails_the_batch_size_check() {
    let (code, report) = check_behaviour("big-batch");
    assert_eq!(code, CHECK_FAILED);
    assert_eq!(failed(&report), ["batch-size"], "{report:#}");
    let (_, detail) = line(&report, "batch-size");
    assert!(
        detail.starts_with("request 1 (POST api /v1/upload) carried ")
            && detail.ends_with("fixture rows; the manifest's limits.max_batch_rows is 100"),
        "{detail}"
    );
}

#[test]
fn a_manifest_for_an_unsupported_wit_version_fails_with_name_version_and_range() {
    let dir = audex_tests::tempdir();
    for wit in ["0.0.1", "9.0.0"] {
        let wasm = fixture_copy(dir.path(), &format!("v{wit}"), |m| {
            m.replace("wit = \"0.1.0\"", &format!("wit = \"{wit}\""))
        });
        let (code, report) = check_json(dir.path(), &[wasm.to_str().unwrap()]);
        assert_eq!(code, CHECK_FAILED);
        let (status, detail) = line(&report, "wit-version");
        assert_eq!(status, "fail");
        assert!(
            detail.contains(&format!(
                "plugin `misbehave` 0.0.1 targets audex:destination@{wit}, which this host does not support (supported: 0.1.x)"
            )),
            "{detail}"
        );
        assert_eq!(line(&report, "manifest").0, "pass");
        let (status, why) = line(&report, "export-segment");
        assert_eq!(
            (status, why),
            ("skip", "not run: the WIT version is not supported")
        );
    }
}

/// The fixture component rebuilt as if against `audex:destination@9.1.0`: every interface
/// name of the package (imports, exports, the embedded world) carries the other version.
fn component_for_wit_9_1(dir: &Path) -> PathBuf {
    let wasm = fixture_copy(dir, "future", |m| m);
    let mut bytes = std::fs::read(&wasm).unwrap();
    let package = b"audex:destination";
    let mut patched = 0;
    let mut i = 0;
    while let Some(at) = bytes[i..]
        .windows(package.len())
        .position(|w| w == package)
        .map(|p| p + i)
    {
        let end = (at + 64).min(bytes.len());
        if let Some(v) = bytes[at..end].windows(6).position(|w| w == b"@0.1.0") {
            bytes[at + v + 1] = b'9';
            patched += 1;
        }
        i = at + package.len();
    }
    assert!(patched > 5, "only {patched} names patched");
    std::fs::write(&wasm, bytes).unwrap();
    wasm
}

#[test]
fn a_component_built_against_another_wit_version_is_refused_at_load() {
    let dir = audex_tests::tempdir();
    let wasm = component_for_wit_9_1(dir.path());

    // The check names the version the component really carries.
    let (code, report) = check_json(dir.path(), &[wasm.to_str().unwrap()]);
    assert_eq!(code, CHECK_FAILED);
    let (status, detail) = line(&report, "wit-version");
    assert_eq!(status, "fail");
    assert_eq!(
        detail,
        "plugin `misbehave` 0.0.1: it was built against audex:destination@9.1.0, which this host does not support (supported: 0.1.x)"
    );

    // Loading it, as a run does, refuses it with the same words.
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap();
    let source = PluginSource::from_path(&wasm).expect("the manifest itself is fine");
    let e = runtime.load(&source).err().expect("refused");
    assert!(matches!(e, PluginError::Load { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains("misbehave@0.0.1")
            && message.contains("audex:destination@9.1.0")
            && message.contains("supported: 0.1.x"),
        "{message}"
    );
    std::fs::write(dir.path().join("s.csv"), "email\na@b.co\n").unwrap();
    write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: future\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: {}\n",
            wasm.display()
        ),
    );
    let output = audex!(dir.path(), &["run", "p.yaml", "--dry-run"]);
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("audex:destination@9.1.0") && stderr.contains("supported: 0.1.x"),
        "{}",
        text(&output)
    );
}

#[test]
fn unusable_inputs_exit_3_and_a_missing_manifest_is_a_failed_check() {
    let dir = audex_tests::tempdir();
    let output = audex!(dir.path(), &["plugin", "check", "nowhere.wasm"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let output = audex!(dir.path(), &["plugin", "check", "builtin:nothing"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("built-in: facebook"));
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "settings: {}\nrowz: 1\n").unwrap();
    let output = audex!(
        dir.path(),
        &[
            "plugin",
            "check",
            FIXTURE,
            "--settings",
            bad.to_str().unwrap()
        ]
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("rowz"),
        "{}",
        text(&output)
    );

    let lonely = dir.path().join("lonely.wasm");
    std::fs::copy(FIXTURE, &lonely).unwrap();
    let (code, report) = check_json(dir.path(), &[lonely.to_str().unwrap()]);
    assert_eq!(code, CHECK_FAILED);
    let (status, detail) = line(&report, "manifest");
    assert_eq!(status, "fail");
    assert!(
        detail.contains("lonely.toml") && detail.contains("beside the component"),
        "{detail}"
    );
}
