//! The plugin manifest (`<plugin>.toml` beside `<plugin>.wasm`): identity, the WIT version it
//! targets, resource limits, the HTTP endpoints it may reach and how the host authenticates
//! them, the secrets it may ask the host to place, and how a user authorizes audex with the
//! destination (`[oauth]`, used by `audex connect`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A plugin manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name, e.g. `facebook`.
    pub name: String,
    /// Plugin version (semver).
    pub version: String,
    /// The `audex:destination` WIT version it was built against, e.g. `0.1.0`.
    pub wit: String,
    /// One line on what it does.
    #[serde(default)]
    pub description: String,
    /// Sandbox limits.
    #[serde(default)]
    pub limits: Limits,
    /// Logical HTTP endpoints by name.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Names of the secrets the plugin may refer to (`access-token`, `app-secret`...).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// How `audex connect` obtains credentials for this plugin, if it can run an OAuth flow.
    #[serde(default)]
    pub oauth: Option<OAuth>,
    /// Settings and canned answers for `audex plugin check`.
    #[serde(default)]
    pub check: Option<CheckSection>,
}

/// What `audex plugin check` runs a plugin with (the manifest's `[check]` section, or the
/// file given with `--settings`, which has the same keys in YAML).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    /// Destination settings, as a pipeline's `destination` section would give them (the
    /// host's own keys, such as an endpoint's `url_setting`, are dropped).
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Rows of the fixture segment (default: 600, or 40 % more than `limits.max_batch_rows`
    /// so the limit is exercised).
    #[serde(default)]
    pub rows: Option<u64>,
    /// Answers for requests to endpoints without an embedded emulator, first match wins;
    /// unmatched requests get `200` with `{}`.
    #[serde(default)]
    pub responses: Vec<CannedResponse>,
}

/// One canned HTTP answer of `audex plugin check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedResponse {
    /// The logical endpoint it answers (any when absent).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The method it answers, e.g. `POST` (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// A path prefix it answers (any when absent).
    #[serde(default)]
    pub path: Option<String>,
    /// Status code.
    #[serde(default = "default_canned_status")]
    pub status: u16,
    /// Body.
    #[serde(default = "default_canned_body")]
    pub body: String,
}

fn default_canned_status() -> u16 {
    200
}

fn default_canned_body() -> String {
    "{}".to_owned()
}

/// The OAuth 2.0 authorization-code flow of a destination, as `audex connect` runs it.
///
/// The host knows nothing destination-specific: the dialog and token URLs, the scopes, which
/// secrets the obtained credentials fill and the optional long-lived exchange all come from
/// here. When the endpoint named by [`OAuth::endpoint`] has its base URL overridden (an
/// emulator), the dialog and the token exchange go to that base URL instead, at the same paths.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth {
    /// The endpoint (a key of `endpoints`) whose base URL serves the token exchange.
    pub endpoint: String,
    /// The authorization dialog the user opens in a browser, absolute.
    pub authorize_url: String,
    /// Path of the token exchange, relative to the endpoint's base URL (e.g.
    /// `/v25.0/oauth/access_token`).
    pub token_path: String,
    /// Scopes asked for in the dialog.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Scopes an export cannot do without; `audex status` says whether each is granted.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// Separator between scopes in the dialog's `scope` parameter.
    #[serde(default = "default_scope_separator")]
    pub scope_separator: String,
    /// The `grant_type` sent with the code exchange; none when the destination wants none.
    #[serde(default)]
    pub code_grant_type: Option<String>,
    /// Which manifest secrets the connection fills.
    #[serde(default)]
    pub secrets: OAuthSecrets,
    /// Trades the code's (short-lived) token for a long-lived one, when the destination can.
    #[serde(default)]
    pub long_lived: Option<LongLivedExchange>,
    /// What the destination calls a non-interactive token given with `audex connect --token`
    /// (e.g. `system user token`).
    #[serde(default = "default_system_token_name")]
    pub system_token_name: String,
}

/// The manifest secrets a connection fills.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSecrets {
    /// The secret that receives the access token.
    #[serde(default = "default_auth_secret")]
    pub token: String,
    /// The secret that receives the app's client secret (e.g. for an HMAC proof), if any.
    #[serde(default)]
    pub client_secret: Option<String>,
}

