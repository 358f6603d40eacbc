//! The connection commands: `audex connect PLUGIN`, `audex accounts`, `audex status` and
//! `audex disconnect`. Output goes to stdout (`--json` for machines); no token, code or app
//! secret is ever printed.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::config::{AppConfig, env};
use super::credentials::{self, Origin, Resolved};
use super::listener::Listener;
use super::oauth::{self, Callback, TokenEndpoint};
use super::store::{Connection, CredentialKind, Store, StoredToken};
use super::{ConnectError, DEFAULT_CONNECTION};
use crate::error::AudexError;
use crate::http::Mediator;
use crate::http::live::{HttpPolicy, LiveTransport};
use crate::plugin::bindings::exports::audex::destination::destination as wit;
use crate::plugin::imports::Services;
use crate::plugin::{Manifest, PluginError, PluginInstance, PluginSource, Runtime};
use crate::run::EMULATOR_URL;
use crate::secrets::{Secret, Secrets};

/// Days before expiry from which `status` warns.
const EXPIRY_WARNING_DAYS: u64 = 7;

/// `audex connect PLUGIN`.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The plugin: a built-in name or a path to a `.wasm`.
    pub plugin: String,
    /// The connection's name.
    pub name: String,
    /// Paste the redirected address instead of running a local listener.
    pub manual: bool,
    /// A system (user) token: the value, or `-` to read it from stdin.
    pub token: Option<String>,
    /// The app id, overriding the environment and the config file.
    pub app_id: Option<String>,
    /// The redirect URI, overriding the environment and the config file.
    pub redirect_uri: Option<String>,
    /// The API endpoint's base URL (an emulator), overriding the environment.
    pub api_url: Option<String>,
    /// Do not try to open a browser.
    pub no_browser: bool,
    /// How long to wait for the browser.
    pub timeout: Duration,
}

/// `audex accounts` and `audex status`.
#[derive(Debug, Clone, Default)]
pub struct AccountOptions {
    /// The connection's name.
    pub name: String,
    /// Print JSON.
    pub json: bool,
    /// Accounts to select (`accounts --select`); empty leaves the selection as it is.
    pub select: Vec<String>,
    /// The API endpoint's base URL, overriding the environment and the connection's.
    pub api_url: Option<String>,
    /// The plugin to use when there is no stored connection (a token in the environment).
    pub plugin: Option<String>,
}

/// What a command needs: the plugin, the store, the connection and the endpoint URLs.
struct Target {
    source: PluginSource,
    store: Store,
    connection: Option<Connection>,
    overrides: BTreeMap<String, String>,
}

impl Target {
    fn manifest(&self) -> &Manifest {
        &self.source.manifest
    }

    fn plugin_name(&self) -> &str {
        &self.source.manifest.name
    }

    /// The base URL of the primary endpoint, for messages.
    fn base_url(&self) -> String {
        primary_endpoint(self.manifest())
            .map(|e| {
                self.overrides
                    .get(e)
                    .cloned()
                    .unwrap_or_else(|| self.manifest().endpoints[e].base_url.clone())
            })
            .unwrap_or_default()
    }
}

/// The endpoint the OAuth flow and `--api-url` are about: the `[oauth]` one, else the first.
fn primary_endpoint(manifest: &Manifest) -> Option<&str> {
    manifest
        .oauth
        .as_ref()
        .map(|o| o.endpoint.as_str())
        .or_else(|| manifest.endpoints.keys().next().map(String::as_str))
}

/// Endpoint base URLs: `--api-url` for the primary endpoint, then each endpoint's environment
/// variable, then the URLs the connection was made against.
fn overrides(
    manifest: &Manifest,
    flag: Option<&str>,
    connection: Option<&Connection>,
) -> Result<BTreeMap<String, String>, ConnectError> {
    let primary = primary_endpoint(manifest);
    let mut out = BTreeMap::new();
    for (name, endpoint) in &manifest.endpoints {
        let url = flag
            .filter(|_| Some(name.as_str()) == primary)
            .map(str::to_owned)
            .or_else(|| endpoint.url_env.as_deref().and_then(env))
            .or_else(|| connection.and_then(|c| c.base_urls.get(name).cloned()));
        if let Some(url) = url {
            if url == EMULATOR_URL {
                return Err(ConnectError::Setup(format!(
                    "`{EMULATOR_URL}` starts an in-process emulator for a single run; start `audex emulator` and give its URL instead"
                )));
            }
            if !url.starts_with("http://") && !url.starts_with("https://") {
                return Err(ConnectError::Setup(format!(
                    "endpoint `{name}` URL `{url}` is not an http(s) URL"
                )));
            }
            out.insert(name.clone(), url.trim_end_matches('/').to_owned());
        }
    }
    Ok(out)
}

