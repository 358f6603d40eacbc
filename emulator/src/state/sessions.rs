//! Upload sessions: the `session` parameter and what the emulator remembers of each session.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::graph_error::{GraphError, GraphResult};
use crate::params::{lenient_bool, lenient_u64};

/// How long an upload session stays open after its first batch.
pub(crate) const SESSION_WINDOW_MS: u64 = 90 * 60 * 1000;

/// Which endpoint an upload came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UploadOp {
    /// `POST /users`.
    Add,
    /// `DELETE /users`.
    Remove,
    /// `POST /usersreplace`.
    Replace,
}

/// The `session` parameter of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionParams {
    pub(crate) id: u64,
    pub(crate) batch_seq: u64,
    pub(crate) last: bool,
    pub(crate) estimated_total: Option<u64>,
}

impl SessionParams {
    /// Reads a `session` object.
    pub(crate) fn parse(v: &Value) -> GraphResult<Self> {
        let obj = v
            .as_object()
            .ok_or_else(|| GraphError::invalid_param("Param session must be a JSON object"))?;
        let id = obj
            .get("session_id")
            .and_then(lenient_u64)
            .filter(|&n| n > 0 && n <= i64::MAX as u64)
            .ok_or_else(|| {
                GraphError::invalid_param("session.session_id must be a positive 64-bit integer")
            })?;
        let batch_seq = obj
            .get("batch_seq")
            .and_then(lenient_u64)
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                GraphError::invalid_param("session.batch_seq must be a positive integer")
            })?;
        let last = match obj.get("last_batch_flag") {
            None | Some(Value::Null) => false,
            Some(v) => lenient_bool(v).ok_or_else(|| {
                GraphError::invalid_param("session.last_batch_flag must be a boolean")
            })?,
        };
        let estimated_total = obj.get("estimated_num_total").and_then(lenient_u64);
        Ok(Self {
            id,
            batch_seq,
            last,
            estimated_total,
        })
    }
}

/// One upload session of an audience.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(super) op: UploadOp,
    pub(super) started_ms: u64,
    pub(super) ended_ms: Option<u64>,
    pub(super) estimated_total: Option<u64>,
    pub(super) num_received: u64,
    pub(super) num_invalid: u64,
    pub(super) num_matched: u64,
    /// Original answers by `batch_seq`, for replays.
    pub(super) answers: BTreeMap<u64, Value>,
}

impl Session {
    /// Whether the session still takes batches at `now_ms`.
    pub(super) fn open(&self, now_ms: u64) -> bool {
        self.ended_ms.is_none() && now_ms < self.started_ms + SESSION_WINDOW_MS
    }

    /// The session as `GET /{audience}/sessions` shows it (numbers as strings).
    pub(super) fn to_json(&self, id: u64, now_ms: u64) -> Value {
        let (stage, end_ms) = match self.ended_ms {
            Some(end) => ("finished", end),
            None if now_ms >= self.started_ms + SESSION_WINDOW_MS => {
                ("timed_out", self.started_ms + SESSION_WINDOW_MS)
            }
            None => ("uploading", 0),
        };
        let progress = match (stage, self.estimated_total) {
            ("uploading", Some(total)) if total > 0 => (self.num_received * 100 / total).min(99),
            ("uploading", _) => 0,
            _ => 100,
        };
        let matched = if stage == "uploading" {
            "-1".to_owned()
        } else {
            self.num_matched.to_string()
        };
        json!({
            "session_id": id.to_string(),
            "start_time": (self.started_ms / 1000).to_string(),
            "end_time": (end_ms / 1000).to_string(),
            "num_received": self.num_received.to_string(),
            "num_matched": matched,
            "num_invalid_entries": self.num_invalid.to_string(),
            "progress": progress.to_string(),
            "stage": stage,
        })
    }
}
