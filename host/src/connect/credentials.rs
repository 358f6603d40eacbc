//! Which credential a run or a command uses, and the host secrets it becomes.
//!
//! In order: the token in the environment (`AUDEX_SECRET_ACCESS_TOKEN` for the Facebook
//! plugin: a system user token, with the other `AUDEX_SECRET_*` beside it), then the
//! connection's system token, then the connection's user token. A system token always wins
//! over a user token; `audex status` says which one is in use.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use super::DEFAULT_CONNECTION;
use super::store::{Connection, CredentialKind, Store, StoreError};
use crate::error::AudexError;
use crate::pipeline::LoadedPipeline;
use crate::plugin::Manifest;
use crate::plugin::manifest::AuthScheme;
use crate::run::EMULATOR_URL;
use crate::secrets::{Secret, Secrets, env_var};

/// Where the credential in use comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable.
    Env(String),
    /// A stored connection.
    Connection(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(var) => write!(f, "from {var}"),
            Origin::Connection(name) => write!(f, "stored in connection `{name}`"),
        }
    }
}

/// The credential chosen, as host secrets.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The secrets, by manifest name.
    pub secrets: Secrets,
    /// The kind of token in use.
    pub kind: CredentialKind,
    /// Where it comes from.
    pub origin: Origin,
    /// Other configured tokens that lose to it.
    pub unused: Vec<(CredentialKind, Origin)>,
}

/// The manifest secret that holds the access token.
pub fn token_secret(manifest: &Manifest) -> String {
    manifest
        .oauth
        .as_ref()
        .map(|o| o.secrets.token.clone())
        .or_else(|| {
            manifest
                .endpoints
                .values()
                .find(|e| e.auth != crate::plugin::manifest::AuthScheme::None)
                .map(|e| e.auth_secret.clone())
        })
        .unwrap_or_else(|| "access-token".to_owned())
}

/// The connection's secrets for one of its tokens.
pub fn connection_secrets(manifest: &Manifest, connection: &Connection, token: &Secret) -> Secrets {
    let mut secrets = Secrets::default();
    secrets.insert(&token_secret(manifest), token.clone());
    if let (Some(name), Some(value)) = (
        manifest
            .oauth
            .as_ref()
            .and_then(|o| o.secrets.client_secret.as_ref()),
        &connection.client_secret,
    ) {
        secrets.insert(name, value.clone());
    }
    secrets
}

/// Chooses the credential: the environment's token, else the connection's preferred token.
/// `None` when there is none at all.
pub fn resolve(manifest: &Manifest, connection: Option<&Connection>) -> Option<Resolved> {
    let token_name = token_secret(manifest);
    let from_env = Secrets::from_env(&manifest.secrets);
    let stored: Vec<(CredentialKind, Origin)> = connection
        .map(|c| {
            [
                c.system.as_ref().map(|_| CredentialKind::System),
                c.user.as_ref().map(|_| CredentialKind::User),
            ]
            .into_iter()
            .flatten()
            .map(|k| (k, Origin::Connection(c.name.clone())))
            .collect()
        })
        .unwrap_or_default();
    if from_env.contains(&token_name) {
        return Some(Resolved {
            secrets: from_env,
            kind: CredentialKind::System,
            origin: Origin::Env(env_var(&token_name)),
            unused: stored,
        });
    }
    let connection = connection?;
    let (kind, token) = connection.preferred()?;
    Some(Resolved {
        secrets: connection_secrets(manifest, connection, &token.token),
        kind,
        origin: Origin::Connection(connection.name.clone()),
        unused: stored.into_iter().filter(|(k, _)| *k != kind).collect(),
    })
}

/// The connection a pipeline names (`destination.connection`, `default` when absent).
pub fn connection_name(pipeline: &LoadedPipeline) -> Result<String, AudexError> {
    match pipeline.pipeline.destination.get("connection") {
        None => Ok(DEFAULT_CONNECTION.to_owned()),
        Some(serde_json::Value::String(name)) => Ok(name.clone()),
        Some(_) => Err(pipeline
            .error_at(
                "destination.connection",
                "expected the name of a connection made with `audex connect`",
            )
            .into()),
    }
}

/// Loads the pipeline's connection, if it is stored.
fn load_for(pipeline: &LoadedPipeline, name: &str) -> Result<Option<Connection>, AudexError> {
    let store = match Store::from_env() {
        Ok(store) => store,
        Err(_) => return Ok(None),
    };
    match store.load(name) {
        Ok(c) => Ok(c.filter(|c| same_plugin(&c.plugin, pipeline))),
        Err(e @ StoreError::InvalidName(_)) => Err(pipeline
            .error_at("destination.connection", e.to_string())
            .into()),
        Err(e) => Err(AudexError::MissingCredentials(e.to_string())),
    }
}

