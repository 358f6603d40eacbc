//! The host side of the WIT imports: logging, clock and randomness, mediated HTTP, the
//! segment resource, run bookkeeping and bulk digests.
//!
//! Calls that move an export forward (reading a batch, HTTP, pauses, checkpoints and
//! rejections) count as progress for the CPU deadline. Reading the clock, random numbers,
//! the segment's metadata and logging do not: a plugin looping on them alone is stopped like
//! one that makes no host call at all. Log volume is capped ([`MAX_LOG_BYTES`]): a plugin
//! that writes more fails its run.

use std::collections::BTreeMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::audex::destination::{digest, env, http, log, run, segment_source, types};
use crate::http::{Mediator, Transport, mediator::Method};
use crate::pipeline::RejectsSection;
use crate::rejects::RejectsWriter;
use crate::source::SourceError;
use crate::source::prefetch::Prefetcher;

/// Bytes of log text a plugin may write in one run (all levels, before truncation) before
/// the run is stopped.
pub const MAX_LOG_BYTES: usize = 16 << 20;
/// Longest single log message kept.
const MAX_LOG_MESSAGE: usize = 4096;

/// The segment resource handed to `export-segment`.
pub struct SegmentHandle {
    pub(crate) fields: Vec<String>,
    pub(crate) estimated_rows: Option<u64>,
    pub(crate) batches: Prefetcher,
}

/// What the host learns during a call: checkpoints, rejections and source failures.
#[derive(Default)]
pub struct RunRecord {
    /// Latest checkpoint per audience key.
    pub checkpoints: BTreeMap<String, run::Checkpoint>,
    /// Rows the host handed to the plugin.
    pub rows_read: u64,
    /// The source failure behind a `next-batch` error, kept whole for the user.
    pub source_error: Option<SourceError>,
    /// Seconds the plugin asked to pause (skipped in dry runs).
    pub paused_ms: u64,
    /// The run journal of a live run: every checkpoint is committed to it as it arrives.
    pub journal: Option<JournalSink>,
    /// Requests the mediator refused (forbidden header, undeclared endpoint or secret...),
    /// in order; `audex plugin check` fails a plugin that attempted any.
    pub denied: Vec<crate::http::MediationError>,
    rejects: Option<RejectsWriter>,
}

impl RunRecord {
    /// Writes rejected rows to a CSV file (`row,field,reason`, and `value` when the
    /// pipeline's `rejects.include_values` opts in): see [`crate::rejects`].
    pub fn write_rejects_to(
        &mut self,
        path: &Path,
        options: &RejectsSection,
    ) -> std::io::Result<()> {
        self.rejects = Some(RejectsWriter::create(path, options)?);
        Ok(())
    }

    /// Flushes the rejects file.
    pub fn finish(&mut self) -> Result<(), String> {
        match &mut self.rejects {
            Some(w) => w.finish(),
            None => Ok(()),
        }
    }
}

/// A live run's journal attempt, written by `save-checkpoint`.
pub struct JournalSink {
    /// The journal.
    pub journal: crate::journal::Journal,
    /// This attempt.
    pub attempt: crate::journal::Attempt,
    /// Checkpoints of the interrupted attempt this one resumes, handed to the plugin.
    pub resume: Vec<run::Checkpoint>,
    /// The first failure to write a checkpoint (it fails the run once the plugin returns).
    pub error: Option<String>,
}

/// Host services bound to one plugin instance.
pub struct Services {
    pub(crate) plugin: String,
    pub(crate) mediator: Mediator,
    pub(crate) transport: Box<dyn Transport>,
    pub(crate) rng: rand::rngs::StdRng,
    pub(crate) dry_run: bool,
    pub(crate) max_sleep_ms: u64,
    pub(crate) record: RunRecord,
    pub(crate) progress: Option<indicatif::ProgressBar>,
    log_bytes: usize,
}

