//! audex: export warehouse segments to advertising platforms as custom audiences, through
//! sandboxed WebAssembly component plugins.
//!
//! The host (this crate) owns all I/O: it reads the pipeline ([`pipeline`]) and the segment
//! ([`source`]), runs the destination plugin in wasmtime ([`plugin`]), performs its HTTP
//! requests with the credentials the plugin never sees ([`http`]), and writes the report
//! ([`report`]). [`run`] ties them together for `audex run`; [`connect`] links audex to a
//! destination account (`audex connect`, `accounts`, `status`, `disconnect`).

pub mod bench;
pub mod cli;
pub mod connect;
pub mod embedded;
pub mod error;
pub mod http;
pub mod journal;
pub mod notify;
pub mod pipeline;
pub mod plugin;
pub mod plugin_kit;
pub mod rejects;
pub mod report;
pub mod resources;
pub mod run;
pub mod runs;
pub mod sample;
pub mod secrets;
pub mod settings;
pub mod source;
pub mod validate;

pub use error::{AudexError, exit};
