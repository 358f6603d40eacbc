//! Resume after a crash: `audex run` killed with SIGKILL at random points of its upload, then
//! started again until it succeeds, against one `audex emulator` process. After each scenario
//! the emulator holds exactly the expected identifiers, no identifier arrived in two different
//! batches (`duplicates_received` 0; replays of one batch are allowed), and the final report
//! accounts for every row over the whole logical run. Also: a partial export (exit 6) and its
//! resume, an expired upload session, `--fresh`, changed input, and `audex runs`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use audex::http::live::HttpPolicy;
use audex::plugin::{Runtime, RuntimeOptions};
use audex::report::{RunReport, RunStatus};
use audex::run::{RunOptions, run_pipeline};
use audex::secrets::{Secret, Secrets};
use audex_emulator::{Emulator, EmulatorConfig, FaultSpec};
use audex_tests::{EmulatorProcess, cache_dir, sha256_hex, spawn_emulator, write_pipeline};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_audex-cli");

/// A segment with e-mails and mobile advertiser ids, some of each invalid, and the sets
/// Facebook should end up with.
struct Segment {
    rows: usize,
    emails: BTreeSet<String>,
    madids: BTreeSet<String>,
    /// Multi-key members (`EMAIL=..|MADID=..` over the usable cells of each row).
    multi: BTreeSet<String>,
}

fn write_segment(path: &Path, rows: usize) -> Segment {
    let mut text = String::from("email,madid\n");
    let mut seg = Segment {
        rows,
        emails: BTreeSet::new(),
        madids: BTreeSet::new(),
        multi: BTreeSet::new(),
    };
    for i in 0..rows {
        let email = if i % 33 == 0 {
            format!("not-an-email-{i}")
        } else {
            format!("Buyer{i}@Example.com")
        };
        let madid = if i % 29 == 0 {
            format!("xyz{i}")
        } else {
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                i,
                i % 65536,
                i % 4096,
                (i * 7) % 4096,
                i * 31
            )
        };
        text.push_str(&format!("{email},{madid}\n"));
        let mut cells = Vec::new();
        if i % 33 != 0 {
            let digest = sha256_hex(&email.to_lowercase());
            cells.push(format!("EMAIL={digest}"));
            seg.emails.insert(digest);
        }
        if i % 29 != 0 {
            cells.push(format!("MADID={madid}"));
            seg.madids.insert(madid);
        }
        if !cells.is_empty() {
            seg.multi.insert(cells.join("|"));
        }
    }
    std::fs::write(path, text).unwrap();
    seg
}

fn pipeline_yaml(name: &str, graph_url: &str, fields: &str, multi_key: bool) -> String {
    format!(
        "name: {name}\nsource: {{ path: seg.csv, batch_rows: 4096 }}\ncolumns: {{ email: email, madid: madid }}\ndestination:\n  plugin: facebook\n  graph_url: {graph_url}\n  ad_account: act_1000000001\n  audience: {{ fields: [{fields}], multi_key: {multi_key} }}\n"
    )
}

/// One HTTP client for the emulator's control endpoints (rustls with the ring provider, as
/// audex itself uses).
fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::new()
    })
}

