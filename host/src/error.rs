//! The errors a command can end with, and the exit code of each class.

use crate::pipeline::PipelineError;
use crate::plugin::{ManifestError, PluginError};
use crate::source::SourceError;

/// Documented exit codes (see the README).
pub mod exit {
    /// Success. Rejected rows are data quality, not failure.
    pub const SUCCESS: i32 = 0;
    /// An unexpected internal error.
    pub const INTERNAL: i32 = 1;
    /// Invalid command line (clap's own code).
    pub const USAGE: i32 = 2;
    /// Invalid pipeline, manifest or input data.
    pub const INVALID_CONFIG: i32 = 3;
    /// Credentials missing, revoked or expired: reconnect.
    pub const AUTH: i32 = 4;
    /// The destination refused or failed the export.
    pub const DESTINATION: i32 = 5;
    /// Some audiences were filled, others not.
    pub const PARTIAL: i32 = 6;
    /// The plugin crashed (trap, memory cap, CPU deadline).
    pub const PLUGIN_CRASHED: i32 = 7;
}

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum AudexError {
    /// The pipeline file is invalid.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The plugin cannot be found or its manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The source cannot be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The plugin failed.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// No credentials for a live run.
    #[error("{0}")]
    MissingCredentials(String),
    /// Something this run wanted is not available.
    #[error("{0}")]
    Unsupported(String),
    /// Writing outputs failed.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// Some audiences were filled, others stopped with an error; the next run resumes them.
    #[error("{0}")]
    Partial(String),
    /// The run journal cannot be read or written, or it refuses this run.
    #[error("{0}")]
    Journal(String),
    /// An interrupted earlier run of this pipeline cannot be resumed as it stands.
    #[error("{0}")]
    Resume(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AudexError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        use crate::plugin::bindings::exports::audex::destination::destination::PluginError as Wit;
        match self {
            AudexError::Pipeline(_) | AudexError::Manifest(_) | AudexError::Source(_) => {
                exit::INVALID_CONFIG
            }
            AudexError::Unsupported(_) => exit::INVALID_CONFIG,
            AudexError::MissingCredentials(_) => exit::AUTH,
            AudexError::Plugin(PluginError::Returned { error, .. }) => match error.as_ref() {
                Wit::InvalidSettings(_) | Wit::InvalidInput(_) => exit::INVALID_CONFIG,
                Wit::AuthRejected(_) => exit::AUTH,
                Wit::RateLimited(_) | Wit::Upstream(_) | Wit::NotReady(_) => exit::DESTINATION,
                Wit::Host(_) | Wit::Internal(_) => exit::INTERNAL,
            },
            AudexError::Plugin(PluginError::Crashed { .. }) => exit::PLUGIN_CRASHED,
            // A plugin that does not compile, link or match a supported WIT version is a
            // configuration problem (the pipeline names the wrong file or build).
            AudexError::Plugin(PluginError::Load { .. }) => exit::INVALID_CONFIG,
            AudexError::Plugin(PluginError::Engine(_)) => exit::INTERNAL,
            AudexError::Partial(_) => exit::PARTIAL,
            AudexError::Resume(_) => exit::INVALID_CONFIG,
            AudexError::Output { .. } | AudexError::Journal(_) | AudexError::Internal(_) => {
                exit::INTERNAL
            }
        }
    }

    /// The class name used in reports.
    pub fn kind(&self) -> &'static str {
        match self.exit_code() {
            exit::INVALID_CONFIG => "config",
            exit::AUTH => "auth",
            exit::DESTINATION => "destination",
            exit::PLUGIN_CRASHED => "plugin",
            exit::PARTIAL => "partial",
            _ => "internal",
        }
    }
}
