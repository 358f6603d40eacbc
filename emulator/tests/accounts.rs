//! Ad accounts, pagination, how tokens and bodies are accepted, unknown paths.
#![allow(clippy::unwrap_used)]

mod common;

use audex_emulator::EmulatorConfig;
use common::*;
use serde_json::json;

#[test]
fn adaccounts_paginate_over_several_pages_with_cursors_and_next_urls() {
    let f = start_with(EmulatorConfig {
        extra_accounts: 30,
        ..EmulatorConfig::default()
    });
    let first = f
        .get(
            "me/adaccounts",
            &[("fields", "id,name,account_status"), ("limit", "7")],
        )
        .ok();
    let mut ids: Vec<String> = Vec::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        pages += 1;
        let data = page["data"].as_array().expect("data is a list").clone();
        assert!(data.len() <= 7);
        for a in &data {
            assert!(a["name"].is_string() && a["account_status"].is_number());
            ids.push(a["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["paging"]["next"].as_str() else {
            break;
        };
        // `next` is a full URL on the emulator that keeps fields and limit.
        assert!(next.starts_with(&f.emu.base_url()), "{next}");
        assert!(next.contains("limit=7") && next.contains("fields=id%2Cname"));
        page = f
            .send(f.http.get(next).bearer_auth(f.emu.access_token()))
            .ok();
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 5);
    assert_eq!(ids.len(), 33);
    assert_eq!(ids[0], "act_1000000001");
    assert_eq!(ids[3], "act_2000000001");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 33);

    // The `after` cursor alone gives the same second page.
    let p1 = f.get("me/adaccounts", &[("limit", "7")]).ok();
    let after = p1["paging"]["cursors"]["after"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = f
        .get("me/adaccounts", &[("limit", "7"), ("after", &after)])
        .ok();
    assert_eq!(p2["data"][0]["id"], ids[7].as_str());
    // Default fields and default page size (25).
    assert_eq!(
        p1["data"][0],
        json!({"id": "act_1000000001", "account_id": "1000000001"})
    );
    let default = f.get("me/adaccounts", &[]).ok();
    assert_eq!(default["data"].as_array().unwrap().len(), 25);
}

#[test]
fn last_page_has_no_next_link() {
    let f = start();
    let page = f.get("me/adaccounts", &[]).ok();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert!(page["paging"]["cursors"]["after"].is_string());
    assert!(page["paging"].get("next").is_none());
}

#[test]
fn token_is_accepted_in_the_header_or_as_a_parameter() {
    let f = start();
    let url = f.url("act_1000000001");
    let header = f.send(f.http.get(&url).bearer_auth(f.emu.access_token()));
    assert_eq!(header.ok()["id"], "act_1000000001");
    let param = f.send(
        f.http
            .get(&url)
            .query(&[("access_token", f.emu.access_token())]),
    );
    assert_eq!(param.ok()["id"], "act_1000000001");
    let none = f.send(f.http.get(&url));
    assert_eq!((none.status, none.code()), (400, Some(104)));
    let wrong = f.send(f.http.get(&url).bearer_auth("EAAnotatoken"));
    assert_eq!(wrong.code(), Some(190));
    assert_eq!(wrong.body["error"]["type"], "OAuthException");
    assert!(wrong.body["error"]["fbtrace_id"].is_string());
}

#[test]
fn next_link_repeats_a_parameter_token_but_never_a_header_token() {
    let f = start_with(EmulatorConfig {
        extra_accounts: 5,
        ..EmulatorConfig::default()
    });
    let by_param = f.send(
        f.http
            .get(f.url("me/adaccounts"))
            .query(&[("access_token", f.emu.access_token()), ("limit", "2")]),
    );
    let next = by_param.ok()["paging"]["next"].as_str().unwrap().to_owned();
    assert!(next.contains(f.emu.access_token()));
    // The link works on its own.
    assert_eq!(f.send(f.http.get(&next)).status, 200);
    let by_header = f.get("me/adaccounts", &[("limit", "2")]).ok();
    assert!(
        !by_header["paging"]["next"]
            .as_str()
            .unwrap()
            .contains("access_token")
    );
}

#[test]
fn ad_account_fields_match_the_seed() {
    let f = start();
    let fields = [(
        "fields",
        "account_status,tos_accepted,name,currency,user_tasks,business{id,name}",
    )];
    let demo = f.get("act_1000000001", &fields).ok();
    assert_eq!(demo["account_status"], 1);
    assert_eq!(demo["tos_accepted"], json!({"custom_audience_tos": 1}));
    assert_eq!(demo["currency"], "USD");
    assert_eq!(demo["name"], "Audex Demo Account");
    assert_eq!(
        demo["user_tasks"],
        json!(["MANAGE", "ADVERTISE", "ANALYZE"])
    );
    assert!(demo["business"]["id"].is_string());
    let tos = f.get("act_1000000002", &fields).ok();
    assert_eq!(tos["tos_accepted"], json!({}));
    let disabled = f.get("act_1000000003", &fields).ok();
    assert_eq!(disabled["account_status"], 2);
}

#[test]
fn unknown_account_field_and_path_are_graph_errors() {
    let f = start();
    let missing = f.get("act_999", &[]);
    assert_eq!(
        (missing.status, missing.code(), missing.subcode()),
        (400, Some(100), Some(33))
    );
    assert!(
        missing
            .message()
            .contains("Object with ID 'act_999' does not exist")
    );
    assert_eq!(missing.body["error"]["type"], "GraphMethodException");
    let field = f.get("act_1000000001", &[("fields", "id,bogus")]);
    assert_eq!(field.code(), Some(100));
    assert!(field.message().contains("nonexisting field (bogus)"));
    let path = f.get("nothing/here", &[]);
    assert_eq!((path.code(), path.subcode()), (Some(100), Some(33)));
    assert!(path.message().starts_with("Unsupported get request"));
    let post = f.post_json("me", &json!({}));
    assert!(post.message().starts_with("Unsupported post request"));
}

#[test]
fn api_versions_can_be_pinned() {
    let f = start_with(EmulatorConfig {
        api_versions: vec!["v24.0".into(), "v25.0".into()],
        ..EmulatorConfig::default()
    });
    assert_eq!(f.get("me", &[]).status, 200);
    let old = f.send(
        f.http
            .get(format!("{}/v19.0/me", f.emu.base_url()))
            .bearer_auth(f.emu.access_token()),
    );
    assert_eq!(old.code(), Some(2635));
    assert!(old.message().contains("v25.0"));
    let anything = start();
    let any = anything.send(
        anything
            .http
            .get(format!("{}/v3.3/me", anything.emu.base_url()))
            .bearer_auth(anything.emu.access_token()),
    );
    assert_eq!(any.status, 200);
    assert_eq!(any.header("facebook-api-version").as_deref(), Some("v3.3"));
}

#[test]
fn permissions_and_me() {
    let f = start();
    let me = f.get("me", &[("fields", "id,name")]).ok();
    assert!(me["id"].is_string() && me["name"].is_string());
    let perms = f.get("me/permissions", &[]).ok();
    let granted: Vec<&str> = perms["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["permission"].as_str().unwrap())
        .collect();
    assert_eq!(
        granted,
        ["ads_management", "business_management", "ads_read"]
    );
}
