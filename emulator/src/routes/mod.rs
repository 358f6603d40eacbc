//! Graph API routes: path parsing, authentication, the call budget, and dispatch to one module
//! per endpoint family.

mod accounts;
pub(crate) mod admin;
mod audiences;
mod auth;
mod dialog;
mod users;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::fields::PageLink;
use crate::graph_error::{GraphError, GraphResult, RATE_LIMIT_80003};
use crate::ids;
use crate::params::Params;
use crate::state::sessions::UploadOp;
use crate::state::tokens::TokenInfo;
use crate::state::{EmulatorState, World};
use crate::usage::AccountUsage;

/// One Graph call, parsed.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// Effective method (`POST` + `method=DELETE` is `DELETE`).
    pub(crate) method: &'a str,
    /// Full request path.
    pub(crate) path: &'a str,
    /// Path segments after the version.
    pub(crate) segments: Vec<&'a str>,
    pub(crate) params: &'a Params,
    /// Token from the `Authorization` header, if any.
    pub(crate) header_token: Option<&'a str>,
    pub(crate) now_ms: u64,
}

impl Call<'_> {
    /// The token sent as a parameter, if any.
    fn param_token(&self) -> Option<String> {
        self.params.str("access_token").filter(|t| !t.is_empty())
    }

    /// The token of the call: the `access_token` parameter, else the `Authorization` header.
    fn token(&self) -> Option<String> {
        self.param_token()
            .or_else(|| self.header_token.map(str::to_owned))
    }

    fn now_s(&self) -> u64 {
        self.now_ms / 1000
    }
}

/// What a route answers with on success.
#[derive(Debug)]
pub(crate) enum Reply {
    Json(Value),
    Html(String),
    Redirect(String),
}

/// Upload details recorded in the request log.
#[derive(Debug, Default, Clone)]
pub(crate) struct UploadLog {
    pub(crate) session_id: Option<String>,
    pub(crate) batch_seq: Option<u64>,
    pub(crate) rows: Option<usize>,
}

/// The result of a call plus what the pipeline needs around it.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) reply: GraphResult<Reply>,
    /// Budget usage of the ad account the call touched.
    pub(crate) usage: Option<AccountUsage>,
    /// Whether the call was authenticated by a token (successful ones count for
    /// `revoke-after`).
    pub(crate) authenticated: bool,
    pub(crate) upload: UploadLog,
}

impl Outcome {
    fn plain(reply: GraphResult<Reply>) -> Self {
        Self {
            reply,
            usage: None,
            authenticated: false,
            upload: UploadLog::default(),
        }
    }
}

