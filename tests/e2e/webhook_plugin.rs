//! The webhook plugin, loaded by path like any third-party plugin, against a loopback
//! receiver: the batches arrive signed (checked here with an independent HMAC), their digests
//! are the SHA-256 of the normalized inputs (computed here), every row is accounted for, and
//! a receiver that refuses the signature stops the run with advice about the key.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use audex_tests::{cache_dir, empty_state_dir, sha256_hex, text, write_pipeline};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const WEBHOOK: &str = env!("WEBHOOK_PLUGIN_WASM");
const KEY: &str = "webhook-test-signing-key";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A loopback HTTP receiver: records every request and answers `200 {"ok":true}`, or `401`
/// when it verifies signatures with a key the request was not signed with.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

fn hmac_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn start_receiver(verify_with: Option<&'static str>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let path = parts.next().unwrap_or_default().to_owned();
            let mut headers = BTreeMap::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                }
            }
            let length: usize = headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let signed = headers
                .get("x-audex-signature")
                .cloned()
                .unwrap_or_default();
            let accepted = verify_with
                .is_none_or(|key| signed == format!("sha256={}", hmac_hex(key.as_bytes(), &body)));
            log.lock().unwrap().push(Received {
                method,
                path,
                headers,
                body,
            });
            let (status, answer) = if accepted {
                ("200 OK", "{\"ok\":true}")
            } else {
                ("401 Unauthorized", "signature mismatch")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    Receiver { url, received }
}

/// `audex ARGS` in `dir`, with the signing key `key` in the environment (or none).
fn audex_with_key(dir: &Path, args: &[&str], key: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audex-cli"));
    command
        .args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", dir.join("state"))
        .env("AUDEX_CONFIG", empty_state_dir().join("config.yaml"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AUDEX_SECRET_SIGNING_KEY");
    if let Some(key) = key {
        command.env("AUDEX_SECRET_SIGNING_KEY", key);
    }
    command.output().unwrap()
}

/// The segment: 25 messy rows. Returns, per row, the digests a conformant export sends
/// (field -> SHA-256 of the normalized value), computed from the normalized forms known here.
fn write_segment(path: &Path) -> Vec<BTreeMap<&'static str, String>> {
    let mut csv = String::from("email,phone,country,madid\n");
    let mut expected = Vec::new();
    for i in 0..25u32 {
        let mut row = BTreeMap::new();
        let email = match i % 5 {
            1 => "not-an-email".to_owned(),
            3 if i % 2 == 1 => String::new(),
            _ => {
                row.insert("email", sha256_hex(&format!("user{i}@example.com")));
                format!("  User{i}@Example.COM ")
            }
        };
        let (phone, country) = match i {
            7 => {
                row.insert("phone", sha256_hex("442079460958"));
                ("020 7946 0958".to_owned(), "GB")
            }
            _ if i % 4 == 2 => ("n/a".to_owned(), ""),
            _ if i % 6 == 5 => (String::new(), ""),
            _ => {
                row.insert("phone", sha256_hex(&format!("120255501{i:02}")));
                if i % 2 == 0 {
                    (format!("+1 (202) 555-01{i:02}"), "")
                } else {
                    (format!("(202) 555-01{i:02}"), "US")
                }
            }
        };
        let madid = match i % 3 {
            0 => {
                row.insert(
                    "madid",
                    sha256_hex(&format!("6d92078a-8246-4ba4-ae5b-{i:012x}")),
                );
                format!("6D92078A-8246-4BA4-AE5B-{i:012X}")
            }
            1 if i == 4 => "00000000-0000-0000-0000-000000000000".to_owned(),
            1 => String::new(),
            _ => "not-a-uuid".to_owned(),
        };
        csv.push_str(&format!("{email},{phone},{country},{madid}\n"));
        expected.push(row);
    }
    std::fs::write(path, csv).unwrap();
    expected
}

fn pipeline(dir: &Path, url: &str) {
    write_pipeline(
        dir,
        "p.yaml",
        &format!(
            "name: webhook-e2e
source: {{ path: s.csv, batch_rows: 4 }}
columns: {{ email: email, phone: phone, country: country, madid: madid }}
destination:
  plugin: {WEBHOOK}
  url: {url}/hooks
  path: /audex
  fields: [email, phone, madid]
  batch_rows: 3
  default_country: US
"
        ),
    );
}

#[test]
fn batches_arrive_signed_hashed_and_accounted_for() {
    let receiver = start_receiver(Some(KEY));
    let dir = audex_tests::tempdir();
    let expected = write_segment(&dir.path().join("s.csv"));
    pipeline(dir.path(), &receiver.url);
    let output = audex_with_key(
        dir.path(),
        &["run", "p.yaml", "--json", "--out", "out"],
        Some(KEY),
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let received = receiver.received.lock().unwrap().clone();

    // Every request: a signed JSON POST to the configured URL and path.
    for r in &received {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/hooks/audex")
        );
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["x-audex-signature"],
            format!("sha256={}", hmac_hex(KEY.as_bytes(), &r.body)),
            "signature of {}",
            String::from_utf8_lossy(&r.body)
        );
        assert!(!String::from_utf8_lossy(&r.body).contains(KEY));
    }
    // The batches: in sequence, one run, at most 3 rows each, the last one marked.
    let bodies: Vec<Value> = received.iter().map(Received::json).collect();
    let uploaded: Vec<&BTreeMap<&str, String>> =
        expected.iter().filter(|r| !r.is_empty()).collect();
    assert_eq!(bodies.len(), uploaded.len().div_ceil(3), "{bodies:#?}");
    for (i, b) in bodies.iter().enumerate() {
        assert_eq!(b["type"], "batch");
        assert_eq!(b["pipeline"], "webhook-e2e");
        assert_eq!(b["audience"], "webhook-e2e");
        assert_eq!(b["batch_seq"], i as u64 + 1);
        assert_eq!(b["last"], i + 1 == bodies.len());
        assert_eq!(b["run_id"], bodies[0]["run_id"]);
        assert_eq!(b["fields"], json!(["email", "phone", "madid"]));
        assert!(b["rows"].as_array().unwrap().len() <= 3);
    }
    // The rows: exactly the accepted ones, in order, with the digests of the normalized
    // values and nothing for the rejected values.
    let rows: Vec<Value> = bodies
        .iter()
        .flat_map(|b| b["rows"].as_array().unwrap().clone())
        .collect();
    let want: Vec<Value> = uploaded.iter().map(|r| json!(r)).collect();
    assert_eq!(rows, want);

    // The report accounts for every row.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["plugin"], "webhook@0.1.0");
    assert_eq!(report["rows_read"], 25);
    let audience = &report["audiences"][0];
    assert_eq!(audience["key"], "webhook");
    assert_eq!(audience["uploaded"], uploaded.len() as u64);
    assert_eq!(audience["requests"], bodies.len() as u64);
    let rejected = 25 - uploaded.len() as u64;
    assert_eq!(
        audience["rejected"],
        json!({"no_valid_identifier": rejected})
    );
    assert_eq!(audience["audience_id"], bodies[0]["run_id"]);
    // And the rejects file says which value of which row, and why.
    let rejects = std::fs::read_to_string(dir.path().join("out/rejects.csv")).unwrap();
    for line in [
        "1,email,malformed_email",
        "2,phone,invalid_phone",
        "4,madid,zero_madid",
        "5,madid,invalid_madid",
    ] {
        assert!(
            rejects.lines().any(|l| l.starts_with(line)),
            "{line} missing:\n{rejects}"
        );
    }
}