fn resolve_plugin(spec: &str) -> Result<PluginSource, ConnectError> {
    PluginSource::resolve(spec, Path::new("."))
        .map_err(|e| ConnectError::Audex(AudexError::Manifest(e)))
}

/// The plugin spec to store: built-in names as they are, `.wasm` paths made absolute.
fn stored_plugin_spec(spec: &str, source: &PluginSource) -> String {
    if source.origin == "built-in" {
        return spec.to_owned();
    }
    std::fs::canonicalize(spec)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| spec.to_owned())
}

fn no_connection(name: &str, plugin: &str) -> ConnectError {
    let flag = if name == DEFAULT_CONNECTION {
        String::new()
    } else {
        format!(" --name {name}")
    };
    ConnectError::NotConnected(format!(
        "no connection `{name}`: run `audex connect {plugin}{flag}` first"
    ))
}

/// Loads the target of `accounts` / `status`: the stored connection (or, with none, a token
/// in the environment and `--plugin`).
fn account_target(options: &AccountOptions) -> Result<Target, ConnectError> {
    let store = Store::from_env()?;
    let connection = store.load(&options.name)?;
    let spec = match (&connection, &options.plugin) {
        (Some(c), Some(p)) if &c.plugin != p => {
            return Err(ConnectError::Setup(format!(
                "connection `{}` belongs to plugin `{}`, not `{p}`",
                c.name, c.plugin
            )));
        }
        (Some(c), _) => c.plugin.clone(),
        (None, Some(p)) => p.clone(),
        (None, None) => crate::plugin::builtin::NAMES
            .first()
            .copied()
            .unwrap_or("facebook")
            .to_owned(),
    };
    let source = resolve_plugin(&spec)?;
    let overrides = overrides(
        &source.manifest,
        options.api_url.as_deref(),
        connection.as_ref(),
    )?;
    Ok(Target {
        source,
        store,
        connection,
        overrides,
    })
}

/// The credential a command uses, or the advice to connect.
fn credential(target: &Target, name: &str) -> Result<Resolved, ConnectError> {
    credentials::resolve(target.manifest(), target.connection.as_ref())
        .ok_or_else(|| no_connection(name, target.plugin_name()))
}

/// A plugin instance whose HTTP goes out live with `secrets`.
fn instance(
    runtime: &Runtime,
    target: &Target,
    secrets: Secrets,
) -> Result<PluginInstance, ConnectError> {
    let plugin = runtime.load(&target.source).map_err(AudexError::from)?;
    let mediator = Mediator::new(plugin.manifest(), &target.overrides)
        .map_err(|e| AudexError::Unsupported(e.to_string()))?;
    let transport = LiveTransport::new(
        plugin.manifest().endpoints.clone(),
        secrets,
        HttpPolicy::default(),
    )
    .map_err(AudexError::Internal)?;
    let services = Services::new(
        plugin.label().to_owned(),
        mediator,
        Box::new(transport),
        false,
    );
    Ok(plugin.instantiate(services).map_err(AudexError::from)?)
}

/// A plugin failure, with reconnect advice fitted to where the credential came from when the
/// destination refused it.
fn plugin_failure(e: PluginError, target: &Target, name: &str, origin: &Origin) -> ConnectError {
    let error = AudexError::from(e);
    if error.exit_code() != crate::exit::AUTH {
        return error.into();
    }
    let plugin = target.plugin_name();
    let advice = match origin {
        Origin::Env(var) => format!("set a new token in {var}"),
        Origin::Connection(_) if name == DEFAULT_CONNECTION => {
            format!("run `audex connect {plugin}`")
        }
        Origin::Connection(_) => format!("run `audex connect {plugin} --name {name}`"),
    };
    ConnectError::NotConnected(format!(
        "{error}\nThe connection `{name}` is no longer valid: {advice} to reconnect."
    ))
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn rfc3339(unix_s: u64) -> String {
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(unix_s))
        .to_string()
}

