//! The host services a plugin uses, behind traits so that plugin logic unit-tests natively.
//!
//! [`Host`] is everything a plugin asks of the host except the segment: logs, the clock,
//! random numbers, pauses, HTTP and run bookkeeping. [`SegmentReader`] is the segment being
//! exported. In the component, [`WasmHost`] and the WIT `segment` resource implement them by
//! calling the WIT imports; in native tests, [`crate::testing::FakeHost`] and
//! [`crate::testing::FakeSegment`] do.
//!
//! Write plugin logic against `&impl Host` (or `H: Host`) and it runs unchanged in both.

use arrow_array::RecordBatch;
use arrow_schema::ArrowError;

use crate::bindings::audex::destination::{env, http, log, run, segment_source};

pub use crate::bindings::audex::destination::http::{
    Auth, HttpError, Method, Pair, Request, Response, SecretParam,
};
pub use crate::bindings::audex::destination::log::Level;
pub use crate::bindings::audex::destination::run::{Checkpoint, Rejection};
pub use crate::bindings::audex::destination::segment_source::Batch;

/// Headers the host refuses in a plugin's request (compared case-insensitively): the host owns
/// authentication and the signature of signed bodies.
pub const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "x-audex-signature",
];

/// Everything the plugin asks of the host, except the segment.
pub trait Host {
    /// Writes a log line (never with raw identifiers in it).
    fn log(&self, level: Level, message: &str);
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// A random number.
    fn random_u64(&self) -> u64;
    /// A host-timed pause.
    fn sleep_ms(&self, ms: u64);
    /// Sends a request and waits for its response.
    fn send(&self, request: &Request) -> Result<Response, HttpError>;
    /// Starts a request; its response is collected with [`Host::wait`].
    fn submit(&self, request: &Request) -> Result<u64, HttpError>;
    /// Waits for a submitted request.
    fn wait(&self, id: u64) -> Result<Response, HttpError>;
    /// Records where an audience's upload stands (for resume).
    fn checkpoint(&self, state: &Checkpoint);
    /// Records rejected rows.
    fn reject(&self, rows: &[Rejection]);
}

/// Rejected rows gathered for one [`Host::reject`] call, kept across calls so that a run
/// recording many rejections allocates only while the buffer grows: [`Rejections::push`]
/// writes into a slot left by an earlier batch (its strings keep their capacity).
///
/// ```
/// use audex_plugin_sdk::host::Rejections;
/// use audex_plugin_sdk::testing::FakeHost;
///
/// let host = FakeHost::new();
/// let mut rejections = Rejections::default();
/// rejections.push(7, "email", "malformed_email");
/// rejections.flush(&host);
/// assert!(rejections.is_empty());
/// assert_eq!(host.rejections()[0].row, 7);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Rejections {
    /// Slots; the first `len` hold this batch's rejections, the rest are kept for reuse.
    slots: Vec<Rejection>,
    len: usize,
}

impl Rejections {
    /// Adds row `row` (0-based, in the whole segment), not uploaded for `field` because of
    /// `reason`.
    pub fn push(&mut self, row: u64, field: &str, reason: &str) {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                slot.row = row;
                slot.field.clear();
                slot.field.push_str(field);
                slot.reason.clear();
                slot.reason.push_str(reason);
            }
            None => self.slots.push(Rejection {
                row,
                field: field.to_owned(),
                reason: reason.to_owned(),
            }),
        }
        self.len += 1;
    }

    /// The rejections pushed since the last flush.
    pub fn as_slice(&self) -> &[Rejection] {
        &self.slots[..self.len]
    }

    /// True when nothing was pushed since the last flush.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records the pushed rejections with the host (one call, none when empty) and empties
    /// the buffer.
    pub fn flush(&mut self, host: &impl Host) {
        if self.len > 0 {
            host.reject(self.as_slice());
            self.len = 0;
        }
    }
}

/// The segment being exported.
pub trait SegmentReader {
    /// Field names in each batch.
    fn fields(&self) -> Vec<String>;
    /// Total rows, if known up front.
    fn estimated_rows(&self) -> Option<u64>;
    /// The next batch, none at the end. An error means the source failed: stop and return
    /// [`PluginError::Host`](crate::types::PluginError::Host).
    fn next_batch(&self) -> Result<Option<Batch>, String>;
}

/// The real host, reached through the component's imports. Only usable inside the
/// WebAssembly component: natively, its methods have no host to call and panic.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

impl Host for WasmHost {
    fn log(&self, level: Level, message: &str) {
        log::log(level, message);
    }
    fn now_ms(&self) -> u64 {
        env::now_ms()
    }
    fn random_u64(&self) -> u64 {
        env::random_u64()
    }
    fn sleep_ms(&self, ms: u64) {
        env::sleep_ms(ms);
    }
    fn send(&self, request: &Request) -> Result<Response, HttpError> {
        http::send(request)
    }
    fn submit(&self, request: &Request) -> Result<u64, HttpError> {
        http::submit(request)
    }
    fn wait(&self, id: u64) -> Result<Response, HttpError> {
        http::wait(id)
    }
    fn checkpoint(&self, state: &Checkpoint) {
        run::save_checkpoint(state);
    }
    fn reject(&self, rows: &[Rejection]) {
        run::record_rejects(rows);
    }
}

impl SegmentReader for segment_source::Segment {
    fn fields(&self) -> Vec<String> {
        segment_source::Segment::fields(self)
    }
    fn estimated_rows(&self) -> Option<u64> {
        segment_source::Segment::estimated_rows(self)
    }
    fn next_batch(&self) -> Result<Option<Batch>, String> {
        segment_source::Segment::next_batch(self)
    }
}

