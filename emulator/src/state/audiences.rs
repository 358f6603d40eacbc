//! Custom audiences, their members, and how an upload batch changes them (the rules are listed
//! under "Uploads" in the crate docs).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::members::Members;
use super::sessions::{Session, SessionParams, UploadOp};
use crate::graph_error::{GraphError, GraphResult};
use crate::ids;
use crate::upload::{Payload, Schema};

/// Fields an audience has (anything else is "nonexisting field").
pub(crate) const FIELDS: [&str; 17] = [
    "id",
    "account_id",
    "name",
    "description",
    "subtype",
    "approximate_count_lower_bound",
    "approximate_count_upper_bound",
    "operation_status",
    "delivery_status",
    "customer_file_source",
    "data_source",
    "time_created",
    "time_updated",
    "time_content_updated",
    "lookalike_spec",
    "is_value_based",
    "retention_days",
];

/// `CUSTOM` or `LOOKALIKE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subtype {
    Custom,
    Lookalike,
}

impl Subtype {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Custom => "CUSTOM",
            Self::Lookalike => "LOOKALIKE",
        }
    }
}

/// One custom audience.
#[derive(Debug, Clone)]
pub(crate) struct Audience {
    pub(crate) id: String,
    /// Ad account digits.
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) subtype: Subtype,
    pub(crate) customer_file_source: Option<String>,
    /// `(origin audience id, lookalike_spec)` of a lookalike.
    pub(crate) lookalike: Option<(String, Value)>,
    pub(crate) flagged: bool,
    pub(crate) created_s: u64,
    pub(crate) updated_s: u64,
    /// The members, with the identifier cells each holds.
    pub(crate) members: Members,
    /// The schema of the latest upload.
    pub(crate) schema: Option<Schema>,
    pub(crate) duplicates_received: u64,
    pub(crate) batches_replayed: u64,
    pub(crate) batches_received: u64,
    pub(crate) sessions: BTreeMap<u64, Session>,
}

impl Audience {
    /// A new, empty audience.
    pub(crate) fn new(account: &str, name: &str, subtype: Subtype, now_s: u64) -> Self {
        Self {
            id: ids::object_id(),
            account: account.to_owned(),
            name: name.to_owned(),
            description: None,
            subtype,
            customer_file_source: None,
            lookalike: None,
            flagged: false,
            created_s: now_s,
            updated_s: now_s,
            members: Members::default(),
            schema: None,
            duplicates_received: 0,
            batches_replayed: 0,
            batches_received: 0,
            sessions: BTreeMap::new(),
        }
    }

    /// Every field of the audience.
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let n = self.members.len() as u64;
        let operation_status = if self.flagged {
            json!({"code": 471, "description": "This audience was flagged because its name or \
                   description may suggest health conditions or financial status. It can't be \
                   used in new campaigns or updated until that is fixed."})
        } else {
            json!({"code": 200, "description": "Normal"})
        };
        let data_source = match (&self.schema, self.subtype) {
            (_, Subtype::Lookalike) => json!({"type": "LOOKALIKE", "sub_type": "ANYTHING"}),
            (Some(s), _) => {
                let (t, sub) = s.data_source().split_once('.').unwrap_or(("", ""));
                json!({"type": t, "sub_type": sub})
            }
            (None, _) => json!({"type": "UNKNOWN", "sub_type": "ANYTHING"}),
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("account_id".into(), json!(self.account));
        m.insert("name".into(), json!(self.name));
        if let Some(d) = &self.description {
            m.insert("description".into(), json!(d));
        }
        m.insert("subtype".into(), json!(self.subtype.as_str()));
        m.insert("approximate_count_lower_bound".into(), json!(n));
        m.insert("approximate_count_upper_bound".into(), json!(n + n / 5));
        m.insert("operation_status".into(), operation_status);
        m.insert(
            "delivery_status".into(),
            json!({"code": 200, "description": "This audience is ready for use."}),
        );
        if let Some(s) = &self.customer_file_source {
            m.insert("customer_file_source".into(), json!(s));
        }
        m.insert("data_source".into(), data_source);
        m.insert("time_created".into(), json!(self.created_s));
        m.insert("time_updated".into(), json!(self.updated_s));
        m.insert("time_content_updated".into(), json!(self.updated_s));
        if let Some((origin, spec)) = &self.lookalike {
            let mut spec = spec.clone();
            if let Some(obj) = spec.as_object_mut() {
                obj.insert(
                    "origin".into(),
                    json!([{"id": origin, "type": "custom_audience"}]),
                );
            }
            m.insert("lookalike_spec".into(), spec);
        }
        m.insert("is_value_based".into(), json!(false));
        m.insert("retention_days".into(), json!(0));
        m
    }

