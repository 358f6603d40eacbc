//! Validation of the `payload` of `/users` and `/usersreplace` requests, and the member key of
//! each valid row (the rules are listed under "Uploads" in the crate docs).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::graph_error::{GraphError, GraphResult};

/// Most rows Facebook accepts in one request.
pub(crate) const MAX_ROWS: usize = 10_000;
/// Most invalid entries sampled in one response.
const MAX_SAMPLES: usize = 100;

/// Single-key schema names.
const SINGLE_KEYS: [&str; 4] = [
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "MOBILE_ADVERTISER_ID",
    "EXTERN_ID",
];

/// How the cells of one key are validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// A lowercase-hex SHA-256 digest.
    Hashed,
    /// A mobile advertiser id: a UUID, not hashed.
    Madid,
    /// Sent verbatim (`EXTERN_ID`).
    Verbatim,
    /// Not an identifier (data processing options, lookalike value).
    Meta,
}

fn key_kind(name: &str) -> Option<KeyKind> {
    Some(match name {
        "EMAIL_SHA256" | "PHONE_SHA256" | "EMAIL" | "PHONE" | "GEN" | "DOBY" | "DOBM" | "DOBD"
        | "LN" | "FN" | "FI" | "CT" | "ST" | "ZIP" | "COUNTRY" => KeyKind::Hashed,
        "MOBILE_ADVERTISER_ID" | "MADID" => KeyKind::Madid,
        "EXTERN_ID" => KeyKind::Verbatim,
        "DATA_PROCESSING_OPTIONS"
        | "DATA_PROCESSING_OPTIONS_COUNTRY"
        | "DATA_PROCESSING_OPTIONS_STATE"
        | "LOOKALIKE_VALUE" => KeyKind::Meta,
        _ => return None,
    })
}

/// The `schema` of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Schema {
    /// A single key, e.g. `EMAIL_SHA256`.
    Single(String),
    /// A list of keys, e.g. `["EMAIL", "PHONE"]`.
    Multi(Vec<String>),
}

impl Schema {
    /// The data source sub-type Facebook records for audiences filled with this kind of schema.
    pub(crate) fn data_source(&self) -> &'static str {
        match self {
            Self::Single(_) => "FILE_IMPORTED.HASHES_OR_USER_IDS",
            Self::Multi(_) => "FILE_IMPORTED.MULTI_HASHES",
        }
    }

    /// The schema as JSON (a string or a list of strings).
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Single(s) => json!(s),
            Self::Multi(v) => json!(v),
        }
    }

    /// The key names, in order.
    fn keys(&self) -> Vec<&str> {
        match self {
            Self::Single(s) => vec![s.as_str()],
            Self::Multi(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One valid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member key (see the module docs).
    pub(crate) key: String,
    /// The identifier cells, as `(key name, value)`.
    pub(crate) cells: Vec<(String, String)>,
}

/// A validated payload.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    /// The schema sent.
    pub(crate) schema: Schema,
    /// Valid rows, in request order (duplicates kept).
    pub(crate) members: Vec<Member>,
    /// Rows received, valid or not.
    pub(crate) received: usize,
    /// Rows that were invalid entries.
    pub(crate) invalid: usize,
    /// Up to 100 invalid entries: sample value → reason.
    pub(crate) samples: Map<String, Value>,
}

impl Payload {
    /// The distinct member keys of this payload, in first-seen order.
    pub(crate) fn distinct(&self) -> Vec<&Member> {
        let mut seen = BTreeSet::new();
        self.members
            .iter()
            .filter(|m| seen.insert(m.key.as_str()))
            .collect()
    }
}

/// Validates a `payload` value.
pub(crate) fn parse_payload(payload: &Value) -> GraphResult<Payload> {
    let obj = payload
        .as_object()
        .ok_or_else(|| GraphError::invalid_param("Param payload must be a JSON object"))?;
    let schema = parse_schema(
        obj.get("schema")
            .ok_or_else(|| GraphError::missing_param("payload.schema"))?,
    )?;
    let data = obj
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::missing_param("payload.data"))?;
    if data.is_empty() {
        return Err(GraphError::invalid_param("payload.data must not be empty"));
    }
    if data.len() > MAX_ROWS {
        return Err(GraphError::invalid_param(format!(
            "payload.data has {} rows; at most {MAX_ROWS} rows are allowed per request",
            data.len()
        )));
    }
    let keys = schema.keys();
    let mut out = Payload {
        schema: schema.clone(),
        members: Vec::with_capacity(data.len()),
        received: data.len(),
        invalid: 0,
        samples: Map::new(),
    };
    for (i, row) in data.iter().enumerate() {
        let cells = row_cells(&schema, row).ok_or_else(|| {
            GraphError::invalid_param(format!(
                "payload.data row {i} must have exactly {} value(s), one per key of payload.schema",
                keys.len()
            ))
        })?;
        match member(&keys, &cells, matches!(schema, Schema::Single(_))) {
            Ok(m) => out.members.push(m),
            Err((sample, reason)) => {
                out.invalid += 1;
                if out.samples.len() < MAX_SAMPLES {
                    let sample: String = sample.chars().take(100).collect();
                    out.samples.insert(sample, Value::String(reason));
                }
            }
        }
    }
    Ok(out)
}

