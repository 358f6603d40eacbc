//! audex's own settings (not a pipeline's): layered with the `config` crate from an optional
//! file (`$AUDEX_CONFIG`, else `$XDG_CONFIG_HOME/audex/config.yaml`, else
//! `~/.config/audex/config.yaml`) and `AUDEX_*` environment variables, `__` separating levels
//! (`AUDEX_SMTP__HOST=mail.example.com`). Secrets are referenced by environment variable name.

use std::path::PathBuf;

use serde::Deserialize;

/// How e-mail is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP (local relays, tests).
    None,
    /// SMTP upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// SMTP over TLS from the first byte (port 465).
    Tls,
}

/// `smtp`: the mail server for e-mail notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Server host name.
    pub host: String,
    /// Port; defaults by TLS mode (25, 587, 465).
    #[serde(default)]
    pub port: Option<u16>,
    /// TLS mode.
    #[serde(default)]
    pub tls: TlsMode,
    /// Sender address.
    pub from: String,
    /// User name, if the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
}

impl SmtpSettings {
    /// The port in use.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        })
    }
}

/// All of audex's settings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AudexSettings {
    /// Mail server, for e-mail notifications.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
}

/// A settings problem.
#[derive(Debug, thiserror::Error)]
#[error("audex settings ({origin}): {message}")]
pub struct SettingsError {
    /// The file or the environment.
    pub origin: String,
    /// What is wrong.
    pub message: String,
}

/// The settings file in use.
pub fn settings_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AUDEX_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("audex/config.yaml"))
}

/// Loads the settings: the file (if present), then the environment on top.
pub fn load() -> Result<AudexSettings, SettingsError> {
    let path = settings_path();
    let mut builder = config::Config::builder();
    if let Some(p) = &path {
        builder = builder.add_source(
            config::File::from(p.clone())
                .format(config::FileFormat::Yaml)
                .required(false),
        );
    }
    builder = builder.add_source(
        config::Environment::with_prefix("AUDEX")
            .prefix_separator("_")
            .separator("__"),
    );
    let origin = path.map_or_else(
        || "environment".to_owned(),
        |p| format!("{} and environment", p.display()),
    );
    builder
        .build()
        .and_then(config::Config::try_deserialize)
        .map_err(|e| SettingsError {
            origin,
            message: e.to_string(),
        })
}