/// The endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Me,
    MeAdAccounts,
    MePermissions,
    DebugToken,
    AccessToken,
    Dialog,
    Account(&'a str),
    AccountAudiences(&'a str),
    Audience(&'a str),
    Users(&'a str),
    UsersReplace(&'a str),
    Sessions(&'a str),
    Unknown(&'a str),
}

impl<'a> Route<'a> {
    /// The object id the path starts with, for "unsupported request" errors.
    fn object(self) -> String {
        match self {
            Self::Me | Self::MeAdAccounts | Self::MePermissions => "me".to_owned(),
            Self::DebugToken => "debug_token".to_owned(),
            Self::AccessToken => "oauth".to_owned(),
            Self::Dialog => "dialog".to_owned(),
            Self::Account(d) | Self::AccountAudiences(d) => format!("act_{d}"),
            Self::Audience(id)
            | Self::Users(id)
            | Self::UsersReplace(id)
            | Self::Sessions(id)
            | Self::Unknown(id) => id.to_owned(),
        }
    }

    fn parse(segments: &[&'a str]) -> Self {
        let act = |s: &'a str| {
            s.strip_prefix("act_")
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match segments {
            ["me"] => Self::Me,
            ["me", "adaccounts"] => Self::MeAdAccounts,
            ["me", "permissions"] => Self::MePermissions,
            ["debug_token"] => Self::DebugToken,
            ["oauth", "access_token"] => Self::AccessToken,
            ["dialog", "oauth"] => Self::Dialog,
            [a] if act(a).is_some() => act(a).map_or(Self::Unknown(a), Self::Account),
            [a, "customaudiences"] if act(a).is_some() => {
                act(a).map_or(Self::Unknown(a), Self::AccountAudiences)
            }
            [id] if numeric(id) => Self::Audience(id),
            [id, "users"] if numeric(id) => Self::Users(id),
            [id, "usersreplace"] if numeric(id) => Self::UsersReplace(id),
            [id, "sessions"] if numeric(id) => Self::Sessions(id),
            [first, ..] => Self::Unknown(first),
            [] => Self::Unknown(""),
        }
    }
}

/// Answers one Graph call.
pub(crate) fn dispatch(state: &EmulatorState, call: &Call<'_>) -> Outcome {
    match Route::parse(&call.segments) {
        Route::DebugToken => {
            let mut outcome = Outcome::plain(auth::debug_token(state, call));
            outcome.authenticated = outcome.reply.is_ok();
            outcome
        }
        Route::AccessToken => Outcome::plain(auth::access_token(state, call)),
        Route::Dialog => Outcome::plain(dialog::dialog(state, call)),
        route => authenticated(state, call, route),
    }
}

fn authenticated(state: &EmulatorState, call: &Call<'_>, route: Route<'_>) -> Outcome {
    let mut world = state.world();
    let token = match authenticate(state, &world, call) {
        Ok(t) => t,
        Err(e) => return Outcome::plain(Err(e)),
    };
    let mut upload = UploadLog::default();
    let (charged, usage) = charge(&mut world, call, route);
    let reply = charged.and_then(|()| handle(state, &mut world, call, route, &token, &mut upload));
    Outcome {
        reply,
        usage,
        authenticated: true,
        upload,
    }
}

/// Counts the call against the budget of the ad account it touches, if any; refuses it when
/// the account is unknown or over budget. Returns the account's usage either way.
fn charge(
    world: &mut World,
    call: &Call<'_>,
    route: Route<'_>,
) -> (GraphResult<()>, Option<AccountUsage>) {
    match account_of(world, call, route) {
        Err(e) => (Err(e), None),
        Ok(None) => (Ok(()), None),
        Ok(Some(digits)) => match world.budget.charge(&digits, call.now_ms) {
            Ok(usage) => (Ok(()), Some(usage)),
            Err(usage) => (Err(budget_exceeded()), Some(usage)),
        },
    }
}

/// Runs the endpoint of an authenticated call.
fn handle(
    state: &EmulatorState,
    w: &mut World,
    call: &Call<'_>,
    route: Route<'_>,
    token: &TokenInfo,
    upload: &mut UploadLog,
) -> GraphResult<Reply> {
    let link_token = call.param_token();
    let link = PageLink {
        base_url: state.base_url().unwrap_or_default(),
        path: call.path,
        token_param: link_token.as_deref(),
    };
    match (call.method, route) {
        ("GET", Route::Me) => accounts::me(call),
        ("GET", Route::MePermissions) => accounts::permissions(token),
        ("GET", Route::MeAdAccounts) => {
            require_read(token).and_then(|()| accounts::list(w, call, &link))
        }
        ("GET", Route::Account(d)) => require_read(token).and_then(|()| accounts::read(w, d, call)),
        ("GET", Route::AccountAudiences(d)) => {
            require_read(token).and_then(|()| audiences::list(w, d, call, &link))
        }
        ("POST", Route::AccountAudiences(d)) => {
            require_write(token).and_then(|()| audiences::create(w, d, call))
        }
        ("GET", Route::Audience(id)) => {
            require_read(token).and_then(|()| audiences::read(w, id, call))
        }
        ("DELETE", Route::Audience(id)) => {
            require_write(token).and_then(|()| audiences::delete(w, id))
        }
        ("POST", Route::Users(id)) => {
            require_write(token).and_then(|()| users::upload(w, id, UploadOp::Add, call, upload))
        }
        ("DELETE", Route::Users(id)) => {
            require_write(token).and_then(|()| users::upload(w, id, UploadOp::Remove, call, upload))
        }
        ("POST", Route::UsersReplace(id)) => require_write(token)
            .and_then(|()| users::upload(w, id, UploadOp::Replace, call, upload)),
        ("GET", Route::Sessions(id)) => {
            require_read(token).and_then(|()| users::sessions(w, id, call))
        }
        (method, route) => Err(GraphError::unsupported(method, &route.object())),
    }
}

/// The user token of a call, checked, including `appsecret_proof` when sent.
fn authenticate(state: &EmulatorState, world: &World, call: &Call<'_>) -> GraphResult<TokenInfo> {
    let token = call.token().ok_or_else(|| {
        GraphError::new(104, "An access token is required to request this resource.")
    })?;
    let info = world.tokens.check(&token, call.now_s())?.clone();
    check_proof(state, call, &token)?;
    Ok(info)
}

/// Verifies `appsecret_proof` if the call has one.
fn check_proof(state: &EmulatorState, call: &Call<'_>, token: &str) -> GraphResult<()> {
    let Some(proof) = call.params.str("appsecret_proof") else {
        return Ok(());
    };
    if proof.eq_ignore_ascii_case(&appsecret_proof(state.app_secret(), token)) {
        Ok(())
    } else {
        Err(
            GraphError::new(100, "Invalid appsecret_proof provided in the API argument")
                .kind("GraphMethodException"),
        )
    }
}

/// `hex(HMAC-SHA256(key = app_secret, message = token))`.
pub(crate) fn appsecret_proof(app_secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(token.as_bytes());
    ids::to_hex(&mac.finalize().into_bytes())
}

/// The ad account (digits) a call touches, for the budget; unknown objects are 100/33.
fn account_of(world: &World, call: &Call<'_>, route: Route<'_>) -> GraphResult<Option<String>> {
    match route {
        Route::Account(d) | Route::AccountAudiences(d) => world
            .account(d)
            .map(|a| Some(a.digits.clone()))
            .ok_or_else(|| GraphError::unsupported(call.method, &format!("act_{d}"))),
        Route::Audience(id) | Route::Users(id) | Route::UsersReplace(id) | Route::Sessions(id) => {
            world
                .audience(id)
                .map(|a| Some(a.account.clone()))
                .ok_or_else(|| GraphError::unsupported(call.method, id))
        }
        _ => Ok(None),
    }
}

/// The ad account digits a fault's usage header should name, if the path names one.
pub(crate) fn account_for_path(world: &World, segments: &[&str]) -> Option<String> {
    match Route::parse(segments) {
        Route::Account(d) | Route::AccountAudiences(d) => Some(d.to_owned()),
        Route::Audience(id) | Route::Users(id) | Route::UsersReplace(id) | Route::Sessions(id) => {
            world.audience(id).map(|a| a.account.clone())
        }
        _ => None,
    }
}

/// The 80003 answer for an account over its hourly budget.
pub(crate) fn budget_exceeded() -> GraphError {
    GraphError::new(80003, RATE_LIMIT_80003)
        .subcode(2_446_079)
        .transient(true)
}

fn require_read(token: &TokenInfo) -> GraphResult<()> {
    if token.has_scope("ads_read") || token.has_scope("ads_management") {
        Ok(())
    } else {
        Err(GraphError::permission("ads_read"))
    }
}

fn require_write(token: &TokenInfo) -> GraphResult<()> {
    if token.has_scope("ads_management") {
        Ok(())
    } else {
        Err(GraphError::permission("ads_management"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse(&["me", "adaccounts"]), Route::MeAdAccounts);
        assert_eq!(Route::parse(&["act_12"]), Route::Account("12"));
        assert_eq!(
            Route::parse(&["act_12", "customaudiences"]),
            Route::AccountAudiences("12")
        );
        assert_eq!(Route::parse(&["act_x"]), Route::Unknown("act_x"));
        assert_eq!(Route::parse(&["123", "users"]), Route::Users("123"));
        assert_eq!(Route::parse(&["123", "nope"]), Route::Unknown("123"));
    }

    #[test]
    fn proof_matches_a_known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        assert_eq!(
            appsecret_proof("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
