//! Request paths and bodies for the Graph API calls an export makes.
//!
//! Upload bodies are written straight into a byte buffer: at 10,000 rows a request and
//! millions of rows a run, building a `serde_json::Value` per row would cost more than the
//! hashing. Values put in upload bodies are digests or UUIDs checked by the normalizers, so
//! they never need JSON escaping.

use audex_plugin_sdk::kernels::bytes::append_64;
use serde_json::json;

use crate::settings::{CustomerFileSource, Field};

/// Facebook's limit of rows per `/users` request.
pub const MAX_ROWS_PER_REQUEST: usize = 10_000;

/// `/{version}/{object}/{edge}` or `/{version}/{object}`.
pub fn path(version: &str, object: &str, edge: Option<&str>) -> String {
    match edge {
        Some(edge) => format!("/{version}/{object}/{edge}"),
        None => format!("/{version}/{object}"),
    }
}

/// Body creating a customer-file custom audience.
pub fn create_audience(
    name: &str,
    description: Option<&str>,
    source: CustomerFileSource,
) -> serde_json::Value {
    let mut body = json!({
        "name": name,
        "subtype": "CUSTOM",
        "customer_file_source": source.as_str(),
    });
    if let Some(d) = description {
        body["description"] = json!(d);
    }
    body
}

/// Body creating a lookalike audience from `origin_id`.
pub fn create_lookalike(
    name: &str,
    origin_id: &str,
    country: &str,
    ratio: f64,
) -> serde_json::Value {
    json!({
        "name": name,
        "subtype": "LOOKALIKE",
        "origin_audience_id": origin_id,
        "lookalike_spec": {"type": "custom_ratio", "ratio": ratio, "country": country},
    })
}

/// The payload schema of an audience. It never changes for an audience: mixing single-key
/// and multi-key uploads on one audience is Facebook error 2650.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// One identifier per row, with its single-key name (`EMAIL_SHA256`...).
    Single(Field),
    /// Several identifiers per row (`["EMAIL","PHONE"]`), empty strings for unknown cells.
    Multi(Vec<Field>),
}

/// The `session` object of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Advertiser-chosen positive id, unique within the ad account.
    pub session_id: u64,
    /// 1-based sequence number of this request in the session.
    pub batch_seq: u32,
    /// True on the session's last request.
    pub last_batch_flag: bool,
    /// Estimated rows in the whole session.
    pub estimated_num_total: u64,
}

/// Rows being gathered for one upload request: the request body itself, written as the rows
/// come (its start is written up front, its end by [`Chunk::take_body`]), so the ~700 KB of a
/// full request are never copied inside the plugin.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The body's start, up to and including the `[` of `data`.
    head: Vec<u8>,
    /// The body so far: `head`, then the rows, comma-separated.
    body: Vec<u8>,
    rows: usize,
}

impl Chunk {
    /// An empty chunk for `schema`.
    pub fn new(schema: Schema) -> Self {
        let schema = match &schema {
            Schema::Single(f) => format!("\"{}\"", f.single_key_schema()),
            Schema::Multi(fields) => {
                let names: Vec<String> = fields
                    .iter()
                    .map(|f| format!("\"{}\"", f.multi_key_schema()))
                    .collect();
                format!("[{}],\"is_raw\":true", names.join(","))
            }
        };
        let head = format!("{{\"payload\":{{\"schema\":{schema},\"data\":[").into_bytes();
        Self {
            body: head.clone(),
            head,
            rows: 0,
        }
    }

    /// Rows in the chunk.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// True when the chunk holds [`MAX_ROWS_PER_REQUEST`] rows.
    pub fn is_full(&self) -> bool {
        self.rows >= MAX_ROWS_PER_REQUEST
    }

    /// Appends a single-key row. The value is written between quotes as it is: it must be
    /// a normalized value (hex digits, or an advertising id's hex digits and hyphens), which
    /// JSON needs no escape for.
    #[inline(always)]
    pub fn push_single(&mut self, value: &[u8]) {
        self.separator();
        self.push_cell(value);
        self.rows += 1;
    }

