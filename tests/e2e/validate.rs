//! `audex validate` online and `--offline`: the destination checks (the plugin's `connect` and
//! the account's readiness from `list-accounts`) against an `audex emulator`, only when
//! credentials exist.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use audex_tests::{
    EmulatorProcess, cache_dir, empty_state_dir, spawn_emulator, text, write_pipeline,
};
use serde_json::Value;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_audex-cli"))
}

fn validate(dir: &Path, args: &[&str], token: Option<&str>) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("validate")
        .args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", empty_state_dir())
        .env("AUDEX_CONFIG", dir.join("no-config.yaml"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AUDEX_GRAPH_URL")
        .env_remove("AUDEX_SECRET_APP_SECRET");
    match token {
        Some(t) => cmd.env("AUDEX_SECRET_ACCESS_TOKEN", t),
        None => cmd.env_remove("AUDEX_SECRET_ACCESS_TOKEN"),
    };
    cmd.output().unwrap()
}

fn pipeline_for(dir: &Path, emulator: &EmulatorProcess, account: &str) -> String {
    std::fs::write(dir.join("seg.csv"), "mail\nx@example.com\n").unwrap();
    let name = format!("{account}.yaml");
    write_pipeline(
        dir,
        &name,
        &format!(
            "name: v\nsource: {{ path: seg.csv }}\ncolumns: {{ email: mail }}\ndestination:\n  plugin: facebook\n  graph_url: {}\n  ad_account: {account}\n  audience: {{ fields: [email] }}\n",
            emulator.url
        ),
    );
    name
}

#[test]
fn online_checks_the_account_and_offline_skips_the_network() {
    let emulator = spawn_emulator(bin(), &[]);
    let dir = audex_tests::tempdir();
    let dir = dir.path();
    let token = emulator.token.as_str();

    // act_1000000002 has not accepted the Custom Audience terms.
    let not_ready = pipeline_for(dir, &emulator, "act_1000000002");
    let output = validate(dir, &[&not_ready], Some(token));
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("act_1000000002 is not ready")
            && stderr.contains("terms not accepted")
            && stderr.contains("https://"),
        "the acceptance message with its URL: {stderr}"
    );
    assert!(!stderr.contains(token), "the token never shows: {stderr}");

    let output = validate(dir, &["--offline", &not_ready], Some(token));
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(": ok (") && stdout.contains("skipped (--offline)"),
        "{stdout}"
    );

    // A ready account passes online, and says what was checked.
    let ready = pipeline_for(dir, &emulator, "act_1000000001");
    let output = validate(dir, &["--json", &ready], Some(token));
    assert!(output.status.success(), "{}", text(&output));
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["ok"], true);
    let notes = line["notes"].to_string();
    assert!(
        notes.contains("credentials accepted") && notes.contains("act_1000000001 is ready"),
        "{notes}"
    );

    // An account the credentials cannot reach: a pipeline error at the key.
    let unknown = pipeline_for(dir, &emulator, "act_1000000099");
    let output = validate(dir, &[&unknown], Some(token));
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("act_1000000099.yaml:7:")
            && stderr.contains("destination.ad_account")
            && stderr.contains("not among"),
        "{stderr}"
    );

    // Without credentials the destination is not checked: a note, exit 0.
    let output = validate(dir, &[&not_ready], None);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("no credentials"),
        "{}",
        text(&output)
    );

    // A token the destination refuses: exit 4 with reconnect advice.
    let output = validate(dir, &[&ready], Some("not-a-valid-token"));
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("audex connect facebook"),
        "{}",
        text(&output)
    );
}
