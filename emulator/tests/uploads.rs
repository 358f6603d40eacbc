//! `/users`, `/usersreplace` and `/sessions`: validation, sessions, replays, duplicates.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn sess(id: u64, seq: u64, last: bool) -> serde_json::Value {
    json!({"session_id": id, "batch_seq": seq, "last_batch_flag": last, "estimated_num_total": 4})
}

#[test]
fn create_upload_and_read_back_members() {
    let f = start();
    let id = f.create("VIP buyers");
    let r = f
        .add_emails(&id, &[h(3), h(1), h(2)], Some(sess(42, 1, true)))
        .ok();
    assert_eq!(r["audience_id"], id.as_str());
    assert_eq!(r["session_id"], "42");
    assert_eq!(r["num_received"], 3);
    assert_eq!(r["num_invalid_entries"], 0);
    assert_eq!(r["invalid_entry_samples"], json!({}));
    assert_eq!(f.members(&id), vec![h(1), h(2), h(3)]);
    let detail = f.emu.audience(&id).unwrap();
    assert_eq!(detail.schema, Some(json!("EMAIL_SHA256")));
    assert_eq!(detail.keys["EMAIL_SHA256"].len(), 3);
    // The Graph read and the test endpoint agree.
    let read = f
        .get(
            &id,
            &[("fields", "approximate_count_lower_bound,data_source")],
        )
        .ok();
    assert_eq!(read["approximate_count_lower_bound"], 3);
    assert_eq!(read["data_source"]["sub_type"], "HASHES_OR_USER_IDS");
    let test_view = f.send(
        f.http
            .get(format!("{}/_emulator/audiences/{id}", f.emu.base_url())),
    );
    assert_eq!(test_view.ok()["members"], json!([h(1), h(2), h(3)]));
    let list = f.send(
        f.http
            .get(format!("{}/_emulator/audiences", f.emu.base_url())),
    );
    assert_eq!(
        list.ok(),
        json!([{"id": id, "name": "VIP buyers", "account": "act_1000000001", "subtype": "CUSTOM"}])
    );
}

#[test]
fn form_encoded_upload_with_json_strings_like_the_python_sdk() {
    let f = start();
    let id = f.create("form upload");
    let payload = json!({"schema": ["EMAIL", "PHONE"], "is_raw": true,
                         "data": [[h(1), h(2)], ["", h(3)]]})
    .to_string();
    let session =
        json!({"session_id": "77", "batch_seq": "1", "last_batch_flag": "true"}).to_string();
    let r = f
        .post_form(
            &format!("{id}/users"),
            &[("payload", &payload), ("session", &session)],
        )
        .ok();
    assert_eq!(r["num_received"], 2);
    assert_eq!(
        f.members(&id),
        vec![
            format!("EMAIL={}|PHONE={}", h(1), h(2)),
            format!("PHONE={}", h(3))
        ]
    );
    let detail = f.emu.audience(&id).unwrap();
    assert_eq!(detail.keys["PHONE"], vec![h(2), h(3)]);
    assert_eq!(detail.schema, Some(json!(["EMAIL", "PHONE"])));
}

#[test]
fn more_than_10000_rows_are_rejected() {
    let f = start();
    let id = f.create("big");
    let rows: Vec<String> = (0..10_001).map(h).collect();
    let r = f.add_emails(&id, &rows, None);
    assert_eq!((r.status, r.code()), (400, Some(100)));
    assert!(r.message().contains("10001"), "{}", r.message());
    assert!(f.members(&id).is_empty());
    let ok = f.add_emails(&id, &rows[..10_000], None).ok();
    assert_eq!(ok["num_received"], 10_000);
    assert_eq!(f.members(&id).len(), 10_000);
}

