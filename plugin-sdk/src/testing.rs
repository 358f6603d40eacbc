//! A fake host and a fake segment, so that plugin logic unit-tests natively with `cargo test`.
//!
//! [`FakeHost`] implements [`Host`]: it applies the host's request rules (declared endpoints
//! when told them, relative clean paths, no credential header), records every request and
//! answers it from scripted responses or a responder closure, records logs, checkpoints and
//! rejected rows, and keeps a fake clock that pauses advance. [`FakeSegment`] implements
//! [`SegmentReader`] over Arrow record batches, encoded as the host encodes them.
//!
//! ```
//! use audex_plugin_sdk::host::{Host, Request, Response};
//! use audex_plugin_sdk::testing::FakeHost;
//!
//! let host = FakeHost::new()
//!     .with_endpoints(["api"])
//!     .responding(|request| Ok(Response::json(200, &serde_json::json!({"path": request.path}))));
//! let response = host.send(&Request::get("api", "/v1/me")).expect("answered");
//! assert_eq!(response.json_body::<serde_json::Value>()?["path"], "/v1/me");
//! // Undeclared endpoints and credential headers are refused, as the real host does.
//! assert!(host.send(&Request::get("other", "/")).is_err());
//! assert!(host.send(&Request::get("api", "/").header("Authorization", "x")).is_err());
//! assert_eq!(host.requests().len(), 1);
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::ArrowError;

use crate::host::{
    Batch, Checkpoint, FORBIDDEN_HEADERS, Host, HttpError, Level, Rejection, Request, Response,
    SegmentReader,
};

/// What answers a [`FakeHost`]'s requests when no scripted response is left.
type Responder = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

/// The fake clock's start: 2026-01-01T00:00:00Z, in milliseconds since the Unix epoch.
pub const FAKE_EPOCH_MS: u64 = 1_767_225_600_000;

/// A [`Host`] for native unit tests. See the [module documentation](self).
///
/// Every method takes `&self` (as [`Host`]'s do); the recorded calls are read back with
/// [`requests`](Self::requests), [`logs`](Self::logs), [`checkpoints`](Self::checkpoints),
/// [`rejections`](Self::rejections) and [`pauses`](Self::pauses).
pub struct FakeHost {
    state: RefCell<State>,
}

struct State {
    responder: Responder,
    scripted: VecDeque<Result<Response, HttpError>>,
    endpoints: Option<Vec<String>>,
    secrets: Option<Vec<String>>,
    requests: Vec<Request>,
    submitted: BTreeMap<u64, Result<Response, HttpError>>,
    next_id: u64,
    logs: Vec<(Level, String)>,
    checkpoints: Vec<Checkpoint>,
    rejections: Vec<Rejection>,
    now_ms: u64,
    pauses: Vec<u64>,
    random: u64,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("FakeHost")
            .field("requests", &s.requests.len())
            .field("logs", &s.logs.len())
            .field("checkpoints", &s.checkpoints.len())
            .field("rejections", &s.rejections.len())
            .field("now_ms", &s.now_ms)
            .finish_non_exhaustive()
    }
}

impl FakeHost {
    /// A host that accepts requests to any endpoint and answers each with `200` and the JSON
    /// body `{}`. Its clock starts at [`FAKE_EPOCH_MS`]; its random numbers are a fixed
    /// sequence.
    pub fn new() -> Self {
        FakeHost {
            state: RefCell::new(State {
                responder: Box::new(|_| Ok(Response::json(200, &serde_json::json!({})))),
                scripted: VecDeque::new(),
                endpoints: None,
                secrets: None,
                requests: Vec::new(),
                submitted: BTreeMap::new(),
                next_id: 1,
                logs: Vec::new(),
                checkpoints: Vec::new(),
                rejections: Vec::new(),
                now_ms: FAKE_EPOCH_MS,
                pauses: Vec::new(),
                random: 0x2545_f491_4f6c_dd1d,
            }),
        }
    }