    /// The sessions as `GET /{id}/sessions` shows them, optionally only one.
    pub(crate) fn sessions_json(&self, only: Option<u64>, now_ms: u64) -> Vec<Value> {
        self.sessions
            .iter()
            .rev()
            .filter(|(id, _)| only.is_none_or(|o| o == **id))
            .map(|(id, s)| s.to_json(*id, now_ms))
            .collect()
    }

    /// Per-key member values, sorted.
    pub(crate) fn keys_json(&self) -> BTreeMap<String, Vec<String>> {
        self.members.values_per_key()
    }

    fn open_replace(&self, now_ms: u64) -> bool {
        self.sessions
            .values()
            .any(|s| s.op == UploadOp::Replace && s.open(now_ms))
    }

    /// Applies one upload batch and returns the response body.
    pub(crate) fn upload(
        &mut self,
        op: UploadOp,
        payload: &Payload,
        session: Option<&SessionParams>,
        now_ms: u64,
    ) -> GraphResult<Value> {
        if self.subtype != Subtype::Custom {
            return Err(GraphError::new(
                2650,
                "(#2650) Failed to update the custom audience: only customer list (CUSTOM) \
                 audiences take users",
            ));
        }
        if self.flagged {
            return Err(GraphError::new(100, "(#100) Audience Upload Blocked")
                .subcode(1_713_230)
                .user(
                    "Audience Upload Blocked",
                    "This audience was flagged for possibly suggesting health conditions or \
                 financial status; uploads are blocked until its name and description are fixed.",
                ));
        }
        let existing = session.and_then(|s| self.sessions.get(&s.id).map(|e| (s, e)));
        if let Some((s, e)) = existing {
            if let Some(answer) = e.answers.get(&s.batch_seq) {
                let answer = answer.clone();
                self.batches_replayed += 1;
                return Ok(answer);
            }
            if e.op != op {
                return Err(update_failed(
                    "this session_id belongs to another kind of upload",
                    1_870_148,
                ));
            }
            if e.ended_ms.is_some() {
                return Err(update_failed(
                    "the session has already finished: its last batch (last_batch_flag) was \
                     received",
                    1_870_159,
                ));
            }
            if !e.open(now_ms) {
                return Err(update_failed(
                    "the session timed out: it is more than 90 minutes after its first batch",
                    1_870_158,
                ));
            }
        } else if let Some(s) = session
            && s.batch_seq != 1
        {
            return Err(update_failed(
                "the first batch (batch_seq 1) of this session was not received",
                1_870_147,
            ));
        }
        let starts_replace = op == UploadOp::Replace && existing.is_none();
        if (op != UploadOp::Replace || starts_replace) && self.open_replace(now_ms) {
            return Err(update_failed(
                "a replace of this audience is in progress",
                1_870_145,
            ));
        }
        if let Some(prev) = &self.schema
            && prev.data_source() != payload.schema.data_source()
        {
            return Err(GraphError::new(
                2650,
                format!(
                    "(#2650) Failed to update the custom audience: This audience was created from \
                     data source {}, which does not support data source {}",
                    prev.data_source(),
                    payload.schema.data_source()
                ),
            ));
        }

        // Checks done: apply.
        if starts_replace {
            self.members.clear();
        }
        let mut applied = 0_u64;
        for m in payload.distinct() {
            match op {
                UploadOp::Add | UploadOp::Replace => {
                    if !self.members.insert(m) {
                        self.duplicates_received += 1;
                    }
                }
                UploadOp::Remove => {
                    self.members.remove(&m.key);
                }
            }
            applied += 1;
        }
        if op != UploadOp::Remove || self.schema.is_some() {
            self.schema = Some(payload.schema.clone());
        }
        self.batches_received += 1;
        self.updated_s = now_ms / 1000;

        let (session_id, batch_seq, last, estimated) = match session {
            Some(s) => (s.id, s.batch_seq, s.last, s.estimated_total),
            None => (ids::session_id(), 1, true, None),
        };
        let entry = self.sessions.entry(session_id).or_insert_with(|| Session {
            op,
            started_ms: now_ms,
            ended_ms: None,
            estimated_total: estimated,
            num_received: 0,
            num_invalid: 0,
            num_matched: 0,
            answers: BTreeMap::new(),
        });
        entry.num_received += payload.received as u64;
        entry.num_invalid += payload.invalid as u64;
        entry.num_matched += applied;
        if estimated.is_some() {
            entry.estimated_total = estimated;
        }
        if last {
            entry.ended_ms = Some(now_ms);
        }
        let mut answer = json!({
            "audience_id": self.id,
            "session_id": session_id.to_string(),
            "num_received": entry.num_received,
            "num_invalid_entries": payload.invalid,
            "invalid_entry_samples": payload.samples,
        });
        if op == UploadOp::Replace
            && let Some(obj) = answer.as_object_mut()
        {
            obj.insert("account_id".into(), json!(self.account));
        }
        if session.is_some() {
            entry.answers.insert(batch_seq, answer.clone());
        }
        Ok(answer)
    }
}

