//! `me`, `me/permissions`, `me/adaccounts` and `act_{id}`.

use serde_json::{Value, json};

use super::{Call, Reply};
use crate::fields::{PageLink, page, select};
use crate::graph_error::{GraphError, GraphResult};
use crate::state::World;
use crate::state::accounts::FIELDS;
use crate::state::tokens::{TokenInfo, USER_ID};

/// `GET me`.
pub(super) fn me(call: &Call<'_>) -> GraphResult<Reply> {
    let all = json!({"id": USER_ID, "name": "Audex Emulator User"});
    let all = all.as_object().cloned().unwrap_or_default();
    let fields = call.params.fields();
    let m = select(&all, fields.as_deref(), &["name"], &["id", "name"], "User")?;
    Ok(Reply::Json(Value::Object(m)))
}

/// `GET me/permissions`.
pub(super) fn permissions(token: &TokenInfo) -> GraphResult<Reply> {
    let data: Vec<Value> = token
        .scopes
        .iter()
        .map(|s| json!({"permission": s, "status": "granted"}))
        .collect();
    Ok(Reply::Json(json!({ "data": data })))
}

/// `GET me/adaccounts`.
pub(super) fn list(world: &World, call: &Call<'_>, link: &PageLink<'_>) -> GraphResult<Reply> {
    let fields = call.params.fields();
    let items = world
        .accounts
        .iter()
        .map(|a| {
            select(
                &a.to_json(),
                fields.as_deref(),
                &["account_id"],
                &FIELDS,
                "AdAccount",
            )
            .map(|m| (a.id(), m))
        })
        .collect::<GraphResult<Vec<_>>>()?;
    page(items, call.params, link).map(Reply::Json)
}

/// `GET act_{id}`.
pub(super) fn read(world: &World, digits: &str, call: &Call<'_>) -> GraphResult<Reply> {
    let account = world
        .account(digits)
        .ok_or_else(|| GraphError::unsupported("GET", &format!("act_{digits}")))?;
    let fields = call.params.fields();
    let m = select(
        &account.to_json(),
        fields.as_deref(),
        &["account_id"],
        &FIELDS,
        "AdAccount",
    )?;
    Ok(Reply::Json(Value::Object(m)))
}
