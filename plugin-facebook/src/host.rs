//! The host services the export logic uses, behind a trait so the logic unit-tests natively
//! with a fake host. In the component, [`WasmHost`] forwards each call to the WIT imports.

use crate::bindings::audex::destination::{env, http, log, run, segment_source};

pub use crate::bindings::audex::destination::http::{
    Auth, HttpError, Method, Pair, Request, Response, SecretParam,
};
pub use crate::bindings::audex::destination::log::Level;
pub use crate::bindings::audex::destination::run::{Checkpoint, Rejection};
pub use crate::bindings::audex::destination::segment_source::Batch;

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
    /// Records an acknowledged batch.
    fn checkpoint(&self, state: &Checkpoint);
    /// Records rejected rows.
    fn reject(&self, rows: &[Rejection]);
}

/// The segment being exported.
pub trait SegmentReader {
    /// Field names in each batch.
    fn fields(&self) -> Vec<String>;
    /// Total rows, if known up front.
    fn estimated_rows(&self) -> Option<u64>;
    /// The next batch, none at the end.
    fn next_batch(&self) -> Result<Option<Batch>, String>;
}

/// The real host, reached through the component's imports.
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
