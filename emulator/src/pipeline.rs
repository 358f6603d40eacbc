//! The life of one Graph request: latency, faults, parameters, dispatch, usage headers and the
//! request log.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::config::is_version;
use crate::faults::FaultKind;
use crate::graph_error::GraphError;
use crate::ids;
use crate::params::Params;
use crate::routes::{self, Call, Outcome, Reply, UploadLog};
use crate::state::{EmulatorState, LoggedRequest};
use crate::usage::AccountUsage;

/// Most entries kept in the request log; older ones are discarded first.
const MAX_LOG: usize = 200_000;

/// Closes the connection a request arrived on (installed by the server on every request).
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// Fallback handler: every path that is not a `/_emulator` control endpoint.
pub(crate) async fn graph(State(state): State<EmulatorState>, req: Request<Body>) -> Response {
    let kill = req.extensions().get::<ConnKill>().cloned();
    // Processing runs in its own task so that a client giving up (timeout, reset) never
    // cancels a request half-way: what reached the emulator is applied or refused as a whole.
    match tokio::spawn(process(state, req)).await {
        Ok(Some(response)) => response,
        Ok(None) => match kill {
            Some(kill) => {
                kill.0.notify_one();
                std::future::pending::<Response>().await
            }
            None => StatusCode::BAD_GATEWAY.into_response(),
        },
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Handles one request; `None` means "close the connection without answering".
async fn process(state: EmulatorState, req: Request<Body>) -> Option<Response> {
    let shared = Arc::clone(&state.shared);
    let at_ms = shared.clock.now_ms();
    let raw_method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let header_token = bearer(req.headers());
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let params = Params::read(req).await;
    let method = match (&params, raw_method.as_str()) {
        (Ok(p), "POST") => match p.str("method").map(|m| m.to_ascii_uppercase()) {
            Some(m) if m == "DELETE" || m == "GET" => m,
            _ => raw_method,
        },
        _ => raw_method,
    };
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let version = segments
        .first()
        .copied()
        .filter(|s| is_version(s))
        .map(str::to_owned);
    if version.is_some() {
        segments.remove(0);
    }
    let mut entry = LoggedRequest {
        method: method.clone(),
        path: path.clone(),
        status: None,
        error_code: None,
        error_subcode: None,
        fault: None,
        session_id: None,
        batch_seq: None,
        rows: None,
        at_ms,
    };

    let fault = state.world().faults.take(&method, &path);
    let mut drop_after = false;
    if let Some(f) = fault {
        entry.fault = Some(f.to_string());
        match f.kind {
            FaultKind::Status(status) => {
                let code = if status == 429 { 4 } else { 2 };
                let err = GraphError::canned(code, None).status(status);
                return Some(finish(&state, entry, plain(Err(err)), version.as_deref()));
            }
            FaultKind::Code { code, subcode } => {
                let mut outcome = plain(Err(GraphError::canned(code, subcode)));
                if (80000..=80014).contains(&code) {
                    let account = routes::account_for_path(&state.world(), &segments);
                    outcome.usage = account.map(|account| AccountUsage {
                        account,
                        call_count_pct: 100,
                        minutes_to_regain: 1,
                    });
                }
                return Some(finish(&state, entry, outcome, version.as_deref()));
            }
            FaultKind::Slow(delay) => tokio::time::sleep(delay).await,
            FaultKind::DropBefore => {
                push_log(&state, entry);
                return None;
            }
            FaultKind::Drop => drop_after = true,
            FaultKind::RevokeAfter(_) => {}
        }
    }

    let params = match params {
        Ok(p) => p,
        Err(e) => return Some(finish(&state, entry, plain(Err(e)), version.as_deref())),
    };
    if let Some(v) = &version
        && !shared.api_versions.is_empty()
        && !shared.api_versions.contains(v)
    {
        let latest = shared.api_versions.last().cloned().unwrap_or_default();
        let err = GraphError::new(
            2635,
            format!(
                "(#2635) You are calling a deprecated version of the Ads API. Please update to \
                 the latest version: {latest}."
            ),
        );
        return Some(finish(&state, entry, plain(Err(err)), version.as_deref()));
    }

    let call = Call {
        method: &method,
        path: &path,
        segments,
        params: &params,
        header_token: header_token.as_deref(),
        now_ms: shared.clock.now_ms(),
    };
    let outcome = routes::dispatch(&state, &call);
    if outcome.reply.is_ok() && outcome.authenticated {
        let mut world = state.world();
        if world.faults.record_success(&method, &path) {
            world.tokens.revoke_all();
        }
    }
    let response = finish(&state, entry, outcome, version.as_deref());
    if drop_after { None } else { Some(response) }
}

fn plain(reply: Result<Reply, GraphError>) -> Outcome {
    Outcome {
        reply,
        usage: None,
        authenticated: false,
        upload: UploadLog::default(),
    }
}

/// Renders an outcome, adds Facebook's headers and logs the request.
fn finish(
    state: &EmulatorState,
    mut entry: LoggedRequest,
    outcome: Outcome,
    version: Option<&str>,
) -> Response {
    let (mut response, status) = match outcome.reply {
        Ok(Reply::Json(v)) => (
            routes::admin::json_response(StatusCode::OK, &v),
            StatusCode::OK,
        ),
        Ok(Reply::Html(html)) => (
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            StatusCode::OK,
        ),
        Ok(Reply::Redirect(url)) => {
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&url) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            (r, StatusCode::FOUND)
        }
        Err(e) => {
            entry.error_code = Some(e.code);
            entry.error_subcode = e.subcode;
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            (routes::admin::json_response(status, &e.to_json()), status)
        }
    };
    entry.status = Some(status.as_u16());
    entry.session_id = outcome.upload.session_id;
    entry.batch_seq = outcome.upload.batch_seq;
    entry.rows = outcome.upload.rows;

    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    if let Some(usage) = &outcome.usage {
        put("x-business-use-case-usage", &usage.header());
    }
    let app_usage = state.world().budget.app_header(entry.at_ms);
    put("x-app-usage", &app_usage);
    if let Some(v) = version {
        put("facebook-api-version", v);
    }
    put("x-fb-trace-id", &ids::fbtrace_id());
    push_log(state, entry);
    response
}

fn push_log(state: &EmulatorState, entry: LoggedRequest) {
    let mut world = state.world();
    if world.log.len() >= MAX_LOG {
        world.log.drain(..MAX_LOG / 10);
    }
    world.log.push(entry);
}

/// The token of an `Authorization: Bearer T` (or `OAuth T`) header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}