impl Services {
    /// Services for a plugin; `dry_run` makes randomness deterministic and pauses instant.
    pub fn new(
        plugin: String,
        mediator: Mediator,
        transport: Box<dyn Transport>,
        dry_run: bool,
    ) -> Self {
        let rng = if dry_run {
            rand::rngs::StdRng::seed_from_u64(0x00a0_de70)
        } else {
            rand::rngs::StdRng::from_os_rng()
        };
        Self {
            plugin,
            mediator,
            transport,
            rng,
            dry_run,
            max_sleep_ms: 15 * 60 * 1000,
            record: RunRecord::default(),
            progress: None,
            log_bytes: 0,
        }
    }

    /// What was recorded.
    pub fn record_mut(&mut self) -> &mut RunRecord {
        &mut self.record
    }
}

/// The store's data.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: wasmtime::StoreLimits,
    pub(crate) host_calls: u64,
    pub(crate) calls_at_last_check: u64,
    pub(crate) services: Services,
}

impl HostState {
    /// Counts a call that moves the export forward (see the module documentation).
    fn progress(&mut self) {
        self.host_calls += 1;
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl digest::Host for HostState {
    fn sha256(&mut self, messages: Vec<u8>, ends: Vec<u32>) -> wasmtime::Result<Vec<u8>> {
        // Not progress: hashing alone does not move an export forward. A refused call traps
        // the plugin with the message (a plugin bug, never data-dependent).
        Ok(super::digest::sha256_many(&messages, &ends)?)
    }
}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        // Not progress: a plugin that only logs is stopped by the CPU deadline, and one that
        // logs too much by the volume cap.
        self.services.log_bytes = self.services.log_bytes.saturating_add(message.len());
        if self.services.log_bytes > MAX_LOG_BYTES {
            wasmtime::bail!(
                "plugin {} wrote more than {} MiB of log messages; stopped",
                self.services.plugin,
                MAX_LOG_BYTES >> 20
            );
        }
        let mut text = message.as_str();
        if text.len() > MAX_LOG_MESSAGE {
            let mut end = MAX_LOG_MESSAGE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text = &text[..end];
        }
        let plugin = self.services.plugin.as_str();
        match level {
            log::Level::Trace => tracing::trace!(target: "audex::plugin", plugin, "{text}"),
            log::Level::Debug => tracing::debug!(target: "audex::plugin", plugin, "{text}"),
            log::Level::Info => tracing::info!(target: "audex::plugin", plugin, "{text}"),
            log::Level::Warn => tracing::warn!(target: "audex::plugin", plugin, "{text}"),
            log::Level::Error => tracing::error!(target: "audex::plugin", plugin, "{text}"),
        }
        Ok(())
    }
}

impl env::Host for HostState {
    fn now_ms(&mut self) -> wasmtime::Result<u64> {
        // Not progress (nor is `random-u64`): a loop reading the clock must not outlive the
        // CPU deadline.
        Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64))
    }

    fn random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.services.rng.random())
    }

    fn sleep_ms(&mut self, ms: u64) -> wasmtime::Result<()> {
        self.progress();
        let ms = ms.min(self.services.max_sleep_ms);
        self.services.record.paused_ms += ms;
        if !self.services.dry_run {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        self.progress();
        Ok(())
    }
}

fn method(m: http::Method) -> Method {
    match m {
        http::Method::Get => Method::Get,
        http::Method::Post => Method::Post,
        http::Method::Put => Method::Put,
        http::Method::Patch => Method::Patch,
        http::Method::Delete => Method::Delete,
    }
}

impl HostState {
    fn submit_request(&mut self, request: http::Request) -> Result<u64, http::HttpError> {
        let prepared = self
            .services
            .mediator
            .prepare(
                method(request.method),
                &request.endpoint,
                &request.path,
                request
                    .query
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
                request
                    .secret_params
                    .into_iter()
                    .map(|s| (s.param, s.secret))
                    .collect(),
                request
                    .headers
                    .into_iter()
                    .map(|p| (p.name, p.value))
                    .collect(),
                request.body,
                request.auth == http::Auth::EndpointDefault,
                request.idempotent,
            )
            .map_err(|e| {
                tracing::warn!(
                    plugin = self.services.plugin.as_str(),
                    "request refused: {e}"
                );
                self.services.record.denied.push(e.clone());
                http::HttpError::Denied(e.to_string())
            })?;
        self.services
            .transport
            .submit(prepared)
            .map_err(|e| http::HttpError::Transport(e.to_string()))
    }

