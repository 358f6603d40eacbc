//! The dry run end to end: the real Facebook plugin in the real host, requests recorded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use audex_tests::{audex, read_jsonl, repo_root, sha256_hex, text, write_pipeline};
use serde_json::Value;

fn is_digest(v: &str) -> bool {
    v.len() == 64
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn upload_requests<'a>(requests: &'a [Value], audience_id: &str) -> Vec<&'a Value> {
    let path = format!("/v25.0/{audience_id}/users");
    requests
        .iter()
        .filter(|r| r["path"] == path.as_str())
        .collect()
}

/// Checks the session rules on one audience's uploads and returns all uploaded rows.
fn check_session(uploads: &[&Value], estimated: u64) -> Vec<Value> {
    assert!(!uploads.is_empty());
    let session_id = &uploads[0]["body"]["session"]["session_id"];
    let mut rows = Vec::new();
    for (i, u) in uploads.iter().enumerate() {
        let session = &u["body"]["session"];
        assert_eq!(u["method"], "POST");
        assert_eq!(
            &session["session_id"], session_id,
            "one session per audience"
        );
        assert_eq!(
            session["batch_seq"],
            (i + 1) as u64,
            "batch_seq counts from 1"
        );
        assert_eq!(
            session["last_batch_flag"],
            i + 1 == uploads.len(),
            "last flag only on the last"
        );
        assert_eq!(session["estimated_num_total"], estimated);
        let data = u["body"]["payload"]["data"].as_array().expect("data array");
        assert!(
            !data.is_empty() && data.len() <= 10_000,
            "{} rows in one request",
            data.len()
        );
        rows.extend(data.iter().cloned());
    }
    rows
}

#[test]
fn quickstart_dry_run_writes_every_request_and_an_honest_report() {
    let out = audex_tests::tempdir();
    let pipeline = repo_root().join("pipelines/quickstart.yaml");
    let output = audex!(
        out.path(),
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--dry-run",
            "--out",
            out.path().to_str().unwrap()
        ],
    );
    assert!(output.status.success(), "{}", text(&output));

    let report: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["ad_account"], "act_1000000001");
    let rows_read = report["rows_read"].as_u64().unwrap();
    assert_eq!(rows_read, 3000);

    let requests = read_jsonl(&out.path().join("requests.jsonl"));
    assert_eq!(
        requests[0]["method"], "GET",
        "pre-flight account check first"
    );
    let audiences = report["audiences"].as_array().unwrap();
    assert_eq!(audiences.len(), 3, "one audience per field");
    for a in audiences {
        let rejected: u64 = a["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let uploaded = a["uploaded"].as_u64().unwrap();
        assert_eq!(
            uploaded + rejected,
            rows_read,
            "rows in = uploaded + rejected for {}",
            a["key"]
        );
        assert!(rejected > 0, "the sample has messy rows");
        let id = a["audience_id"].as_str().unwrap();
        let create = requests
            .iter()
            .find(|r| {
                r["path"] == "/v25.0/act_1000000001/customaudiences"
                    && r["response"]["body"]["id"] == id
            })
            .expect("a create request answered with this id");
        assert_eq!(create["body"]["subtype"], "CUSTOM");
        assert_eq!(create["body"]["customer_file_source"], "USER_PROVIDED_ONLY");
        let uploads = upload_requests(&requests, id);
        let rows = check_session(&uploads, rows_read);
        assert_eq!(rows.len() as u64, uploaded);
        for row in rows {
            let v = row.as_str().expect("single-key rows are strings");
            if a["key"] == "madid" {
                assert!(v.len() == 36 && v == v.to_lowercase(), "{v}");
            } else {
                assert!(is_digest(v), "{v}");
            }
        }
    }
    let rejects = std::fs::read_to_string(out.path().join("rejects.csv")).unwrap();
    let total_rejected: u64 = audiences
        .iter()
        .flat_map(|a| a["rejected"].as_object().unwrap().values())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        rejects.lines().count() as u64,
        total_rejected + 1,
        "one rejects line per rejected row"
    );
}

