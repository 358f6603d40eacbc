//! The real export against the Graph API emulator: the CLI, the built-in plugin, and an
//! independent oracle (Python's libphonenumber port) for what Facebook should hold.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::process::Command;

use audex_emulator::{Emulator, EmulatorConfig};
use audex_tests::{cache_dir, python, repo_root, text, unique_emails_csv, write_pipeline};
use serde_json::Value;

fn audex_bin() -> &'static str {
    env!("CARGO_BIN_EXE_audex-cli")
}

fn run_cli_against(
    emulator: &audex_emulator::EmulatorHandle,
    dir: &std::path::Path,
    pipeline: &str,
) -> std::process::Output {
    Command::new(audex_bin())
        .args(["run", pipeline, "--json"])
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", audex_tests::empty_state_dir())
        .env("AUDEX_GRAPH_URL", emulator.base_url())
        .env("AUDEX_SECRET_ACCESS_TOKEN", emulator.access_token())
        .env("AUDEX_SECRET_APP_SECRET", emulator.app_secret())
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn quickstart_lands_exactly_the_oracles_identifiers() {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = audex_tests::tempdir();
    let quickstart = repo_root().join("pipelines/quickstart.yaml");
    let output = run_cli_against(&emulator, dir.path(), quickstart.to_str().unwrap());
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["dry_run"], false);

    let csv = repo_root().join("pipelines/data/quickstart.csv");
    let oracle = python(
        "expected_sets.py",
        &[
            csv.to_str().unwrap(),
            "--email",
            "email_address",
            "--phone",
            "phone_number",
            "--madid",
            "mobile_ad_id",
            "--country",
            "country_code",
            "--default-country",
            "US",
        ],
    );
    assert!(oracle.status.success(), "{}", text(&oracle));
    let expected: Value = serde_json::from_slice(&oracle.stdout).unwrap();

    for audience in report["audiences"].as_array().unwrap() {
        let key = audience["key"].as_str().unwrap();
        let id = audience["audience_id"].as_str().unwrap();
        let held = emulator
            .audience(id)
            .expect("the audience exists in the emulator");
        let held: BTreeSet<&str> = held.members.iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = expected[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            held, want,
            "audience `{key}` holds exactly the oracle's identifiers"
        );
        assert_eq!(
            audience["rejected"], expected["rejected"][key],
            "rejections by reason for `{key}`"
        );
        assert_eq!(
            audience["num_received"], audience["uploaded"],
            "Facebook received every uploaded row"
        );
    }
}

#[test]
fn distinct_input_arrives_once_each_in_order_across_batches() {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = audex_tests::tempdir();
    let expected = unique_emails_csv(&dir.path().join("u.csv"), 25_000);
    let pipeline = write_pipeline(
        dir.path(),
        "u.yaml",
        "name: unique\nsource: { path: u.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  graph_url: http://overridden.by.env\n  ad_account: act_1000000001\n  audience: { fields: [email] }\n  lookalike: { country: US, ratio: 0.02 }\n",
    );
    let output = run_cli_against(&emulator, dir.path(), pipeline.to_str().unwrap());
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let audience = &report["audiences"][0];
    let held = emulator
        .audience(audience["audience_id"].as_str().unwrap())
        .unwrap();
    let mut members = held.members.clone();
    members.sort();
    assert_eq!(members, expected);
    assert_eq!(held.duplicates_received, 0);
    assert_eq!(held.batches_replayed, 0);
    assert_eq!(audience["requests"], 3);
    assert_eq!(audience["num_received"], 25_000);

    let lookalike = &audience["lookalikes"][0];
    assert_eq!(lookalike["spec"], "US 2%");
    let summary = emulator
        .audiences()
        .into_iter()
        .find(|a| a.id == lookalike["audience_id"].as_str().unwrap())
        .expect("the lookalike exists");
    assert_eq!(summary.subtype, "LOOKALIKE");

    // Uploads of one session went in order, 1, 2, 3, the last flagged.
    let seqs: Vec<u64> = emulator
        .request_log()
        .iter()
        .filter_map(|r| r.batch_seq)
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[test]
fn terms_not_accepted_stops_with_the_acceptance_url() {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = audex_tests::tempdir();
    unique_emails_csv(&dir.path().join("u.csv"), 10);
    let pipeline = write_pipeline(
        dir.path(),
        "tos.yaml",
        "name: tos\nsource: { path: u.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  ad_account: act_1000000002\n  audience: { fields: [email] }\n",
    );
    let output = run_cli_against(&emulator, dir.path(), pipeline.to_str().unwrap());
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("terms of service")
            && stderr.contains("customaudiences/tos/?act=1000000002"),
        "{stderr}"
    );
    assert!(emulator.audiences().is_empty(), "nothing was created");
}

#[test]
fn a_run_without_credentials_stops_before_reading_data() {
    let dir = audex_tests::tempdir();
    let pipeline = write_pipeline(
        dir.path(),
        "nocreds.yaml",
        "name: nocreds\nsource: { path: u.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  graph_url: http://127.0.0.1:9\n  ad_account: act_1\n  audience: { fields: [email] }\n",
    );
    unique_emails_csv(&dir.path().join("u.csv"), 10);
    let output = Command::new(audex_bin())
        .args(["run", pipeline.to_str().unwrap()])
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", audex_tests::empty_state_dir())
        .env_remove("AUDEX_SECRET_ACCESS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("audex connect facebook"),
        "{}",
        text(&output)
    );
}

#[test]
fn metas_python_sdk_works_against_audex_emulator() {
    let emulator = audex_tests::spawn_emulator(
        std::path::Path::new(audex_bin()),
        &["--extra-accounts", "5"],
    );
    let output = python(
        "sdk_smoke.py",
        &[
            "--url",
            &emulator.url,
            "--token",
            &emulator.token,
            "--app-secret",
            &emulator.app_secret,
            "--account",
            "act_1000000001",
        ],
    );
    drop(emulator);
    assert!(output.status.success(), "{}", text(&output));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        result["accounts"], 8,
        "3 seeded + 5 extra, over several pages"
    );
    assert_eq!(result["num_received"], 3);
}

#[test]
fn sensitive_names_warn_and_flagged_audiences_are_refused() {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = audex_tests::tempdir();
    unique_emails_csv(&dir.path().join("u.csv"), 200);
    let first = write_pipeline(
        dir.path(),
        "flag.yaml",
        "name: flag\nsource: { path: u.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  ad_account: act_1000000001\n  audience: { name: 'Diabetes patients {date}', fields: [email] }\n",
    );
    // Facebook flags the new audience (operation_status 471) and blocks uploads to it.
    let output = run_cli_against(&emulator, dir.path(), first.to_str().unwrap());
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("operation_status 471"),
        "{report}"
    );
    let flagged = emulator
        .audiences()
        .into_iter()
        .find(|a| a.name.starts_with("Diabetes"))
        .unwrap();

    // Adding to that audience later is refused before any upload, with the reason.
    let second = write_pipeline(
        dir.path(),
        "existing.yaml",
        &format!(
            "name: existing\nsource: {{ path: u.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  ad_account: act_1000000001\n  audience: {{ fields: [email], existing_id: {{ email: '{}' }} }}\n",
            flagged.id
        ),
    );
    let uploads_before = emulator
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/users"))
        .count();
    let output = run_cli_against(&emulator, dir.path(), second.to_str().unwrap());
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("flagged") && stderr.contains("471"),
        "{stderr}"
    );
    let uploads_after = emulator
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/users"))
        .count();
    assert_eq!(
        uploads_before, uploads_after,
        "nothing uploaded to a flagged audience"
    );
}
