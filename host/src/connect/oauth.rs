//! The OAuth 2.0 authorization-code flow, as the plugin manifest's `[oauth]` section describes
//! it: the dialog URL, the redirect's parameters (with the `state` check), the code exchange
//! and the optional long-lived exchange. Nothing here knows a particular destination.

use std::time::Duration;

use crate::plugin::manifest::OAuth;
use crate::secrets::Secret;

/// Time limit of one token request.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the authorization did not produce a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The redirect's `state` is not the one this flow sent: the answer is not ours.
    #[error(
        "the authorization answer's `state` does not match the one audex sent, so it was rejected (a stale browser tab, or a forged redirect); run `audex connect` again"
    )]
    StateMismatch,
    /// The user (or the destination) refused the authorization.
    #[error("the authorization was refused: {0}")]
    Denied(String),
    /// The redirect carried neither a code nor an error.
    #[error("the authorization answer has no `code`: {0}")]
    NoCode(String),
    /// The token endpoint refused an exchange.
    #[error("{what} failed: {message}")]
    Exchange {
        /// Which exchange (`the code exchange`, `the long-lived token exchange`).
        what: &'static str,
        /// The destination's message.
        message: String,
    },
    /// The token endpoint could not be reached.
    #[error("{what} failed: {message}")]
    Transport {
        /// Which exchange.
        what: &'static str,
        /// What went wrong (never a URL or a secret).
        message: String,
    },
}

/// A random `state` value: 128 bits, hex.
pub fn new_state() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The dialog URL the user opens: the manifest's `authorize_url`, or the same path on the
/// endpoint's overridden base URL (an emulator), with the client id, redirect URI, `state`
/// and scopes.
pub fn dialog_url(
    oauth: &OAuth,
    endpoint_override: Option<&str>,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> String {
    let base = match endpoint_override {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), oauth.authorize_path()),
        None => oauth.authorize_url.clone(),
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("client_id", client_id);
    query.append_pair("redirect_uri", redirect_uri);
    query.append_pair("state", state);
    query.append_pair("response_type", "code");
    if !oauth.scopes.is_empty() {
        query.append_pair("scope", &oauth.scopes.join(&oauth.scope_separator));
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", query.finish())
}

/// What the authorization server sent back to the redirect URI.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<Secret>,
    /// The echoed `state`.
    pub state: Option<String>,
    /// `error`, when the authorization was refused.
    pub error: Option<String>,
    /// `error_description` / `error_reason`, when given.
    pub error_description: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("state", &self.state)
            .field("error", &self.error)
            .finish()
    }
}

impl Callback {
    /// Reads a query string (`code=...&state=...`).
    pub fn from_query(query: &str) -> Self {
        let mut cb = Callback::default();
        let mut reason = None;
        for (k, v) in form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            match k.as_ref() {
                "code" if !v.is_empty() => cb.code = Some(Secret::new(v.into_owned())),
                "state" => cb.state = Some(v.into_owned()),
                "error" => cb.error = Some(v.into_owned()),
                "error_description" => cb.error_description = Some(v.into_owned()),
                "error_reason" => reason = Some(v.into_owned()),
                _ => {}
            }
        }
        if cb.error_description.is_none() {
            cb.error_description = reason;
        }
        cb
    }

    /// Reads what a user pasted in manual mode: the whole redirected URL, its query string,
    /// or the bare code. A bare code carries no `state` to check.
    pub fn from_pasted(text: &str) -> Self {
        let text = text.trim();
        if let Some((_, query)) = text.split_once('?') {
            let query = query.split('#').next().unwrap_or(query);
            return Self::from_query(query);
        }
        if text.contains("code=") || text.contains("error=") {
            return Self::from_query(text);
        }
        Callback {
            code: (!text.is_empty()).then(|| Secret::new(text)),
            ..Callback::default()
        }
    }

    /// The code, once `state` matches `expected` (a missing `state` is accepted only when
    /// `allow_missing_state`: a bare code pasted by hand).
    pub fn into_code(
        self,
        expected: &str,
        allow_missing_state: bool,
    ) -> Result<Secret, OAuthError> {
        match &self.state {
            Some(state) if state == expected => {}
            None if allow_missing_state && self.error.is_none() => {}
            _ => return Err(OAuthError::StateMismatch),
        }
        if let Some(error) = self.error {
            let detail = self
                .error_description
                .map(|d| format!("{error} ({d})"))
                .unwrap_or(error);
            return Err(OAuthError::Denied(detail));
        }
        self.code.ok_or_else(|| {
            OAuthError::NoCode("the redirect carried neither a code nor an error".to_owned())
        })
    }
}

/// An access token from the token endpoint.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub access_token: Secret,
    /// Lifetime in seconds, when given.
    pub expires_in: Option<u64>,
}