fn parse_schema(v: &Value) -> GraphResult<Schema> {
    match v {
        Value::String(s) if SINGLE_KEYS.contains(&s.as_str()) => Ok(Schema::Single(s.clone())),
        Value::String(s) => Err(GraphError::invalid_param(format!(
            "Invalid schema name {s} in payload.schema; expected one of {} or a list of \
             multi-key names",
            SINGLE_KEYS.join(", ")
        ))),
        Value::Array(items) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                let name = item.as_str().unwrap_or_default();
                if key_kind(name).is_none() || SINGLE_KEYS[..3].contains(&name) {
                    return Err(GraphError::invalid_param(format!(
                        "Invalid key {item} in payload.schema; multi-key schemas use EXTERN_ID, \
                         EMAIL, PHONE, GEN, DOBY, DOBM, DOBD, LN, FN, FI, CT, ST, ZIP, MADID, \
                         COUNTRY"
                    )));
                }
                if names.iter().any(|n| n == name) {
                    return Err(GraphError::invalid_param(format!(
                        "Duplicate key {name} in payload.schema"
                    )));
                }
                names.push(name.to_owned());
            }
            if !names.iter().any(|n| key_kind(n) != Some(KeyKind::Meta)) {
                return Err(GraphError::invalid_param(
                    "payload.schema must contain at least one identifier key",
                ));
            }
            Ok(Schema::Multi(names))
        }
        _ => Err(GraphError::invalid_param(
            "payload.schema must be a key name or a list of key names",
        )),
    }
}

/// The cells of one row, or `None` when the row does not fit the schema.
fn row_cells<'a>(schema: &Schema, row: &'a Value) -> Option<Vec<&'a Value>> {
    match (schema, row) {
        (Schema::Single(_), Value::Array(cells)) if cells.len() == 1 => Some(vec![&cells[0]]),
        (Schema::Single(_), Value::Array(_)) => None,
        (Schema::Single(_), v) => Some(vec![v]),
        (Schema::Multi(keys), Value::Array(cells)) if cells.len() == keys.len() => {
            Some(cells.iter().collect())
        }
        (Schema::Multi(_), _) => None,
    }
}

