//! The sandbox: a plugin that traps, spins (with or without host calls), hoards memory or
//! floods its logs fails its own run with its name and version and a clear message, and the
//! same host process then runs the real plugin successfully.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use audex::AudexError;
use audex::plugin::{PluginError, Runtime, RuntimeOptions};
use audex::run::{RunOptions, run_pipeline};
use audex_tests::{audex, cache_dir, repo_root, text, write_pipeline};

const FIXTURE: &str = env!("FIXTURE_MISBEHAVE_WASM");
const WEBHOOK: &str = env!("WEBHOOK_PLUGIN_WASM");

fn fixture_run(runtime: &Runtime, behaviour: &str) -> AudexError {
    let dir = audex_tests::tempdir();
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

    // Host calls that do not move the export forward do not keep a plugin alive.
    let clock = crash_message(&fixture_run(&runtime, "clock-spin"));
    assert!(
        clock.contains("misbehave@0.0.1") && clock.contains("CPU deadline"),
        "{clock}"
    );

    let cap = audex::plugin::imports::MAX_LOG_BYTES >> 20;
    let flood = crash_message(&fixture_run(&runtime, "log-flood"));
    assert!(
        flood.contains("misbehave@0.0.1")
            && flood.contains(&format!("wrote more than {cap} MiB of log messages")),
        "{flood}"
    );

    let stderr = crash_message(&fixture_run(&runtime, "stderr-flood"));
    assert!(stderr.contains("misbehave@0.0.1"), "{stderr}");
    assert!(
        stderr.contains("wrote more than 64 KiB to stderr"),
        "{stderr}"
    );

    // The host is healthy: the fixture itself, well-behaved, and then the real plugin.
    let dir = audex_tests::tempdir();
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
    let dir = audex_tests::tempdir();
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

/// The Facebook plugin is built against WIT 0.1.1 and hashes through the host's `digest`
/// import; the fixture is still a 0.1.0 component (no such import) and is accepted by the
/// same host, whose bindings are 0.1.1 (its runs are the rest of this file).
#[test]
fn the_facebook_plugin_uses_the_digest_import_and_a_0_1_0_plugin_still_loads() {
    let runtime = Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap();
    let imports = |source: &audex::plugin::PluginSource| {
        let component = runtime.compile(&source.wasm).unwrap();
        let wit = runtime.component_wit(source, &component).unwrap();
        let names: Vec<String> = component
            .component_type()
            .imports(runtime.engine())
            .map(|(name, _)| name.to_owned())
            .collect();
        (wit, names)
    };
    let facebook = audex::plugin::PluginSource::resolve("facebook", Path::new(".")).unwrap();
    let (wit, names) = imports(&facebook);
    assert_eq!(wit, "0.1.1");
    assert!(
        names.iter().any(|n| n == "audex:destination/digest@0.1.1"),
        "{names:?}"
    );
    // The webhook plugin is on 0.1.1 too, but hashes value by value in the plugin: an unused
    // import is left out of the component.
    let webhook = audex::plugin::PluginSource::from_path(Path::new(WEBHOOK)).unwrap();
    assert_eq!(imports(&webhook).0, "0.1.1");
    let fixture = audex::plugin::PluginSource::from_path(Path::new(FIXTURE)).unwrap();
    let (wit, names) = imports(&fixture);
    assert_eq!(wit, "0.1.0");
    assert!(names.iter().all(|n| !n.contains("digest")), "{names:?}");
    assert!(names.iter().any(|n| n == "audex:destination/http@0.1.0"));
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
        let dir = audex_tests::tempdir();
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
            state_dir: Some(dir.path().join("state")),
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

/// Peak resident memory of a `audex run --dry-run` of the fixture with `behaviour`, from its
/// report, and the run's output.
fn cli_peak_rss(behaviour: &str) -> (u64, std::process::Output) {
    let dir = audex_tests::tempdir();
    std::fs::write(dir.path().join("s.csv"), "email\na@b.co\n").unwrap();
    write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: rss\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: {FIXTURE}\n  behaviour: {behaviour}\n"
        ),
    );
    let output = audex!(dir.path(), &["run", "p.yaml", "--dry-run", "--out", "out"]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    (report["peak_rss_bytes"].as_u64().unwrap(), output)
}

#[test]
fn a_log_flood_fails_the_run_without_growing_the_host() {
    let (baseline, ok) = cli_peak_rss("ok");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let (flooded, output) = cli_peak_rss("log-flood");
    assert_eq!(
        output.status.code(),
        Some(audex::exit::PLUGIN_CRASHED),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("wrote more than 16 MiB of log messages") && !stderr.contains("panicked"),
        "{}",
        text(&output)
    );
    // What reached the terminal is bounded too: each message is cut to 4 KiB.
    assert!(stderr.len() < 4 << 20, "{} bytes of stderr", stderr.len());
    // The flood (16 MiB in 64 KiB messages) is never held: the host's peak stays within a
    // few MiB of a clean run's.
    assert!(
        flooded < baseline + (24 << 20),
        "peak RSS {flooded} after a log flood vs {baseline} for a clean run"
    );
}