#[test]
fn non_hex_digests_and_bad_madids_are_invalid_entries_not_errors() {
    let f = start();
    let id = f.create("invalid entries");
    let bad = vec![
        h(1),
        "not-a-hash".to_owned(),
        "ABC".to_owned(),
        h(2)[..63].to_owned(),
    ];
    let r = f.add_emails(&id, &bad, None).ok();
    assert_eq!(r["num_received"], 4);
    assert_eq!(r["num_invalid_entries"], 3);
    let samples = r["invalid_entry_samples"].as_object().unwrap();
    assert!(samples.contains_key("not-a-hash"));
    assert_eq!(samples.len(), 3);
    assert_eq!(f.members(&id), vec![h(1)]);

    let madid = f.create("madids");
    let body = json!({"payload": {"schema": "MOBILE_ADVERTISER_ID",
        "data": ["AECE52E7-03EE-455A-B3C4-E57283966239", "idfa-123"]}});
    let r = f.post_json(&format!("{madid}/users"), &body).ok();
    assert_eq!(r["num_invalid_entries"], 1);
    assert_eq!(
        f.members(&madid),
        vec!["aece52e7-03ee-455a-b3c4-e57283966239"]
    );
}

#[test]
fn structural_payload_errors_are_code_100() {
    let f = start();
    let id = f.create("structure");
    let post = |payload: serde_json::Value| {
        f.post_json(&format!("{id}/users"), &json!({"payload": payload}))
    };
    let unknown = post(json!({"schema": "EMAIL_MD5", "data": [h(1)]}));
    assert_eq!(unknown.code(), Some(100));
    assert!(unknown.message().contains("EMAIL_MD5"));
    let width = post(json!({"schema": ["EMAIL", "PHONE"], "data": [[h(1), h(2)], [h(3)]]}));
    assert_eq!(width.code(), Some(100));
    assert!(width.message().contains("row 1"));
    let missing = f.post_json(&format!("{id}/users"), &json!({}));
    assert_eq!(missing.message(), "(#100) Missing parameter(s): payload");
    let not_json = f.post_form(&format!("{id}/users"), &[("payload", "{oops")]);
    assert_eq!(not_json.code(), Some(100));
    assert!(f.members(&id).is_empty());
}

#[test]
fn mixing_single_key_and_multi_key_is_2650() {
    let f = start();
    let id = f.create("mixed");
    f.post_json(
        &format!("{id}/users"),
        &json!({"payload": {"schema": ["EMAIL"], "data": [[h(1)]]}}),
    )
    .ok();
    let single = f.add_emails(&id, &[h(2)], None);
    assert_eq!(single.code(), Some(2650));
    assert!(single.message().contains(
        "created from data source FILE_IMPORTED.MULTI_HASHES, which does not support data source FILE_IMPORTED.HASHES_OR_USER_IDS"
    ), "{}", single.message());
    let other = f.create("mixed the other way");
    f.add_emails(&other, &[h(2)], None).ok();
    let multi = f.post_json(
        &format!("{other}/users"),
        &json!({"payload": {"schema": ["EMAIL"], "data": [[h(1)]]}}),
    );
    assert_eq!(multi.code(), Some(2650));
    assert!(
        multi
            .message()
            .contains("created from data source FILE_IMPORTED.HASHES_OR_USER_IDS")
    );
    assert_eq!(f.members(&id), vec![format!("EMAIL={}", h(1))]);
}

#[test]
fn a_new_session_must_start_at_batch_seq_1() {
    let f = start();
    let id = f.create("seq");
    let r = f.add_emails(&id, &[h(1)], Some(sess(5, 2, false)));
    assert_eq!((r.code(), r.subcode()), (Some(2650), Some(1_870_147)));
    assert!(f.members(&id).is_empty());
    let zero = f.add_emails(&id, &[h(1)], Some(sess(5, 0, false)));
    assert_eq!(zero.code(), Some(100));
    assert_eq!(
        f.add_emails(&id, &[h(1)], Some(sess(5, 1, false))).status,
        200
    );
}

