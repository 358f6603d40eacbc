//! Validation of the `payload` of `/users` and `/usersreplace` requests, and the member key of
//! each valid row (the rules are listed under "Uploads" in the crate docs).

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::graph_error::{GraphError, GraphResult};
use crate::state::members::FastState;

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

/// Every key name a schema may use, single-key names first. A [`KeyId`] is an index here.
const KEY_NAMES: [&str; 22] = [
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "MOBILE_ADVERTISER_ID",
    "EXTERN_ID",
    "EMAIL",
    "PHONE",
    "GEN",
    "DOBY",
    "DOBM",
    "DOBD",
    "LN",
    "FN",
    "FI",
    "CT",
    "ST",
    "ZIP",
    "COUNTRY",
    "MADID",
    "DATA_PROCESSING_OPTIONS",
    "DATA_PROCESSING_OPTIONS_COUNTRY",
    "DATA_PROCESSING_OPTIONS_STATE",
    "LOOKALIKE_VALUE",
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

/// A key name of a schema, as a small index (cells and stored members carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyId(u8);

impl KeyId {
    /// The id of a known key name.
    fn of(name: &str) -> Option<Self> {
        KEY_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| u8::try_from(i).ok())
            .map(Self)
    }

    /// The key name.
    pub(crate) fn name(self) -> &'static str {
        KEY_NAMES[usize::from(self.0)]
    }

    fn kind(self) -> KeyKind {
        key_kind(self.name()).unwrap_or(KeyKind::Meta)
    }
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

/// The member key of a valid row (see the module docs), stored compactly: a key that is exactly
/// 64 lowercase hex digits (a single-key digest) is kept as its 32 bytes, anything else as text.
/// Each string has exactly one representation, so equality is the equality of the strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum MemberKey {
    /// The 32 bytes of a lowercase-hex SHA-256 digest.
    Digest([u8; 32]),
    /// Any other key.
    Text(Box<str>),
}

impl MemberKey {
    /// The key for `text`.
    pub(crate) fn new(text: &str) -> Self {
        match decode_lower_hex(text) {
            Some(d) => Self::Digest(d),
            None => Self::Text(text.into()),
        }
    }
}

/// The key as the text it stands for.
impl std::fmt::Display for MemberKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Digest(d) => f.write_str(&hex_lower(d)),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// Which identifier cells a member holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cells {
    /// A single-key row: the member key itself is the value of this key.
    Single(KeyId),
    /// A multi-key row: each non-empty identifier cell, as its key and the byte range of its
    /// value inside the member key text (`KEY=value|KEY=value`).
    Multi(Box<[(KeyId, std::ops::Range<u32>)]>),
}

