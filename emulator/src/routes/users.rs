//! `{audience_id}/users` (add, remove), `{audience_id}/usersreplace` and
//! `{audience_id}/sessions`.

use serde_json::json;

use super::audiences::{check_tos, check_writable};
use super::{Call, Reply, UploadLog};
use crate::graph_error::{GraphError, GraphResult};
use crate::params::lenient_u64;
use crate::state::World;
use crate::state::sessions::{SessionParams, UploadOp};
use crate::upload::parse_payload;

/// Adds, removes or replaces members.
pub(super) fn upload(
    world: &mut World,
    id: &str,
    op: UploadOp,
    call: &Call<'_>,
    log: &mut UploadLog,
) -> GraphResult<Reply> {
    let p = call.params;
    let payload_value = p.json("payload")?;
    let session_value = p.json("session")?;
    // Record what arrived before validating it, so refused batches are visible in the log.
    if let Some(s) = &session_value {
        log.session_id = s
            .get("session_id")
            .and_then(lenient_u64)
            .map(|n| n.to_string());
        log.batch_seq = s.get("batch_seq").and_then(lenient_u64);
    }
    log.rows = payload_value
        .as_ref()
        .and_then(|v| v.get("data"))
        .and_then(|d| d.as_array())
        .map(Vec::len);

    let digits = world
        .audience(id)
        .map(|a| a.account.clone())
        .ok_or_else(|| GraphError::unsupported(call.method, id))?;
    let account = world
        .account(&digits)
        .ok_or_else(|| GraphError::unsupported(call.method, id))?;
    check_writable(account)?;
    check_tos(account)?;

    let payload = parse_payload(
        payload_value
            .as_ref()
            .ok_or_else(|| GraphError::missing_param("payload"))?,
    )?;
    let session = session_value
        .as_deref()
        .map(SessionParams::parse)
        .transpose()?;
    if op == UploadOp::Replace && session.is_none() {
        return Err(GraphError::missing_param("session"));
    }
    let audience = world
        .audience_mut(id)
        .ok_or_else(|| GraphError::unsupported(call.method, id))?;
    audience
        .upload(op, &payload, session.as_ref(), call.now_ms)
        .map(Reply::Json)
}

/// `GET {audience_id}/sessions[?session_id=]`.
pub(super) fn sessions(world: &World, id: &str, call: &Call<'_>) -> GraphResult<Reply> {
    let audience = world
        .audience(id)
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    let only = match call.params.str("session_id") {
        None => None,
        Some(s) => Some(s.parse::<u64>().map_err(|_| {
            GraphError::invalid_param("Param session_id must be a positive integer")
        })?),
    };
    Ok(Reply::Json(
        json!({"data": audience.sessions_json(only, call.now_ms)}),
    ))
}
