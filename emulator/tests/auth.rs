//! Tokens: revocation, expiry, debug_token, the OAuth dialog and code exchange,
//! appsecret_proof, and the hourly call budget.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use audex_emulator::{EmulatorConfig, appsecret_proof};
use common::*;
use serde_json::{Value, json};

const REDIRECT: &str = "http://localhost:8765/callback";

#[test]
fn a_revoked_token_gets_190_460() {
    let f = start();
    assert_eq!(f.get("me/adaccounts", &[]).status, 200);
    f.emu.revoke_token();
    let r = f.get("me/adaccounts", &[]);
    assert_eq!(
        (r.status, r.code(), r.subcode()),
        (400, Some(190), Some(460))
    );
    assert!(r.message().starts_with("Error validating access token"));

    let g = start();
    g.send(
        g.http
            .post(format!("{}/_emulator/revoke", g.emu.base_url())),
    )
    .ok();
    assert_eq!(g.get("act_1000000001", &[]).subcode(), Some(460));
}

#[test]
fn the_token_expires_after_60_days_on_the_emulator_clock() {
    let f = start();
    f.emu.advance_clock(Duration::from_secs(59 * 86_400));
    assert_eq!(f.get("me", &[]).status, 200);
    let clock = f.send(
        f.http
            .post(format!("{}/_emulator/clock", f.emu.base_url()))
            .json(&json!({"advance_s": 2 * 86_400})),
    );
    assert!(clock.ok()["now_ms"].is_u64());
    let r = f.get("me", &[]);
    assert_eq!((r.code(), r.subcode()), (Some(190), Some(463)));
    assert!(
        r.message().contains("Session has expired on"),
        "{}",
        r.message()
    );
}

#[test]
fn a_configured_token_is_used() {
    let f = start_with(EmulatorConfig {
        token: Some("EAAfixedtoken".into()),
        ..EmulatorConfig::default()
    });
    assert_eq!(f.emu.access_token(), "EAAfixedtoken");
    let r = f.send(f.http.get(f.url("me")).bearer_auth("EAAfixedtoken"));
    assert_eq!(r.status, 200);
}

fn debug(f: &Fixture, input: &str, access: &str) -> Answer {
    f.send(
        f.http
            .get(f.url("debug_token"))
            .query(&[("input_token", input), ("access_token", access)]),
    )
}

#[test]
fn debug_token_describes_tokens() {
    let f = start();
    let app_token = format!("{}|{}", f.emu.app_id(), f.emu.app_secret());
    let d = debug(&f, f.emu.access_token(), &app_token).ok();
    let data = &d["data"];
    assert_eq!(data["app_id"], "1234567890");
    assert_eq!(data["type"], "USER");
    assert_eq!(data["is_valid"], true);
    assert_eq!(
        data["scopes"],
        json!(["ads_management", "business_management", "ads_read"])
    );
    let issued = data["issued_at"].as_u64().unwrap();
    assert_eq!(data["expires_at"].as_u64().unwrap() - issued, 5_183_944);
    assert!(data["data_access_expires_at"].as_u64().unwrap() > issued);
    assert!(data["user_id"].is_string() && data["application"].is_string());
    let granular = data["granular_scopes"].as_array().unwrap();
    assert_eq!(granular[0]["scope"], "ads_management");
    assert!(
        granular[0]["target_ids"]
            .as_array()
            .unwrap()
            .contains(&json!("1000000001"))
    );

    // The user token may debug itself.
    let own = debug(&f, f.emu.access_token(), f.emu.access_token()).ok();
    assert_eq!(own["data"]["is_valid"], true);
    // A wrong app secret is refused.
    let wrong = debug(
        &f,
        f.emu.access_token(),
        &format!("{}|nope", f.emu.app_id()),
    );
    assert_eq!(wrong.code(), Some(190));
    // Unknown and revoked input tokens are invalid, with an error member.
    let unknown = debug(&f, "EAAnothing", &app_token).ok();
    assert_eq!(unknown["data"]["is_valid"], false);
    assert_eq!(unknown["data"]["error"]["code"], 190);
    f.emu.revoke_token();
    let revoked = debug(&f, f.emu.access_token(), &app_token).ok();
    assert_eq!(revoked["data"]["is_valid"], false);
    assert_eq!(revoked["data"]["error"]["subcode"], 460);
    let missing = f.send(
        f.http
            .get(f.url("debug_token"))
            .query(&[("access_token", app_token.as_str())]),
    );
    assert_eq!(missing.code(), Some(100));
}

