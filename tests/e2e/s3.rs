//! Object-storage sources (Parquet, CSV, Arrow IPC) against a real S3-compatible server on
//! loopback: moto's server mode (`moto[server]` from tests/python/requirements.txt), started
//! here. The test fails, never skips, when moto cannot start.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use audex_tests::{cache_dir, empty_state_dir, read_jsonl, sha256_hex, text, write_pipeline};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde_json::Value;

const BUCKET: &str = "audex-segments";
const ACCESS_KEY: &str = "AKIDAUDEXTEST0001";
const SECRET_KEY: &str = "audex-test-secret-key-0123456789";

/// A moto server process, killed when dropped.
struct Moto {
    url: String,
    child: Child,
    _log_dir: audex_tests::TestDir,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Starts `python3 -m moto.server` on a free loopback port and waits until it answers.
fn start_moto() -> Moto {
    let log_dir = audex_tests::tempdir();
    let log_path = log_dir.path().join("moto.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let port = free_port();
    let mut child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("python3 is needed to run moto's S3 server");
    let url = format!("http://127.0.0.1:{port}");
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "moto's server exited ({status}) instead of starting; install it with `python3 -m pip install -r tests/python/requirements.txt`\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        if let Ok(r) = client.get(format!("{url}/moto-api/")).send()
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "moto's server did not answer on {url} within 60 s\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        url,
        child,
        _log_dir: log_dir,
    }
}

impl Moto {
    fn create_bucket(&self, bucket: &str) {
        let r = http().put(format!("{}/{bucket}", self.url)).send().unwrap();
        assert!(r.status().is_success(), "creating {bucket}: {}", r.status());
    }

    fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        let r = http()
            .put(format!("{}/{bucket}/{key}", self.url))
            .body(body)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "uploading {key}: {}", r.status());
    }
}

fn email(i: usize) -> String {
    format!("customer{i}@example.com")
}

fn madid(i: usize) -> String {
    format!("00000000-0000-4000-8000-{:012x}", i + 1)
}

/// A Parquet file of `rows` rows (email, madid, and a wide column nobody maps) in row groups
/// of 10,000 rows.
fn parquet_bytes(rows: usize) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("notes", DataType::Utf8, true),
        Field::new("email_address", DataType::Utf8, true),
        Field::new("mobile_ad_id", DataType::Utf8, true),
    ]));
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
    for start in (0..rows).step_by(5_000) {
        let end = (start + 5_000).min(rows);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (start..end).map(|i| format!("{i:0>400}")),
                )),
                Arc::new(StringArray::from_iter_values((start..end).map(email))),
                Arc::new(StringArray::from_iter_values((start..end).map(madid))),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    out
}

/// An Arrow IPC file (the random-access format) of `rows` rows, in batches of 1,000.
fn arrow_file_bytes(rows: usize) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("email_address", DataType::Utf8, true),
        Field::new("mobile_ad_id", DataType::Utf8, true),
    ]));
    let mut writer = arrow_ipc::writer::FileWriter::try_new(Vec::new(), &schema).unwrap();
    for start in (0..rows).step_by(1_000) {
        let end = (start + 1_000).min(rows);
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values((start..end).map(email))),
                Arc::new(StringArray::from_iter_values((start..end).map(madid))),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
    }
    writer.finish().unwrap();
    writer.into_inner().unwrap()
}

fn csv_bytes(rows: std::ops::Range<usize>) -> Vec<u8> {
    let mut text = String::from("id,email_address,mobile_ad_id\n");
    for i in rows {
        text.push_str(&format!("{i},{},{}\n", email(i), madid(i)));
    }
    text.into_bytes()
}

/// Runs the CLI with credentials for moto in the environment (and nothing else of AWS's).
fn audex(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex-cli"));
    cmd.args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", empty_state_dir())
        .env("AUDEX_CONFIG", dir.join("no-config.yaml"))
        .env("NO_COLOR", "1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("RUST_LOG")
        .env_remove("AUDEX_SECRET_ACCESS_TOKEN");
    for var in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT",
        "AWS_ALLOW_HTTP",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !all.contains(SECRET_KEY),
        "the secret key leaked: {}",
        text(&output)
    );
    output
}