impl Default for OAuthSecrets {
    fn default() -> Self {
        Self {
            token: default_auth_secret(),
            client_secret: None,
        }
    }
}

/// A second token request that exchanges a token for a longer-lived one: the token endpoint
/// is called with `grant_type`, the client id and secret, and the token in `token_param`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongLivedExchange {
    /// The `grant_type` value (e.g. `fb_exchange_token`).
    pub grant_type: String,
    /// The parameter carrying the token to exchange (e.g. `fb_exchange_token`).
    pub token_param: String,
}

fn default_scope_separator() -> String {
    ",".to_owned()
}

fn default_system_token_name() -> String {
    "system token".to_owned()
}

/// Sandbox limits a plugin asks for; the host caps them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Linear memory cap, MiB.
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Longest CPU time between two host calls, milliseconds.
    #[serde(default = "default_deadline_ms")]
    pub cpu_deadline_ms: u64,
    /// Most identifier rows the plugin puts in one request (the destination's batch limit,
    /// e.g. Facebook's 10,000), when it has one; `audex plugin check` verifies it holds.
    #[serde(default)]
    pub max_batch_rows: Option<u64>,
}

fn default_memory_mib() -> u64 {
    512
}

fn default_deadline_ms() -> u64 {
    10_000
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_mib: default_memory_mib(),
            cpu_deadline_ms: default_deadline_ms(),
            max_batch_rows: None,
        }
    }
}

/// How the host authenticates requests to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthScheme {
    /// `Authorization: Bearer <access-token>`.
    #[default]
    Bearer,
    /// No credentials.
    None,
    /// An HMAC-SHA256 of the body, keyed with a secret, in a header.
    HmacBody,
}

/// An HMAC-SHA256 proof of one secret keyed by another, added as a query parameter
/// (Facebook's `appsecret_proof`). Skipped when the key secret is not configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Query parameter name.
    pub param: String,
    /// The secret used as HMAC key.
    pub key: String,
    /// The secret that is signed.
    pub of: String,
}

/// A logical endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// The production base URL, e.g. `https://graph.facebook.com`.
    pub base_url: String,
    /// Destination settings key that overrides the base URL (e.g. `graph_url`); the host
    /// consumes it and does not pass it to the plugin.
    #[serde(default)]
    pub url_setting: Option<String>,
    /// Environment variable that overrides the base URL (e.g. `AUDEX_GRAPH_URL`).
    #[serde(default)]
    pub url_env: Option<String>,
    /// Hosts the plugin may reach through this endpoint, beside an explicitly configured one.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Authentication scheme.
    #[serde(default)]
    pub auth: AuthScheme,
    /// The secret the scheme uses (`access-token` for bearer).
    #[serde(default = "default_auth_secret")]
    pub auth_secret: String,
    /// Header carrying the body HMAC for `hmac-body`.
    #[serde(default)]
    pub hmac_header: Option<String>,
    /// Optional proof parameter.
    #[serde(default)]
    pub proof: Option<Proof>,
    /// An emulator the host embeds for this endpoint, selected by setting the endpoint's URL
    /// to `emulator` (`graph-api`: the bundled Graph API emulator).
    #[serde(default)]
    pub emulator: Option<String>,
}

fn default_auth_secret() -> String {
    "access-token".to_owned()
}

/// The WIT package every plugin targets.
pub const WIT_PACKAGE: &str = "audex:destination";

/// `(major, minor)` of a `MAJOR.MINOR.PATCH` version.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    // A pre-release or build suffix on the patch is allowed (`0.1.0-rc.1`).
    let patch = parts.next()?.split(['-', '+']).next()?;
    if patch.is_empty() || !patch.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((major, minor))
}

/// The host's WIT version policy, in one place: a plugin built against
/// `audex:destination@X.Y.Z` runs when `(X, Y)` is in [`super::SUPPORTED_WIT`] (the current
/// version and the previous minor one). Manifests and compiled components are both checked
/// with it.
pub fn wit_supported(version: &str) -> bool {
    major_minor(version).is_some_and(|v| super::SUPPORTED_WIT.contains(&v))
}