/// Whether a connection's plugin is the pipeline's (a built-in name, or the same `.wasm`).
fn same_plugin(stored: &str, pipeline: &LoadedPipeline) -> bool {
    let spec = pipeline.plugin();
    if stored == spec {
        return true;
    }
    let path = if Path::new(spec).is_absolute() {
        Path::new(spec).to_path_buf()
    } else {
        pipeline.base_dir().join(spec)
    };
    std::fs::canonicalize(path).is_ok_and(|p| p.display().to_string() == stored)
}

/// Fails when the pipeline's connection has a selection of accounts (`audex accounts
/// --select`) that does not include `account`. A connection that cannot be read is left to
/// the live run to report, so dry runs and `audex validate` need none.
pub fn check_selection(pipeline: &LoadedPipeline, account: &str) -> Result<(), AudexError> {
    let name = connection_name(pipeline)?;
    let connection = match load_for(pipeline, &name) {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(()),
        Err(AudexError::MissingCredentials(message)) => {
            tracing::warn!("{message}");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if connection.allows(account) {
        return Ok(());
    }
    let key = if pipeline.pipeline.destination.contains_key("ad_account") {
        "destination.ad_account"
    } else {
        "destination"
    };
    Err(pipeline
        .error_at(
            key,
            format!(
                "account `{account}` is not among the accounts selected for connection `{name}` ({}); add it with `audex accounts{} --select ...`, or use another connection",
                connection.selected_accounts.join(", "),
                if name == DEFAULT_CONNECTION {
                    String::new()
                } else {
                    format!(" --name {name}")
                }
            ),
        )
        .into())
}

/// The secrets of a live run: the environment's token, else the pipeline's connection.
/// Endpoints served by the embedded emulator (`overrides` value `emulator`) need none. Fails
/// with the advice to connect when an endpoint would go without credentials.
pub fn for_run(
    pipeline: &LoadedPipeline,
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> Result<Secrets, AudexError> {
    let needs_credentials = manifest.endpoints.iter().any(|(name, e)| {
        e.auth != AuthScheme::None && overrides.get(name).map(String::as_str) != Some(EMULATOR_URL)
    });
    if !needs_credentials {
        return Ok(Secrets::default());
    }
    let name = connection_name(pipeline)?;
    let connection = load_for(pipeline, &name)?;
    match resolve(manifest, connection.as_ref()) {
        Some(resolved) => {
            tracing::info!(
                "using the {} {}",
                match resolved.kind {
                    CredentialKind::User => "user token",
                    CredentialKind::System => "system token",
                },
                resolved.origin
            );
            Ok(resolved.secrets)
        }
        None => Err(AudexError::MissingCredentials(format!(
            "no credentials for plugin `{plugin}` (connection `{name}`): run `audex connect {plugin}{flag}` first, or set {var} (a system user token); `--dry-run` needs none",
            plugin = manifest.name,
            flag = if name == DEFAULT_CONNECTION {
                String::new()
            } else {
                format!(" --name {name}")
            },
            var = env_var(&token_secret(manifest)),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::store::StoredToken;

    fn manifest() -> Manifest {
        Manifest::parse(
            r#"
name = "t"
version = "0.1.0"
wit = "0.1.0"
secrets = ["tok", "client"]
[endpoints.api]
base_url = "https://api.example.com"
allowed_hosts = ["api.example.com"]
auth_secret = "tok"
[oauth]
endpoint = "api"
authorize_url = "https://login.example.com/authorize"
token_path = "/token"
secrets = { token = "tok", client_secret = "client" }
"#,
            "test",
        )
        .expect("manifest")
    }

    fn token(v: &str) -> StoredToken {
        StoredToken {
            token: Secret::new(v),
            obtained_at: "2026-01-01T00:00:00Z".into(),
            expires_at: None,
        }
    }

    #[test]
    fn system_token_beats_user_token_and_carries_the_client_secret() {
        let m = manifest();
        let mut c = Connection::new("default", "t");
        c.client_secret = Some(Secret::new("cs"));
        assert!(resolve(&m, Some(&c)).is_none(), "no token yet");
        c.user = Some(token("user-tok"));
        let r = resolve(&m, Some(&c)).expect("user");
        assert_eq!(r.kind, CredentialKind::User);
        assert!(r.unused.is_empty());
        assert_eq!(r.secrets.get("tok").map(Secret::expose), Some("user-tok"));
        assert_eq!(r.secrets.get("client").map(Secret::expose), Some("cs"));
        c.system = Some(token("sys-tok"));
        let r = resolve(&m, Some(&c)).expect("system");
        assert_eq!(r.kind, CredentialKind::System);
        assert_eq!(r.secrets.get("tok").map(Secret::expose), Some("sys-tok"));
        assert_eq!(
            r.unused,
            vec![(CredentialKind::User, Origin::Connection("default".into()))]
        );
        assert_eq!(r.origin.to_string(), "stored in connection `default`");
        assert!(resolve(&m, None).is_none());
    }
}