    /// Answers requests with `responder` (once the scripted responses, if any, are used up).
    #[must_use]
    pub fn responding(
        self,
        responder: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
    ) -> Self {
        self.state.borrow_mut().responder = Box::new(responder);
        self
    }

    /// Refuses requests to endpoints other than these (as the host refuses endpoints the
    /// manifest does not declare), with [`HttpError::Denied`].
    #[must_use]
    pub fn with_endpoints<S: Into<String>>(self, endpoints: impl IntoIterator<Item = S>) -> Self {
        self.state.borrow_mut().endpoints = Some(endpoints.into_iter().map(Into::into).collect());
        self
    }

    /// Refuses secret parameters naming other secrets than these (as the host refuses
    /// secrets the manifest does not declare), with [`HttpError::Denied`].
    #[must_use]
    pub fn with_secrets<S: Into<String>>(self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.state.borrow_mut().secrets = Some(secrets.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the responder.
    pub fn set_responder(
        &self,
        responder: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
    ) {
        self.state.borrow_mut().responder = Box::new(responder);
    }

    /// Queues an answer: the next request gets it instead of the responder's. Answers are
    /// used in the order they were queued.
    pub fn push_response(&self, answer: Result<Response, HttpError>) {
        self.state.borrow_mut().scripted.push_back(answer);
    }

    /// Every request that passed the host's rules, in sending (or submission) order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.borrow().requests.clone()
    }

    /// Every log line, with its level.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state.borrow().logs.clone()
    }

    /// Every checkpoint saved, in order.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.state.borrow().checkpoints.clone()
    }

    /// Every rejected row recorded, in order.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.state.borrow().rejections.clone()
    }

    /// Every pause asked for, in milliseconds, in order.
    pub fn pauses(&self) -> Vec<u64> {
        self.state.borrow().pauses.clone()
    }

    /// Submitted requests whose response was never awaited.
    pub fn unawaited(&self) -> usize {
        self.state.borrow().submitted.len()
    }

    /// Sets the fake clock.
    pub fn set_now_ms(&self, now_ms: u64) {
        self.state.borrow_mut().now_ms = now_ms;
    }

    /// Moves the fake clock forward.
    pub fn advance_ms(&self, ms: u64) {
        let mut s = self.state.borrow_mut();
        s.now_ms = s.now_ms.saturating_add(ms);
    }

    /// Checks `request` as the host does, records it and answers it.
    fn answer(&self, request: &Request) -> Result<Response, HttpError> {
        let mut s = self.state.borrow_mut();
        s.check(request).map_err(HttpError::Denied)?;
        s.requests.push(request.clone());
        match s.scripted.pop_front() {
            Some(answer) => answer,
            None => (s.responder)(request),
        }
    }
}

impl State {
    /// The host's mediation rules, as far as they do not depend on its configuration.
    fn check(&self, request: &Request) -> Result<(), String> {
        if let Some(endpoints) = &self.endpoints
            && !endpoints.contains(&request.endpoint)
        {
            return Err(format!(
                "endpoint `{}` is not declared in the plugin manifest",
                request.endpoint
            ));
        }
        if !is_clean_path(&request.path) {
            return Err(format!(
                "path `{}` must be relative to the endpoint: start with `/`, without query, \
                 fragment, `..` or spaces",
                request.path
            ));
        }
        if let Some(header) = request
            .headers
            .iter()
            .find(|h| FORBIDDEN_HEADERS.contains(&h.name.to_ascii_lowercase().as_str()))
        {
            return Err(format!(
                "header `{}` is set by the host, never by a plugin",
                header.name
            ));
        }
        if let Some(secrets) = &self.secrets
            && let Some(unknown) = request
                .secret_params
                .iter()
                .find(|p| !secrets.contains(&p.secret))
        {
            return Err(format!(
                "secret `{}` is not declared in the plugin manifest",
                unknown.secret
            ));
        }
        Ok(())
    }
}

/// The host's rule for request paths.
fn is_clean_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains(['?', '#', '@', '\\'])
        && !path.split('/').any(|seg| seg == ".." || seg == ".")
        && !path.chars().any(|c| c.is_control() || c == ' ')
}

