//! `debug_token` and `oauth/access_token` (code exchange, long-lived exchange, app token).

use serde_json::{Value, json};

use super::{Call, Reply, check_proof};
use crate::graph_error::{GraphError, GraphResult};
use crate::state::EmulatorState;
use crate::state::tokens::{TOKEN_LIFETIME_S, TokenInfo, USER_ID, unknown_token};

/// Data access lasts 90 days from issue.
const DATA_ACCESS_S: u64 = 90 * 86_400;
const APP_NAME: &str = "Audex Emulator";

fn app_token(state: &EmulatorState) -> String {
    format!("{}|{}", state.app_id(), state.app_secret())
}

/// `GET debug_token?input_token=...`, authenticated by the app token or a valid user token.
pub(super) fn debug_token(state: &EmulatorState, call: &Call<'_>) -> GraphResult<Reply> {
    let now_s = call.now_s();
    let world = state.world();
    let caller = call.token().ok_or_else(|| {
        GraphError::new(104, "An access token is required to request this resource.")
    })?;
    if caller.contains('|') {
        if caller != app_token(state) {
            return Err(GraphError::new(
                190,
                "Invalid OAuth access token signature.",
            ));
        }
    } else {
        world.tokens.check(&caller, now_s)?;
        check_proof(state, call, &caller)?;
    }
    let input = call
        .params
        .str("input_token")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| GraphError::invalid_param("The parameter input_token is required"))?;
    if input == app_token(state) {
        return Ok(Reply::Json(json!({"data": {
            "app_id": state.app_id(), "type": "APP", "application": APP_NAME,
            "is_valid": true, "scopes": [],
        }})));
    }
    let Some(info) = world.tokens.get(&input) else {
        let e = unknown_token();
        return Ok(Reply::Json(json!({"data": {
            "error": {"code": e.code, "message": e.message},
            "is_valid": false,
            "scopes": [],
        }})));
    };
    let accounts: Vec<String> = world.accounts.iter().map(|a| a.digits.clone()).collect();
    Ok(Reply::Json(
        json!({ "data": user_token_data(state, info, &accounts, now_s) }),
    ))
}

fn user_token_data(
    state: &EmulatorState,
    info: &TokenInfo,
    accounts: &[String],
    now_s: u64,
) -> Value {
    let granular: Vec<Value> = info
        .scopes
        .iter()
        .map(|s| match s.as_str() {
            "ads_management" | "ads_read" => json!({"scope": s, "target_ids": accounts}),
            "business_management" => json!({"scope": s, "target_ids": ["3000000001"]}),
            _ => json!({"scope": s}),
        })
        .collect();
    let mut data = json!({
        "app_id": state.app_id(),
        "type": "USER",
        "application": APP_NAME,
        "data_access_expires_at": info.issued_at + DATA_ACCESS_S,
        "expires_at": info.expires_at,
        "is_valid": true,
        "issued_at": info.issued_at,
        "scopes": info.scopes,
        "granular_scopes": granular,
        "user_id": USER_ID,
    });
    if let Some(e) = info.problem(now_s) {
        data["is_valid"] = json!(false);
        data["error"] = json!({
            "code": e.code, "message": e.message, "subcode": e.subcode,
        });
    }
    data
}

/// `GET|POST oauth/access_token`.
pub(super) fn access_token(state: &EmulatorState, call: &Call<'_>) -> GraphResult<Reply> {
    let p = call.params;
    let now_s = call.now_s();
    let client_id = p.required("client_id")?;
    if client_id != state.app_id() {
        return Err(GraphError::new(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    let secret_ok = p.str("client_secret").as_deref() == Some(state.app_secret());
    let bad_secret = || GraphError::new(100, "Error validating client secret.");
    let grant_type = p.str("grant_type");
    let mut world = state.world();
    let token = match grant_type.as_deref() {
        Some("client_credentials") => {
            if !secret_ok {
                return Err(bad_secret());
            }
            return Ok(Reply::Json(
                json!({"access_token": app_token(state), "token_type": "bearer"}),
            ));
        }
        Some("fb_exchange_token") => {
            if !secret_ok {
                return Err(bad_secret());
            }
            let short = p.required("fb_exchange_token")?;
            let scopes = world.tokens.check(&short, now_s)?.scopes.clone();
            world.tokens.mint(scopes, now_s)
        }
        Some(other) if other != "authorization_code" => {
            return Err(GraphError::invalid_param(format!(
                "Unsupported grant_type {other}"
            )));
        }
        _ => {
            if !secret_ok {
                return Err(bad_secret());
            }
            let code = p.required("code")?;
            let redirect_uri = p.str("redirect_uri").unwrap_or_default();
            world.tokens.redeem_code(&code, &redirect_uri, now_s)?
        }
    };
    Ok(Reply::Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME_S,
    })))
}
