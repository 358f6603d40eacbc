//! Creating, listing and reading custom and lookalike audiences.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::json;

#[test]
fn create_with_a_form_body_and_with_a_json_body() {
    let f = start();
    let form = f
        .post_form(
            "act_1000000001/customaudiences",
            &[
                ("name", "Form buyers"),
                ("subtype", "CUSTOM"),
                ("customer_file_source", "PARTNER_PROVIDED_ONLY"),
                ("description", "made with a form"),
            ],
        )
        .ok();
    let json_body = f
        .post_json(
            "act_1000000001/customaudiences",
            &json!({"name": "JSON buyers", "subtype": "CUSTOM",
                    "customer_file_source": "BOTH_USER_AND_PARTNER_PROVIDED"}),
        )
        .ok();
    for body in [&form, &json_body] {
        let id = body["id"].as_str().expect("id is a string");
        assert_eq!(id.len(), 18);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
    }
    let read = f
        .get(
            form["id"].as_str().unwrap(),
            &[("fields", "id,name,subtype,description,customer_file_source,operation_status,approximate_count_lower_bound,approximate_count_upper_bound,time_created")],
        )
        .ok();
    assert_eq!(read["name"], "Form buyers");
    assert_eq!(read["subtype"], "CUSTOM");
    assert_eq!(read["description"], "made with a form");
    assert_eq!(read["customer_file_source"], "PARTNER_PROVIDED_ONLY");
    assert_eq!(
        read["operation_status"],
        json!({"code": 200, "description": "Normal"})
    );
    assert_eq!(read["approximate_count_lower_bound"], 0);
    assert!(read["time_created"].as_u64().unwrap() > 1_700_000_000);
    let names: Vec<String> = f.emu.audiences().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["Form buyers", "JSON buyers"]);
}

#[test]
fn multipart_bodies_are_accepted() {
    let f = start();
    let form = reqwest::blocking::multipart::Form::new()
        .text("name", "Multipart buyers")
        .text("subtype", "CUSTOM")
        .text("customer_file_source", "USER_PROVIDED_ONLY")
        .text("access_token", f.emu.access_token().to_owned());
    let a = f.send(
        f.http
            .post(f.url("act_1000000001/customaudiences"))
            .multipart(form),
    );
    let id = a.ok()["id"].as_str().unwrap().to_owned();
    assert_eq!(f.emu.audience(&id).unwrap().name, "Multipart buyers");
}

