//! audex's own settings (not a pipeline's), read in one place: layered with the `config` crate
//! from an optional YAML file (`$AUDEX_CONFIG`, else `$XDG_CONFIG_HOME/audex/config.yaml`,
//! else `~/.config/audex/config.yaml`) and `AUDEX_*` environment variables on top, `__`
//! separating levels (`AUDEX_SMTP__HOST=mail.example.com`,
//! `AUDEX_CONNECT__FACEBOOK__APP_ID=123`). Secrets are referenced by environment variable name.
//!
//! ```yaml
//! smtp:                       # e-mail notifications
//!   host: mail.example.com
//!   port: 587                 # default by tls: 25 none, 587 starttls, 465 tls
//!   tls: starttls             # none | starttls | tls
//!   from: audex@example.com
//!   username: audex
//!   password_env: SMTP_PASSWORD
//! connect:                    # `audex connect <plugin>`: the app's OAuth client
//!   facebook:
//!     app_id: "1234567890"
//!     app_secret_env: FB_APP_SECRET
//!     redirect_uri: http://localhost:8765/callback
//! ```
//!
//! Each consumer reads its section from [`load`]: notifications [`AudexSettings::smtp`],
//! `audex connect` [`AudexSettings::connect`] (through [`crate::connect::config`], which adds
//! the command line and the plugin's own environment variables on top).

use std::collections::BTreeMap;
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
    /// `connect.<plugin>`: the app credentials `audex connect` uses, by plugin name.
    #[serde(default)]
    pub connect: BTreeMap<String, crate::connect::config::AppSection>,
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

/// The settings file in use: `$AUDEX_CONFIG`, else `$XDG_CONFIG_HOME/audex/config.yaml`, else
/// `~/.config/audex/config.yaml` (empty variables count as unset).
pub fn settings_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var("AUDEX_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let base = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("audex/config.yaml"))
}

/// Loads the settings: the file (if present), then the environment on top.
pub fn load() -> Result<AudexSettings, SettingsError> {
    load_from(settings_path().as_deref())
}

/// Loads the settings from `path` (if present) and the environment.
pub fn load_from(path: Option<&std::path::Path>) -> Result<AudexSettings, SettingsError> {
    let path = path.map(std::path::Path::to_path_buf);
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
            message: hide_values(&e.to_string()),
        })
}

/// A config error without the values it quotes (`invalid type: string "..."`, `unknown
/// variant `...``): the value could be a secret. The kind of problem and the key stay.
fn hide_values(message: &str) -> String {
    // The config crate's own enum message quotes nothing: `... variant constructor VALUE for
    // key ...`.
    const VARIANT: &str = "variant constructor ";
    if let Some(start) = message.find(VARIANT).map(|i| i + VARIANT.len()) {
        let end = message[start..]
            .find(" for key")
            .map_or(message.len(), |i| start + i);
        let hidden = format!("{}…{}", &message[..start], &message[end..]);
        return hide_values(&hidden.replacen(VARIANT, "variant ", 1));
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(['"', '`']) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let quote = &from[..1];
        let Some(len) = from[1..].find(quote) else {
            out.push_str(from);
            return out;
        };
        let quoted = &from[..len + 2];
        if quote == "\"" || before.ends_with("variant ") {
            out.push_str(quote);
            out.push('…');
            out.push_str(quote);
        } else {
            out.push_str(quoted);
        }
        rest = &from[len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    #[test]
    fn one_file_holds_smtp_and_connect_sections() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "smtp: { host: mail.example.com, from: a@example.com, tls: tls }\nconnect:\n  facebook:\n    app_id: 42\n    app_secret_env: FB_SECRET\n",
        )
        .expect("write");
        let settings = load_from(Some(&path)).expect("load");
        let smtp = settings.smtp.expect("smtp");
        assert_eq!((smtp.host.as_str(), smtp.port()), ("mail.example.com", 465));
        let fb = settings.connect.get("facebook").expect("connect.facebook");
        assert_eq!(
            fb.app_id.as_deref(),
            Some("42"),
            "an unquoted id is still text"
        );
        assert_eq!(fb.app_secret_env.as_deref(), Some("FB_SECRET"));
        assert!(fb.app_secret.as_ref().map(Secret::expose).is_none());

        let missing = load_from(Some(&dir.path().join("absent.yaml"))).expect("optional file");
        assert!(missing.smtp.is_none() && missing.connect.is_empty());
    }

    #[test]
    fn errors_name_the_key_but_not_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        for text in [
            "connect:\n  facebook:\n    app_secret: [s3cr3t]\n",
            "connect:\n  facebook:\n    app_secrt: s3cr3t\n",
            "smtp: { host: h, from: f, port: s3cr3t }\n",
            "smtp: { host: h, from: f, tls: s3cr3t }\n",
            "connect: [s3cr3t\n",
        ] {
            std::fs::write(&path, text).expect("write");
            let e = load_from(Some(&path)).expect_err(text).to_string();
            assert!(!e.contains("s3cr3t"), "{text}: {e}");
            assert!(e.contains("config.yaml"), "{e}");
        }
    }

    #[test]
    fn quoted_values_are_hidden() {
        assert_eq!(
            hide_values("enum TlsMode does not have variant constructor s3cr3t for key `smtp.tls`"),
            "enum TlsMode does not have variant … for key `smtp.tls`"
        );
        assert_eq!(
            hide_values("unknown variant `s3cr3t`, expected one of `none`, `tls`"),
            "unknown variant `…`, expected one of `none`, `tls`"
        );
        assert_eq!(
            hide_values("invalid type: string \"hunter2\", expected u16 for key `smtp.port`"),
            "invalid type: string \"…\", expected u16 for key `smtp.port`"
        );
    }
}
