//! Connections on disk: one JSON file per connection in the state directory, readable by its
//! owner only (mode 0600 from the moment it is created), never printed or logged.
//!
//! The state directory is `$AUDEX_STATE_DIR`, else `$XDG_STATE_HOME/audex`, else
//! `~/.local/state/audex`; connections live in its `connections/` folder as `NAME.json`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secrets::Secret;

/// The file format version written by this host.
const FORMAT: u32 = 1;

/// Why a connection could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No state directory could be determined.
    #[error(
        "cannot tell where to keep connections: set AUDEX_STATE_DIR (or XDG_STATE_HOME, or HOME)"
    )]
    NoStateDir,
    /// The connection name cannot be a file name.
    #[error(
        "invalid connection name `{0}`: use letters, digits, `-` and `_` (at most 64 characters)"
    )]
    InvalidName(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a connection this host can read.
    #[error(
        "{path}: not a valid audex connection file ({message}); remove it with `audex disconnect --name {name}` and connect again"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The connection name.
        name: String,
        /// What is wrong (never file content).
        message: String,
    },
}

/// How a credential was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A user's token from the OAuth dialog (`audex connect`).
    User,
    /// A non-interactive token given with `audex connect --token` (Facebook's system user
    /// token).
    System,
}

/// One stored token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The token.
    #[serde(with = "secret_string")]
    pub token: Secret,
    /// When it was stored, RFC 3339.
    pub obtained_at: String,
    /// When it expires (seconds since the Unix epoch), when the destination said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// A named connection of audex to a destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// File format version.
    pub format: u32,
    /// Its name (`default` unless `--name` is given).
    pub name: String,
    /// The plugin it belongs to (a built-in name or a path to a `.wasm`).
    pub plugin: String,
    /// Endpoint base URLs it was made against, when they were overridden (an emulator);
    /// `audex accounts` and `audex status` use them unless told otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub base_urls: BTreeMap<String, String>,
    /// The app (OAuth client) id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The app (OAuth client) secret, when known (for HMAC proofs).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_secret_string"
    )]
    pub client_secret: Option<Secret>,
    /// The user token from the OAuth dialog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<StoredToken>,
    /// The non-interactive (system user) token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<StoredToken>,
    /// The accounts pipelines may export to with this connection; empty allows any.
    #[serde(default)]
    pub selected_accounts: Vec<String>,
}

impl Connection {
    /// A connection with no credentials yet.
    pub fn new(name: &str, plugin: &str) -> Self {
        Self {
            format: FORMAT,
            name: name.to_owned(),
            plugin: plugin.to_owned(),
            base_urls: BTreeMap::new(),
            client_id: None,
            client_secret: None,
            user: None,
            system: None,
            selected_accounts: Vec::new(),
        }
    }

    /// The token commands and runs use: the system token when there is one (it wins), else
    /// the user token.
    pub fn preferred(&self) -> Option<(CredentialKind, &StoredToken)> {
        self.system
            .as_ref()
            .map(|t| (CredentialKind::System, t))
            .or_else(|| self.user.as_ref().map(|t| (CredentialKind::User, t)))
    }

    /// True when `account` may be exported to: nothing selected, or selected.
    pub fn allows(&self, account: &str) -> bool {
        self.selected_accounts.is_empty() || self.selected_accounts.iter().any(|a| a == account)
    }
}

/// audex's state directory (connections, the run journal): `$AUDEX_STATE_DIR`, else
/// `$XDG_STATE_HOME/audex`, else `~/.local/state/audex`.
pub fn state_dir() -> Result<PathBuf, StoreError> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var("AUDEX_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| var("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("audex")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/state/audex")))
        .ok_or(StoreError::NoStateDir)
}