/// The token endpoint, with the app's credentials.
pub struct TokenEndpoint<'a> {
    /// The `[oauth]` section.
    pub oauth: &'a OAuth,
    /// The endpoint's base URL (overridden or the manifest's).
    pub base_url: String,
    /// The app (client) id.
    pub client_id: &'a str,
    /// The app (client) secret.
    pub client_secret: &'a Secret,
}

impl TokenEndpoint<'_> {
    /// Exchanges an authorization code for a token.
    pub fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<Token, OAuthError> {
        let mut params = vec![
            ("client_id", self.client_id.to_owned()),
            ("client_secret", self.client_secret.expose().to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("code", code.expose().to_owned()),
        ];
        if let Some(grant) = &self.oauth.code_grant_type {
            params.push(("grant_type", grant.clone()));
        }
        self.request("the code exchange", &params, &[code])
    }

    /// Trades a token for a long-lived one, when the manifest describes how; otherwise
    /// returns it unchanged.
    pub fn long_lived(&self, token: Token) -> Result<Token, OAuthError> {
        let Some(exchange) = &self.oauth.long_lived else {
            return Ok(token);
        };
        let params = vec![
            ("grant_type", exchange.grant_type.clone()),
            ("client_id", self.client_id.to_owned()),
            ("client_secret", self.client_secret.expose().to_owned()),
            (
                exchange.token_param.as_str(),
                token.access_token.expose().to_owned(),
            ),
        ];
        self.request(
            "the long-lived token exchange",
            &params,
            &[&token.access_token],
        )
    }

    /// POSTs a form to the token endpoint (credentials in the body, never in the URL) and
    /// reads the token or the error.
    fn request(
        &self,
        what: &'static str,
        params: &[(&str, String)],
        scrub: &[&Secret],
    ) -> Result<Token, OAuthError> {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            body.append_pair(k, v);
        }
        let body = body.finish();
        let url = format!(
            "{}{}",
            self.base_url.trim_end_matches('/'),
            self.oauth.token_path
        );
        let transport = |message: String| OAuthError::Transport { what, message };
        // ring is the process-wide rustls provider; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| transport(e.to_string()))?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("audex/", env!("CARGO_PKG_VERSION")))
            .timeout(TOKEN_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| transport(e.without_url().to_string()))?;
        let (status, bytes) = runtime.block_on(async {
            let response = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .map_err(|e| transport(e.without_url().to_string()))?;
            let status = response.status().as_u16();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| transport(e.without_url().to_string()))?;
            Ok::<_, OAuthError>((status, bytes))
        })?;
        let secrets: Vec<&str> = scrub
            .iter()
            .map(|s| s.expose())
            .chain([self.client_secret.expose()])
            .collect();
        parse_token_response(status, &bytes).map_err(|message| OAuthError::Exchange {
            what,
            message: scrub_text(&message, &secrets),
        })
    }
}

/// Reads a token endpoint's answer: the token, or the error in words (the destination's own
/// message and codes, in the Graph API's or RFC 6749's shape).
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<Token, String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| format!("HTTP {status} with an answer that is not JSON"))?;
    if let Some(error) = value.get("error") {
        return Err(describe_error(error, &value));
    }
    let access_token = value
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("HTTP {status} without an access_token"))?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    let expires_in = value.get("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    Ok(Token {
        access_token: Secret::new(access_token),
        expires_in,
    })
}

fn text(v: Option<&serde_json::Value>) -> Option<&str> {
    v.and_then(serde_json::Value::as_str)
}

fn describe_error(error: &serde_json::Value, whole: &serde_json::Value) -> String {
    match error {
        serde_json::Value::Object(e) => {
            let mut s = text(e.get("message")).unwrap_or("unknown error").to_owned();
            if let Some(user) = text(e.get("error_user_msg")).filter(|u| !s.contains(u)) {
                s.push_str(&format!(" ({user})"));
            }
            if let Some(code) = e.get("code").and_then(serde_json::Value::as_i64) {
                s.push_str(&format!(" (code {code}"));
                if let Some(sub) = e.get("error_subcode").and_then(serde_json::Value::as_i64) {
                    s.push_str(&format!(", subcode {sub}"));
                }
                s.push(')');
            }
            if let Some(trace) = text(e.get("fbtrace_id")) {
                s.push_str(&format!(" [trace id {trace}]"));
            }
            s
        }
        serde_json::Value::String(code) => match text(whole.get("error_description")) {
            Some(d) => format!("{code}: {d}"),
            None => code.clone(),
        },
        _ => "unknown error".to_owned(),
    }
}