fn pipeline(dir: &Path, name: &str, source: &str) -> PathBuf {
    write_pipeline(
        dir,
        name,
        &format!(
            "name: s3-{name}\nsource:\n{source}\ncolumns:\n  email: email_address\n  madid: mobile_ad_id\ndestination:\n  plugin: facebook\n  ad_account: act_1000000001\n  audience:\n    name: \"{{pipeline}} {{field}}\"\n    fields: [email, madid]\n"
        ),
    )
}

/// Every string in the upload bodies of the dry run's request log.
fn uploaded_values(requests: &[Value]) -> BTreeSet<String> {
    fn strings(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            Value::Object(map) => map.values().for_each(|i| strings(i, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for r in requests {
        if r["path"].as_str().is_some_and(|p| p.ends_with("/users")) {
            strings(&r["body"]["payload"]["data"], &mut out);
        }
    }
    out
}

/// Runs a dry run and checks the report's counts and the digests of a few known rows.
fn dry_run_reads_every_row(
    dir: &Path,
    pipeline: &Path,
    rows: usize,
    env: &[(&str, &str)],
) -> Output {
    let out = dir.join(format!(
        "out-{}",
        pipeline.file_stem().unwrap().to_string_lossy()
    ));
    let output = audex(
        dir,
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--dry-run",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
        env,
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["rows_read"], rows as u64, "{report:#}");
    let audiences = report["audiences"].as_array().unwrap();
    assert_eq!(audiences.len(), 2);
    for a in audiences {
        assert_eq!(a["uploaded"], rows as u64, "{a:#}");
        let rejected: u64 = a["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(rejected, 0, "{a:#}");
    }
    let sent = uploaded_values(&read_jsonl(&out.join("requests.jsonl")));
    for i in [0, 1, rows / 2, rows - 1] {
        assert!(
            sent.contains(&sha256_hex(&email(i))),
            "row {i}'s e-mail digest"
        );
        assert!(sent.contains(&madid(i)), "row {i}'s mobile ad id");
    }
    assert!(
        !sent.contains(&email(0)),
        "e-mails leave hashed, never in clear"
    );
    output
}

#[test]
fn parquet_and_csv_sources_read_from_an_s3_compatible_server() {
    let moto = start_moto();
    moto.create_bucket(BUCKET);
    let rows = 25_000;
    moto.put(BUCKET, "exports/2026/segment.parquet", parquet_bytes(rows));
    moto.put(BUCKET, "exports/2026/notes.txt", b"not data".to_vec());
    moto.put(BUCKET, "csv/part-1.csv", csv_bytes(0..1_200));
    moto.put(BUCKET, "csv/part-2.csv", csv_bytes(1_200..3_000));
    moto.put(BUCKET, "csv/_SUCCESS", Vec::new());
    moto.put(BUCKET, "ipc/segment.arrow", arrow_file_bytes(4_500));

    let dir = audex_tests::tempdir();
    let dir = dir.path();

    // Parquet, a glob; endpoint and plain-http consent from the pipeline's `source.s3`.
    let s3_keys = format!(
        "  s3:\n    endpoint: \"{}\"\n    allow_http: true\n    region: us-east-1",
        moto.url
    );
    let parquet = pipeline(
        dir,
        "parquet.yaml",
        &format!("  path: s3://{BUCKET}/exports/*/*.parquet\n{s3_keys}"),
    );
    let output = audex(dir, &["validate", parquet.to_str().unwrap()], &[]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(": ok (") && stdout.contains("objects listed"),
        "{stdout}"
    );
    let output = dry_run_reads_every_row(dir, &parquet, rows, &[("RUST_LOG", "audex=debug")]);
    // Range requests: the footer and the two mapped columns, not the wide unmapped one.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("bytes fetched"))
        .unwrap_or_else(|| panic!("no fetch summary in the log:\n{stderr}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let (fetched, size) = (numbers[0], numbers[1]);
    assert!(
        fetched > 0 && fetched * 3 < size,
        "only part of the object travels: {line}"
    );

    // One object by key, the endpoint from the standard AWS variables.
    let aws_env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let single = pipeline(
        dir,
        "single.yaml",
        &format!("  path: s3://{BUCKET}/exports/2026/segment.parquet"),
    );
    dry_run_reads_every_row(dir, &single, rows, &aws_env);

    // CSV, every object under a prefix (files of other formats are left alone), downloaded.
    let csv = pipeline(dir, "csv.yaml", &format!("  path: s3://{BUCKET}/csv/"));
    let output = audex(dir, &["validate", csv.to_str().unwrap()], &aws_env);
    assert!(output.status.success(), "{}", text(&output));
    dry_run_reads_every_row(dir, &csv, 3_000, &aws_env);

    // Arrow IPC, one object, downloaded.
    let ipc = pipeline(
        dir,
        "ipc.yaml",
        &format!("  path: s3://{BUCKET}/ipc/segment.arrow"),
    );
    let output = audex(dir, &["validate", ipc.to_str().unwrap()], &aws_env);
    assert!(output.status.success(), "{}", text(&output));
    dry_run_reads_every_row(dir, &ipc, 4_500, &aws_env);

    // A mapped column absent from an object: named with the object's URL.
    let wrong = write_pipeline(
        dir,
        "wrong.yaml",
        &std::fs::read_to_string(&csv)
            .unwrap()
            .replace("email: email_address", "email: e_mail"),
    );
    let output = audex(dir, &["validate", wrong.to_str().unwrap()], &aws_env);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("s3://{BUCKET}/csv/part-1.csv")) && stderr.contains("`e_mail`"),
        "{stderr}"
    );
}

#[test]
fn missing_buckets_and_unmatched_patterns_are_clear_errors() {
    let moto = start_moto();
    moto.create_bucket(BUCKET);
    moto.put(BUCKET, "exports/a.parquet", parquet_bytes(10));
    let dir = audex_tests::tempdir();
    let dir = dir.path();
    let aws_env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];

    let missing = pipeline(
        dir,
        "missing.yaml",
        "  path: s3://audex-no-such-bucket/exports/*.parquet",
    );
    for command in ["validate", "run"] {
        let mut args = vec![command, missing.to_str().unwrap()];
        if command == "run" {
            args.push("--dry-run");
        }
        let output = audex(dir, &args, &aws_env);
        assert_eq!(output.status.code(), Some(3), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("s3://audex-no-such-bucket/exports/*.parquet: bucket `audex-no-such-bucket` does not exist"),
            "{stderr}"
        );
    }
    // Offline, the source is not read: a note, not an error.
    let output = audex(
        dir,
        &["validate", "--offline", missing.to_str().unwrap()],
        &aws_env,
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(
            "note: source s3://audex-no-such-bucket/exports/*.parquet: skipped (--offline)"
        ),
        "{}",
        text(&output)
    );

    let unmatched = pipeline(
        dir,
        "unmatched.yaml",
        &format!("  path: s3://{BUCKET}/exports/*.csv"),
    );
    let output = audex(dir, &["validate", unmatched.to_str().unwrap()], &aws_env);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains(&format!("s3://{BUCKET}/exports/*.csv: no objects match")),
        "{}",
        text(&output)
    );

    let no_key = pipeline(
        dir,
        "no-key.yaml",
        &format!("  path: s3://{BUCKET}/exports"),
    );
    let output = audex(dir, &["validate", no_key.to_str().unwrap()], &aws_env);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("write `s3://audex-segments/exports/`"),
        "a prefix without its slash says how to read it: {}",
        text(&output)
    );

    // Plain http needs consent.
    let output = audex(
        dir,
        &["validate", missing.to_str().unwrap()],
        &[("AWS_ENDPOINT_URL", moto.url.as_str())],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("allow_http"),
        "{}",
        text(&output)
    );
}