impl Host for FakeHost {
    fn log(&self, level: Level, message: &str) {
        self.state
            .borrow_mut()
            .logs
            .push((level, message.to_owned()));
    }

    fn now_ms(&self) -> u64 {
        self.state.borrow().now_ms
    }

    fn random_u64(&self) -> u64 {
        // SplitMix64: a fixed, well-spread sequence.
        let mut s = self.state.borrow_mut();
        s.random = s.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn sleep_ms(&self, ms: u64) {
        let mut s = self.state.borrow_mut();
        s.pauses.push(ms);
        s.now_ms = s.now_ms.saturating_add(ms);
    }

    fn send(&self, request: &Request) -> Result<Response, HttpError> {
        self.answer(request)
    }

    fn submit(&self, request: &Request) -> Result<u64, HttpError> {
        // Refused requests fail at submission, as with the host; answers wait for `wait`.
        let answer = self.answer(request);
        if let Err(HttpError::Denied(reason)) = answer {
            return Err(HttpError::Denied(reason));
        }
        let mut s = self.state.borrow_mut();
        let id = s.next_id;
        s.next_id += 1;
        s.submitted.insert(id, answer);
        Ok(id)
    }

    fn wait(&self, id: u64) -> Result<Response, HttpError> {
        self.state
            .borrow_mut()
            .submitted
            .remove(&id)
            .unwrap_or(Err(HttpError::UnknownRequest(id)))
    }

    fn checkpoint(&self, state: &Checkpoint) {
        self.state.borrow_mut().checkpoints.push(state.clone());
    }

    fn reject(&self, rows: &[Rejection]) {
        self.state.borrow_mut().rejections.extend_from_slice(rows);
    }
}

/// A [`SegmentReader`] over Arrow record batches, for native tests.
///
/// Each batch is handed over as the host hands it: Arrow IPC stream bytes, with the row
/// position of its first row.
///
/// ```
/// use audex_plugin_sdk::host::SegmentReader;
/// use audex_plugin_sdk::testing::FakeSegment;
///
/// let segment = FakeSegment::from_strings(
///     &[("email", &[Some("a@example.com"), None, Some("b@example.com")])],
///     2,
/// )?;
/// assert_eq!(segment.fields(), ["email"]);
/// assert_eq!(segment.estimated_rows(), Some(3));
/// let first = segment.next_batch().expect("readable").expect("a batch");
/// assert_eq!((first.first_row, first.num_rows), (0, 2));
/// let second = segment.next_batch().expect("readable").expect("a batch");
/// assert_eq!((second.first_row, second.num_rows), (2, 1));
/// assert!(segment.next_batch().expect("readable").is_none());
/// # Ok::<(), arrow_schema::ArrowError>(())
/// ```
#[derive(Debug)]
pub struct FakeSegment {
    fields: Vec<String>,
    estimated_rows: Option<u64>,
    batches: RefCell<VecDeque<Batch>>,
    fail_after: RefCell<Option<(usize, String)>>,
}

impl FakeSegment {
    /// A segment of `batches`, in order (their schemas should agree: the first one names the
    /// fields). The estimated row count is their total.
    pub fn new(batches: impl IntoIterator<Item = RecordBatch>) -> Result<Self, ArrowError> {
        let mut fields = None;
        let mut encoded = VecDeque::new();
        let mut first_row = 0u64;
        for batch in batches {
            fields.get_or_insert_with(|| {
                batch
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect::<Vec<_>>()
            });
            let num_rows = u32::try_from(batch.num_rows())
                .map_err(|_| ArrowError::InvalidArgumentError("batch too large".to_owned()))?;
            encoded.push_back(Batch {
                first_row,
                num_rows,
                ipc: encode(&batch)?,
            });
            first_row += u64::from(num_rows);
        }
        Ok(FakeSegment {
            fields: fields.unwrap_or_default(),
            estimated_rows: Some(first_row),
            batches: RefCell::new(encoded),
            fail_after: RefCell::new(None),
        })
    }