fn admin(url: &str, path: &str) -> Value {
    client()
        .get(format!("{url}/_emulator/{path}"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn request_count(url: &str) -> usize {
    admin(url, "requests").as_array().map_or(0, Vec::len)
}

/// `audex run` as a child process with its own state directory.
fn start_run(dir: &Path, state: &Path, emulator: &EmulatorProcess, out: &str) -> Child {
    Command::new(BIN)
        .args(["-q", "run", "p.yaml", "--out", out])
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", state)
        .env("AUDEX_CONFIG", state.join("config.yaml"))
        .env("AUDEX_SECRET_ACCESS_TOKEN", &emulator.token)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn cli(dir: &Path, state: &Path, emulator: &EmulatorProcess, args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", state)
        .env("AUDEX_CONFIG", state.join("config.yaml"))
        .env("AUDEX_SECRET_ACCESS_TOKEN", &emulator.token)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    audex_tests::record_output(&args.join(" "), &output);
    output
}

/// Lets the emulator finish (and log) a request the killed process left in flight, so it is
/// not counted as the next attempt's.
fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

/// A small deterministic generator, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// What a kill-and-restart scenario did.
struct Killed {
    kills: usize,
    attempts: usize,
    report: RunReport,
}

/// Runs the pipeline in `dir`, killing it with SIGKILL after a random number of Graph
/// requests (`kills` times, unless it finishes first), then lets it finish.
fn kill_and_restart(
    dir: &Path,
    state: &Path,
    emulator: &EmulatorProcess,
    kills: usize,
    seed: u64,
) -> Killed {
    let mut rng = Rng(seed);
    let mut killed = 0;
    let mut attempts = 0;
    let mut finished_out = None;
    while killed < kills {
        attempts += 1;
        let before = request_count(&emulator.url);
        // Kill points spread over the whole upload: after 1..=5 more Graph requests (the
        // preflight read, the creations, any upload, answered or still in flight).
        let target = before + 1 + rng.below(5) as usize;
        let mut child = start_run(dir, state, emulator, &format!("out{attempts}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut finished = false;
        loop {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            if request_count(&emulator.url) >= target {
                break;
            }
            assert!(Instant::now() < deadline, "attempt {attempts} hangs");
            std::thread::sleep(Duration::from_millis(2));
        }
        if finished {
            let status = child.wait_with_output().unwrap();
            assert!(
                status.status.success(),
                "attempt {attempts} failed by itself: {}",
                String::from_utf8_lossy(&status.stderr)
            );
            finished_out = Some(format!("out{attempts}"));
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        settle();
        killed += 1;
    }
    // The last attempt runs to the end (unless one already did).
    let out = match finished_out {
        Some(out) => out,
        None => {
            attempts += 1;
            let out = format!("out{attempts}");
            let child = start_run(dir, state, emulator, &out);
            let output = child.wait_with_output().unwrap();
            audex_tests::record_output("run (final attempt)", &output);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "final attempt (seed {seed}): {stderr}"
            );
            out
        }
    };
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dir.join(&out).join("report.json")).unwrap())
            .unwrap();
    Killed {
        kills: killed,
        attempts,
        report,
    }
}

/// The emulator holds exactly `expected` in the report's audience `key`, nothing arrived in
/// two batches, and audiences left behind by a kill between creation and journaling are empty.
fn assert_audience(
    emulator: &EmulatorProcess,
    report: &RunReport,
    key: &str,
    expected: &BTreeSet<String>,
) {
    let audience = report
        .audiences
        .iter()
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("no audience {key} in the report"));
    let detail = admin(
        &emulator.url,
        &format!("audiences/{}", audience.audience_id),
    );
    let members: BTreeSet<String> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(members.len(), expected.len(), "{key}: member count");
    assert!(
        &members == expected,
        "{key}: members differ from the expected set"
    );
    assert_eq!(
        detail["duplicates_received"], 0,
        "{key}: an identifier arrived twice"
    );
    assert_eq!(
        audience.uploaded as usize,
        expected.len(),
        "{key}: uploaded"
    );
}

fn assert_no_stray_members(emulator: &EmulatorProcess, report: &RunReport) {
    let reported: BTreeSet<&str> = report
        .audiences
        .iter()
        .map(|a| a.audience_id.as_str())
        .collect();
    for a in admin(&emulator.url, "audiences").as_array().unwrap() {
        let id = a["id"].as_str().unwrap();
        if !reported.contains(id) {
            let detail = admin(&emulator.url, &format!("audiences/{id}"));
            assert_eq!(
                detail["members"].as_array().map_or(0, Vec::len),
                0,
                "audience {id}, orphaned by a kill, received members"
            );
        }
    }
}

fn seed() -> u64 {
    std::env::var("AUDEX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

#[test]
fn sigkill_at_random_points_then_resume_loses_and_duplicates_nothing() {
    let seed = seed();
    eprintln!("seed {seed} (AUDEX_TEST_SEED replays it)");
    let emulator = spawn_emulator(Path::new(BIN), &["--latency-ms", "25"]);
    let dir = audex_tests::tempdir();
    let state = dir.path().join("state");
    let seg = write_segment(&dir.path().join("seg.csv"), 90_000);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &pipeline_yaml("killed", &emulator.url, "email, madid", false),
    );

    let outcome = kill_and_restart(dir.path(), &state, &emulator, 5, seed);
    let report = &outcome.report;
    eprintln!(
        "kills {} attempts {} final attempt number {:?} rows {} members checked {}",
        outcome.kills,
        outcome.attempts,
        report.attempt,
        seg.rows,
        seg.emails.len() + seg.madids.len()
    );
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(report.rows_read as usize, seg.rows);
    report.check_accounting().unwrap();
    assert_audience(&emulator, report, "email", &seg.emails);
    assert_audience(&emulator, report, "madid", &seg.madids);
    assert_no_stray_members(&emulator, report);
    assert!(outcome.kills >= 1, "no kill landed before the run finished");
    assert!(
        report.attempt.unwrap() >= 2,
        "the final attempt did not resume anything"
    );

    // `audex runs` lists every attempt: the killed ones as interrupted.
    let runs = cli(dir.path(), &state, &emulator, &["runs", "--json"]);
    assert!(runs.status.success());
    let rows: Vec<Value> = serde_json::from_slice(&runs.stdout).unwrap();
    // An attempt killed before it reached the journal (a late answer to the previous attempt
    // can trigger the next kill) is not listed; every listed one but the last was killed.
    assert!(
        rows.len() >= 2 && rows.len() <= outcome.attempts,
        "{rows:?}"
    );
    assert_eq!(rows[0]["status"], "succeeded");
    let interrupted = rows.iter().filter(|r| r["status"] == "interrupted").count();
    assert_eq!(interrupted, rows.len() - 1, "{rows:?}");
    let table = cli(dir.path(), &state, &emulator, &["runs"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("interrupted"));
}

#[test]
fn sigkill_during_a_multi_key_export_then_resume() {
    let seed = seed().rotate_left(17) | 1;
    eprintln!("seed {seed} (AUDEX_TEST_SEED replays it)");
    let emulator = spawn_emulator(Path::new(BIN), &["--latency-ms", "25"]);
    let dir = audex_tests::tempdir();
    let state = dir.path().join("state");
    let seg = write_segment(&dir.path().join("seg.csv"), 82_000);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &pipeline_yaml("killed_multi", &emulator.url, "email, madid", true),
    );

    let outcome = kill_and_restart(dir.path(), &state, &emulator, 4, seed);
    let report = &outcome.report;
    eprintln!(
        "kills {} attempts {} final attempt number {:?} rows {} members checked {}",
        outcome.kills,
        outcome.attempts,
        report.attempt,
        seg.rows,
        seg.multi.len()
    );
    assert_eq!(report.status, RunStatus::Succeeded);
    report.check_accounting().unwrap();
    assert_audience(&emulator, report, "multi", &seg.multi);
    assert_no_stray_members(&emulator, report);
    assert!(outcome.kills >= 1);
}

#[test]
fn changed_input_is_refused_until_fresh() {
    let emulator = spawn_emulator(Path::new(BIN), &["--latency-ms", "25"]);
    let dir = audex_tests::tempdir();
    let state = dir.path().join("state");
    write_segment(&dir.path().join("seg.csv"), 30_000);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &pipeline_yaml("changed", &emulator.url, "email", false),
    );

    // Kill once at least one batch is acknowledged.
    let mut child = start_run(dir.path(), &state, &emulator, "out1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while admin(&emulator.url, "requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["batch_seq"].is_u64() && r["status"] == 200)
        .count()
        < 1
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    settle();

    let seg = write_segment(&dir.path().join("seg.csv"), 30_001);
    let refused = cli(dir.path(), &state, &emulator, &["-q", "run", "p.yaml"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("interrupted run") && stderr.contains("--fresh"),
        "{stderr}"
    );

    let fresh = cli(
        dir.path(),
        &state,
        &emulator,
        &["-q", "run", "p.yaml", "--fresh", "--out", "out2"],
    );
    assert!(
        fresh.status.success(),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("out2/report.json")).unwrap())
            .unwrap();
    assert_eq!(report.attempt, Some(1), "--fresh starts a new logical run");
    assert_audience(&emulator, &report, "email", &seg.emails);
    let runs = cli(dir.path(), &state, &emulator, &["runs", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&runs.stdout).unwrap();
    assert!(rows.iter().any(|r| r["status"] == "abandoned"), "{rows:?}");
}

/// The expired-session rule: a resumed run whose session is older than the window continues
/// with adds in a new session (batch_seq from 1) instead of sending into the closed one.
#[test]
fn an_expired_session_continues_in_a_new_session() {
    let emulator = spawn_emulator(Path::new(BIN), &["--latency-ms", "25"]);
    let dir = audex_tests::tempdir();
    let state = dir.path().join("state");
    let seg = write_segment(&dir.path().join("seg.csv"), 50_000);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &pipeline_yaml("expired", &emulator.url, "email", false),
    );

    let uploads = |url: &str| -> Vec<Value> {
        admin(url, "requests")
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["batch_seq"].is_u64())
            .cloned()
            .collect()
    };
    let mut child = start_run(dir.path(), &state, &emulator, "out1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while uploads(&emulator.url)
        .iter()
        .filter(|r| r["status"] == 200)
        .count()
        < 2
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    settle();
    let first_session = uploads(&emulator.url)[0]["session_id"].clone();
    let sent_before = uploads(&emulator.url).len();

    // Two hours pass: Facebook's clock and the journal's session start move apart.
    client()
        .post(format!("{}/_emulator/clock", emulator.url))
        .body(r#"{"advance_s": 7200}"#)
        .send()
        .unwrap();
    age_sessions(&state.join("journal.sqlite3"), 7_200_000);

    let out = cli(
        dir.path(),
        &state,
        &emulator,
        &["-q", "run", "p.yaml", "--out", "out2"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = uploads(&emulator.url);
    let resumed = &after[sent_before..];
    assert!(!resumed.is_empty());
    assert_ne!(
        resumed[0]["session_id"], first_session,
        "the closed session was reused"
    );
    assert_eq!(resumed[0]["batch_seq"], 1);
    assert!(
        resumed.iter().all(|r| r["status"] == 200),
        "Facebook refused a resumed batch: {resumed:?}"
    );
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("out2/report.json")).unwrap())
            .unwrap();
    report.check_accounting().unwrap();
    assert_eq!(report.attempt, Some(2));
    let audience = &report.audiences[0];
    let detail = admin(
        &emulator.url,
        &format!("audiences/{}", audience.audience_id),
    );
    let members: BTreeSet<String> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert!(
        members == seg.emails,
        "members differ from the expected set"
    );
    // Only the batch in flight at the kill can arrive twice (a new session cannot replay it).
    assert!(detail["duplicates_received"].as_u64().unwrap() <= 10_000);
}

/// Moves every journaled session start back by `ms` (as if the crash were that long ago).
fn age_sessions(journal: &Path, ms: i64) {
    let status = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('UPDATE audiences SET session_started_ms = session_started_ms - ?', (int(sys.argv[2]),)); c.commit()",
        ])
        .arg(journal)
        .arg(ms.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn runtime() -> Runtime {
    Runtime::new(RuntimeOptions {
        cache_dir: Some(cache_dir()),
        max_memory_mib: 2048,
    })
    .unwrap()
}

/// One audience fails (Facebook refuses its uploads), the other is filled: exit 6 and a
/// `partial` report; the next run resumes only the unfinished audience.
#[test]
fn a_partial_export_exits_6_and_the_next_run_finishes_it() {
    let emulator = Emulator::start(EmulatorConfig::default()).unwrap();
    let dir = audex_tests::tempdir();
    let seg = write_segment(&dir.path().join("seg.csv"), 25_000);
    // An existing audience for the madids, whose uploads Facebook refuses.
    let created: Value = client()
        .post(format!("{}/v25.0/act_1000000001/customaudiences", emulator.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "name=existing+madids&subtype=CUSTOM&customer_file_source=USER_PROVIDED_ONLY&access_token={}",
            emulator.access_token()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let madid_id = created["id"].as_str().unwrap().to_owned();
    emulator.inject(
        format!("code:100@POST:{madid_id}/users*always")
            .parse::<FaultSpec>()
            .unwrap(),
    );
    write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: partial\nsource: {{ path: seg.csv, batch_rows: 4096 }}\ncolumns: {{ email: email, madid: madid }}\ndestination:\n  plugin: facebook\n  graph_url: {}\n  ad_account: act_1000000001\n  audience:\n    fields: [email, madid]\n    existing_id: {{ madid: \"{madid_id}\" }}\n",
            emulator.base_url()
        ),
    );
    let runtime = runtime();
    let mut secrets = Secrets::default();
    secrets.insert("access-token", Secret::new(emulator.access_token()));
    let options = RunOptions {
        secrets: Some(secrets),
        state_dir: Some(dir.path().join("state")),
        http: HttpPolicy {
            attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        },
        ..RunOptions::default()
    };
    let pipeline: PathBuf = dir.path().join("p.yaml");
    let first = run_pipeline(&runtime, &pipeline, &options);
    audex_tests::record_outcome(&first);
    assert_eq!(
        first.exit_code(),
        6,
        "{:?}",
        first.error.as_ref().map(ToString::to_string)
    );
    let report = first.report.as_ref().unwrap();
    assert_eq!(report.status, RunStatus::Partial);
    report.check_accounting().unwrap();
    let email = report.audiences.iter().find(|a| a.key == "email").unwrap();
    let madid = report.audiences.iter().find(|a| a.key == "madid").unwrap();
    assert!(email.error.is_none());
    assert_eq!(email.uploaded as usize, seg.emails.len());
    assert!(
        madid.error.as_ref().unwrap().contains("code 100"),
        "{:?}",
        madid.error
    );
    assert_eq!(madid.uploaded, 0);
    assert_eq!(madid.pending + madid.rejected_total(), report.rows_read);
    let email_id = email.audience_id.clone();
    let email_uploads = |log: &[audex_emulator::LoggedRequest]| {
        log.iter()
            .filter(|r| r.path.contains(&format!("{email_id}/users")))
            .count()
    };
    let email_requests = email_uploads(&emulator.request_log());

    emulator.clear_faults();
    let second = run_pipeline(&runtime, &pipeline, &options);
    audex_tests::record_outcome(&second);
    assert_eq!(
        second.exit_code(),
        0,
        "{:?}",
        second.error.as_ref().map(ToString::to_string)
    );
    let report = second.report.as_ref().unwrap();
    assert_eq!(report.attempt, Some(2));
    assert_eq!(report.run_id, first.report.as_ref().unwrap().run_id);
    report.check_accounting().unwrap();
    assert_eq!(
        email_uploads(&emulator.request_log()),
        email_requests,
        "the finished audience was uploaded again"
    );
    for (key, expected) in [("email", &seg.emails), ("madid", &seg.madids)] {
        let a = report.audiences.iter().find(|a| a.key == key).unwrap();
        let detail = emulator.audience(&a.audience_id).unwrap();
        let members: BTreeSet<String> = detail.members.into_iter().collect();
        assert!(&members == expected, "{key}: members differ");
        assert_eq!(detail.duplicates_received, 0, "{key}");
        assert_eq!(a.uploaded as usize, expected.len(), "{key}");
    }
}

/// While one process exports a pipeline, a second run of it is refused (it would interleave
/// batches in the same session); once the first has ended, nothing is left to resume.
#[test]
fn a_second_run_of_a_pipeline_being_exported_is_refused() {
    let emulator = spawn_emulator(Path::new(BIN), &["--latency-ms", "25"]);
    let dir = audex_tests::tempdir();
    let state = dir.path().join("state");
    let seg = write_segment(&dir.path().join("seg.csv"), 60_000);
    write_pipeline(
        dir.path(),
        "p.yaml",
        &pipeline_yaml("busy", &emulator.url, "email", false),
    );
    let first = start_run(dir.path(), &state, &emulator, "out1");
    // The first run has journaled its attempt once it talks to Facebook.
    let deadline = Instant::now() + Duration::from_secs(60);
    while request_count(&emulator.url) < 1 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = cli(dir.path(), &state, &emulator, &["-q", "run", "p.yaml"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("is already being exported"), "{stderr}");

    let output = first.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: RunReport =
        serde_json::from_slice(&std::fs::read(dir.path().join("out1/report.json")).unwrap())
            .unwrap();
    assert_audience(&emulator, &report, "email", &seg.emails);
}