/// The directory holding connections.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in the state directory named by the environment.
    pub fn from_env() -> Result<Self, StoreError> {
        Ok(Self::at(&state_dir()?))
    }

    /// The store of state directory `state_dir`.
    pub fn at(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("connections"),
        }
    }

    /// The file of connection `name`.
    pub fn path(&self, name: &str) -> Result<PathBuf, StoreError> {
        check_name(name)?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    /// Reads connection `name`; `None` when there is none.
    pub fn load(&self, name: &str) -> Result<Option<Connection>, StoreError> {
        let path = self.path(name)?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let corrupt = |message: String| StoreError::Corrupt {
            path: path.clone(),
            name: name.to_owned(),
            message,
        };
        // serde_json's messages name positions and types, never the content itself.
        let connection: Connection =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if connection.format != FORMAT {
            return Err(corrupt(format!(
                "format {} (this audex reads {FORMAT})",
                connection.format
            )));
        }
        if connection.name != name {
            return Err(corrupt(format!("it names `{}`", connection.name)));
        }
        Ok(Some(connection))
    }

    /// Writes a connection: a new file created with mode 0600, then renamed over the old one,
    /// so the file is never readable by others nor half-written.
    pub fn save(&self, connection: &Connection) -> Result<PathBuf, StoreError> {
        let path = self.path(&connection.name)?;
        create_private_dir(&self.dir)?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        let text = serde_json::to_vec_pretty(connection).map_err(|e| StoreError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let tmp = self.dir.join(format!(
            ".{}.json.{}-{:016x}.tmp",
            connection.name,
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut file = private_file(&tmp).map_err(io(&tmp))?;
        let written = file
            .write_all(&text)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all());
        drop(file);
        if let Err(source) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(StoreError::Io { path, source });
        }
        Ok(path)
    }

    /// Removes connection `name`; false when there was none.
    pub fn remove(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    /// The names of every stored connection, sorted.
    pub fn names(&self) -> Result<Vec<String>, StoreError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StoreError::Io {
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".json")?;
                check_name(stem).ok().map(|()| stem.to_owned())
            })
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Connection names become file names: keep them plain.
fn check_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// A new file only its owner can read and write, from the moment it exists.
#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// A [`Secret`] as a JSON string (the one place a secret is serialized: its own file).
mod secret_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secrets::Secret;

    pub(super) fn serialize<S: Serializer>(secret: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.expose())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// An optional [`Secret`] as a JSON string.
mod opt_secret_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::secrets::Secret;

    pub(super) fn serialize<S: Serializer>(
        secret: &Option<Secret>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match secret {
            Some(secret) => s.serialize_str(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Option::<String>::deserialize(d).map(|v| v.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Connection {
        let mut c = Connection::new("default", "facebook");
        c.client_id = Some("1234".into());
        c.client_secret = Some(Secret::new("app-secret-value"));
        c.user = Some(StoredToken {
            token: Secret::new("EAAuser-token-value"),
            obtained_at: "2026-01-01T00:00:00Z".into(),
            expires_at: Some(1_800_000_000),
        });
        c.selected_accounts = vec!["act_1".into()];
        c
    }

    #[test]
    fn round_trips_and_never_shows_secrets_in_debug() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::at(dir.path());
        assert_eq!(store.load("default").expect("load"), None);
        let c = sample();
        store.save(&c).expect("save");
        assert_eq!(store.load("default").expect("load"), Some(c.clone()));
        assert_eq!(store.names().expect("names"), vec!["default"]);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("EAAuser-token-value") && !shown.contains("app-secret-value"),
            "{shown}"
        );
        assert!(store.remove("default").expect("remove"));
        assert!(!store.remove("default").expect("remove again"));
        assert_eq!(store.load("default").expect("load"), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_from_creation_and_after_replacement() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::at(dir.path());
        let path = store.save(&sample()).expect("save");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("connections")), 0o700);
        // A file loosened by hand is replaced by a private one on the next save.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        store.save(&sample()).expect("save again");
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        let entries: Vec<_> = std::fs::read_dir(dir.path().join("connections"))
            .expect("read dir")
            .collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn names_cannot_escape_the_directory() {
        let store = Store::at(Path::new("/nonexistent"));
        for bad in ["", "../x", "a/b", "a.b", ".hidden", &"x".repeat(65)] {
            assert!(
                matches!(store.path(bad), Err(StoreError::InvalidName(_))),
                "{bad}"
            );
        }
        assert!(store.path("prod-eu_2").is_ok());
    }

    #[test]
    fn system_token_wins_and_selection_filters() {
        let mut c = sample();
        assert_eq!(c.preferred().map(|(k, _)| k), Some(CredentialKind::User));
        c.system = Some(StoredToken {
            token: Secret::new("sys"),
            obtained_at: "2026-01-01T00:00:00Z".into(),
            expires_at: None,
        });
        assert_eq!(c.preferred().map(|(k, _)| k), Some(CredentialKind::System));
        assert!(c.allows("act_1") && !c.allows("act_2"));
        c.selected_accounts.clear();
        assert!(c.allows("act_2"));
    }

    #[test]
    fn a_damaged_file_is_reported_without_its_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::at(dir.path());
        let path = store.save(&sample()).expect("save");
        std::fs::write(&path, "{\"format\": 1, \"token\": \"EAAleak\"").expect("write");
        let e = store.load("default").expect_err("corrupt");
        assert!(!e.to_string().contains("EAAleak"), "{e}");
        assert!(e.to_string().contains("audex disconnect"), "{e}");
    }
}
