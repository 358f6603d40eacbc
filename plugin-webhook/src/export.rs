//! The export: rows normalized batch by batch, gathered into requests of at most
//! `batch_rows` rows, each posted as one JSON document:
//!
//! ```json
//! {"type": "batch", "pipeline": "vip", "audience": "vip", "run_id": "1234",
//!  "batch_seq": 1, "last": false, "sent_at_ms": 1767225600000,
//!  "fields": ["email", "phone"],
//!  "rows": [{"email": "<64 hex>", "phone": "<64 hex>"}, {"email": "<64 hex>"}]}
//! ```
//!
//! A row carries the fields whose values were accepted; a row with none is rejected (its
//! field's reason when one field is sent, `no_valid_identifier` otherwise). `batch_seq`
//! counts from 1 within a `run_id`, and `last` marks the final request, so a receiver can
//! de-duplicate re-sent requests (they are marked idempotent, so the host retries them after
//! transport failures and 5xx/429 answers) and know when a run is complete. The host signs
//! every body (`X-Audex-Signature: sha256=<hex>`), `sent_at_ms` included.
//!
//! After each acknowledged request the plugin saves a checkpoint; an interrupted run resumes
//! with the same `run_id`, skips the rows already done and goes on from the next `batch_seq`.

use std::collections::BTreeMap;

use audex_plugin_sdk::prelude::*;

use crate::rows::{Cell, normalize};
use crate::settings::{Field, Settings};

/// The key of the plugin's one audience (the whole stream of batches).
pub const AUDIENCE_KEY: &str = "webhook";

/// Longest part of a receiver's answer quoted in an error.
const QUOTED_BYTES: usize = 200;

/// The answer of the receiver, checked: 2xx passes; 401 and 403 mean the signature (the
/// signing key) was refused; 429 a rate limit; anything else an upstream error.
pub fn check_response(response: &Response, what: &str) -> Result<(), PluginError> {
    if response.is_success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&response.body[..response.body.len().min(QUOTED_BYTES)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>();
    let quoted = if text.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", text.trim())
    };
    let status = response.status;
    Err(match status {
        401 | 403 => PluginError::AuthRejected(UpstreamError::new(
            status,
            format!(
                "the receiver refused the {what} (HTTP {status}): check that it verifies X-Audex-Signature with the same signing key (AUDEX_SECRET_SIGNING_KEY){quoted}"
            ),
        )),
        429 => PluginError::RateLimited(UpstreamError {
            retry_after_s: response
                .header_value("retry-after")
                .and_then(|v| v.trim().parse().ok()),
            ..UpstreamError::new(
                status,
                format!("the receiver rate-limited the {what}{quoted}"),
            )
        }),
        _ => PluginError::Upstream(UpstreamError::new(
            status,
            format!("the receiver answered HTTP {status} to the {what}{quoted}"),
        )),
    })
}

/// Sends `request` and checks the answer.
pub fn deliver(host: &impl Host, request: &Request, what: &str) -> Result<(), PluginError> {
    let response = host.send(request).map_err(|e| match e {
        HttpError::Transport(m) => PluginError::Upstream(UpstreamError::new(
            0,
            format!("the receiver could not be reached for the {what}: {m}"),
        )),
        other => PluginError::host(format!("the host refused the {what}: {other:?}")),
    })?;
    check_response(&response, what)
}

/// A JSON string literal.
fn json_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

/// Rows gathered for one request.
#[derive(Debug, Default)]
struct Chunk {
    /// The rows, as JSON objects separated by commas.
    rows_json: Vec<u8>,
    rows: u64,
    /// Its last row's position + 1.
    row_end: u64,
    /// Rows rejected before `row_end`, by reason (taken when the chunk is full).
    rejected: BTreeMap<String, u64>,
}

