//! The sandbox: a plugin that traps, spins or hoards memory fails its own run with its name
//! and version, and the same host process then runs the real plugin successfully.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use audex::AudexError;
use audex::plugin::{PluginError, Runtime, RuntimeOptions};
use audex::run::{RunOptions, run_pipeline};
use audex_tests::{cache_dir, repo_root, write_pipeline};

const FIXTURE: &str = env!("FIXTURE_MISBEHAVE_WASM");

fn fixture_run(runtime: &Runtime, behaviour: &str) -> AudexError {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.csv"), "email\na@b.co\n").unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: sandbox\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: {FIXTURE}\n  behaviour: {behaviour}\n"
        ),
    );
    let outcome = run_pipeline(
        runtime,
        &pipeline,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    );
    let report = outcome.report.as_ref().expect("a report even on failure");
    assert_eq!(report.status, audex::report::RunStatus::Failed);
    assert_eq!(
        outcome.exit_code(),
        audex::exit::PLUGIN_CRASHED,
        "{:?}",
        outcome.error
    );
    outcome.error.expect("the run fails")
}

fn crash_message(e: &AudexError) -> String {
    match e {
        AudexError::Plugin(p @ PluginError::Crashed { .. }) => p.to_string(),
        other => panic!("expected a plugin crash, got {other:?}"),
    }
}

#[test]
fn misbehaving_plugins_fail_their_run_and_the_host_carries_on() {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap();

    let trap = crash_message(&fixture_run(&runtime, "trap"));
    assert!(trap.contains("misbehave@0.0.1"), "{trap}");
    assert!(
        trap.contains("deliberate trap"),
        "captured stderr is attached: {trap}"
    );

    let spin = crash_message(&fixture_run(&runtime, "spin"));
    assert!(
        spin.contains("misbehave@0.0.1") && spin.contains("CPU deadline"),
        "{spin}"
    );

    let hog = crash_message(&fixture_run(&runtime, "hog"));
    assert!(hog.contains("misbehave@0.0.1"), "{hog}");
    assert!(hog.contains("memory") || hog.contains("alloc"), "{hog}");

    // The host is healthy: the fixture itself, well-behaved, and then the real plugin.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.csv"), "email\na@b.co\nc@d.co\n").unwrap();
    let ok = write_pipeline(
        dir.path(),
        "ok.yaml",
        &format!(
            "name: ok\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: {FIXTURE}\n  behaviour: ok\n"
        ),
    );
    let outcome = run_pipeline(
        &runtime,
        &ok,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.report.unwrap().rows_read, 2);

    let quickstart = repo_root().join("pipelines/quickstart.yaml");
    let outcome = run_pipeline(
        &runtime,
        &quickstart,
        &RunOptions {
            dry_run: true,
            ..RunOptions::default()
        },
    );
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.report.unwrap().rows_read, 3000);
}

#[test]
fn a_plugin_built_for_another_wit_version_is_refused_with_the_supported_range() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("old.wasm");
    std::fs::copy(FIXTURE, &wasm).unwrap();
    let manifest =
        std::fs::read_to_string(std::path::Path::new(FIXTURE).with_extension("toml")).unwrap();
    std::fs::write(
        wasm.with_extension("toml"),
        manifest.replace("wit = \"0.1.0\"", "wit = \"0.7.0\""),
    )
    .unwrap();
    let e = audex::plugin::PluginSource::from_path(&wasm).expect_err("unsupported WIT");
    let msg = e.to_string();
    assert!(
        msg.contains("misbehave") && msg.contains("0.7.0") && msg.contains("0.1.x"),
        "{msg}"
    );
}

#[test]
fn requests_outside_the_manifest_or_with_credentials_are_refused() {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap();
    for (behaviour, expected) in [
        (
            "set-auth",
            "header `Authorization` is reserved for the host",
        ),
        ("bad-path", "not a clean relative path"),
        (
            "undeclared-endpoint",
            "endpoint `exfiltrate` is not declared",
        ),
        (
            "undeclared-secret",
            "secret `root-password` is not declared",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.csv"), "email\na@b.co\n").unwrap();
        let pipeline = write_pipeline(
            dir.path(),
            "p.yaml",
            &format!(
                "name: deny\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: {FIXTURE}\n  behaviour: {behaviour}\n"
            ),
        );
        // A live run: refusals happen before anything could be sent.
        let mut secrets = audex::secrets::Secrets::default();
        secrets.insert("access-token", audex::secrets::Secret::new("fixture-token"));
        let options = RunOptions {
            secrets: Some(secrets),
            ..RunOptions::default()
        };
        let outcome = run_pipeline(&runtime, &pipeline, &options);
        let message = outcome.error.expect("the run fails").to_string();
        assert!(
            message.contains("denied:") && message.contains(expected),
            "{behaviour}: {message}"
        );
    }
}
