//! Every error class behaves as stated, driven by the emulator's fault injection: transport
//! failures are retried by the host (idempotent requests only), Facebook's rate-limit and
//! transient codes by the plugin, and the rest stop the run with Facebook's message.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use audex::http::live::HttpPolicy;
use audex::plugin::{Runtime, RuntimeOptions};
use audex::report::RunStatus;
use audex::run::{RunOptions, RunOutcome, run_pipeline};
use audex::secrets::{Secret, Secrets};
use audex_emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSpec};
use audex_tests::{cache_dir, unique_emails_csv, write_pipeline};

const ROWS: usize = 25_000;

struct Scenario {
    emulator: EmulatorHandle,
    dir: audex_tests::TestDir,
    expected: Vec<String>,
}

fn scenario(faults: &[&str]) -> Scenario {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    for f in faults {
        emulator.inject(f.parse::<FaultSpec>().unwrap());
    }
    let dir = audex_tests::tempdir();
    let expected = unique_emails_csv(&dir.path().join("u.csv"), ROWS);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: faults\nsource: {{ path: u.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  graph_url: {}\n  ad_account: act_1000000001\n  audience: {{ fields: [email] }}\n  retry: {{ attempts: 4, initial_delay_ms: 10 }}\n",
            emulator.base_url()
        ),
    );
    Scenario {
        emulator,
        dir,
        expected,
    }
}

fn run(runtime: &Runtime, s: &Scenario) -> RunOutcome {
    let mut secrets = Secrets::default();
    secrets.insert("access-token", Secret::new(s.emulator.access_token()));
    secrets.insert("app-secret", Secret::new(s.emulator.app_secret()));
    let options = RunOptions {
        secrets: Some(secrets),
        http: HttpPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            timeout: Duration::from_millis(800),
        },
        max_pause: Some(Duration::from_millis(20)),
        state_dir: Some(s.dir.path().join("state")),
        ..RunOptions::default()
    };
    let outcome = run_pipeline(runtime, &s.dir.path().join("p.yaml"), &options);
    audex_tests::record_outcome(&outcome);
    outcome
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap()
}

/// The run succeeded and the emulator holds every row exactly once.
fn assert_complete(s: &Scenario, outcome: &RunOutcome, label: &str) {
    assert!(
        outcome.error.is_none(),
        "{label}: {:?}",
        outcome.error.as_ref().map(ToString::to_string)
    );
    let report = outcome.report.as_ref().unwrap();
    assert_eq!(report.status, RunStatus::Succeeded, "{label}");
    let audience = &report.audiences[0];
    assert_eq!(audience.uploaded as usize, ROWS, "{label}");
    let held = s.emulator.audience(&audience.audience_id).unwrap();
    let mut members = held.members.clone();
    members.sort();
    assert!(
        members == s.expected,
        "{label}: the emulator's set differs from the input"
    );
    assert_eq!(
        held.duplicates_received, 0,
        "{label}: no identifier in two different batches"
    );
    assert_eq!(audience.num_received, Some(ROWS as u64), "{label}");
}

fn errors_seen(s: &Scenario, path_part: &str) -> usize {
    s.emulator
        .request_log()
        .iter()
        .filter(|r| r.path.contains(path_part) && r.status.is_some_and(|st| st >= 400))
        .count()
}

#[test]
fn transient_failures_are_retried_once_by_the_right_layer_and_nothing_is_lost() {
    let runtime = runtime();
    for (fault, path_part, min_errors) in [
        ("status:503@users*2", "/users", 2), // host: HTTP 5xx
        ("code:2@users*2", "/users", 2),     // host: Graph code 2 comes as HTTP 500
        ("code:17@users*2", "/users", 2),    // plugin: user request limit
        ("code:613@users*1", "/users", 1),   // plugin: ad account call limit
        ("code:4@users*1", "/users", 1),     // plugin: app limit
        ("code:80003@users*1", "/users", 1), // plugin: custom audience BUC limit, header timing
        ("status:503@GET:act_1000000001*1", "act_1000000001", 1), // host: idempotent read
    ] {
        let s = scenario(&[fault]);
        let started = std::time::Instant::now();
        let outcome = run(&runtime, &s);
        eprintln!("{fault}: {:?}", started.elapsed());
        assert_complete(&s, &outcome, fault);
        assert!(
            errors_seen(&s, path_part) >= min_errors,
            "{fault}: the fault fired"
        );
    }
}

#[test]
fn lost_answers_and_timeouts_are_replays_not_duplicates() {
    let runtime = runtime();
    for fault in ["drop@users*1", "drop-before@users*1", "slow:1500ms@users*1"] {
        let s = scenario(&[fault]);
        let outcome = run(&runtime, &s);
        assert_complete(&s, &outcome, fault);
        if fault.starts_with("drop@") {
            let audience = &outcome.report.as_ref().unwrap().audiences[0];
            let held = s.emulator.audience(&audience.audience_id).unwrap();
            assert_eq!(held.batches_replayed, 1, "the re-sent batch is a replay");
        }
    }
}

#[test]
fn a_revoked_token_stops_the_run_with_reconnect_advice() {
    let runtime = runtime();
    let s = scenario(&["revoke-after:3"]);
    let outcome = run(&runtime, &s);
    assert_eq!(outcome.exit_code(), audex::exit::AUTH);
    let message = outcome.error.unwrap().to_string();
    assert!(
        message.contains("code 190") && message.contains("audex connect"),
        "{message}"
    );
    let report = outcome.report.unwrap();
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.error.unwrap().kind, "auth");
}

#[test]
fn fatal_graph_errors_fail_with_the_message_and_trace_id() {
    let runtime = runtime();
    let s = scenario(&["code:100@POST:customaudiences*1"]);
    let outcome = run(&runtime, &s);
    assert_eq!(outcome.exit_code(), audex::exit::DESTINATION);
    let message = outcome.error.unwrap().to_string();
    assert!(
        message.contains("code 100") && message.contains("fbtrace_id"),
        "{message}"
    );
    assert_eq!(errors_seen(&s, "customaudiences"), 1, "not retried");
}

#[test]
fn non_idempotent_creates_are_not_retried_by_the_host() {
    let runtime = runtime();
    let s = scenario(&["status:503@POST:customaudiences*1"]);
    let outcome = run(&runtime, &s);
    assert_eq!(
        outcome.exit_code(),
        audex::exit::DESTINATION,
        "{:?}",
        outcome.error
    );
    let creates = s
        .emulator
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("customaudiences"))
        .count();
    assert_eq!(
        creates, 1,
        "a create could duplicate an audience, so it is sent once"
    );
}

#[test]
fn persistent_rate_limiting_gives_up_with_a_rate_limited_error() {
    let runtime = runtime();
    let s = scenario(&["code:17@users*always"]);
    let outcome = run(&runtime, &s);
    assert_eq!(outcome.exit_code(), audex::exit::DESTINATION);
    let message = outcome.error.unwrap().to_string();
    assert!(
        message.contains("rate limited") && message.contains("after 4 attempts"),
        "{message}"
    );
}