/// The supported WIT versions in words, e.g. `0.1.x`.
pub fn supported_wit_range() -> String {
    super::SUPPORTED_WIT
        .iter()
        .map(|(ma, mi)| format!("{ma}.{mi}.x"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl OAuth {
    fn check(&self, manifest: &Manifest) -> Result<(), String> {
        if !manifest.endpoints.contains_key(&self.endpoint) {
            return Err(format!(
                "oauth.endpoint `{}` is not one of the manifest's endpoints",
                self.endpoint
            ));
        }
        if !self.authorize_url.starts_with("https://") && !self.authorize_url.starts_with("http://")
        {
            return Err("oauth.authorize_url must be an http(s) URL".to_owned());
        }
        if !self.token_path.starts_with('/') || self.token_path.contains(['?', '#']) {
            return Err("oauth.token_path must be a path starting with `/`".to_owned());
        }
        let declared = |name: &str| manifest.secrets.iter().any(|s| s == name);
        for name in std::iter::once(&self.secrets.token).chain(&self.secrets.client_secret) {
            if !declared(name) {
                return Err(format!(
                    "oauth.secrets names `{name}`, which is not among the manifest's secrets"
                ));
            }
        }
        Ok(())
    }

    /// The path part of [`OAuth::authorize_url`] (where an overridden endpoint serves the
    /// dialog).
    pub fn authorize_path(&self) -> &str {
        let rest = self
            .authorize_url
            .split_once("://")
            .map_or(self.authorize_url.as_str(), |(_, r)| r);
        rest.find('/').map_or("/", |i| &rest[i..])
    }
}

/// A manifest or plugin loading problem.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not a built-in name nor a `.wasm` path.
    #[error(
        "unknown plugin `{name}`: expected a built-in plugin ({builtins}) or a path to a .wasm file"
    )]
    UnknownPlugin {
        /// What was asked for.
        name: String,
        /// The built-in names.
        builtins: String,
    },
    /// A file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The manifest is malformed.
    #[error("{origin}: invalid plugin manifest: {message}")]
    Invalid {
        /// Which manifest.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The plugin targets a WIT version this host does not run.
    #[error(
        "plugin `{name}` {version} targets audex:destination@{wit}, which this host does not support (supported: {supported})"
    )]
    UnsupportedWit {
        /// Plugin name.
        name: String,
        /// Plugin version.
        version: String,
        /// Its WIT version.
        wit: String,
        /// What the host supports.
        supported: String,
    },
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let manifest = Self::parse_unversioned(text, origin)?;
        manifest.check_wit()?;
        Ok(manifest)
    }

    /// Parses and checks manifest text like [`Manifest::parse`], except for the WIT version
    /// (`audex plugin check` reports that one on its own line).
    pub fn parse_unversioned(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let invalid = |message: String| ManifestError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let manifest: Manifest = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if manifest.limits.max_batch_rows == Some(0) {
            return Err(invalid(
                "limits.max_batch_rows must be at least 1".to_owned(),
            ));
        }
        for (name, endpoint) in &manifest.endpoints {
            if !endpoint.base_url.starts_with("https://")
                && !endpoint.base_url.starts_with("http://")
            {
                return Err(invalid(format!(
                    "endpoints.{name}.base_url must be an http(s) URL"
                )));
            }
            if endpoint.auth == AuthScheme::HmacBody && endpoint.hmac_header.is_none() {
                return Err(invalid(format!(
                    "endpoints.{name}: auth = \"hmac-body\" needs hmac_header"
                )));
            }
        }
        if let Some(oauth) = &manifest.oauth {
            oauth.check(&manifest).map_err(invalid)?;
        }
        Ok(manifest)
    }

    /// Checks the manifest's `wit` version against the host's policy ([`wit_supported`]).
    pub fn check_wit(&self) -> Result<(), ManifestError> {
        if wit_supported(&self.wit) {
            return Ok(());
        }
        Err(ManifestError::UnsupportedWit {
            name: self.name.clone(),
            version: self.version.clone(),
            wit: self.wit.clone(),
            supported: supported_wit_range(),
        })
    }

    /// Checks the WIT version a compiled component was built against: the interface names it
    /// imports and exports from `audex:destination` (e.g.
    /// `audex:destination/destination@0.1.0`) must all carry one version, which the host
    /// supports and which has the same major and minor as the manifest's `wit`. Returns that
    /// version.
    pub fn check_component_wit<'a>(
        &self,
        imports: impl IntoIterator<Item = &'a str>,
        exports: impl IntoIterator<Item = &'a str>,
    ) -> Result<String, String> {
        let mut exported = None;
        let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let names = imports
            .into_iter()
            .map(|n| (n, false))
            .chain(exports.into_iter().map(|n| (n, true)));
        for (name, is_export) in names {
            let Some(rest) = name
                .strip_prefix(WIT_PACKAGE)
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let (interface, version) = rest.split_once('@').unwrap_or((rest, ""));
            if is_export && interface == "destination" {
                exported = Some(version.to_owned());
            }
            versions
                .entry(version.to_owned())
                .or_default()
                .push(format!("{WIT_PACKAGE}/{rest}"));
        }
        let Some(version) = exported else {
            return Err(format!(
                "the component does not export `{WIT_PACKAGE}/destination` (it is not an audex destination plugin)"
            ));
        };
        if version.is_empty() {
            return Err(format!(
                "the component's `{WIT_PACKAGE}` interfaces carry no version (supported: {})",
                supported_wit_range()
            ));
        }
        if versions.len() > 1 {
            let listed: Vec<String> = versions.values().flatten().cloned().collect();
            return Err(format!(
                "the component mixes versions of `{WIT_PACKAGE}`: {}",
                listed.join(", ")
            ));
        }
        if !wit_supported(&version) {
            return Err(format!(
                "it was built against {WIT_PACKAGE}@{version}, which this host does not support (supported: {})",
                supported_wit_range()
            ));
        }
        if major_minor(&version) != major_minor(&self.wit) {
            return Err(format!(
                "it was built against {WIT_PACKAGE}@{version} but its manifest says wit = \"{}\"",
                self.wit
            ));
        }
        Ok(version)
    }

    /// Destination settings keys the host consumes for this plugin's endpoints.
    pub fn host_setting_keys(&self) -> Vec<&str> {
        self.endpoints
            .values()
            .filter_map(|e| e.url_setting.as_deref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "x"
version = "1.0.0"
wit = "0.1.0"
[endpoints.api]
base_url = "https://api.example.com"
allowed_hosts = ["api.example.com"]
"#;

    #[test]
    fn parses_a_manifest() {
        let m = Manifest::parse(GOOD, "test").expect("valid");
        assert_eq!(m.limits.memory_mib, 512);
        assert_eq!(m.endpoints["api"].auth, AuthScheme::Bearer);
    }

    #[test]
    fn refuses_unsupported_wit_with_name_version_and_range() {
        let text = GOOD.replace("0.1.0", "0.9.0");
        let e = Manifest::parse(&text, "test").expect_err("unsupported");
        let msg = e.to_string();
        assert!(
            msg.contains("`x` 1.0.0") && msg.contains("0.9.0") && msg.contains("0.1.x"),
            "{msg}"
        );
    }

    /// `GOOD` with declared secrets and an `[oauth]` section.
    fn with_oauth(secrets: &str, endpoint: &str) -> String {
        format!(
            r#"secrets = [{secrets}]
{GOOD}
[oauth]
endpoint = "{endpoint}"
authorize_url = "https://login.example.com/v2/authorize"
token_path = "/v2/token"
scopes = ["read", "write"]
secrets = {{ token = "token", client_secret = "client" }}
long_lived = {{ grant_type = "exchange", token_param = "t" }}
"#
        )
    }

    #[test]
    fn parses_an_oauth_section() {
        let m = Manifest::parse(&with_oauth(r#""token", "client""#, "api"), "test").expect("valid");
        let oauth = m.oauth.expect("oauth");
        assert_eq!(oauth.authorize_path(), "/v2/authorize");
        assert_eq!(oauth.scope_separator, ",");
        assert_eq!(oauth.secrets.client_secret.as_deref(), Some("client"));
        assert_eq!(oauth.long_lived.expect("exchange").token_param, "t");
        assert_eq!(oauth.system_token_name, "system token");
        assert!(
            Manifest::parse(GOOD, "test")
                .expect("valid")
                .oauth
                .is_none()
        );
    }

    #[test]
    fn refuses_oauth_naming_unknown_endpoints_or_secrets() {
        let e = Manifest::parse(&with_oauth(r#""token""#, "api"), "test")
            .expect_err("client secret undeclared");
        assert!(e.to_string().contains("`client`"), "{e}");
        let e = Manifest::parse(&with_oauth(r#""token", "client""#, "other"), "test")
            .expect_err("unknown endpoint");
        assert!(e.to_string().contains("oauth.endpoint"), "{e}");
    }

    #[test]
    fn the_wit_policy_accepts_supported_minors_only() {
        assert!(wit_supported("0.1.0") && wit_supported("0.1.7") && wit_supported("0.1.0-rc.1"));
        for bad in ["0.0.1", "0.2.0", "9.0.0", "0.1", "0.1.x", "", "0.1.0.0"] {
            assert!(!wit_supported(bad), "{bad}");
        }
        assert_eq!(supported_wit_range(), "0.1.x");
    }

    #[test]
    fn checks_the_versions_a_component_imports_and_exports() {
        let m = Manifest::parse(GOOD, "test").expect("valid");
        let imports = [
            "wasi:io/streams@0.2.6",
            "audex:destination/http@0.1.0",
            "audex:destination/log@0.1.0",
        ];
        let exports = ["audex:destination/destination@0.1.0"];
        assert_eq!(
            m.check_component_wit(imports, exports).as_deref(),
            Ok("0.1.0")
        );
        let e = m
            .check_component_wit(
                imports
                    .map(|n| n.replace("0.1.0", "9.1.0"))
                    .iter()
                    .map(String::as_str),
                ["audex:destination/destination@9.1.0"],
            )
            .expect_err("unsupported");
        assert!(
            e.contains("audex:destination@9.1.0") && e.contains("supported: 0.1.x"),
            "{e}"
        );
        let e = m
            .check_component_wit(
                ["audex:destination/http@0.1.1"],
                ["audex:destination/destination@0.1.0"],
            )
            .expect_err("mixed");
        assert!(e.contains("mixes versions"), "{e}");
        let e = m
            .check_component_wit(imports, ["wasi:cli/run@0.2.0"])
            .expect_err("not a destination");
        assert!(e.contains("does not export"), "{e}");
        let old =
            Manifest::parse_unversioned(&GOOD.replace("0.1.0", "0.0.1"), "test").expect("parses");
        let e = old
            .check_component_wit(imports, exports)
            .expect_err("manifest disagrees");
        assert!(e.contains("manifest says wit = \"0.0.1\""), "{e}");
    }

    #[test]
    fn parses_batch_limits_and_the_check_section() {
        let text = format!(
            "{}\n[limits]\nmax_batch_rows = 500\n[check]\nsettings = {{ fields = [\"email\"], nested = {{ a = 1 }} }}\n[[check.responses]]\nmethod = \"POST\"\nbody = '{{\"ok\":true}}'\n",
            GOOD.trim_end()
        );
        let m = Manifest::parse(&text, "test").expect("valid");
        assert_eq!(m.limits.max_batch_rows, Some(500));
        let check = m.check.expect("check section");
        assert_eq!(check.settings["fields"], serde_json::json!(["email"]));
        assert_eq!(check.settings["nested"]["a"], 1);
        assert_eq!(check.responses[0].status, 200);
        assert_eq!(check.responses[0].body, r#"{"ok":true}"#);
        let zero = text.replace("500", "0");
        assert!(Manifest::parse(&zero, "test").is_err());
    }

    #[test]
    fn refuses_unknown_keys() {
        let text = format!("{GOOD}\nsurprise = 1\n");
        assert!(Manifest::parse(&text, "test").is_err());
    }
}