/// The export's progress.
struct Export<'a, H: Host> {
    host: &'a H,
    settings: &'a Settings,
    pipeline: &'a str,
    name: String,
    run_id: u64,
    started_ms: u64,
    created: bool,
    /// Acknowledged so far.
    batches_acked: u32,
    uploaded: u64,
    rows_done: u64,
    requests: u32,
    /// Rows rejected so far, by reason (acknowledged or not).
    rejected: BTreeMap<String, u64>,
    /// The chunk being filled, and a full one waiting to learn whether it is the last.
    open: Chunk,
    full: Option<Chunk>,
}

impl<H: Host> Export<'_, H> {
    fn checkpoint(&self) {
        self.host.checkpoint(&Checkpoint {
            audience_key: AUDIENCE_KEY.to_owned(),
            audience_id: self.run_id.to_string(),
            session_id: self.run_id,
            session_started_ms: self.started_ms,
            batches_acked: self.batches_acked,
            rows_done: self.rows_done,
            uploaded: self.uploaded,
            name: self.name.clone(),
            created: self.created,
            requests: self.requests,
            rejected: reason_counts(&self.rejected),
        });
    }

    /// Sends a chunk. `last` is the end of the segment when this is the final request: every
    /// row is done once it is acknowledged. Otherwise the rows up to the chunk's last one are.
    fn send(&mut self, chunk: Chunk, last: Option<u64>) -> Result<(), PluginError> {
        let seq = self.batches_acked + 1;
        let fields: Vec<String> = self
            .settings
            .fields
            .iter()
            .map(|f| json_string(f.as_str()))
            .collect();
        let mut body = format!(
            "{{\"type\":\"batch\",\"pipeline\":{},\"audience\":{},\"run_id\":\"{}\",\"batch_seq\":{seq},\"last\":{},\"sent_at_ms\":{},\"fields\":[{}],\"rows\":[",
            json_string(self.pipeline),
            json_string(&self.name),
            self.run_id,
            last.is_some(),
            self.host.now_ms(),
            fields.join(",")
        )
        .into_bytes();
        body.extend_from_slice(&chunk.rows_json);
        body.extend_from_slice(b"]}");
        let request = Request::new(Method::Post, "hook", self.settings.path.clone())
            .header("content-type", "application/json")
            .body(body)
            .idempotent(true);
        self.requests += 1;
        deliver(self.host, &request, &format!("batch {seq}"))?;
        self.batches_acked = seq;
        self.uploaded += chunk.rows;
        match last {
            Some(end) => {
                self.rows_done = end;
                self.checkpoint();
            }
            None => {
                // Rows rejected after the chunk's last row are not done yet.
                self.rows_done = chunk.row_end;
                let mut done = chunk.rejected;
                std::mem::swap(&mut done, &mut self.rejected);
                self.checkpoint();
                std::mem::swap(&mut done, &mut self.rejected);
            }
        }
        Ok(())
    }

    /// Adds an accepted row; a full chunk is sent once the next row shows it is not the last.
    fn push_row(&mut self, row: u64, cells: &[(Field, &Cell)]) -> Result<(), PluginError> {
        if let Some(full) = self.full.take() {
            self.send(full, None)?;
        }
        let chunk = &mut self.open;
        if chunk.rows > 0 {
            chunk.rows_json.push(b',');
        }
        chunk.rows_json.push(b'{');
        let mut first = true;
        for (field, cell) in cells {
            if let Some(digest) = cell.digest() {
                if !first {
                    chunk.rows_json.push(b',');
                }
                first = false;
                chunk
                    .rows_json
                    .extend_from_slice(format!("\"{}\":\"{digest}\"", field.as_str()).as_bytes());
            }
        }
        chunk.rows_json.push(b'}');
        chunk.rows += 1;
        chunk.row_end = row + 1;
        if chunk.rows as usize >= self.settings.batch_rows {
            chunk.rejected = self.rejected.clone();
            self.full = Some(std::mem::take(&mut self.open));
        }
        Ok(())
    }

    fn finish(&mut self, rows_end: u64) -> Result<(), PluginError> {
        let open = std::mem::take(&mut self.open);
        match (self.full.take(), open.rows > 0) {
            (Some(full), true) => {
                self.send(full, None)?;
                self.send(open, Some(rows_end))?;
            }
            (Some(full), false) => self.send(full, Some(rows_end))?,
            (None, true) => self.send(open, Some(rows_end))?,
            (None, false) => {}
        }
        // Without any request at the end (every row rejected), the rows are done all the same.
        if self.rows_done != rows_end {
            self.rows_done = rows_end;
            self.checkpoint();
        }
        Ok(())
    }
}

