//! Where `audex connect` finds the app's credentials and redirect URI: the command line, the
//! environment (`AUDEX_<PLUGIN>_APP_ID`, `AUDEX_<PLUGIN>_APP_SECRET`,
//! `AUDEX_<PLUGIN>_REDIRECT_URI`), then the `connect.<plugin>` section of audex's settings file
//! (`$AUDEX_CONFIG`, else `$XDG_CONFIG_HOME/audex/config.yaml`, else
//! `~/.config/audex/config.yaml`).
//!
//! ```yaml
//! connect:
//!   facebook:
//!     app_id: "1234567890"
//!     app_secret_env: FB_APP_SECRET   # the variable holding the secret (or `app_secret:`)
//!     redirect_uri: http://localhost:8765/callback
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use crate::secrets::Secret;

/// The redirect URI used when none is configured: register exactly this one with the app.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8765/callback";

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or parsed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `connect.<plugin>` of the settings file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppSection {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default, deserialize_with = "secret")]
    app_secret: Option<Secret>,
    #[serde(default)]
    app_secret_env: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Option::<String>::deserialize(d).map(|v| v.map(Secret::new))
}

/// The app credentials and redirect URI for one plugin, with where each came from.
#[derive(Debug, Clone, Default)]
pub struct AppConfig {
    /// The app (OAuth client) id.
    pub app_id: Option<String>,
    /// The app (OAuth client) secret.
    pub app_secret: Option<Secret>,
    /// The loopback (or registered) redirect URI.
    pub redirect_uri: String,
    /// The environment variable names consulted, for messages.
    pub env_names: EnvNames,
    /// The config file consulted, if any.
    pub file: Option<PathBuf>,
}

/// The environment variables of one plugin's connection settings.
#[derive(Debug, Clone, Default)]
pub struct EnvNames {
    /// App id.
    pub app_id: String,
    /// App secret.
    pub app_secret: String,
    /// Redirect URI.
    pub redirect_uri: String,
    /// A non-interactive (system user) token for `audex connect`.
    pub token: String,
}

impl EnvNames {
    /// The variables of plugin `plugin` (`facebook` gives `AUDEX_FACEBOOK_APP_ID`, ...).
    pub fn for_plugin(plugin: &str) -> Self {
        let stem: String = plugin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            app_id: format!("AUDEX_{stem}_APP_ID"),
            app_secret: format!("AUDEX_{stem}_APP_SECRET"),
            redirect_uri: format!("AUDEX_{stem}_REDIRECT_URI"),
            token: format!("AUDEX_{stem}_TOKEN"),
        }
    }
}

/// The settings file path: `$AUDEX_CONFIG`, else the XDG config directory's
/// `audex/config.yaml` (the file audex's other settings live in).
pub fn config_path() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var("AUDEX_CONFIG").map(PathBuf::from).or_else(|| {
        var("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|d| d.join("audex/config.yaml"))
    })
}

/// A non-empty environment variable.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl AppConfig {
    /// Resolves plugin `plugin`'s settings: `app_id_flag` and `redirect_flag` from the command
    /// line win, then the environment, then the config file.
    pub fn resolve(
        plugin: &str,
        app_id_flag: Option<&str>,
        redirect_flag: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let env_names = EnvNames::for_plugin(plugin);
        let path = config_path();
        let section = match &path {
            Some(p) => read_section(p, plugin)?,
            None => None,
        };
        let file = section.as_ref().and(path);
        let section = section.unwrap_or_default();
        Ok(Self {
            app_id: app_id_flag
                .map(str::to_owned)
                .or_else(|| env(&env_names.app_id))
                .or(section.app_id),
            app_secret: env(&env_names.app_secret)
                .map(Secret::new)
                .or(section.app_secret)
                .or_else(|| {
                    section
                        .app_secret_env
                        .as_deref()
                        .and_then(env)
                        .map(Secret::new)
                }),
            redirect_uri: redirect_flag
                .map(str::to_owned)
                .or_else(|| env(&env_names.redirect_uri))
                .or(section.redirect_uri)
                .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_owned()),
            env_names,
            file,
        })
    }
}

fn read_section(path: &PathBuf, plugin: &str) -> Result<Option<AppSection>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::File {
                path: path.clone(),
                message: e.to_string(),
            });
        }
    };
    let invalid = |message: String| ConfigError::File {
        path: path.clone(),
        message,
    };
    let file: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        invalid(match e.location() {
            Some(l) => format!("line {}: not valid YAML", l.line()),
            None => "not valid YAML".to_owned(),
        })
    })?;
    let Some(section) = file.get("connect").and_then(|c| c.get(plugin)) else {
        return Ok(None);
    };
    let section: AppSection = serde_yaml_ng::from_value(section.clone()).map_err(|e| {
        // serde's messages quote offending values (`invalid type: integer `42``): keep the
        // kind of problem only, since the value could be a secret.
        invalid(format!("connect.{plugin}: {}", unquote(&e.to_string())))
    })?;
    if section.app_secret.is_some() {
        warn_if_readable_by_others(path);
    }
    Ok(Some(section))
}

/// Drops the backquoted values from a serde message.
fn unquote(message: &str) -> String {
    let mut out = String::new();
    for (i, part) in message.split('`').enumerate() {
        out.push_str(if i % 2 == 0 { part } else { "…" });
    }
    out
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "{} holds an app secret and is readable by other users: chmod 600 it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &PathBuf) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_derive_from_the_plugin() {
        let n = EnvNames::for_plugin("facebook");
        assert_eq!(n.app_id, "AUDEX_FACEBOOK_APP_ID");
        assert_eq!(n.app_secret, "AUDEX_FACEBOOK_APP_SECRET");
        assert_eq!(n.token, "AUDEX_FACEBOOK_TOKEN");
        assert_eq!(
            EnvNames::for_plugin("my-dest").app_id,
            "AUDEX_MY_DEST_APP_ID"
        );
    }

    #[test]
    fn config_file_sections_parse_and_errors_hide_values() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        std::fs::write(
            &path,
            "smtp: { host: x, from: y }\nconnect:\n  facebook:\n    app_id: \"42\"\n    app_secret: s3cr3t\n",
        )
        .expect("write");
        let s = read_section(&path, "facebook")
            .expect("parse")
            .expect("section");
        assert_eq!(s.app_id.as_deref(), Some("42"));
        assert_eq!(s.app_secret.as_ref().map(Secret::expose), Some("s3cr3t"));
        assert!(read_section(&path, "other").expect("parse").is_none());
        std::fs::write(&path, "connect:\n  facebook:\n    app_secret: [s3cr3t]\n").expect("write");
        let e = read_section(&path, "facebook").expect_err("invalid");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        std::fs::write(&path, "connect: [s3cr3t\n").expect("write");
        let e = read_section(&path, "facebook").expect_err("invalid yaml");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }
}