#[test]
fn missing_or_wrong_parameters_are_code_100() {
    let f = start();
    let no_source = f.post_json(
        "act_1000000001/customaudiences",
        &json!({"name": "x", "subtype": "CUSTOM"}),
    );
    assert_eq!(no_source.code(), Some(100));
    assert_eq!(
        no_source.message(),
        "(#100) Missing parameter(s): customer_file_source"
    );
    let misspelled = f.post_json(
        "act_1000000001/customaudiences",
        &json!({"name": "x", "subtype": "CUSTOM", "customer_file_source": "BOTH_USERS_AND_PARTNERS_PROVIDED"}),
    );
    assert_eq!(misspelled.code(), Some(100));
    assert!(misspelled.message().contains("USER_PROVIDED_ONLY"));
    let no_name = f.post_json(
        "act_1000000001/customaudiences",
        &json!({"subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
    );
    assert_eq!(no_name.message(), "(#100) Missing parameter(s): name");
    assert!(f.emu.audiences().is_empty());
}

#[test]
fn terms_not_accepted_gives_200_1870090_with_the_acceptance_url() {
    let f = start();
    let a = f.post_json(
        "act_1000000002/customaudiences",
        &json!({"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
    );
    assert_eq!(
        (a.status, a.code(), a.subcode()),
        (400, Some(200), Some(1_870_090))
    );
    let url = "https://business.facebook.com/ads/manage/customaudiences/tos/?act=1000000002";
    assert!(a.message().contains(url), "{}", a.message());
    assert_eq!(
        a.body["error"]["error_user_title"],
        "Custom Audience Terms Not Accepted"
    );
    assert!(
        a.body["error"]["error_user_msg"]
            .as_str()
            .unwrap()
            .contains(url)
    );
    let list = f.get("act_1000000002/customaudiences", &[]);
    assert_eq!(list.subcode(), Some(1_870_090));
}

#[test]
fn disabled_account_refuses_writes_but_allows_reads() {
    let f = start();
    let a = f.post_json(
        "act_1000000003/customaudiences",
        &json!({"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.code(), Some(200));
    assert!(a.message().contains("act_1000000003"));
    assert_eq!(f.get("act_1000000003", &[]).status, 200);
    assert_eq!(f.get("act_1000000003/customaudiences", &[]).status, 200);
}

#[test]
fn audiences_list_paginates_per_account() {
    let f = start_with(audex_emulator::EmulatorConfig {
        extra_accounts: 1,
        ..Default::default()
    });
    let ids: Vec<String> = (0..5).map(|i| f.create(&format!("list {i}"))).collect();
    f.create_in("act_2000000001", "elsewhere");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = vec![("fields", "id,name"), ("limit", "2")];
        if let Some(a) = &after {
            q.push(("after", a));
        }
        let page = f.get("act_1000000001/customaudiences", &q).ok();
        for a in page["data"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_owned());
        }
        if page["paging"].get("next").is_none() {
            break;
        }
        after = page["paging"]["cursors"]["after"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(seen, ids);
}

#[test]
fn sensitive_names_are_flagged_471_and_uploads_blocked() {
    let f = start();
    let id = f.create("Diabetes patients 2026");
    let read = f.get(&id, &[("fields", "operation_status")]).ok();
    assert_eq!(read["operation_status"]["code"], 471);
    let up = f.add_emails(&id, &[h(1)], None);
    assert_eq!((up.code(), up.subcode()), (Some(100), Some(1_713_230)));
    assert!(f.members(&id).is_empty());
    let fine = f.create("Archive shoppers");
    assert_eq!(
        f.get(&fine, &[("fields", "operation_status")]).ok()["operation_status"]["code"],
        200
    );
}

#[test]
fn custom_audience_cap_is_500_per_account() {
    let f = start();
    for i in 0..500 {
        f.create(&format!("cap {i}"));
    }
    let over = f.post_json(
        "act_1000000001/customaudiences",
        &json!({"name": "one too many", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}),
    );
    assert_eq!(over.code(), Some(2654));
    assert!(over.message().contains("500"));
    assert_eq!(f.emu.audiences().len(), 500);
}

#[test]
fn lookalike_validation() {
    let f = start();
    let seed = f.create("seed");
    let lal = |spec: serde_json::Value| {
        f.post_json(
            "act_1000000001/customaudiences",
            &json!({"name": "lal", "subtype": "LOOKALIKE", "origin_audience_id": seed,
                    "lookalike_spec": spec.to_string()}),
        )
    };
    let small = lal(json!({"ratio": 0.01, "country": "US"}));
    assert_eq!(small.code(), Some(2654));
    assert!(small.message().contains("Source Audience is Too Small"));
    let data: Vec<String> = (0..100).map(h).collect();
    f.add_emails(&seed, &data, None).ok();

    for (spec, want) in [
        (
            json!({"ratio": 0.25, "country": "US"}),
            "between 0.01 and 0.20",
        ),
        (
            json!({"ratio": 0.005, "country": "US"}),
            "between 0.01 and 0.20",
        ),
        (json!({"country": "US"}), "either type or ratio"),
        (json!({"ratio": 0.05}), "country"),
        (json!({"ratio": 0.05, "country": "USA"}), "ISO 3166-1"),
        (
            json!({"ratio": 0.02, "starting_ratio": 0.02, "country": "US"}),
            "starting_ratio",
        ),
    ] {
        let a = lal(spec.clone());
        assert_eq!(a.code(), Some(100), "{spec}");
        assert!(a.message().contains(want), "{spec}: {}", a.message());
    }
    let ok = lal(json!({"type": "custom_ratio", "ratio": 0.2, "country": "US"})).ok();
    let read = f
        .get(
            ok["id"].as_str().unwrap(),
            &[("fields", "subtype,lookalike_spec")],
        )
        .ok();
    assert_eq!(read["subtype"], "LOOKALIKE");
    assert_eq!(read["lookalike_spec"]["origin"][0]["id"], seed.as_str());
    let similarity = lal(json!({"type": "similarity", "country": "FR"}));
    assert_eq!(similarity.status, 200);
    // An origin from another account (or none) is refused.
    let missing = f.post_json(
        "act_1000000001/customaudiences",
        &json!({"name": "lal", "subtype": "LOOKALIKE", "origin_audience_id": "123",
                "lookalike_spec": {"ratio": 0.01, "country": "US"}}),
    );
    assert_eq!(missing.code(), Some(100));
}

#[test]
fn delete_an_audience() {
    let f = start();
    let id = f.create("short-lived");
    let del = f.send(f.http.delete(f.url(&id)).bearer_auth(f.emu.access_token()));
    assert_eq!(del.ok(), json!({"success": true}));
    assert!(f.emu.audience(&id).is_none());
    assert_eq!(f.get(&id, &[]).subcode(), Some(33));
}