#[test]
fn batches_after_last_batch_flag_are_refused() {
    let f = start();
    let id = f.create("finished");
    f.add_emails(&id, &[h(1)], Some(sess(9, 1, false))).ok();
    f.add_emails(&id, &[h(2)], Some(sess(9, 2, true))).ok();
    let late = f.add_emails(&id, &[h(3)], Some(sess(9, 3, false)));
    assert_eq!((late.code(), late.subcode()), (Some(2650), Some(1_870_159)));
    assert_eq!(f.members(&id), vec![h(1), h(2)]);
}

#[test]
fn sessions_expire_90_minutes_after_their_first_batch() {
    let f = start();
    let id = f.create("slow session");
    f.add_emails(&id, &[h(1)], Some(sess(11, 1, false))).ok();
    f.emu.advance_clock(Duration::from_secs(89 * 60));
    f.add_emails(&id, &[h(2)], Some(sess(11, 2, false))).ok();
    f.emu.advance_clock(Duration::from_secs(2 * 60));
    let late = f.add_emails(&id, &[h(3)], Some(sess(11, 3, true)));
    assert_eq!((late.code(), late.subcode()), (Some(2650), Some(1_870_158)));
    assert_eq!(f.members(&id), vec![h(1), h(2)]);
    let s = f
        .get(&format!("{id}/sessions"), &[("session_id", "11")])
        .ok();
    assert_eq!(s["data"][0]["stage"], "timed_out");
}

#[test]
fn a_replayed_batch_is_applied_once_and_counted_as_a_replay() {
    let f = start();
    let id = f.create("replay");
    let first = f
        .add_emails(&id, &[h(1), h(2)], Some(sess(21, 1, false)))
        .ok();
    let again = f
        .add_emails(&id, &[h(1), h(2)], Some(sess(21, 1, false)))
        .ok();
    assert_eq!(first, again);
    let second = f.add_emails(&id, &[h(3)], Some(sess(21, 2, true))).ok();
    assert_eq!(second["num_received"], 3);
    // A replay of the last batch after the session finished is still a replay, not an error.
    let last_again = f.add_emails(&id, &[h(3)], Some(sess(21, 2, true))).ok();
    assert_eq!(last_again, second);
    let d = f.emu.audience(&id).unwrap();
    assert_eq!(d.batches_replayed, 2);
    assert_eq!(d.duplicates_received, 0);
    assert_eq!(d.batches_received, 2);
    assert_eq!(d.members, vec![h(1), h(2), h(3)]);
}

#[test]
fn identifiers_sent_again_in_another_batch_are_counted_as_duplicates() {
    let f = start();
    let id = f.create("dupes");
    f.add_emails(&id, &[h(1), h(2)], Some(sess(31, 1, false)))
        .ok();
    f.add_emails(&id, &[h(2), h(3), h(3)], Some(sess(31, 2, false)))
        .ok();
    f.add_emails(&id, &[h(1)], None).ok();
    let d = f.emu.audience(&id).unwrap();
    assert_eq!(d.duplicates_received, 2);
    assert_eq!(d.batches_replayed, 0);
    assert_eq!(d.members.len(), 3);
}

#[test]
fn delete_removes_members_by_delete_or_post_method_delete() {
    let f = start();
    let id = f.create("removals");
    f.add_emails(&id, &[h(1), h(2), h(3), h(4)], None).ok();
    let del = f
        .delete_json(
            &format!("{id}/users"),
            &json!({"payload": {"schema": "EMAIL_SHA256", "data": [h(1)]}}),
        )
        .ok();
    assert_eq!(del["num_received"], 1);
    let payload = json!({"schema": "EMAIL_SHA256", "data": [h(2)]}).to_string();
    f.post_form(
        &format!("{id}/users"),
        &[("method", "DELETE"), ("payload", &payload)],
    )
    .ok();
    // Query-string DELETE, as the Python SDK sends it.
    let q = json!({"schema": "EMAIL_SHA256", "data": [h(3)]}).to_string();
    f.send(f.http.delete(f.url(&format!("{id}/users"))).query(&[
        ("payload", q.as_str()),
        ("access_token", f.emu.access_token()),
    ]))
    .ok();
    assert_eq!(f.members(&id), vec![h(4)]);
    let log = f.emu.request_log();
    assert_eq!(log.iter().filter(|r| r.method == "DELETE").count(), 3);
}

