//! Connections to destinations: `audex connect`, `accounts`, `status` and `disconnect`.
//!
//! A connection is a named file in the state directory ([`store`]) holding the credentials
//! audex obtained for one plugin: a user token from the destination's OAuth dialog
//! ([`oauth`], with a loopback redirect [`listener`] or a pasted redirect) or a non-interactive
//! (system user) token, the app's client id and secret, and the accounts pipelines may export
//! to. Credentials are only ever handed to the host's HTTP transport: never printed, logged or
//! passed to a plugin. Which credential a run uses is decided in [`credentials`]; the commands
//! themselves are in [`commands`].

pub mod commands;
pub mod config;
pub mod credentials;
pub mod listener;
pub mod oauth;
pub mod store;

pub use store::{Connection, CredentialKind, Store, StoreError};

use crate::error::{AudexError, exit};

/// The connection used when none is named.
pub const DEFAULT_CONNECTION: &str = "default";

/// Why a connection command failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The connection store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The config file is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The command cannot run as configured (missing app id, unusable redirect URI...).
    #[error("{0}")]
    Setup(String),
    /// The redirect listener failed.
    #[error(transparent)]
    Listener(#[from] listener::ListenerError),
    /// The authorization failed (refused, state mismatch, exchange refused).
    #[error(transparent)]
    OAuth(#[from] oauth::OAuthError),
    /// There is no connection (or no token) to use.
    #[error("{0}")]
    NotConnected(String),
    /// Loading or calling the plugin failed, or the destination refused.
    #[error(transparent)]
    Audex(#[from] AudexError),
}

impl ConnectError {
    /// The process exit code (see the README's table).
    pub fn exit_code(&self) -> i32 {
        match self {
            ConnectError::Store(StoreError::InvalidName(_)) => exit::USAGE,
            ConnectError::Store(StoreError::Corrupt { .. }) => exit::AUTH,
            ConnectError::Store(_) => exit::INTERNAL,
            ConnectError::Config(_) | ConnectError::Setup(_) => exit::INVALID_CONFIG,
            ConnectError::Listener(listener::ListenerError::Timeout(_)) => exit::AUTH,
            ConnectError::Listener(_) => exit::INVALID_CONFIG,
            ConnectError::OAuth(oauth::OAuthError::Transport { .. }) => exit::DESTINATION,
            ConnectError::OAuth(_) | ConnectError::NotConnected(_) => exit::AUTH,
            ConnectError::Audex(e) => e.exit_code(),
        }
    }
}
