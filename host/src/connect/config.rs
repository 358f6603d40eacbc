//! Where `audex connect` finds the app's credentials and redirect URI: the command line, the
//! environment (`AUDEX_<PLUGIN>_APP_ID`, `AUDEX_<PLUGIN>_APP_SECRET`,
//! `AUDEX_<PLUGIN>_REDIRECT_URI`), then the `connect.<plugin>` section of audex's settings,
//! which [`crate::settings`] loads (the settings file, with `AUDEX_CONNECT__<PLUGIN>__*`
//! environment overrides):
//!
//! ```yaml
//! connect:
//!   facebook:
//!     app_id: "1234567890"
//!     app_secret_env: FB_APP_SECRET   # the variable holding the secret (or `app_secret:`)
//!     redirect_uri: http://localhost:8765/callback
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secrets::Secret;
use crate::settings::SettingsError;

/// The redirect URI used when none is configured: register exactly this one with the app.
pub const DEFAULT_REDIRECT_URI: &str = "http://localhost:8765/callback";

/// A configuration problem: the settings (file or environment) cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The settings file or its environment overrides are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// `connect.<plugin>` of the settings: the app (OAuth client) `audex connect` uses.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// The app (client) id.
    #[serde(default)]
    pub app_id: Option<String>,
    /// The app secret written in the file (prefer `app_secret_env`; the file must then be
    /// private).
    #[serde(default, deserialize_with = "secret")]
    pub app_secret: Option<Secret>,
    /// The environment variable holding the app secret.
    #[serde(default)]
    pub app_secret_env: Option<String>,
    /// The redirect URI registered with the app.
    #[serde(default)]
    pub redirect_uri: Option<String>,
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
        let path = crate::settings::settings_path();
        let section = crate::settings::load_from(path.as_deref())?
            .connect
            .remove(plugin);
        if let (Some(p), Some(s)) = (&path, &section)
            && s.app_secret.is_some()
        {
            warn_if_readable_by_others(p);
        }
        let file = section.as_ref().and(path).filter(|p| p.is_file());
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

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
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
fn warn_if_readable_by_others(_path: &Path) {}

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
}