fn reason_counts(counts: &BTreeMap<String, u64>) -> Vec<ReasonCount> {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| ReasonCount::new(reason.clone(), *n))
        .collect()
}

/// Exports the segment.
pub fn export(
    host: &impl Host,
    request: &ExportRequest,
    segment: &impl SegmentReader,
) -> Result<ExportReport, PluginError> {
    let settings = Settings::parse(&request.settings)?;
    let name = settings
        .audience
        .clone()
        .unwrap_or_else(|| request.pipeline.clone());
    let resume = request
        .resume
        .iter()
        .find(|c| c.audience_key == AUDIENCE_KEY);
    let mut export = Export {
        host,
        settings: &settings,
        pipeline: &request.pipeline,
        name,
        run_id: resume.map_or_else(|| host.random_u64() >> 1, |c| c.session_id),
        started_ms: resume.map_or_else(|| host.now_ms(), |c| c.session_started_ms),
        created: resume.is_none_or(|c| c.created),
        batches_acked: resume.map_or(0, |c| c.batches_acked),
        uploaded: resume.map_or(0, |c| c.uploaded),
        rows_done: resume.map_or(0, |c| c.rows_done),
        requests: resume.map_or(0, |c| c.requests),
        rejected: resume.map_or_else(BTreeMap::new, |c| {
            c.rejected
                .iter()
                .map(|r| (r.reason.clone(), r.count))
                .collect()
        }),
        open: Chunk::default(),
        full: None,
    };
    if let Some(c) = resume {
        host.log(
            Level::Info,
            &format!(
                "resuming run {} after batch {} ({} rows done)",
                c.session_id, c.batches_acked, c.rows_done
            ),
        );
    }
    export.checkpoint();
    let skip = export.rows_done;
    let mut rows_end = skip;
    let single = settings.fields.len() == 1;
    let mut rejections = Rejections::default();
    while let Some(batch) = segment.next_batch().map_err(PluginError::host)? {
        let end = batch.first_row + u64::from(batch.num_rows);
        if end <= skip {
            continue;
        }
        let records = batch
            .to_record_batch()
            .map_err(|e| PluginError::invalid_input(format!("unreadable batch: {e}")))?;
        let columns = normalize(&records, &settings.fields, settings.default_country)?;
        for i in 0..records.num_rows() {
            let row = batch.first_row + i as u64;
            if row < skip {
                continue;
            }
            let cells: Vec<(Field, &Cell)> = settings
                .fields
                .iter()
                .zip(&columns)
                .map(|(f, column)| (*f, &column[i]))
                .collect();
            let mut accepted = false;
            for (field, cell) in &cells {
                match cell {
                    Cell::Digest(_) => accepted = true,
                    Cell::Rejected(reason) => {
                        rejections.push(row, field.as_str(), reason);
                    }
                }
            }
            if accepted {
                export.push_row(row, &cells)?;
            } else {
                let reason = match (single, cells.first()) {
                    (true, Some((_, Cell::Rejected(reason)))) => reason,
                    _ => "no_valid_identifier",
                };
                *export.rejected.entry(reason.to_owned()).or_default() += 1;
            }
        }
        rejections.flush(host);
        rows_end = end;
    }
    export.finish(rows_end)?;
    let mut report = AudienceReport::new(AUDIENCE_KEY, settings.fields.iter().map(|f| f.as_str()));
    report.name = export.name.clone();
    report.audience_id = export.run_id.to_string();
    report.created = export.created;
    report.uploaded = export.uploaded;
    report.rejected = reason_counts(&export.rejected);
    report.requests = export.requests;
    Ok(ExportReport {
        audiences: vec![report],
        warnings: Vec::new(),
        console_url: None,
        budget_used_percent: None,
    })
}