/// The member for one row, or `(sample, reason)` for an invalid entry.
fn member(keys: &[&str], cells: &[&Value], single: bool) -> Result<Member, (String, String)> {
    let mut out = Vec::with_capacity(keys.len());
    for (&key, &cell) in keys.iter().zip(cells) {
        let kind = key_kind(key).unwrap_or(KeyKind::Meta);
        if kind == KeyKind::Meta {
            continue;
        }
        let text = match cell {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Null => String::new(),
            other => return Err((other.to_string(), format!("{key}: not a string"))),
        };
        if text.is_empty() {
            continue;
        }
        let value = match kind {
            KeyKind::Hashed if is_sha256_hex(&text) => text.to_ascii_lowercase(),
            KeyKind::Hashed => {
                return Err((text, format!("{key}: not a SHA-256 hex digest")));
            }
            KeyKind::Madid if is_uuid(&text) => text.to_ascii_lowercase(),
            KeyKind::Madid => {
                return Err((text, format!("{key}: not a mobile advertiser id (UUID)")));
            }
            _ => text,
        };
        out.push((key.to_owned(), value));
    }
    if out.is_empty() {
        let row = Value::Array(cells.iter().map(|&c| c.clone()).collect());
        return Err((row.to_string(), "no identifier in the row".to_owned()));
    }
    let key = if single {
        out[0].1.clone()
    } else {
        out.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("|")
    };
    Ok(Member { key, cells: out })
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    #[test]
    fn single_key_flat_and_nested_rows() {
        let p = parse_payload(&json!({"schema": "EMAIL_SHA256", "data": [h('a'), [h('b')], "zz"]}))
            .expect("valid payload");
        assert_eq!(p.received, 3);
        assert_eq!(p.invalid, 1);
        assert_eq!(p.members[0].key, h('a'));
        assert_eq!(p.members[1].key, h('b'));
        assert!(p.samples.contains_key("zz"));
    }

    #[test]
    fn uppercase_hex_is_accepted_and_lowered() {
        let p = parse_payload(&json!({"schema": "PHONE_SHA256", "data": [h('A')]})).expect("ok");
        assert_eq!(p.members[0].key, h('a'));
    }

    #[test]
    fn multi_key_member_keys() {
        let p = parse_payload(&json!({
            "schema": ["EMAIL", "PHONE", "MADID", "DATA_PROCESSING_OPTIONS"],
            "data": [
                [h('1'), h('2'), "AECE52E7-03EE-455A-B3C4-E57283966239", []],
                ["", h('3'), "", ["LDU"]],
                ["", "", "", []],
                [h('4'), "", "not-a-uuid", []]
            ]
        }))
        .expect("valid payload");
        assert_eq!(
            p.members[0].key,
            format!(
                "EMAIL={}|PHONE={}|MADID=aece52e7-03ee-455a-b3c4-e57283966239",
                h('1'),
                h('2')
            )
        );
        assert_eq!(p.members[1].key, format!("PHONE={}", h('3')));
        let e = parse_payload(&json!({"schema": ["EXTERN_ID"], "data": [["c-1"]]})).expect("ok");
        assert_eq!(e.members[0].key, "EXTERN_ID=c-1");
        assert_eq!(p.invalid, 2);
        assert_eq!(p.samples.len(), 2);
    }

    #[test]
    fn structural_errors() {
        let err = |v: Value| parse_payload(&v).expect_err("must fail").message;
        assert!(err(json!({"schema": "EMAIL", "data": [h('a')]})).contains("Invalid schema"));
        assert!(err(json!({"schema": ["EMAIL", "NOPE"], "data": [[h('a'), ""]]})).contains("NOPE"));
        assert!(err(json!({"schema": ["EMAIL", "PHONE"], "data": [[h('a')]]})).contains("row 0"));
        assert!(
            err(json!({"schema": ["EMAIL", "EMAIL"], "data": [[h('a'), ""]]}))
                .contains("Duplicate")
        );
        assert!(err(json!({"schema": "EMAIL_SHA256", "data": []})).contains("empty"));
        let rows: Vec<String> = (0..=MAX_ROWS).map(|_| h('a')).collect();
        assert!(err(json!({"schema": "EMAIL_SHA256", "data": rows})).contains("10001"));
    }

    #[test]
    fn distinct_keeps_first_occurrence() {
        let p =
            parse_payload(&json!({"schema": "EXTERN_ID", "data": ["x", "y", "x"]})).expect("valid");
        let keys: Vec<&str> = p.distinct().iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["x", "y"]);
    }
}
