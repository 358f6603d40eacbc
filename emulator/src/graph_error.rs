//! Graph API error bodies: `{"error": {"message", "type", "code", "error_subcode", ...}}`.

use serde_json::{Map, Value, json};

use crate::ids;

/// One Graph API error, rendered exactly like Facebook's error JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphError {
    /// HTTP status of the answer (Facebook uses 400 for nearly everything, 500 for codes 1/2).
    pub(crate) status: u16,
    /// `error.code`.
    pub(crate) code: i64,
    /// `error.error_subcode`, omitted when `None`.
    pub(crate) subcode: Option<i64>,
    /// `error.type`.
    pub(crate) kind: &'static str,
    /// `error.message`.
    pub(crate) message: String,
    /// `error.error_user_title` and `error.error_user_msg`.
    pub(crate) user: Option<(String, String)>,
    /// `error.is_transient`, omitted when `None`.
    pub(crate) is_transient: Option<bool>,
}

/// Result type of the route handlers.
pub(crate) type GraphResult<T> = Result<T, GraphError>;

impl GraphError {
    /// An `OAuthException` with HTTP 400.
    pub(crate) fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code,
            subcode: None,
            kind: "OAuthException",
            message: message.into(),
            user: None,
            is_transient: None,
        }
    }

    /// Sets `error_subcode`.
    pub(crate) fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    /// Sets `error_user_title` / `error_user_msg`.
    pub(crate) fn user(mut self, title: impl Into<String>, msg: impl Into<String>) -> Self {
        self.user = Some((title.into(), msg.into()));
        self
    }

    /// Sets `is_transient`.
    pub(crate) fn transient(mut self, transient: bool) -> Self {
        self.is_transient = Some(transient);
        self
    }

    /// Sets the HTTP status.
    pub(crate) fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Sets `error.type`.
    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    /// `(#100) {what}`: an invalid parameter.
    pub(crate) fn invalid_param(what: impl std::fmt::Display) -> Self {
        Self::new(100, format!("(#100) {what}"))
    }

    /// `(#100) Missing parameter(s): {name}`.
    pub(crate) fn missing_param(name: &str) -> Self {
        Self::invalid_param(format!("Missing parameter(s): {name}"))
    }

    /// Graph's answer for an object that does not exist or an edge it does not have (100/33).
    pub(crate) fn unsupported(method: &str, object: &str) -> Self {
        Self::new(
            100,
            format!(
                "Unsupported {} request. Object with ID '{object}' does not exist, cannot be loaded \
                 due to missing permissions, or does not support this operation. Please read the \
                 Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase()
            ),
        )
        .subcode(33)
        .kind("GraphMethodException")
    }

    /// A missing `ads_management` / `ads_read` permission (code 200).
    pub(crate) fn permission(scope: &str) -> Self {
        Self::new(
            200,
            format!("(#200) Requires {scope} permission to manage the object"),
        )
    }

    /// The canonical error Facebook sends for `code` (and optional `subcode`), as injected by
    /// `code:` faults. Transient classes carry `is_transient: true`; codes 1 and 2 use HTTP 500.
    pub(crate) fn canned(code: i64, subcode: Option<i64>) -> Self {
        let (message, default_subcode, transient): (&str, Option<i64>, bool) = match code {
            1 => ("An unknown error occurred", None, true),
            2 => (
                "An unexpected error has occurred. Please retry your request later.",
                None,
                true,
            ),
            4 => (
                "(#4) Application request limit reached",
                Some(1_504_022),
                true,
            ),
            17 => ("(#17) User request limit reached", Some(2_446_079), true),
            102 => ("Session key invalid or no longer valid", None, false),
            190 => (
                "Error validating access token: The session has been invalidated because the user \
                 changed their password or Facebook has changed the session for security reasons.",
                Some(460),
                false,
            ),
            613 => (
                "(#613) Calls to this api have exceeded the rate limit.",
                Some(1_487_742),
                true,
            ),
            80003 => (RATE_LIMIT_80003, Some(2_446_079), true),
            80000..=80014 => (
                "There have been too many calls from this ad-account. Wait a bit and try again.",
                Some(2_446_079),
                true,
            ),
            100 => ("(#100) Invalid parameter", None, false),
            200 => ("(#200) Permissions error", None, false),
            2650 => ("(#2650) Failed to update the custom audience", None, false),
            2654 => ("(#2654) Failed to create custom audience", None, false),
            _ => ("", None, false),
        };
        let message = if message.is_empty() {
            format!("(#{code}) Emulated error {code}")
        } else {
            message.to_owned()
        };
        let mut err = Self::new(code, message);
        err.subcode = subcode.or(default_subcode);
        if transient {
            err.is_transient = Some(true);
        }
        if matches!(code, 1 | 2) {
            err.status = 500;
        }
        err
    }

    /// The error body, with a fresh `fbtrace_id`.
    pub(crate) fn to_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), json!(self.message));
        e.insert("type".into(), json!(self.kind));
        e.insert("code".into(), json!(self.code));
        if let Some(sub) = self.subcode {
            e.insert("error_subcode".into(), json!(sub));
        }
        if let Some(t) = self.is_transient {
            e.insert("is_transient".into(), json!(t));
        }
        if let Some((title, msg)) = &self.user {
            e.insert("error_user_title".into(), json!(title));
            e.insert("error_user_msg".into(), json!(msg));
        }
        e.insert("fbtrace_id".into(), json!(ids::fbtrace_id()));
        json!({ "error": e })
    }
}

/// Message of the custom_audience business-use-case throttle (code 80003).
pub(crate) const RATE_LIMIT_80003: &str = "(#80003) There have been too many calls to this \
     ad-account. Wait a bit and try again. For more info, please refer to \
     https://developers.facebook.com/docs/graph-api/overview/rate-limiting#custom-audience.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let v = GraphError::new(190, "bad token").subcode(463).to_json();
        assert_eq!(v["error"]["code"], 190);
        assert_eq!(v["error"]["error_subcode"], 463);
        assert_eq!(v["error"]["type"], "OAuthException");
        assert_eq!(v["error"]["fbtrace_id"].as_str().map(str::len), Some(11));
        assert!(v["error"].get("is_transient").is_none());
    }

    #[test]
    fn canned_codes() {
        assert_eq!(GraphError::canned(2, None).status, 500);
        assert_eq!(GraphError::canned(613, None).subcode, Some(1_487_742));
        assert_eq!(GraphError::canned(17, Some(9)).subcode, Some(9));
        assert_eq!(GraphError::canned(80003, None).is_transient, Some(true));
        assert!(GraphError::canned(12345, None).message.contains("12345"));
    }
}
