//! HTTP on a plugin's behalf. [`mediator`] turns a plugin's request (a logical endpoint and
//! a relative path) into a concrete one, enforcing the manifest's rules; a [`Transport`]
//! performs it: [`dry_run::DryRunTransport`] records it and answers synthetically.

pub mod dry_run;
pub mod live;
pub mod mediator;

pub use mediator::{MediationError, Mediator, PreparedRequest, QueryValue};

/// An HTTP response as handed back to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why no response came back.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// Connection, timeout or server failures that outlasted the retries.
    #[error("{0}")]
    Failed(String),
    /// No request with that id is pending.
    #[error("unknown request id {0}")]
    UnknownRequest(u64),
}

/// Performs prepared requests. Requests start in submission order; responses are collected
/// by id, each once.
pub trait Transport: Send {
    /// Starts a request.
    fn submit(&mut self, request: PreparedRequest) -> Result<u64, TransportError>;
    /// Waits for a started request.
    fn wait(&mut self, id: u64) -> Result<HttpResponse, TransportError>;
    /// Flushes anything buffered (a dry run's request log) and reports a failure to do so.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}