    /// A segment of `Utf8` columns (`(field, values)`, all of the same length), cut into
    /// batches of at most `batch_rows` rows.
    pub fn from_strings(
        columns: &[(&str, &[Option<&str>])],
        batch_rows: usize,
    ) -> Result<Self, ArrowError> {
        let rows = columns.first().map_or(0, |(_, v)| v.len());
        let batch_rows = batch_rows.max(1);
        let mut batches = Vec::new();
        let mut start = 0;
        while start < rows {
            let end = (start + batch_rows).min(rows);
            let arrays: Vec<(&str, ArrayRef)> = columns
                .iter()
                .map(|(name, values)| {
                    let slice = values.get(start..end).ok_or_else(|| {
                        ArrowError::InvalidArgumentError(format!(
                            "column `{name}` has {} values, the first column {rows}",
                            values.len()
                        ))
                    })?;
                    Ok((
                        *name,
                        Arc::new(StringArray::from(slice.to_vec())) as ArrayRef,
                    ))
                })
                .collect::<Result<_, ArrowError>>()?;
            batches.push(RecordBatch::try_from_iter(arrays)?);
            start = end;
        }
        let mut segment = FakeSegment::new(batches)?;
        segment.fields = columns.iter().map(|(name, _)| (*name).to_owned()).collect();
        Ok(segment)
    }

    /// Says the segment's size is unknown up front (as for CSV sources), or something else.
    #[must_use]
    pub fn with_estimated_rows(mut self, rows: Option<u64>) -> Self {
        self.estimated_rows = rows;
        self
    }

    /// Makes the source fail with `message` once `batches` batches have been read.
    #[must_use]
    pub fn failing_after(self, batches: usize, message: impl Into<String>) -> Self {
        *self.fail_after.borrow_mut() = Some((batches, message.into()));
        self
    }
}

impl SegmentReader for FakeSegment {
    fn fields(&self) -> Vec<String> {
        self.fields.clone()
    }

    fn estimated_rows(&self) -> Option<u64> {
        self.estimated_rows
    }

    fn next_batch(&self) -> Result<Option<Batch>, String> {
        if let Some((left, message)) = self.fail_after.borrow_mut().as_mut() {
            if *left == 0 {
                return Err(message.clone());
            }
            *left -= 1;
        }
        Ok(self.batches.borrow_mut().pop_front())
    }
}

/// One record batch as an Arrow IPC stream: a schema message and the batch.
fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;

    use super::*;
    use crate::host::{Checkpoint, Method};

    #[test]
    fn scripted_answers_come_first_then_the_responder() {
        let host = FakeHost::new().responding(|r| Ok(Response::new(200, r.path.clone())));
        host.push_response(Ok(Response::new(503, "busy")));
        host.push_response(Err(HttpError::Transport("reset".to_owned())));
        assert_eq!(
            host.send(&Request::get("api", "/a")).expect("ok").status,
            503
        );
        assert!(matches!(
            host.send(&Request::get("api", "/b")),
            Err(HttpError::Transport(_))
        ));
        assert_eq!(
            host.send(&Request::get("api", "/c")).expect("ok").body,
            b"/c"
        );
        let paths: Vec<String> = host.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/a", "/b", "/c"]);
    }