    fn wait_response(&mut self, id: u64) -> Result<http::Response, http::HttpError> {
        let response = self.services.transport.wait(id).map_err(|e| match e {
            crate::http::TransportError::UnknownRequest(id) => http::HttpError::UnknownRequest(id),
            other => http::HttpError::Transport(other.to_string()),
        })?;
        Ok(http::Response {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(name, value)| http::Pair { name, value })
                .collect(),
            body: response.body,
        })
    }
}

impl http::Host for HostState {
    fn send(
        &mut self,
        request: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        self.progress();
        let result = self
            .submit_request(request)
            .and_then(|id| self.wait_response(id));
        self.progress();
        Ok(result)
    }

    fn submit(&mut self, request: http::Request) -> wasmtime::Result<Result<u64, http::HttpError>> {
        self.progress();
        Ok(self.submit_request(request))
    }

    fn wait(&mut self, id: u64) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        self.progress();
        let result = self.wait_response(id);
        self.progress();
        Ok(result)
    }
}

impl segment_source::Host for HostState {}

impl segment_source::HostSegment for HostState {
    fn fields(&mut self, segment: Resource<SegmentHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.table.get(&segment)?.fields.clone())
    }

    fn estimated_rows(
        &mut self,
        segment: Resource<SegmentHandle>,
    ) -> wasmtime::Result<Option<u64>> {
        Ok(self.table.get(&segment)?.estimated_rows)
    }

    fn next_batch(
        &mut self,
        segment: Resource<SegmentHandle>,
    ) -> wasmtime::Result<Result<Option<segment_source::Batch>, String>> {
        self.progress();
        let next = self.table.get_mut(&segment)?.batches.next_batch();
        self.progress();
        Ok(match next {
            None => Ok(None),
            Some(Ok(batch)) => {
                self.services.record.rows_read += u64::from(batch.num_rows);
                // Raw values for the rejects file, only when the pipeline opts in.
                if let Some(rejects) = &mut self.services.record.rejects
                    && rejects.includes_values()
                {
                    rejects.remember_batch(batch.first_row, batch.num_rows, &batch.ipc);
                }
                if let Some(bar) = &self.services.progress {
                    bar.inc(u64::from(batch.num_rows));
                }
                Ok(Some(segment_source::Batch {
                    first_row: batch.first_row,
                    num_rows: batch.num_rows,
                    ipc: batch.ipc,
                }))
            }
            Some(Err(e)) => {
                let message = e.to_string();
                self.services.record.source_error = Some(e);
                Err(message)
            }
        })
    }

    fn drop(&mut self, segment: Resource<SegmentHandle>) -> wasmtime::Result<()> {
        self.table.delete(segment)?;
        Ok(())
    }
}

impl run::Host for HostState {
    fn save_checkpoint(&mut self, state: run::Checkpoint) -> wasmtime::Result<()> {
        self.progress();
        tracing::debug!(
            audience = state.audience_key.as_str(),
            batches = state.batches_acked,
            uploaded = state.uploaded,
            "batch acknowledged"
        );
        if let Some(sink) = &mut self.services.record.journal
            && sink.error.is_none()
            && let Err(e) = sink.journal.save_checkpoint(&sink.attempt, &state)
        {
            sink.error = Some(e.to_string());
        }
        self.services
            .record
            .checkpoints
            .insert(state.audience_key.clone(), state);
        if let Some(bar) = &self.services.progress {
            let uploaded: Vec<String> = self
                .services
                .record
                .checkpoints
                .values()
                .map(|c| format!("{} {}", c.audience_key, c.uploaded))
                .collect();
            bar.set_message(format!("uploaded: {}", uploaded.join(", ")));
        }
        Ok(())
    }

    fn record_rejects(&mut self, rows: Vec<run::Rejection>) -> wasmtime::Result<()> {
        self.progress();
        // The counts by reason are the plugin's, in its report; the host keeps the rows only
        // for the rejects file.
        if let Some(w) = &mut self.services.record.rejects {
            for r in rows {
                w.write(r.row, &r.field, &r.reason);
            }
        }
        Ok(())
    }
}