/// Opens the dialog, checks the page, and answers it; returns the redirect Location.
fn consent(f: &Fixture, decision: &str, scope: &str) -> String {
    let page = f.send(f.http.get(f.url("dialog/oauth")).query(&[
        ("client_id", f.emu.app_id()),
        ("redirect_uri", REDIRECT),
        ("state", "st-<1>"),
        ("scope", scope),
        ("response_type", "code"),
    ]));
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text;
    assert!(html.contains("<title>"));
    assert!(html.contains(r#"id="consent-continue""#));
    assert!(html.contains(r#"id="consent-cancel""#));
    assert!(html.contains(r#"<form method="post" action="/v25.0/dialog/oauth">"#));
    for s in scope.split(',') {
        assert!(
            html.contains(&format!("<code>{s}</code>")),
            "scope {s} listed"
        );
    }
    let marker = r#"name="dialog_id" value=""#;
    let start = html.find(marker).expect("dialog id field") + marker.len();
    let dialog_id = &html[start..start + html[start..].find('"').unwrap()];
    let answer = f.send(
        f.http
            .post(f.url("dialog/oauth"))
            .form(&[("dialog_id", dialog_id), ("decision", decision)]),
    );
    assert_eq!(answer.status, 302);
    answer.header("location").expect("redirect location")
}

fn query_of(location: &str) -> Vec<(String, String)> {
    let q = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = v.replace('+', " ").replace("%3C", "<").replace("%3E", ">");
            (k.to_owned(), v)
        })
        .collect()
}

fn exchange(f: &Fixture, params: &[(&str, &str)]) -> Answer {
    f.send(f.http.get(f.url("oauth/access_token")).query(params))
}

#[test]
fn oauth_dialog_code_exchange_and_long_lived_exchange() {
    let f = start();
    let location = consent(&f, "continue", "ads_management,business_management");
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let q = query_of(&location);
    let code = q
        .iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(q.contains(&("state".into(), "st-<1>".into())), "{q:?}");

    let secret = f.emu.app_secret().to_owned();
    let wrong_secret = exchange(
        &f,
        &[
            ("client_id", f.emu.app_id()),
            ("client_secret", "nope"),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    );
    assert_eq!(wrong_secret.code(), Some(100));
    let wrong_redirect = exchange(
        &f,
        &[
            ("client_id", f.emu.app_id()),
            ("client_secret", &secret),
            ("redirect_uri", "http://localhost:9999/cb"),
            ("code", &code),
        ],
    );
    assert_eq!(
        (wrong_redirect.code(), wrong_redirect.subcode()),
        (Some(100), Some(36008))
    );
    assert!(
        wrong_redirect
            .message()
            .starts_with("Error validating verification code")
    );

    let ok = exchange(
        &f,
        &[
            ("client_id", f.emu.app_id()),
            ("client_secret", &secret),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    )
    .ok();
    assert_eq!(ok["token_type"], "bearer");
    assert_eq!(ok["expires_in"], 5_183_944);
    let token = ok["access_token"].as_str().unwrap().to_owned();
    assert_ne!(token, f.emu.access_token());
    assert_eq!(
        f.send(f.http.get(f.url("me/adaccounts")).bearer_auth(&token))
            .status,
        200
    );

    let reused = exchange(
        &f,
        &[
            ("client_id", f.emu.app_id()),
            ("client_secret", &secret),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    );
    assert_eq!(reused.subcode(), Some(36009));

    let long = exchange(
        &f,
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", f.emu.app_id()),
            ("client_secret", &secret),
            ("fb_exchange_token", &token),
        ],
    )
    .ok();
    let long_token = long["access_token"].as_str().unwrap().to_owned();
    assert_ne!(long_token, token);
    assert_eq!(long["expires_in"], 5_183_944);
    let debugged = debug(&f, &long_token, &format!("{}|{secret}", f.emu.app_id())).ok();
    assert_eq!(
        debugged["data"]["scopes"],
        json!(["ads_management", "business_management"])
    );
    assert_eq!(
        f.send(f.http.get(f.url("act_1000000001")).bearer_auth(&long_token))
            .status,
        200
    );

    let bogus = exchange(
        &f,
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", f.emu.app_id()),
            ("client_secret", &secret),
            ("fb_exchange_token", "EAAbogus"),
        ],
    );
    assert_eq!(bogus.code(), Some(190));
    let wrong_app = exchange(
        &f,
        &[
            ("client_id", "42"),
            ("client_secret", &secret),
            ("code", "x"),
        ],
    );
    assert_eq!(wrong_app.code(), Some(101));
}

#[test]
fn oauth_cancel_redirects_with_access_denied_and_state() {
    let f = start();
    let location = consent(&f, "cancel", "ads_management");
    let q = query_of(&location);
    assert!(q.contains(&("error".into(), "access_denied".into())));
    assert!(q.contains(&("error_reason".into(), "user_denied".into())));
    assert!(q.contains(&("state".into(), "st-<1>".into())));
    assert!(!q.iter().any(|(k, _)| k == "code"));
}

#[test]
fn a_token_without_ads_management_cannot_write() {
    let f = start();
    let location = consent(&f, "continue", "ads_read");
    let code = query_of(&location)
        .into_iter()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1;
    let ok = exchange(
        &f,
        &[
            ("client_id", f.emu.app_id()),
            ("client_secret", f.emu.app_secret()),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    )
    .ok();
    let token = ok["access_token"].as_str().unwrap();
    assert_eq!(
        f.send(f.http.get(f.url("act_1000000001")).bearer_auth(token))
            .status,
        200
    );
    let write = f.send(
        f.http
            .post(f.url("act_1000000001/customaudiences"))
            .bearer_auth(token)
            .json(&json!({"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"})),
    );
    assert_eq!(write.code(), Some(200));
    assert!(write.message().contains("ads_management"));
}

#[test]
fn appsecret_proof_is_checked_when_present() {
    let f = start();
    let proof = appsecret_proof(f.emu.app_secret(), f.emu.access_token());
    assert_eq!(proof.len(), 64);
    let good = f.get("act_1000000001", &[("appsecret_proof", &proof)]);
    assert_eq!(good.status, 200);
    let bad = f.get("act_1000000001", &[("appsecret_proof", &"0".repeat(64))]);
    assert_eq!(bad.code(), Some(100));
    assert_eq!(
        bad.message(),
        "Invalid appsecret_proof provided in the API argument"
    );
    // Proof of another token does not pass either.
    let other = appsecret_proof(f.emu.app_secret(), "EAAother");
    assert_eq!(
        f.get("act_1000000001", &[("appsecret_proof", &other)])
            .code(),
        Some(100)
    );
}

fn usage(a: &Answer) -> Value {
    serde_json::from_str(&a.header("x-business-use-case-usage").expect("usage header")).unwrap()
}

#[test]
fn the_hourly_budget_throttles_with_80003_and_the_usage_header() {
    let f = start_with(EmulatorConfig {
        calls_per_hour: 4,
        extra_accounts: 1,
        ..EmulatorConfig::default()
    });
    let id = f.create("budget"); // call 1 on act_1000000001
    let mut pcts = vec![25];
    pcts.push(
        usage(&f.get("act_1000000001", &[]))["1000000001"][0]["call_count"]
            .as_u64()
            .unwrap(),
    );
    // Calls on an audience count against its account.
    let third = f.get(&id, &[]);
    assert_eq!(
        usage(&third)["1000000001"][0]["estimated_time_to_regain_access"],
        0
    );
    pcts.push(
        usage(&third)["1000000001"][0]["call_count"]
            .as_u64()
            .unwrap(),
    );
    let fourth = f.add_emails(&id, &[h(1)], None);
    pcts.push(
        usage(&fourth)["1000000001"][0]["call_count"]
            .as_u64()
            .unwrap(),
    );
    assert_eq!(pcts, [25, 50, 75, 100]);
    // At 100 % the next call is refused, so the header already says how long to wait.
    assert_eq!(
        usage(&fourth)["1000000001"][0]["estimated_time_to_regain_access"],
        60
    );
    assert!(fourth.header("x-app-usage").is_some());

    let blocked = f.add_emails(&id, &[h(2)], None);
    assert_eq!((blocked.status, blocked.code()), (400, Some(80003)));
    assert_eq!(blocked.body["error"]["is_transient"], true);
    assert!(blocked.body["error"]["error_subcode"].is_i64());
    let u = &usage(&blocked)["1000000001"][0];
    assert_eq!(u["type"], "custom_audience");
    assert_eq!(u["call_count"], 100);
    assert!(u["estimated_time_to_regain_access"].as_u64().unwrap() > 0);
    assert_eq!(f.members(&id), vec![h(1)]);

    // Other accounts have their own budget; calls without an account are not counted.
    assert_eq!(f.get("act_2000000001", &[]).status, 200);
    assert_eq!(f.get("me/adaccounts", &[]).status, 200);

    f.emu.advance_clock(Duration::from_secs(61 * 60));
    let later = f.add_emails(&id, &[h(2)], None);
    assert_eq!(later.status, 200);
    assert_eq!(usage(&later)["1000000001"][0]["call_count"], 25);
}