fn kind_name(kind: CredentialKind, manifest: &Manifest) -> String {
    match kind {
        CredentialKind::User => "user token".to_owned(),
        CredentialKind::System => manifest.oauth.as_ref().map_or_else(
            || "system token".to_owned(),
            |o| o.system_token_name.clone(),
        ),
    }
}

fn print_flush(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn read_stdin_line(prompt: &str) -> Result<String, ConnectError> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| ConnectError::Setup(format!("cannot read standard input: {e}")))?;
    let line = line.trim().to_owned();
    if line.is_empty() {
        return Err(ConnectError::Setup(
            "nothing was entered on standard input".to_owned(),
        ));
    }
    Ok(line)
}

/// Tries to open `url` in the user's browser without waiting for it: `$BROWSER`, else the
/// desktop's opener. Returns false when there is no browser to try.
fn open_browser(url: &str) -> bool {
    if env("AUDEX_NO_BROWSER").is_some() {
        return false;
    }
    let command: Option<(String, Vec<String>)> = if let Some(browser) = env("BROWSER") {
        Some((browser, vec![url.to_owned()]))
    } else if cfg!(target_os = "macos") {
        Some(("open".to_owned(), vec![url.to_owned()]))
    } else if cfg!(windows) {
        Some((
            "rundll32".to_owned(),
            vec!["url.dll,FileProtocolHandler".to_owned(), url.to_owned()],
        ))
    } else if env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some() {
        Some(("xdg-open".to_owned(), vec![url.to_owned()]))
    } else {
        None
    };
    let Some((program, args)) = command else {
        return false;
    };
    match std::process::Command::new(&program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reap it in the background; the flow never waits for the browser to exit.
            let _ = std::thread::Builder::new()
                .name("audex-browser".to_owned())
                .spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

/// `audex connect PLUGIN`: runs the OAuth flow (or stores a system token) and saves the
/// connection.
pub fn connect(runtime: &Runtime, options: &ConnectOptions) -> Result<(), ConnectError> {
    let source = resolve_plugin(&options.plugin)?;
    let store = Store::from_env()?;
    // Checks the name before any network or browser activity.
    store.path(&options.name)?;
    let existing = store.load(&options.name)?;
    let spec = stored_plugin_spec(&options.plugin, &source);
    if let Some(c) = &existing
        && c.plugin != spec
    {
        return Err(ConnectError::Setup(format!(
            "connection `{}` belongs to plugin `{}`; choose another name with --name, or `audex disconnect --name {}` first",
            c.name, c.plugin, c.name
        )));
    }
    let manifest = source.manifest.clone();
    let overrides = overrides(&manifest, options.api_url.as_deref(), None)?;
    let mut app = AppConfig::resolve(
        &manifest.name,
        options.app_id.as_deref(),
        options.redirect_uri.as_deref(),
    )?;
    let mut connection = existing.unwrap_or_else(|| Connection::new(&options.name, &spec));
    connection.base_urls = overrides.clone();
    // Reconnecting reuses the app credentials the connection already holds.
    if app.app_id.is_none() {
        app.app_id = connection.client_id.clone();
    }
    if app.app_secret.is_none() && app.app_id == connection.client_id {
        app.app_secret = connection.client_secret.clone();
    }
    connection.client_id = app.app_id.clone();
    connection.client_secret = app.app_secret.clone();
    let target = Target {
        source,
        store,
        connection: None,
        overrides,
    };

    let system_token = match options.token.as_deref() {
        Some("-") => Some(Secret::new(read_stdin_line(&format!(
            "Paste the {}: ",
            kind_name(CredentialKind::System, &manifest)
        ))?)),
        Some(value) => {
            tracing::warn!(
                "a token on the command line can be seen by other users of this machine; prefer `--token -` or {}",
                app.env_names.token
            );
            Some(Secret::new(value))
        }
        None => env(&app.env_names.token).map(|v| {
            tracing::info!("using the token in {}", app.env_names.token);
            Secret::new(v)
        }),
    };
    let (kind, token, expires_at) = match system_token {
        Some(token) => (CredentialKind::System, token, None),
        None => {
            let token = authorize(&target, &app, options)?;
            let expires_at = token.expires_in.map(|s| now_s() + s);
            (CredentialKind::User, token.access_token, expires_at)
        }
    };

    // Check the token through the plugin (it never sees it) before keeping it.
    let secrets = credentials::connection_secrets(&manifest, &connection, &token);
    let info = instance(runtime, &target, secrets).and_then(|mut i| {
        i.connect("{}").map_err(|e| {
            let error = AudexError::from(e);
            if error.exit_code() == crate::exit::AUTH {
                ConnectError::NotConnected(format!(
                    "{error}\n{} refused the new token; nothing was saved.",
                    manifest.name
                ))
            } else {
                error.into()
            }
        })
    });
    let info = match info {
        Ok(info) => Some(info),
        Err(e) if kind == CredentialKind::System || e.exit_code() == crate::exit::AUTH => {
            return Err(e);
        }
        Err(e) => {
            tracing::warn!("could not describe the new token: {e}");
            None
        }
    };
    let stored = StoredToken {
        token,
        obtained_at: rfc3339(now_s()),
        expires_at: info.as_ref().and_then(|i| i.expires_at_s).or(expires_at),
    };
    match kind {
        CredentialKind::User => connection.user = Some(stored),
        CredentialKind::System => connection.system = Some(stored),
    }
    let path = target.store.save(&connection)?;

    let mut text = format!(
        "Connected `{}` to {} with a {}",
        connection.name,
        manifest.name,
        kind_name(kind, &manifest)
    );
    if let Some(info) = &info {
        text.push_str(&format!(" ({} {})", info.kind, info.subject));
    }
    text.push_str(".\n");
    if let Some(info) = &info {
        text.push_str(&describe_expiry(info.expires_at_s));
        text.push_str(&format!("Scopes: {}\n", list_or_none(&info.scopes)));
        for w in &info.warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
    }
    if kind == CredentialKind::User && connection.system.is_some() {
        text.push_str(&format!(
            "note: this connection also holds a {}, which takes precedence over the user token.\n",
            kind_name(CredentialKind::System, &manifest)
        ));
    }
    text.push_str(&format!(
        "Saved to {} (readable by you only).\nNext: `audex accounts{}` lists the accounts; `--select ID...` limits pipelines to some of them.\n",
        path.display(),
        name_flag(&connection.name)
    ));
    print_flush(&text);
    Ok(())
}

fn name_flag(name: &str) -> String {
    if name == DEFAULT_CONNECTION {
        String::new()
    } else {
        format!(" --name {name}")
    }
}

/// The OAuth flow: dialog, redirect (listener or pasted), code exchange, long-lived exchange.
fn authorize(
    target: &Target,
    app: &AppConfig,
    options: &ConnectOptions,
) -> Result<oauth::Token, ConnectError> {
    let manifest = target.manifest();
    let Some(oauth_section) = &manifest.oauth else {
        return Err(ConnectError::Setup(format!(
            "plugin `{}` has no OAuth flow in its manifest: connect with `--token -` instead",
            manifest.name
        )));
    };
    let where_from = |what: &str, var: &str| {
        format!(
            "no {what} for {}: set {var}{}",
            manifest.name,
            crate::settings::settings_path().map_or_else(String::new, |p| format!(
                ", or `connect.{}.{}` in {}",
                manifest.name,
                if what == "app id" {
                    "app_id"
                } else {
                    "app_secret_env"
                },
                p.display()
            ))
        )
    };
    let client_id = app
        .app_id
        .clone()
        .ok_or_else(|| ConnectError::Setup(where_from("app id", &app.env_names.app_id)))?;
    let client_secret = app
        .app_secret
        .clone()
        .ok_or_else(|| ConnectError::Setup(where_from("app secret", &app.env_names.app_secret)))?;
    let endpoint_override = target.overrides.get(&oauth_section.endpoint).cloned();
    let state = oauth::new_state();
    let url = oauth::dialog_url(
        oauth_section,
        endpoint_override.as_deref(),
        &client_id,
        &app.redirect_uri,
        &state,
    );
    // Bind before showing the URL, so a busy port is reported before the user clicks.
    let listener = if options.manual {
        None
    } else {
        Some(Listener::bind(&app.redirect_uri)?)
    };
    print_flush(&format!(
        "Open this address in a browser to connect audex to {}:\n\n{url}\n\n",
        manifest.name
    ));
    if !options.no_browser && open_browser(&url) {
        print_flush("(a browser window should have opened)\n");
    }
    let (callback, bare_code_ok) = match listener {
        Some(listener) => {
            print_flush(&format!(
                "Waiting up to {} s for the browser to come back to {} ...\n",
                options.timeout.as_secs(),
                app.redirect_uri
            ));
            (listener.wait(&state, options.timeout)?, false)
        }
        None => {
            let pasted = read_stdin_line(
                "After allowing access, paste the address the browser was sent to (or just its code): ",
            )?;
            let callback = Callback::from_pasted(&pasted);
            let bare = callback.state.is_none() && callback.error.is_none();
            if bare {
                tracing::warn!(
                    "a bare code carries no `state` to check; paste the whole address when you can"
                );
            }
            (callback, bare)
        }
    };
    let code = callback.into_code(&state, bare_code_ok)?;
    let endpoint = TokenEndpoint {
        oauth: oauth_section,
        base_url: endpoint_override
            .unwrap_or_else(|| manifest.endpoints[&oauth_section.endpoint].base_url.clone()),
        client_id: &client_id,
        client_secret: &client_secret,
    };
    let token = endpoint.exchange_code(&code, &app.redirect_uri)?;
    Ok(endpoint.long_lived(token)?)
}

/// `audex disconnect`: removes the connection file.
pub fn disconnect(name: &str) -> Result<(), ConnectError> {
    let store = Store::from_env()?;
    let path = store.path(name)?;
    if store.remove(name)? {
        print_flush(&format!(
            "Removed connection `{name}` ({}). The token stays valid at the destination until it expires or is revoked there.\n",
            path.display()
        ));
    } else {
        print_flush(&format!(
            "There is no connection `{name}`; nothing to do.\n"
        ));
    }
    Ok(())
}

/// One account as the commands show it.
fn account_json(a: &wit::Account, selected: bool) -> serde_json::Value {
    let details: serde_json::Map<String, serde_json::Value> = a
        .details
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "id": a.id,
        "name": a.name,
        "status": a.status,
        "ready": a.ready,
        "problems": a.problems,
        "details": details,
        "selected": selected,
    })
}

