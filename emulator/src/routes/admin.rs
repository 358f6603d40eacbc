//! Test-only control endpoints under `/_emulator` (listed in the crate docs).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::faults::FaultSpec;
use crate::state::EmulatorState;

/// The `/_emulator` routes.
pub(crate) fn router() -> Router<EmulatorState> {
    Router::new()
        .route("/_emulator/audiences", get(audiences))
        .route("/_emulator/audiences/{id}", get(audience))
        .route("/_emulator/faults", post(inject).delete(clear))
        .route("/_emulator/clock", post(clock))
        .route("/_emulator/revoke", post(revoke))
        .route("/_emulator/requests", get(requests))
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": {"message": message.into()}}),
    )
}

async fn audiences(State(state): State<EmulatorState>) -> Response {
    json_response(StatusCode::OK, &json!(state.audiences()))
}

async fn audience(State(state): State<EmulatorState>, Path(id): Path<String>) -> Response {
    match state.audience(&id) {
        Some(a) => json_response(StatusCode::OK, &json!(a)),
        None => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"message": format!("no audience {id}")}}),
        ),
    }
}

async fn inject(State(state): State<EmulatorState>, body: Bytes) -> Response {
    let specs: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(s)) => vec![s],
        Ok(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => return bad_request("expected a JSON list of fault spec strings"),
    };
    let parsed: Result<Vec<FaultSpec>, _> = specs.iter().map(|s| s.parse()).collect();
    match parsed {
        Ok(faults) => {
            let n = faults.len();
            for f in faults {
                state.inject(f);
            }
            json_response(StatusCode::OK, &json!({"injected": n}))
        }
        Err(e) => bad_request(e.to_string()),
    }
}

async fn clear(State(state): State<EmulatorState>) -> Response {
    state.clear_faults();
    json_response(StatusCode::OK, &json!({"success": true}))
}

async fn clock(State(state): State<EmulatorState>, body: Bytes) -> Response {
    let secs = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("advance_s").and_then(Value::as_u64));
    match secs {
        Some(s) => {
            state.advance_clock(Duration::from_secs(s));
            json_response(
                StatusCode::OK,
                &json!({"now_ms": state.shared.clock.now_ms()}),
            )
        }
        None => bad_request("expected {\"advance_s\": N} with N a non-negative integer"),
    }
}

async fn revoke(State(state): State<EmulatorState>) -> Response {
    state.revoke_token();
    json_response(StatusCode::OK, &json!({"success": true}))
}

async fn requests(State(state): State<EmulatorState>) -> Response {
    json_response(StatusCode::OK, &json!(state.request_log()))
}
