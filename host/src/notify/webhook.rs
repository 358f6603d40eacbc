//! The webhook notification: the report JSON POSTed to a URL, signed with HMAC-SHA256 so the
//! receiver can check it came from this audex, and retried on failure.

use std::time::Duration;

use super::WebhookNotify;
use crate::http::live::hmac_hex;
use crate::report::RunReport;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "x-audex-signature";

/// The signature header value for `body` under `key`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_hex(key, body))
}

/// The URL without user info or query (which may carry credentials), for reports.
pub(super) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// POSTs the report; returns the attempts made and the outcome.
pub(super) fn send(report: &RunReport, hook: &WebhookNotify) -> (u32, Result<(), String>) {
    let body = match serde_json::to_vec(report) {
        Ok(b) => b,
        Err(e) => return (0, Err(e.to_string())),
    };
    let key = match &hook.secret_env {
        Some(var) => match std::env::var(var) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => {
                return (
                    0,
                    Err(format!("notify.webhook.secret_env: {var} is not set")),
                );
            }
        },
        None => None,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => return (0, Err(e.without_url().to_string())),
    };
    let attempts = hook.attempts.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        let mut request = client
            .post(&hook.url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(k) = &key {
            request = request.header(SIGNATURE_HEADER, sign(k.as_bytes(), &body));
        }
        match request.send() {
            Ok(r) if r.status().is_success() => return (attempt, Ok(())),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.without_url().to_string(),
        }
        if attempt < attempts {
            std::thread::sleep(Duration::from_millis(200 * (1 << (attempt - 1))));
        }
    }
    (
        attempts,
        Err(format!(
            "webhook not delivered after {attempts} attempt(s): {last}"
        )),
    )
}