/// Every account, as a table plus the problems of those not ready.
pub fn render_accounts(accounts: &[wit::Account], selected: &[String]) -> String {
    let mut detail_keys: Vec<&str> = Vec::new();
    for a in accounts {
        for (k, _) in &a.details {
            if !detail_keys.contains(&k.as_str()) {
                detail_keys.push(k);
            }
        }
    }
    let mut header: Vec<String> = vec!["ID".into(), "NAME".into(), "STATUS".into()];
    header.extend(detail_keys.iter().map(|k| k.to_ascii_uppercase()));
    header.extend(["READY".to_owned(), "SELECTED".to_owned()]);
    let mut rows = vec![header];
    for a in accounts {
        let mut row = vec![a.id.clone(), a.name.clone(), a.status.clone()];
        for key in &detail_keys {
            let value = a
                .details
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, v)| v.as_str());
            row.push(match value {
                "true" => "yes".to_owned(),
                "false" => "no".to_owned(),
                v => v.to_owned(),
            });
        }
        row.push(if a.ready { "yes" } else { "no" }.to_owned());
        row.push(if selected.contains(&a.id) { "yes" } else { "" }.to_owned());
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let problems: Vec<String> = accounts
        .iter()
        .flat_map(|a| a.problems.iter().map(move |p| format!("  {}: {p}\n", a.id)))
        .collect();
    if !problems.is_empty() {
        out.push_str("\nNot ready:\n");
        out.extend(problems);
    }
    out
}