    /// Appends a multi-key row; `None` cells are sent as empty strings.
    pub fn push_multi<'a>(&mut self, cells: impl IntoIterator<Item = Option<&'a [u8]>>) {
        self.separator();
        self.body.push(b'[');
        for (i, cell) in cells.into_iter().enumerate() {
            if i > 0 {
                self.body.push(b',');
            }
            self.push_cell(cell.unwrap_or_default());
        }
        self.body.push(b']');
        self.rows += 1;
    }

    /// Writes `value` between quotes.
    #[inline(always)]
    fn push_cell(&mut self, value: &[u8]) {
        debug_assert!(
            value
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        );
        self.body.reserve(value.len() + 2);
        self.body.push(b'"');
        match <&[u8; 64]>::try_from(value) {
            // A digest (most cells): copied without a `memory.copy`, which in the plugin is a
            // call out to the host per cell.
            Ok(digest) => append_64(&mut self.body, digest),
            Err(_) => self.body.extend_from_slice(value),
        }
        self.body.push(b'"');
    }

    fn separator(&mut self) {
        if self.rows > 0 {
            self.body.push(b',');
        }
    }

    /// The request body for this chunk, leaving the chunk empty for reuse.
    pub fn take_body(&mut self, session: Session) -> Vec<u8> {
        let tail = format!(
            "]}},\"session\":{{\"session_id\":{},\"batch_seq\":{},\"last_batch_flag\":{},\"estimated_num_total\":{}}}}}",
            session.session_id,
            session.batch_seq,
            session.last_batch_flag,
            session.estimated_num_total
        );
        self.body.extend_from_slice(tail.as_bytes());
        let mut next = Vec::with_capacity(self.body.capacity());
        next.extend_from_slice(&self.head);
        self.rows = 0;
        std::mem::replace(&mut self.body, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Session = Session {
        session_id: 42,
        batch_seq: 1,
        last_batch_flag: true,
        estimated_num_total: 2,
    };

    #[test]
    fn single_key_body_is_valid_json_with_session() {
        let mut c = Chunk::new(Schema::Single(Field::Email));
        c.push_single(b"aa");
        c.push_single(b"bb");
        let body: serde_json::Value = serde_json::from_slice(&c.take_body(SESSION)).expect("json");
        assert_eq!(
            body,
            json!({"payload": {"schema": "EMAIL_SHA256", "data": ["aa", "bb"]},
                   "session": {"session_id": 42, "batch_seq": 1, "last_batch_flag": true, "estimated_num_total": 2}})
        );
        assert_eq!(c.rows(), 0);
        // The chunk starts over: the next body holds only the rows pushed since.
        c.push_single(b"cc");
        let next: serde_json::Value = serde_json::from_slice(&c.take_body(SESSION)).expect("json");
        assert_eq!(next["payload"]["data"], json!(["cc"]));
        assert_eq!(next["payload"]["schema"], json!("EMAIL_SHA256"));
    }

    #[test]
    fn digest_cells_are_written_whole() {
        let email = [b'a'; 64];
        let phone: [u8; 64] = std::array::from_fn(|i| b"0123456789abcdef"[i % 16]);
        let mut single = Chunk::new(Schema::Single(Field::Email));
        single.push_single(&email);
        single.push_single(&phone);
        let body: serde_json::Value =
            serde_json::from_slice(&single.take_body(SESSION)).expect("json");
        let (email, phone) = (
            String::from_utf8(email.to_vec()).expect("ascii"),
            String::from_utf8(phone.to_vec()).expect("ascii"),
        );
        assert_eq!(body["payload"]["data"], json!([email, phone]));

        let mut multi = Chunk::new(Schema::Multi(vec![
            Field::Email,
            Field::Phone,
            Field::Madid,
        ]));
        multi.push_multi([Some(email.as_bytes()), None, Some(&b"u-1"[..])]);
        multi.push_multi([None, Some(phone.as_bytes()), None]);
        let body: serde_json::Value =
            serde_json::from_slice(&multi.take_body(SESSION)).expect("json");
        assert_eq!(
            body["payload"]["data"],
            json!([[email, "", "u-1"], ["", phone, ""]])
        );
    }

    #[test]
    fn multi_key_rows_are_as_wide_as_the_schema() {
        let mut c = Chunk::new(Schema::Multi(vec![Field::Email, Field::Madid]));
        c.push_multi([Some(&b"aa"[..]), None]);
        c.push_multi([None, Some(&b"u"[..])]);
        let body: serde_json::Value = serde_json::from_slice(&c.take_body(SESSION)).expect("json");
        assert_eq!(body["payload"]["schema"], json!(["EMAIL", "MADID"]));
        assert_eq!(body["payload"]["is_raw"], json!(true));
        assert_eq!(body["payload"]["data"], json!([["aa", ""], ["", "u"]]));
    }

    #[test]
    fn chunk_reports_full_at_the_limit() {
        let mut c = Chunk::new(Schema::Single(Field::Phone));
        for _ in 0..MAX_ROWS_PER_REQUEST {
            assert!(!c.is_full());
            c.push_single(b"x");
        }
        assert!(c.is_full());
    }

    #[test]
    fn lookalike_body_has_spec() {
        let b = create_lookalike("n", "123", "US", 0.01);
        assert_eq!(b["lookalike_spec"]["country"], "US");
        assert_eq!(b["origin_audience_id"], "123");
    }
}