fn update_failed(why: &str, subcode: i64) -> GraphError {
    GraphError::new(
        2650,
        format!("(#2650) Failed to update the custom audience: {why}"),
    )
    .subcode(subcode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sessions::SESSION_WINDOW_MS;
    use crate::upload::parse_payload;

    fn payload(schema: Value, data: Value) -> Payload {
        parse_payload(&json!({"schema": schema, "data": data})).expect("valid payload")
    }

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn session(id: u64, seq: u64, last: bool) -> SessionParams {
        SessionParams {
            id,
            batch_seq: seq,
            last,
            estimated_total: None,
        }
    }

    #[test]
    fn replay_and_duplicates() {
        let mut a = Audience::new("1", "a", Subtype::Custom, 0);
        let b1 = payload(json!("EMAIL_SHA256"), json!([h('a'), h('b')]));
        let b2 = payload(json!("EMAIL_SHA256"), json!([h('b'), h('c')]));
        let first = a
            .upload(UploadOp::Add, &b1, Some(&session(7, 1, false)), 0)
            .expect("ok");
        let replay = a
            .upload(UploadOp::Add, &b1, Some(&session(7, 1, false)), 1)
            .expect("ok");
        assert_eq!(first, replay);
        assert_eq!(a.batches_replayed, 1);
        assert_eq!(a.duplicates_received, 0);
        let second = a
            .upload(UploadOp::Add, &b2, Some(&session(7, 2, true)), 2)
            .expect("ok");
        assert_eq!(second["num_received"], 4);
        assert_eq!(a.duplicates_received, 1);
        assert_eq!(a.members.len(), 3);
        let after = a.upload(UploadOp::Add, &b2, Some(&session(7, 3, false)), 3);
        assert_eq!(after.map_err(|e| e.subcode), Err(Some(1_870_159)));
    }

    #[test]
    fn session_rules() {
        let mut a = Audience::new("1", "a", Subtype::Custom, 0);
        let b = payload(json!("EMAIL_SHA256"), json!([h('a')]));
        let err = a.upload(UploadOp::Add, &b, Some(&session(9, 2, false)), 0);
        assert_eq!(err.map_err(|e| e.subcode), Err(Some(1_870_147)));
        assert!(a.sessions.is_empty());
        a.upload(UploadOp::Add, &b, Some(&session(9, 1, false)), 0)
            .expect("ok");
        let late = a.upload(
            UploadOp::Add,
            &b,
            Some(&session(9, 2, false)),
            SESSION_WINDOW_MS,
        );
        assert_eq!(late.map_err(|e| e.subcode), Err(Some(1_870_158)));
    }

    #[test]
    fn replace_clears_and_remove_forgets() {
        let mut a = Audience::new("1", "a", Subtype::Custom, 0);
        let ab = payload(
            json!(["EMAIL", "PHONE"]),
            json!([[h('a'), h('b')], [h('c'), ""]]),
        );
        a.upload(UploadOp::Add, &ab, None, 0).expect("ok");
        assert_eq!(a.keys_json()["EMAIL"].len(), 2);
        let c = payload(json!(["EMAIL", "PHONE"]), json!([[h('c'), ""]]));
        a.upload(UploadOp::Remove, &c, None, 1).expect("ok");
        assert_eq!(a.keys_json()["EMAIL"], vec![h('a')]);
        let d = payload(json!(["EMAIL"]), json!([[h('d')]]));
        let ans = a
            .upload(UploadOp::Replace, &d, Some(&session(5, 1, false)), 2)
            .expect("ok");
        assert_eq!(ans["account_id"], "1");
        assert_eq!(a.members.sorted_keys(), [format!("EMAIL={}", h('d'))]);
        let blocked = a.upload(UploadOp::Add, &d, None, 3);
        assert_eq!(blocked.map_err(|e| e.subcode), Err(Some(1_870_145)));
        let single = payload(json!("EMAIL_SHA256"), json!([h('e')]));
        let mixed = a.upload(UploadOp::Replace, &single, Some(&session(5, 2, true)), 4);
        assert!(
            mixed
                .map_err(|e| e.message)
                .err()
                .is_some_and(|m| m.contains("MULTI_HASHES"))
        );
    }
}