/// Replaces any of `secrets` found in `text` (an upstream message that echoed one).
pub fn scrub_text(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::manifest::{LongLivedExchange, OAuthSecrets};

    fn oauth() -> OAuth {
        OAuth {
            endpoint: "graph".into(),
            authorize_url: "https://www.facebook.com/v25.0/dialog/oauth".into(),
            token_path: "/v25.0/oauth/access_token".into(),
            scopes: vec!["ads_management".into(), "business_management".into()],
            required_scopes: vec!["ads_management".into()],
            scope_separator: ",".into(),
            code_grant_type: None,
            secrets: OAuthSecrets::default(),
            long_lived: Some(LongLivedExchange {
                grant_type: "fb_exchange_token".into(),
                token_param: "fb_exchange_token".into(),
            }),
            system_token_name: "system user token".into(),
        }
    }

    #[test]
    fn dialog_url_goes_to_facebook_or_to_the_overridden_endpoint() {
        let real = dialog_url(&oauth(), None, "42", "http://localhost:8765/callback", "s1");
        assert_eq!(
            real,
            "https://www.facebook.com/v25.0/dialog/oauth?client_id=42&redirect_uri=http%3A%2F%2Flocalhost%3A8765%2Fcallback&state=s1&response_type=code&scope=ads_management%2Cbusiness_management"
        );
        let emulated = dialog_url(
            &oauth(),
            Some("http://127.0.0.1:9000/"),
            "42",
            "http://localhost:8765/callback",
            "s1",
        );
        assert!(
            emulated.starts_with("http://127.0.0.1:9000/v25.0/dialog/oauth?client_id=42&"),
            "{emulated}"
        );
    }

    #[test]
    fn state_must_match() {
        let ok = Callback::from_query("code=abc&state=s1");
        assert_eq!(
            ok.into_code("s1", false).map(|c| c.expose().to_owned()),
            Ok("abc".into())
        );
        let forged = Callback::from_query("code=abc&state=evil");
        assert_eq!(
            forged.into_code("s1", false).map(|_| ()),
            Err(OAuthError::StateMismatch)
        );
        let missing = Callback::from_query("code=abc");
        assert_eq!(
            missing.into_code("s1", false).map(|_| ()),
            Err(OAuthError::StateMismatch)
        );
        // An error answer with a forged state is a mismatch too, not a denial.
        let denied = Callback::from_query("error=access_denied&state=evil");
        assert_eq!(
            denied.into_code("s1", true).map(|_| ()),
            Err(OAuthError::StateMismatch)
        );
    }

    #[test]
    fn denial_carries_the_reason() {
        let cb = Callback::from_query(
            "error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=s1",
        );
        let e = cb.into_code("s1", false).expect_err("denied");
        assert_eq!(
            e,
            OAuthError::Denied("access_denied (Permissions error)".into())
        );
    }

    #[test]
    fn pasted_urls_queries_and_bare_codes() {
        let url = Callback::from_pasted("  https://example.com/cb?code=AQx&state=s1#_=_\n");
        assert_eq!(url.state.as_deref(), Some("s1"));
        assert_eq!(url.code.as_ref().map(Secret::expose), Some("AQx"));
        let query = Callback::from_pasted("code=AQy&state=s2");
        assert_eq!(query.code.as_ref().map(Secret::expose), Some("AQy"));
        let bare = Callback::from_pasted("AQz");
        assert_eq!(
            bare.clone()
                .into_code("s1", true)
                .map(|c| c.expose().to_owned()),
            Ok("AQz".into())
        );
        assert_eq!(
            bare.into_code("s1", false).map(|_| ()),
            Err(OAuthError::StateMismatch)
        );
        let debug = format!("{:?}", Callback::from_pasted("AQsecret"));
        assert!(!debug.contains("AQsecret"), "{debug}");
    }

    #[test]
    fn token_answers_and_errors() {
        let t = parse_token_response(
            200,
            br#"{"access_token":"EAAx","token_type":"bearer","expires_in":5183944}"#,
        )
        .expect("token");
        assert_eq!(t.access_token.expose(), "EAAx");
        assert_eq!(t.expires_in, Some(5_183_944));
        let graph = parse_token_response(
            400,
            br#"{"error":{"message":"Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request","type":"OAuthException","code":100,"error_subcode":36008,"fbtrace_id":"AbC"}}"#,
        )
        .map(|_| ())
        .expect_err("graph error");
        assert!(
            graph.starts_with("Error validating verification code")
                && graph.contains("(code 100, subcode 36008)")
                && graph.contains("AbC"),
            "{graph}"
        );
        let rfc = parse_token_response(
            400,
            br#"{"error":"invalid_grant","error_description":"code expired"}"#,
        )
        .map(|_| ())
        .expect_err("rfc error");
        assert_eq!(rfc, "invalid_grant: code expired");
        assert!(parse_token_response(502, b"<html>").is_err());
    }

    #[test]
    fn scrubbing_removes_echoed_secrets() {
        assert_eq!(
            scrub_text("bad secret s3cr3t!", &["s3cr3t", "x"]),
            "bad secret <redacted>!"
        );
    }
}
