//! Fault injection over HTTP: statuses, error codes, slow answers, dropped connections,
//! token revocation after N calls, latency.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use audex_emulator::{EmulatorConfig, FaultKind, FaultSpec};
use common::*;
use serde_json::json;

fn fault(s: &str) -> FaultSpec {
    s.parse().expect("valid fault spec")
}

#[test]
fn status_503_hits_the_next_three_matching_requests_only() {
    let f = start();
    let id = f.create("flaky");
    f.emu.inject(fault("status:503@users*3"));
    // Not matching: untouched.
    assert_eq!(f.get("act_1000000001", &[]).status, 200);
    for _ in 0..3 {
        let r = f.add_emails(&id, &[h(1)], None);
        assert_eq!((r.status, r.code()), (503, Some(2)));
        assert_eq!(r.body["error"]["is_transient"], true);
    }
    assert!(
        f.members(&id).is_empty(),
        "a status fault must not apply the request"
    );
    f.add_emails(&id, &[h(1)], None).ok();
    assert_eq!(f.members(&id), vec![h(1)]);
    let faults: Vec<Option<String>> = f.emu.request_log().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults
            .iter()
            .filter(|x| x.as_deref() == Some("status:503@users*3"))
            .count(),
        3
    );
}

#[test]
fn code_faults_answer_with_facebooks_error_for_that_code() {
    let f = start();
    let id = f.create("codes");
    for (spec, code, subcode, http) in [
        ("code:17@users", 17, Some(2_446_079), 400),
        ("code:613@users", 613, Some(1_487_742), 400),
        ("code:80003@users", 80003, Some(2_446_079), 400),
        ("code:4@users", 4, Some(1_504_022), 400),
        ("code:1@users", 1, None, 500),
        ("code:2@users", 2, None, 500),
        ("code:190/463@users", 190, Some(463), 400),
    ] {
        f.emu.inject(fault(spec));
        let r = f.add_emails(&id, &[h(1)], None);
        assert_eq!(
            (r.status, r.code(), r.subcode()),
            (http, Some(code), subcode),
            "{spec}"
        );
        assert!(r.body["error"]["fbtrace_id"].is_string());
        if code != 190 {
            assert_eq!(r.body["error"]["is_transient"], true, "{spec}");
        }
        if code == 80003 {
            let usage: serde_json::Value =
                serde_json::from_str(&r.header("x-business-use-case-usage").unwrap()).unwrap();
            let u = &usage["1000000001"][0];
            assert_eq!(u["type"], "custom_audience");
            assert!(u["estimated_time_to_regain_access"].as_u64().unwrap() > 0);
        }
    }
    assert!(f.members(&id).is_empty());
    // Scoped by method: a GET is not hit by a POST-only fault.
    f.emu.inject(fault("code:613@POST*always"));
    assert_eq!(f.get("act_1000000001", &[]).status, 200);
    assert_eq!(f.add_emails(&id, &[h(1)], None).code(), Some(613));
    assert_eq!(f.add_emails(&id, &[h(1)], None).code(), Some(613));
    f.emu.clear_faults();
    assert_eq!(f.add_emails(&id, &[h(1)], None).status, 200);
}