#[test]
fn usersreplace_clears_members_at_batch_1_and_blocks_users_meanwhile() {
    let f = start();
    let id = f.create("replace");
    f.add_emails(&id, &[h(1), h(2)], None).ok();
    let no_session = f.post_json(
        &format!("{id}/usersreplace"),
        &json!({"payload": {"schema": "EMAIL_SHA256", "data": [h(8)]}}),
    );
    assert_eq!(no_session.message(), "(#100) Missing parameter(s): session");
    let replace = |data: Vec<String>, seq: u64, last: bool| {
        f.post_json(
            &format!("{id}/usersreplace"),
            &json!({"payload": {"schema": "EMAIL_SHA256", "data": data}, "session": sess(50, seq, last)}),
        )
    };
    let r1 = replace(vec![h(8)], 1, false).ok();
    assert_eq!(r1["account_id"], "1000000001");
    assert_eq!(f.members(&id), vec![h(8)]);
    let busy = f.add_emails(&id, &[h(5)], None);
    assert_eq!((busy.code(), busy.subcode()), (Some(2650), Some(1_870_145)));
    replace(vec![h(9)], 2, true).ok();
    assert_eq!(f.members(&id), vec![h(8), h(9)]);
    assert_eq!(f.add_emails(&id, &[h(5)], None).status, 200);
}

#[test]
fn sessions_endpoint_reports_numbers_as_strings() {
    let f = start();
    let id = f.create("sessions");
    f.add_emails(&id, &[h(1), "bad".into()], Some(sess(61, 1, false)))
        .ok();
    let open = f
        .get(&format!("{id}/sessions"), &[("session_id", "61")])
        .ok();
    let s = &open["data"][0];
    assert_eq!(s["session_id"], "61");
    assert_eq!(s["num_received"], "2");
    assert_eq!(s["num_invalid_entries"], "1");
    assert_eq!(s["num_matched"], "-1");
    assert_eq!(s["stage"], "uploading");
    assert_eq!(s["progress"], "50");
    assert_eq!(s["end_time"], "0");
    f.add_emails(&id, &[h(2), h(3)], Some(sess(61, 2, true)))
        .ok();
    let done = f
        .get(&format!("{id}/sessions"), &[("session_id", "61")])
        .ok();
    let s = &done["data"][0];
    assert_eq!(s["stage"], "finished");
    assert_eq!(s["num_received"], "4");
    assert_eq!(s["num_matched"], "3");
    assert_eq!(s["progress"], "100");
    assert!(s["start_time"].as_str().unwrap().parse::<u64>().unwrap() > 1_700_000_000);
    let all = f.get(&format!("{id}/sessions"), &[]).ok();
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
}

#[test]
fn uploads_are_logged_with_session_and_row_count_but_no_token() {
    let f = start();
    let id = f.create("logged");
    f.add_emails(&id, &[h(1), h(2)], Some(sess(71, 1, false)));
    let entry = f.emu.request_log().into_iter().last().unwrap();
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.path, format!("/{VERSION}/{id}/users"));
    assert_eq!(entry.status, Some(200));
    assert_eq!(entry.session_id.as_deref(), Some("71"));
    assert_eq!(entry.batch_seq, Some(1));
    assert_eq!(entry.rows, Some(2));
    let log_json = f
        .send(
            f.http
                .get(format!("{}/_emulator/requests", f.emu.base_url())),
        )
        .text;
    assert!(!log_json.contains(f.emu.access_token()));
}