    #[test]
    fn host_rules_are_applied() {
        let host = FakeHost::new()
            .with_endpoints(["api"])
            .with_secrets(["api-token"]);
        for (request, needle) in [
            (Request::get("web", "/"), "endpoint `web`"),
            (Request::get("api", "v1"), "path `v1`"),
            (Request::get("api", "/a/../b"), "path"),
            (Request::get("api", "/a?x=1"), "path"),
            (Request::get("api", "/").header("Cookie", "c"), "`Cookie`"),
            (
                Request::get("api", "/").header("X-Audex-Signature", "s"),
                "`X-Audex-Signature`",
            ),
            (
                Request::get("api", "/").secret_param("key", "other"),
                "secret `other`",
            ),
        ] {
            match host.send(&request) {
                Err(HttpError::Denied(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("{request:?}: {other:?}"),
            }
            assert!(matches!(host.submit(&request), Err(HttpError::Denied(_))));
        }
        assert!(host.requests().is_empty());
        host.send(&Request::get("api", "/v1/ok").secret_param("key", "api-token"))
            .expect("allowed");
    }

    #[test]
    fn submit_and_wait() {
        let host = FakeHost::new();
        let a = host
            .submit(&Request::new(Method::Post, "api", "/a"))
            .expect("id");
        let b = host
            .submit(&Request::new(Method::Post, "api", "/b"))
            .expect("id");
        assert_ne!(a, b);
        assert_eq!(host.unawaited(), 2);
        assert_eq!(host.wait(b).expect("answer").status, 200);
        assert!(matches!(host.wait(b), Err(HttpError::UnknownRequest(id)) if id == b));
        host.wait(a).expect("answer");
        assert_eq!(host.unawaited(), 0);
    }

    #[test]
    fn clock_pauses_logs_and_bookkeeping() {
        let host = FakeHost::new();
        assert_eq!(host.now_ms(), FAKE_EPOCH_MS);
        host.sleep_ms(1500);
        host.advance_ms(500);
        assert_eq!(host.now_ms(), FAKE_EPOCH_MS + 2000);
        assert_eq!(host.pauses(), [1500]);
        assert_ne!(host.random_u64(), host.random_u64());
        host.log(Level::Warn, "careful");
        assert_eq!(host.logs(), [(Level::Warn, "careful".to_owned())]);
        host.reject(&[Rejection::new(4, "email", "empty")]);
        assert_eq!(host.rejections()[0].row, 4);
        let checkpoint = Checkpoint {
            audience_key: "email".to_owned(),
            audience_id: "1".to_owned(),
            session_id: 2,
            session_started_ms: FAKE_EPOCH_MS,
            batches_acked: 1,
            rows_done: 10,
            uploaded: 9,
            name: "n".to_owned(),
            created: true,
            requests: 1,
            rejected: vec![crate::types::ReasonCount::new("empty", 1)],
        };
        host.checkpoint(&checkpoint);
        assert_eq!(host.checkpoints(), [checkpoint]);
    }

    #[test]
    fn segment_batches_decode_back() {
        let emails: Vec<Option<&str>> = vec![Some("a"), None, Some("c"), Some("d"), Some("e")];
        let phones: Vec<Option<&str>> = vec![None; 5];
        let segment =
            FakeSegment::from_strings(&[("email", &emails), ("phone", &phones)], 2).expect("ok");
        assert_eq!(segment.fields(), ["email", "phone"]);
        let mut seen = Vec::new();
        while let Some(batch) = segment.next_batch().expect("readable") {
            let records = batch.to_record_batch().expect("ipc");
            assert_eq!(records.num_rows() as u32, batch.num_rows);
            assert_eq!(records.schema().field(1).name(), "phone");
            let column = records.column(0).as_string::<i32>();
            seen.extend(column.iter().map(|v| v.map(str::to_owned)));
        }
        let expected: Vec<Option<String>> = emails.iter().map(|v| v.map(str::to_owned)).collect();
        assert_eq!(seen, expected);

        let failing = FakeSegment::from_strings(&[("email", &emails)], 2)
            .expect("ok")
            .failing_after(1, "disk gone")
            .with_estimated_rows(None);
        assert_eq!(failing.estimated_rows(), None);
        assert!(failing.next_batch().expect("first").is_some());
        assert_eq!(failing.next_batch().expect_err("fails"), "disk gone");

        let empty = FakeSegment::from_strings(&[("email", &[])], 2).expect("ok");
        assert_eq!(empty.fields(), ["email"]);
        assert!(empty.next_batch().expect("readable").is_none());
        assert!(FakeSegment::from_strings(&[("a", &[None]), ("b", &[])], 2).is_err());
    }
}