/// One valid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// The member key (see the module docs).
    pub(crate) key: MemberKey,
    /// The identifier cells.
    pub(crate) cells: Cells,
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
    /// The distinct members of this payload, in first-seen order.
    pub(crate) fn distinct(&self) -> Vec<&Member> {
        let mut seen: HashSet<&MemberKey, FastState> =
            HashSet::with_capacity_and_hasher(self.members.len(), FastState::default());
        self.members
            .iter()
            .filter(|m| seen.insert(&m.key))
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
    // `parse_schema` accepted only known names.
    let keys: Vec<KeyId> = schema.keys().into_iter().filter_map(KeyId::of).collect();
    let single = matches!(schema, Schema::Single(_));
    let mut out = Payload {
        schema,
        members: Vec::with_capacity(data.len()),
        received: data.len(),
        invalid: 0,
        samples: Map::new(),
    };
    for (i, row) in data.iter().enumerate() {
        let cells = row_cells(single, keys.len(), row).ok_or_else(|| {
            GraphError::invalid_param(format!(
                "payload.data row {i} must have exactly {} value(s), one per key of payload.schema",
                keys.len()
            ))
        })?;
        let member = if single {
            single_member(keys[0], &cells[0])
        } else {
            multi_member(&keys, cells)
        };
        match member {
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

/// The cells of one row, or `None` when the row does not fit the schema (`width` keys).
fn row_cells(single: bool, width: usize, row: &Value) -> Option<&[Value]> {
    match row {
        Value::Array(cells) if cells.len() == width => Some(cells),
        Value::Array(_) => None,
        v if single => Some(std::slice::from_ref(v)),
        _ => None,
    }
}

/// An invalid entry: `(sample, reason)`.
type Invalid = (String, String);

/// The text of one cell (numbers formatted, `null` empty), or the invalid entry it makes.
fn cell_text(key: KeyId, cell: &Value) -> Result<Cow<'_, str>, Invalid> {
    match cell {
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Number(n) => Ok(Cow::Owned(n.to_string())),
        Value::Null => Ok(Cow::Borrowed("")),
        other => Err((other.to_string(), format!("{}: not a string", key.name()))),
    }
}

/// Checks a non-empty identifier cell; returns it as stored (hex and UUIDs lower-cased).
fn checked(key: KeyId, kind: KeyKind, text: Cow<'_, str>) -> Result<Cow<'_, str>, Invalid> {
    match kind {
        KeyKind::Hashed if is_sha256_hex(&text) => Ok(lowercased(text)),
        KeyKind::Hashed => Err((
            text.into_owned(),
            format!("{}: not a SHA-256 hex digest", key.name()),
        )),
        KeyKind::Madid if is_uuid(&text) => Ok(lowercased(text)),
        KeyKind::Madid => Err((
            text.into_owned(),
            format!("{}: not a mobile advertiser id (UUID)", key.name()),
        )),
        KeyKind::Verbatim | KeyKind::Meta => Ok(text),
    }
}

/// ASCII-lower-cased, borrowing when already lower-case.
fn lowercased(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        text
    }
}

/// The "no identifier in the row" invalid entry.
fn no_identifier(cells: &[Value]) -> Invalid {
    let row = Value::Array(cells.to_vec());
    (row.to_string(), "no identifier in the row".to_owned())
}

/// The member of a single-key row.
fn single_member(key: KeyId, cell: &Value) -> Result<Member, Invalid> {
    let kind = key.kind();
    // The common case, a digest: validated, lower-cased and stored in one pass.
    if kind == KeyKind::Hashed
        && let Value::String(s) = cell
        && let Some(digest) = decode_hex(s, &ANY_CASE_HEX)
    {
        return Ok(Member {
            key: MemberKey::Digest(digest),
            cells: Cells::Single(key),
        });
    }
    let text = cell_text(key, cell)?;
    if kind == KeyKind::Meta || text.is_empty() {
        return Err(no_identifier(std::slice::from_ref(cell)));
    }
    let value = checked(key, kind, text)?;
    Ok(Member {
        key: MemberKey::new(&value),
        cells: Cells::Single(key),
    })
}

/// The member of a multi-key row: its non-empty identifier cells in schema order, as
/// `KEY=value` joined with `|`.
fn multi_member(keys: &[KeyId], cells: &[Value]) -> Result<Member, Invalid> {
    let mut text = String::new();
    let mut spans = Vec::with_capacity(keys.len());
    for (&key, cell) in keys.iter().zip(cells) {
        let kind = key.kind();
        if kind == KeyKind::Meta {
            continue;
        }
        let value = cell_text(key, cell)?;
        if value.is_empty() {
            continue;
        }
        let value = checked(key, kind, value)?;
        if !text.is_empty() {
            text.push('|');
        }
        text.push_str(key.name());
        text.push('=');
        let start = text.len();
        text.push_str(&value);
        spans.push((key, span(start, text.len())));
    }
    if spans.is_empty() {
        return Err(no_identifier(cells));
    }
    Ok(Member {
        key: MemberKey::Text(text.into_boxed_str()),
        cells: Cells::Multi(spans.into_boxed_slice()),
    })
}

/// A byte range as stored in [`Cells::Multi`] (request bodies are far below 4 GiB).
fn span(start: usize, end: usize) -> std::ops::Range<u32> {
    let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    at(start)..at(end)
}

fn is_sha256_hex(s: &str) -> bool {
    decode_hex(s, &ANY_CASE_HEX).is_some()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Marks a byte that is not a hex digit in the tables below.
const NOT_HEX: u8 = 0x10;

/// Nibble values of `0-9`, `a-f` and `A-F`; [`NOT_HEX`] for anything else.
const ANY_CASE_HEX: [u8; 256] = hex_table(true);
/// Nibble values of `0-9` and `a-f`; [`NOT_HEX`] for anything else.
const LOWER_HEX: [u8; 256] = hex_table(false);

const fn hex_table(upper: bool) -> [u8; 256] {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        if upper {
            t[b'A' as usize + i] = 10 + i as u8;
        }
        i += 1;
    }
    t
}

/// The 32 bytes of exactly 64 hex digits as `table` reads them. Every digit is looked up and
/// the result checked once at the end: random digests would mispredict a branch per digit.
fn decode_hex(s: &str, table: &[u8; 256]) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0_u8; 32];
    let mut seen = 0_u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = table[usize::from(pair[0])];
        let lo = table[usize::from(pair[1])];
        seen |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    (seen & NOT_HEX == 0).then_some(out)
}

/// The 32 bytes of exactly 64 lowercase hex digits.
fn decode_lower_hex(s: &str) -> Option<[u8; 32]> {
    decode_hex(s, &LOWER_HEX)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
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
        assert_eq!(p.members[0].key.to_string(), h('a'));
        assert_eq!(p.members[1].key.to_string(), h('b'));
        assert!(p.samples.contains_key("zz"));
    }

    #[test]
    fn uppercase_hex_is_accepted_and_lowered() {
        let p = parse_payload(&json!({"schema": "PHONE_SHA256", "data": [h('A')]})).expect("ok");
        assert_eq!(p.members[0].key.to_string(), h('a'));
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
            p.members[0].key.to_string(),
            format!(
                "EMAIL={}|PHONE={}|MADID=aece52e7-03ee-455a-b3c4-e57283966239",
                h('1'),
                h('2')
            )
        );
        assert_eq!(p.members[1].key.to_string(), format!("PHONE={}", h('3')));
        let e = parse_payload(&json!({"schema": ["EXTERN_ID"], "data": [["c-1"]]})).expect("ok");
        assert_eq!(e.members[0].key.to_string(), "EXTERN_ID=c-1");
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
        let keys: Vec<String> = p.distinct().iter().map(|m| m.key.to_string()).collect();
        assert_eq!(keys, ["x", "y"]);
    }
}