#[test]
fn a_receiver_refusing_the_signature_stops_the_run_with_advice() {
    let receiver = start_receiver(Some("another-key"));
    let dir = audex_tests::tempdir();
    write_segment(&dir.path().join("s.csv"));
    pipeline(dir.path(), &receiver.url);
    let output = audex_with_key(dir.path(), &["run", "p.yaml"], Some(KEY));
    assert_eq!(
        output.status.code(),
        Some(audex::exit::AUTH),
        "{}",
        text(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTP 401")
            && stderr.contains("AUDEX_SECRET_SIGNING_KEY")
            && stderr.contains("signature mismatch"),
        "{}",
        text(&output)
    );
    assert!(!stderr.contains(KEY), "the key never appears");
    // Refused at once: 401 is not retried.
    assert_eq!(receiver.received.lock().unwrap().len(), 1);
}

#[test]
fn without_a_signing_key_nothing_is_sent_and_a_dry_run_needs_none() {
    let receiver = start_receiver(None);
    let dir = audex_tests::tempdir();
    write_segment(&dir.path().join("s.csv"));
    pipeline(dir.path(), &receiver.url);
    let output = audex_with_key(dir.path(), &["run", "p.yaml"], None);
    assert_eq!(
        output.status.code(),
        Some(audex::exit::AUTH),
        "{}",
        text(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("AUDEX_SECRET_SIGNING_KEY"),
        "{}",
        text(&output)
    );
    assert!(receiver.received.lock().unwrap().is_empty());

    let output = audex_with_key(
        dir.path(),
        &["run", "p.yaml", "--dry-run", "--out", "out"],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let requests = audex_tests::read_jsonl(&dir.path().join("out/requests.jsonl"));
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r["endpoint"] == "hook" && r["path"] == "/audex")
    );
    assert!(receiver.received.lock().unwrap().is_empty());
}