/// `audex accounts`: lists every account of the connection; `--select` records a selection.
pub fn accounts(runtime: &Runtime, options: &AccountOptions) -> Result<(), ConnectError> {
    let target = account_target(options)?;
    let resolved = credential(&target, &options.name)?;
    if !options.select.is_empty() && target.connection.is_none() {
        return Err(no_connection(&options.name, target.plugin_name()));
    }
    let mut instance = instance(runtime, &target, resolved.secrets.clone())?;
    let accounts = instance
        .list_accounts("{}")
        .map_err(|e| plugin_failure(e, &target, &options.name, &resolved.origin))?;

    let mut notes = String::new();
    let selected = match (&target.connection, options.select.is_empty()) {
        (Some(connection), false) => {
            let unknown: Vec<&String> = options
                .select
                .iter()
                .filter(|id| !accounts.iter().any(|a| &a.id == *id))
                .collect();
            if !unknown.is_empty() {
                return Err(ConnectError::Setup(format!(
                    "not among this connection's accounts: {}; `audex accounts{}` lists them",
                    unknown
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    name_flag(&options.name)
                )));
            }
            let mut updated = connection.clone();
            updated.selected_accounts = Vec::new();
            for id in &options.select {
                if !updated.selected_accounts.contains(id) {
                    updated.selected_accounts.push(id.clone());
                }
            }
            target.store.save(&updated)?;
            notes.push_str(&format!(
                "Selected for connection `{}`: {}. Pipelines naming another account now fail validation.\n",
                options.name,
                updated.selected_accounts.join(", ")
            ));
            for a in accounts
                .iter()
                .filter(|a| updated.selected_accounts.contains(&a.id) && !a.ready)
            {
                for p in &a.problems {
                    notes.push_str(&format!("warning: {} is not ready: {p}\n", a.id));
                }
            }
            updated.selected_accounts
        }
        (Some(connection), true) => connection.selected_accounts.clone(),
        (None, _) => Vec::new(),
    };

    if options.json {
        let value = json!({
            "connection": options.name,
            "plugin": target.plugin_name(),
            "accounts": accounts.iter().map(|a| account_json(a, selected.contains(&a.id))).collect::<Vec<_>>(),
            "selected": selected,
        });
        print_flush(&format!("{value:#}\n"));
        if !notes.is_empty() {
            eprint!("{notes}");
        }
        return Ok(());
    }
    let mut text = format!(
        "{} account(s) of connection `{}` ({}):\n\n",
        accounts.len(),
        options.name,
        target.plugin_name()
    );
    text.push_str(&render_accounts(&accounts, &selected));
    if !notes.is_empty() {
        text.push('\n');
        text.push_str(&notes);
    }
    print_flush(&text);
    Ok(())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn describe_expiry(expires_at: Option<u64>) -> String {
    match expires_at {
        None => "Expires: never\n".to_owned(),
        Some(at) => {
            let now = now_s();
            if at <= now {
                format!("Expires: {} (expired)\n", rfc3339(at))
            } else {
                format!(
                    "Expires: {} (in {} day(s))\n",
                    rfc3339(at),
                    (at - now) / 86_400
                )
            }
        }
    }
}

/// What `audex status` found.
#[derive(Debug, Clone)]
pub struct Status {
    /// Connection name.
    pub connection: String,
    /// Plugin name.
    pub plugin: String,
    /// The primary endpoint's base URL.
    pub base_url: String,
    /// The token in use, in words (e.g. `system user token`).
    pub in_use: String,
    /// Where it comes from.
    pub origin: String,
    /// Other configured tokens that lose to it, in words.
    pub unused: Vec<String>,
    /// The plugin's description of the token.
    pub info: wit::ConnectionInfo,
    /// Required scopes and whether each is granted.
    pub required_scopes: Vec<(String, bool)>,
    /// Warnings: the plugin's, plus a close expiry.
    pub warnings: Vec<String>,
    /// The selected accounts (all accounts, when `None`: nothing selected).
    pub selected: Option<Vec<wit::Account>>,
    /// Selected ids the token cannot reach any more.
    pub missing: Vec<String>,
    /// How to reconnect.
    pub reconnect: String,
}

impl Status {
    /// Adds the host's own expiry warning when the plugin gave none and the token expires
    /// within seven days of `now_s`.
    pub fn check_expiry(&mut self, now_s: u64) {
        let Some(at) = self.info.expires_at_s else {
            return;
        };
        let plugin_warned = self.warnings.iter().any(|w| w.contains("expire"));
        if !plugin_warned && at <= now_s + EXPIRY_WARNING_DAYS * 86_400 {
            self.warnings.push(format!(
                "the token expires in {} day(s): {} before then",
                at.saturating_sub(now_s) / 86_400,
                self.reconnect
            ));
        }
    }

    /// JSON for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "connection": self.connection,
            "plugin": self.plugin,
            "base_url": self.base_url,
            "credential": {
                "in_use": self.in_use,
                "origin": self.origin,
                "unused": self.unused,
            },
            "token": {
                "kind": self.info.kind,
                "subject": self.info.subject,
                "expires_at": self.info.expires_at_s.map(rfc3339),
                "expires_at_s": self.info.expires_at_s,
                "scopes": self.info.scopes,
            },
            "required_scopes": self.required_scopes.iter()
                .map(|(s, granted)| json!({"scope": s, "granted": granted}))
                .collect::<Vec<_>>(),
            "warnings": self.warnings,
            "selected_accounts": self.selected.as_ref().map(|accounts| accounts.iter().map(|a| json!({
                "id": a.id, "name": a.name, "status": a.status, "ready": a.ready, "problems": a.problems,
            })).collect::<Vec<_>>()),
            "missing_accounts": self.missing,
        })
    }

    /// The human summary.
    pub fn render(&self) -> String {
        let mut s = format!(
            "Connection `{}` ({}) at {}\n",
            self.connection, self.plugin, self.base_url
        );
        s.push_str(&format!("In use: {} ({})\n", self.in_use, self.origin));
        for u in &self.unused {
            s.push_str(&format!("Not used: {u}\n"));
        }
        s.push_str(&format!(
            "Token: {} for {}\n",
            self.info.kind, self.info.subject
        ));
        s.push_str(&describe_expiry(self.info.expires_at_s));
        s.push_str(&format!("Scopes: {}\n", list_or_none(&self.info.scopes)));
        for (scope, granted) in &self.required_scopes {
            s.push_str(&format!(
                "Required scope {scope}: {}\n",
                if *granted { "granted" } else { "MISSING" }
            ));
        }
        match &self.selected {
            None => s.push_str(
                "Selected accounts: none (pipelines may use any account; choose with `audex accounts --select ID...`)\n",
            ),
            Some(accounts) => {
                s.push_str("Selected accounts:\n");
                for a in accounts {
                    if a.ready {
                        s.push_str(&format!("  {} ({}): ready\n", a.id, a.name));
                    } else {
                        s.push_str(&format!(
                            "  {} ({}): NOT READY: {}\n",
                            a.id,
                            a.name,
                            a.problems.join("; ")
                        ));
                    }
                }
                for id in &self.missing {
                    s.push_str(&format!("  {id}: NOT READY: the token cannot reach this account any more\n"));
                }
            }
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s
    }
}