/// A segment whose expected digests are computed here, independently of the plugin, and
/// long enough to need three requests per audience.
fn known_segment(dir: &std::path::Path, rows: usize) -> (Vec<String>, Vec<String>) {
    let prehashed = sha256_hex("pre@hashed.example").to_uppercase();
    let mut csv = String::from("mail,tel,cc\n");
    let (mut emails, mut phones) = (Vec::new(), Vec::new());
    for i in 0..rows {
        match i % 5 {
            0 => {
                csv.push_str(" MARY@Example.com ,+1 (202) 555-0173,US\n");
                emails.push(sha256_hex("mary@example.com"));
                phones.push(sha256_hex("12025550173"));
            }
            1 => {
                writeln!(csv, "user{i}@example.org,020 7946 0{:03},GB", i % 1000).unwrap();
                emails.push(sha256_hex(&format!("user{i}@example.org")));
                phones.push(sha256_hex(&format!("442079460{:03}", i % 1000)));
            }
            2 => {
                writeln!(csv, "{prehashed},,").unwrap();
                emails.push(prehashed.to_lowercase());
            }
            3 => {
                csv.push_str("not-an-email,12,US\n");
            }
            _ => {
                writeln!(csv, "u{i}@x.io,(202) 555-{:04},", i % 10_000).unwrap();
                emails.push(sha256_hex(&format!("u{i}@x.io")));
                phones.push(sha256_hex(&format!("1202555{:04}", i % 10_000)));
            }
        }
    }
    std::fs::write(dir.join("known.csv"), csv).unwrap();
    (emails, phones)
}

#[test]
fn digests_match_independent_computation_and_requests_hold_at_most_10000_rows() {
    let dir = audex_tests::tempdir();
    let rows = 25_005;
    let (emails, phones) = known_segment(dir.path(), rows);
    let pipeline = write_pipeline(
        dir.path(),
        "known.yaml",
        "name: known\nsource: { path: known.csv }\ncolumns: { email: mail, phone: tel, country: cc }\ndestination:\n  plugin: facebook\n  ad_account: '1000000001'\n  default_country: US\n  audience: { fields: [email, phone] }\n",
    );
    let out = dir.path().join("out");
    let output = audex!(
        dir.path(),
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--dry-run",
            "--out",
            out.to_str().unwrap()
        ]
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let requests = read_jsonl(&out.join("requests.jsonl"));
    let by_key: BTreeMap<String, &Value> = report["audiences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["key"].as_str().unwrap().to_owned(), a))
        .collect();

    let email = by_key["email"];
    let uploads = upload_requests(&requests, email["audience_id"].as_str().unwrap());
    assert_eq!(
        uploads.len(),
        3,
        "20,004 accepted emails need three requests"
    );
    assert_eq!(uploads[0]["body"]["payload"]["schema"], "EMAIL_SHA256");
    let got: Vec<String> = check_session(&uploads, rows as u64)
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, emails, "every digest, in input order");
    assert_eq!(email["rejected"]["malformed_email"], (rows / 5) as u64);

    let phone = by_key["phone"];
    let uploads = upload_requests(&requests, phone["audience_id"].as_str().unwrap());
    assert_eq!(uploads[0]["body"]["payload"]["schema"], "PHONE_SHA256");
    let got: Vec<String> = check_session(&uploads, rows as u64)
        .into_iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, phones);
    assert_eq!(
        phone["uploaded"].as_u64().unwrap()
            + phone["rejected"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum::<u64>(),
        rows as u64
    );
}

#[test]
fn multi_key_sends_one_audience_with_rows_as_wide_as_the_schema() {
    let dir = audex_tests::tempdir();
    std::fs::write(
        dir.path().join("m.csv"),
        "e,p,m\nmary@example.com,,\n,+1 202 555 0173,6D92078A-8246-4BA4-AE5B-76104861E7DC\nbad,bad,bad\n",
    )
    .unwrap();
    let pipeline = write_pipeline(
        dir.path(),
        "m.yaml",
        "name: multi\nsource: { path: m.csv }\ncolumns: { email: e, phone: p, madid: m }\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience: { fields: [email, phone, madid], multi_key: true }\n",
    );
    let out = dir.path().join("out");
    let output = audex!(
        dir.path(),
        &[
            "run",
            pipeline.to_str().unwrap(),
            "--dry-run",
            "--out",
            out.to_str().unwrap(),
            "--json"
        ]
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json prints the report");
    let a = &report["audiences"][0];
    assert_eq!(report["audiences"].as_array().unwrap().len(), 1);
    assert_eq!(a["uploaded"], 2);
    assert_eq!(a["rejected"]["no_valid_identifier"], 1);
    let requests = read_jsonl(&out.join("requests.jsonl"));
    let uploads = upload_requests(&requests, a["audience_id"].as_str().unwrap());
    let payload = &uploads[0]["body"]["payload"];
    assert_eq!(
        payload["schema"],
        serde_json::json!(["EMAIL", "PHONE", "MADID"])
    );
    assert_eq!(payload["is_raw"], true);
    assert_eq!(
        payload["data"],
        serde_json::json!([
            [sha256_hex("mary@example.com"), "", ""],
            [
                "",
                sha256_hex("12025550173"),
                "6d92078a-8246-4ba4-ae5b-76104861e7dc"
            ]
        ])
    );
}
