//! `connect` and `list-accounts`: what the host-held token is, and where it can export.

use audex_plugin_sdk::types::{Account, ConnectionInfo, PluginError, UpstreamError};

use crate::graph::client::{GraphClient, RetryPolicy};
use crate::graph::responses::{AdAccount, Page};
use crate::host::Host;
use crate::settings::DEFAULT_API_VERSION;

/// The permission an export needs.
pub const REQUIRED_SCOPE: &str = "ads_management";

/// Settings of the account commands: only the API version matters.
#[derive(Debug, Default, serde::Deserialize)]
struct ConnectSettings {
    #[serde(default)]
    api_version: Option<String>,
}

fn client<'h, H: Host>(host: &'h H, settings: &str) -> GraphClient<'h, H> {
    let s: ConnectSettings = serde_json::from_str(settings).unwrap_or_default();
    let version = s
        .api_version
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
    GraphClient::new(host, &version, false, RetryPolicy::default())
}

#[derive(Debug, serde::Deserialize)]
struct DebugToken {
    data: DebugTokenData,
}

#[derive(Debug, Default, serde::Deserialize)]
struct DebugTokenData {
    #[serde(default)]
    is_valid: bool,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    application: Option<String>,
}

/// Describes the host-held token with `debug_token`.
pub fn connect<H: Host>(host: &H, settings: &str) -> Result<ConnectionInfo, PluginError> {
    let client = client(host, settings);
    let request = GraphClient::<H>::with_secret(
        client.get_request(client.path("debug_token", None), &[]),
        "input_token",
        "access-token",
    );
    let token: DebugToken = client.call(&request)?;
    let data = token.data;
    if !data.is_valid {
        return Err(PluginError::AuthRejected(UpstreamError {
            status: 200,
            code: Some(190),
            subcode: None,
            message: "Facebook reports the access token as no longer valid".to_owned(),
            trace_id: None,
            retry_after_s: None,
        }));
    }
    let mut warnings = Vec::new();
    if !data.scopes.iter().any(|s| s == REQUIRED_SCOPE) {
        warnings.push(format!(
            "the token lacks the `{REQUIRED_SCOPE}` permission that custom audience uploads need"
        ));
    }
    let expires_at_s = data.expires_at.filter(|&t| t > 0);
    if let Some(expiry) = expires_at_s {
        let now_s = host.now_ms() / 1000;
        if expiry <= now_s + 7 * 86_400 {
            warnings.push(format!(
                "the token expires in {} day(s): reconnect before then",
                expiry.saturating_sub(now_s) / 86_400
            ));
        }
    }
    Ok(ConnectionInfo {
        subject: match (data.user_id, data.application) {
            (Some(u), Some(a)) => format!("user {u} via app {a}"),
            (Some(u), None) => format!("user {u}"),
            (None, Some(a)) => format!("app {a}"),
            (None, None) => "unknown".to_owned(),
        },
        kind: data.kind.unwrap_or_else(|| "UNKNOWN".to_owned()),
        expires_at_s,
        scopes: data.scopes,
        warnings,
    })
}

/// Lists every ad account of the token, following all pages.
pub fn list_accounts<H: Host>(host: &H, settings: &str) -> Result<Vec<Account>, PluginError> {
    let client = client(host, settings);
    let path = client.path("me", Some("adaccounts"));
    let fields = "id,name,account_status,currency,tos_accepted,user_tasks";
    let mut accounts = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("fields", fields), ("limit", "100")];
        if let Some(cursor) = after.as_deref() {
            query.push(("after", cursor));
        }
        let page: Page<AdAccount> = client.call(&client.get_request(path.clone(), &query))?;
        accounts.extend(page.data.iter().map(to_account));
        match page.next_cursor() {
            Some(cursor) if !page.data.is_empty() => after = Some(cursor.to_owned()),
            _ => break,
        }
    }
    Ok(accounts)
}

fn to_account(a: &AdAccount) -> Account {
    let mut problems = Vec::new();
    if a.account_status != Some(1) {
        problems.push(format!("account is {}", a.status_name()));
    }
    if !a.terms_accepted() {
        problems.push(format!(
            "Custom Audience terms not accepted: accept them at {}",
            AdAccount::terms_url(&a.id)
        ));
    }
    let mut details = Vec::new();
    if let Some(c) = &a.currency {
        details.push(("currency".to_owned(), c.clone()));
    }
    details.push(("terms_accepted".to_owned(), a.terms_accepted().to_string()));
    details.push(("tasks".to_owned(), a.user_tasks.join(",")));
    Account {
        id: a.id.clone(),
        name: a.name.clone().unwrap_or_default(),
        status: a.status_name().to_owned(),
        ready: problems.is_empty(),
        problems,
        details,
    }
}