/// `audex status`: the token in use (kind, expiry, scopes) and the selected accounts.
pub fn status(runtime: &Runtime, options: &AccountOptions) -> Result<(), ConnectError> {
    let target = account_target(options)?;
    let resolved = credential(&target, &options.name)?;
    let manifest = target.manifest();
    let mut instance = instance(runtime, &target, resolved.secrets.clone())?;
    let failure = |e| plugin_failure(e, &target, &options.name, &resolved.origin);
    let info = instance.connect("{}").map_err(failure)?;
    let selection = target
        .connection
        .as_ref()
        .map(|c| c.selected_accounts.clone())
        .unwrap_or_default();
    let (selected, missing) = if selection.is_empty() {
        (None, Vec::new())
    } else {
        let all = instance.list_accounts("{}").map_err(failure)?;
        let found: Vec<wit::Account> = all
            .into_iter()
            .filter(|a| selection.contains(&a.id))
            .collect();
        let missing = selection
            .iter()
            .filter(|id| !found.iter().any(|a| &a.id == *id))
            .cloned()
            .collect();
        (Some(found), missing)
    };
    let required = manifest
        .oauth
        .as_ref()
        .map(|o| o.required_scopes.clone())
        .unwrap_or_default();
    let mut status = Status {
        connection: options.name.clone(),
        plugin: target.plugin_name().to_owned(),
        base_url: target.base_url(),
        in_use: kind_name(resolved.kind, manifest),
        origin: resolved.origin.to_string(),
        unused: resolved
            .unused
            .iter()
            .map(|(k, o)| format!("{} ({o})", kind_name(*k, manifest)))
            .collect(),
        required_scopes: required
            .iter()
            .map(|s| (s.clone(), info.scopes.contains(s)))
            .collect(),
        warnings: info.warnings.clone(),
        info,
        selected,
        missing,
        reconnect: format!(
            "run `audex connect {}{}`",
            target.plugin_name(),
            name_flag(&options.name)
        ),
    };
    status.check_expiry(now_s());
    if options.json {
        print_flush(&format!("{:#}\n", status.to_json()));
    } else {
        print_flush(&status.render());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, ready: bool, problems: &[&str]) -> wit::Account {
        wit::Account {
            id: id.into(),
            name: format!("Account {id}"),
            status: if ready { "active" } else { "disabled" }.into(),
            ready,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
            details: vec![
                ("currency".into(), "USD".into()),
                ("terms_accepted".into(), ready.to_string()),
                ("tasks".into(), "MANAGE,ADVERTISE".into()),
            ],
        }
    }

    #[test]
    fn accounts_table_shows_details_selection_and_problems() {
        let text = render_accounts(
            &[
                account("act_1", true, &[]),
                account(
                    "act_2",
                    false,
                    &[
                        "Custom Audience terms not accepted: accept them at https://example.com/tos?act=2",
                    ],
                ),
            ],
            &["act_1".to_owned()],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("ID")
                && lines[0].contains("CURRENCY")
                && lines[0].contains("TERMS_ACCEPTED")
                && lines[0].contains("TASKS"),
            "{text}"
        );
        assert!(
            lines[1].contains("act_1")
                && lines[1].contains("USD")
                && lines[1].trim_end().ends_with("yes"),
            "{text}"
        );
        assert!(
            lines[2].contains("act_2") && lines[2].contains(" no "),
            "{text}"
        );
        assert!(text.contains("act_2: Custom Audience terms not accepted: accept them at https://example.com/tos?act=2"), "{text}");
    }

    fn status(expires_at_s: Option<u64>, warnings: Vec<String>) -> Status {
        Status {
            connection: "default".into(),
            plugin: "facebook".into(),
            base_url: "https://graph.facebook.com".into(),
            in_use: "system user token".into(),
            origin: "stored in connection `default`".into(),
            unused: vec!["user token (stored in connection `default`)".into()],
            info: wit::ConnectionInfo {
                subject: "user 1".into(),
                kind: "SYSTEM_USER".into(),
                expires_at_s,
                scopes: vec!["ads_read".into()],
                warnings: warnings.clone(),
            },
            required_scopes: vec![("ads_management".into(), false)],
            warnings,
            selected: Some(vec![account(
                "act_2",
                false,
                &["terms not accepted: accept them at https://x/tos"],
            )]),
            missing: vec!["act_9".into()],
            reconnect: "run `audex connect facebook`".into(),
        }
    }

    #[test]
    fn status_warns_within_seven_days_once() {
        let now = 1_000_000_000;
        let mut s = status(Some(now + 3 * 86_400), vec![]);
        s.check_expiry(now);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(
            s.warnings[0].contains("expires in 3 day(s)")
                && s.warnings[0].contains("audex connect facebook")
        );
        let mut far = status(Some(now + 30 * 86_400), vec![]);
        far.check_expiry(now);
        assert!(far.warnings.is_empty());
        let mut plugin_warned = status(
            Some(now + 86_400),
            vec!["the token expires in 1 day(s)".into()],
        );
        plugin_warned.check_expiry(now);
        assert_eq!(plugin_warned.warnings.len(), 1);
        let mut never = status(None, vec![]);
        never.check_expiry(now);
        assert!(never.warnings.is_empty());
    }

    #[test]
    fn status_says_which_token_is_used_and_what_is_missing() {
        let text = status(None, vec![]).render();
        assert!(
            text.contains("In use: system user token (stored in connection `default`)"),
            "{text}"
        );
        assert!(text.contains("Not used: user token"), "{text}");
        assert!(
            text.contains("Required scope ads_management: MISSING"),
            "{text}"
        );
        assert!(
            text.contains(
                "act_2 (Account act_2): NOT READY: terms not accepted: accept them at https://x/tos"
            ),
            "{text}"
        );
        assert!(text.contains("act_9: NOT READY"), "{text}");
        assert!(text.contains("Expires: never"), "{text}");
        let json = status(None, vec![]).to_json();
        assert_eq!(json["credential"]["in_use"], "system user token");
        assert_eq!(json["required_scopes"][0]["granted"], false);
    }

    #[test]
    fn overrides_take_the_flag_and_refuse_the_embedded_emulator() {
        let source = resolve_plugin("facebook").expect("built-in");
        let m = &source.manifest;
        let o = overrides(m, Some("http://127.0.0.1:9/"), None).expect("flag");
        assert_eq!(
            o.get("graph").map(String::as_str),
            Some("http://127.0.0.1:9")
        );
        let mut c = Connection::new("default", "facebook");
        c.base_urls
            .insert("graph".into(), "http://127.0.0.1:7".into());
        if std::env::var_os("AUDEX_GRAPH_URL").is_none() {
            let o = overrides(m, None, Some(&c)).expect("stored");
            assert_eq!(
                o.get("graph").map(String::as_str),
                Some("http://127.0.0.1:7")
            );
        }
        assert!(matches!(
            overrides(m, Some("emulator"), None),
            Err(ConnectError::Setup(_))
        ));
        assert!(matches!(
            overrides(m, Some("ftp://x"), None),
            Err(ConnectError::Setup(_))
        ));
    }
}