impl Batch {
    /// Decodes the batch's Arrow IPC stream into a record batch (the columns are the plan's
    /// fields present in the mapping, named after them).
    pub fn to_record_batch(&self) -> Result<RecordBatch, ArrowError> {
        self.clone().into_record_batch()
    }

    /// Like [`to_record_batch`](Self::to_record_batch), without copying: the arrays point
    /// into the batch's IPC bytes. The stream must hold exactly one record batch.
    pub fn into_record_batch(self) -> Result<RecordBatch, ArrowError> {
        let mut buffer = arrow_buffer::Buffer::from_vec(self.ipc);
        let mut decoder = arrow_ipc::reader::StreamDecoder::new();
        let mut batches = Vec::with_capacity(1);
        while !buffer.is_empty() {
            if let Some(batch) = decoder.decode(&mut buffer)? {
                batches.push(batch);
            }
        }
        decoder.finish()?;
        match <[RecordBatch; 1]>::try_from(batches) {
            Ok([batch]) => Ok(batch),
            Err(batches) => Err(ArrowError::IpcError(format!(
                "the batch's IPC stream holds {} record batches, not one",
                batches.len()
            ))),
        }
    }
}

impl Request {
    /// A request to `path` (relative to the base URL of the manifest endpoint `endpoint`,
    /// starting with `/`), authenticated with the endpoint's scheme, not idempotent, without
    /// query, headers or body.
    pub fn new(method: Method, endpoint: impl Into<String>, path: impl Into<String>) -> Self {
        Request {
            method,
            endpoint: endpoint.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            auth: Auth::EndpointDefault,
            secret_params: Vec::new(),
            idempotent: false,
        }
    }

    /// A GET request: [`Request::new`], marked idempotent (the host may retry it after a
    /// transport failure).
    pub fn get(endpoint: impl Into<String>, path: impl Into<String>) -> Self {
        Request::new(Method::Get, endpoint, path).idempotent(true)
    }

    /// A POST request with a JSON body (and its `Content-Type` header).
    pub fn post_json<T: serde::Serialize + ?Sized>(
        endpoint: impl Into<String>,
        path: impl Into<String>,
        body: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(Request::new(Method::Post, endpoint, path)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?))
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push(Pair {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a header (not one of [`FORBIDDEN_HEADERS`]: the host refuses those).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Pair {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Says whether sending the request twice has the same effect as once; only such requests
    /// are retried by the host after a transport failure.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Sends no credentials at all (beyond any [`secret_param`](Self::secret_param)).
    #[must_use]
    pub fn without_auth(mut self) -> Self {
        self.auth = Auth::None;
        self
    }

    /// Asks the host to put the manifest secret `secret` into query parameter `param`. The
    /// plugin never sees the value.
    #[must_use]
    pub fn secret_param(mut self, param: impl Into<String>, secret: impl Into<String>) -> Self {
        self.secret_params.push(SecretParam {
            param: param.into(),
            secret: secret.into(),
        });
        self
    }

    /// The value of query parameter `name`, if set.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// The value of header `name` (case-insensitive), if set.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.body.as_deref().unwrap_or_default())
    }
}

impl Response {
    /// A response with `status` and `body`, without headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A response with `status` and `value` as its JSON body (and its `content-type` header).
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![Pair {
                name: "content-type".to_owned(),
                value: "application/json".to_owned(),
            }],
            body: value.to_string().into_bytes(),
        }
    }

    /// Adds a header (lower-case the name, as the host does).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Pair {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body parsed as JSON.
    pub fn json_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

fn find_header<'a>(headers: &'a [Pair], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| p.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_reuse_their_slots_and_flush_only_what_was_pushed() {
        let host = crate::testing::FakeHost::new();
        let mut rejections = Rejections::default();
        rejections.flush(&host);
        assert!(
            host.rejections().is_empty(),
            "an empty buffer makes no call"
        );

        rejections.push(1, "email", "malformed_email");
        rejections.push(2, "phone", "invalid_phone");
        rejections.flush(&host);
        rejections.push(9, "madid", "empty");
        assert_eq!(rejections.as_slice(), [Rejection::new(9, "madid", "empty")]);
        rejections.flush(&host);
        assert_eq!(
            host.rejections(),
            [
                Rejection::new(1, "email", "malformed_email"),
                Rejection::new(2, "phone", "invalid_phone"),
                Rejection::new(9, "madid", "empty"),
            ]
        );
        assert_eq!(rejections.slots.len(), 2, "the second batch reused a slot");
    }

    #[test]
    fn request_builders() {
        let r = Request::post_json("api", "/v1/items", &serde_json::json!({"a": 1}))
            .expect("json")
            .query("x", "1")
            .secret_param("token", "api-token")
            .idempotent(true);
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.endpoint, "api");
        assert_eq!(r.header_value("Content-Type"), Some("application/json"));
        assert_eq!(r.query_value("x"), Some("1"));
        assert_eq!(r.secret_params[0].secret, "api-token");
        assert!(r.idempotent);
        assert_eq!(
            r.json::<serde_json::Value>().expect("body"),
            serde_json::json!({"a": 1})
        );
        let g = Request::get("api", "/v1/me").without_auth();
        assert!(g.idempotent && g.body.is_none());
        assert_eq!(g.auth, Auth::None);
    }

    #[test]
    fn response_helpers() {
        let r = Response::json(201, &serde_json::json!({"id": "7"})).with_header("x-n", "1");
        assert!(r.is_success());
        assert_eq!(r.header_value("X-N"), Some("1"));
        let v: serde_json::Value = r.json_body().expect("json");
        assert_eq!(v["id"], "7");
        assert!(!Response::new(500, "").is_success());
    }
}