#[test]
fn slow_delays_then_applies_even_if_the_client_gave_up() {
    let f = start();
    let id = f.create("slow");
    f.emu.inject(fault("slow:800ms@users"));
    let started = Instant::now();
    let err = f
        .http
        .post(f.url(&format!("{id}/users")))
        .bearer_auth(f.emu.access_token())
        .json(&json!({"payload": {"schema": "EMAIL_SHA256", "data": [h(7)]}}))
        .timeout(Duration::from_millis(300))
        .send()
        .expect_err("the client times out");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_millis(700));
    assert!(
        f.members(&id).is_empty(),
        "applied before the delay ran out"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while f.members(&id).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(f.members(&id), vec![h(7)]);
    // Without a client timeout the answer simply comes late.
    f.emu
        .inject(FaultSpec::new(FaultKind::Slow(Duration::from_millis(300))).on_path("users"));
    let t = Instant::now();
    f.add_emails(&id, &[h(8)], None).ok();
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn drop_applies_the_request_and_closes_the_connection_unanswered() {
    let f = start();
    let id = f.create("drop");
    f.emu.inject(fault("drop@users"));
    let err = f
        .http
        .post(f.url(&format!("{id}/users")))
        .bearer_auth(f.emu.access_token())
        .json(
            &json!({"payload": {"schema": "EMAIL_SHA256", "data": [h(1)]},
                      "session": {"session_id": 3, "batch_seq": 1}}),
        )
        .send()
        .expect_err("no answer");
    assert!(!err.is_timeout(), "{err}");
    assert_eq!(f.members(&id), vec![h(1)]);
    let entry = f.emu.request_log().into_iter().last().unwrap();
    assert_eq!(
        entry.status,
        Some(200),
        "logged with the status it would have had"
    );
    assert_eq!(entry.fault.as_deref(), Some("drop@users"));
    // The client's retry of the lost answer is a replay.
    let retry = f
        .add_emails(&id, &[h(1)], Some(json!({"session_id": 3, "batch_seq": 1})))
        .ok();
    assert_eq!(retry["num_received"], 1);
    assert_eq!(f.emu.audience(&id).unwrap().batches_replayed, 1);
}

#[test]
fn drop_before_closes_the_connection_without_applying() {
    let f = start();
    let id = f.create("drop-before");
    f.emu.inject(fault("drop-before@users"));
    let result = f
        .http
        .post(f.url(&format!("{id}/users")))
        .bearer_auth(f.emu.access_token())
        .json(&json!({"payload": {"schema": "EMAIL_SHA256", "data": [h(1)]}}))
        .send();
    assert!(result.is_err());
    assert!(f.members(&id).is_empty());
    let entry = f.emu.request_log().into_iter().last().unwrap();
    assert_eq!(entry.status, None);
    assert_eq!(entry.fault.as_deref(), Some("drop-before@users"));
    // The same connection pool recovers.
    assert_eq!(f.add_emails(&id, &[h(1)], None).status, 200);
}

#[test]
fn revoke_after_n_successful_calls() {
    let f = start();
    f.emu.inject(fault("revoke-after:2"));
    assert_eq!(f.get("act_1000000001", &[]).status, 200);
    let failed = f.get("act_999", &[]);
    assert_eq!(failed.code(), Some(100), "failures do not count");
    assert_eq!(f.get("me/adaccounts", &[]).status, 200);
    for path in ["act_1000000001", "me/adaccounts"] {
        let r = f.get(path, &[]);
        assert_eq!((r.code(), r.subcode()), (Some(190), Some(460)), "{path}");
        assert_eq!(r.body["error"]["type"], "OAuthException");
    }
}

#[test]
fn faults_over_http_and_parse_errors() {
    let f = start();
    let base = f.emu.base_url();
    let bad = f.send(
        f.http
            .post(format!("{base}/_emulator/faults"))
            .json(&json!(["code:613", "status:abc"])),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("expected an HTTP status"), "{}", bad.text);
    // Nothing from a rejected list is injected.
    assert_eq!(f.get("act_1000000001", &[]).status, 200);
    let ok = f.send(
        f.http
            .post(format!("{base}/_emulator/faults"))
            .json(&json!(["code:613@act_1000000001*always"])),
    );
    assert_eq!(ok.ok(), json!({"injected": 1}));
    assert_eq!(f.get("act_1000000001", &[]).code(), Some(613));
    assert_eq!(f.get("act_1000000001", &[]).code(), Some(613));
    f.send(f.http.delete(format!("{base}/_emulator/faults")))
        .ok();
    assert_eq!(f.get("act_1000000001", &[]).status, 200);
}

#[test]
fn faults_from_the_config_and_latency() {
    let f = start_with(EmulatorConfig {
        faults: vec![fault("status:429@me")],
        latency: Duration::from_millis(150),
        ..EmulatorConfig::default()
    });
    let t = Instant::now();
    let r = f.get("me", &[]);
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!((r.status, r.code()), (429, Some(4)));
    assert_eq!(f.get("me", &[]).status, 200);
    // Control endpoints have no latency.
    let t = Instant::now();
    f.send(
        f.http
            .get(format!("{}/_emulator/audiences", f.emu.base_url())),
    )
    .ok();
    assert!(t.elapsed() < Duration::from_millis(150));
}
