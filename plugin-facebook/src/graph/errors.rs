//! Graph API error bodies and what audex does about each class.

use serde::Deserialize;

/// The `error` member of a Graph API error response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphError {
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Error type, e.g. `OAuthException`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Error code.
    #[serde(default)]
    pub code: Option<i64>,
    /// Error sub-code.
    #[serde(default)]
    pub error_subcode: Option<i64>,
    /// A title meant for end users.
    #[serde(default)]
    pub error_user_title: Option<String>,
    /// A message meant for end users.
    #[serde(default)]
    pub error_user_msg: Option<String>,
    /// Whether Facebook considers it transient.
    #[serde(default)]
    pub is_transient: Option<bool>,
    /// Trace id for Facebook support.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphError,
}

impl GraphError {
    /// Parses an error body; `None` when the body is not a Graph error.
    pub fn parse(body: &[u8]) -> Option<GraphError> {
        serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error)
    }

    /// The message with the user-facing detail Facebook adds, when there is one.
    pub fn full_message(&self) -> String {
        match &self.error_user_msg {
            Some(user) if !user.is_empty() && !self.message.contains(user.as_str()) => {
                format!("{} ({user})", self.message)
            }
            _ => self.message.clone(),
        }
    }
}

/// What to do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The token is invalid, expired or revoked (190, 102): re-authenticate, never retry.
    Reauthenticate,
    /// Throttling (4, 17, 32, 613, 80000-80014): wait and send again.
    RateLimited,
    /// A transient server-side failure (1, 2, `is_transient`): back off and send again.
    Transient,
    /// Anything else (100, 200, 2650, 26xx...): fail with the message.
    Fatal,
}

/// Classifies a Graph error by code, as DESIGN.md's table says.
pub fn classify(error: &GraphError) -> ErrorClass {
    match error.code {
        Some(190 | 102) => ErrorClass::Reauthenticate,
        Some(4 | 17 | 32 | 613 | 80000..=80014) => ErrorClass::RateLimited,
        Some(1 | 2) => ErrorClass::Transient,
        _ if error.is_transient == Some(true) => ErrorClass::Transient,
        _ => ErrorClass::Fatal,
    }
}

/// One business object's entry in `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsageEntry {
    /// Quota type, e.g. `custom_audience`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Percent of the call-count quota used.
    #[serde(default)]
    pub call_count: f64,
    /// Percent of the CPU-time quota used.
    #[serde(default)]
    pub total_cputime: f64,
    /// Percent of the total-time quota used.
    #[serde(default)]
    pub total_time: f64,
    /// Minutes until access is regained when blocked.
    #[serde(default)]
    pub estimated_time_to_regain_access: f64,
}

/// The usage Facebook reports for a response, folded to the most constrained entry.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Highest usage percentage among all entries.
    pub max_percent: f64,
    /// Longest wait before access is regained, in seconds.
    pub regain_after_s: u64,
}

/// Reads `X-Business-Use-Case-Usage` (a JSON object keyed by business id, each an array of
/// entries). Unknown shapes are ignored: usage is advice, not a contract.
pub fn parse_usage(header: &str) -> Usage {
    let Ok(map) =
        serde_json::from_str::<std::collections::BTreeMap<String, Vec<UsageEntry>>>(header)
    else {
        return Usage::default();
    };
    map.values()
        .flatten()
        .fold(Usage::default(), |acc, e| Usage {
            max_percent: acc
                .max_percent
                .max(e.call_count)
                .max(e.total_cputime)
                .max(e.total_time),
            regain_after_s: acc
                .regain_after_s
                .max((e.estimated_time_to_regain_access.max(0.0) * 60.0).ceil() as u64),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64) -> GraphError {
        GraphError {
            code: Some(code),
            ..GraphError::default()
        }
    }

    #[test]
    fn classes_follow_the_design_table() {
        assert_eq!(classify(&err(190)), ErrorClass::Reauthenticate);
        assert_eq!(classify(&err(102)), ErrorClass::Reauthenticate);
        for code in [4, 17, 613, 80000, 80003, 80014] {
            assert_eq!(classify(&err(code)), ErrorClass::RateLimited, "{code}");
        }
        assert_eq!(classify(&err(1)), ErrorClass::Transient);
        assert_eq!(classify(&err(2)), ErrorClass::Transient);
        for code in [100, 200, 2650, 2654, 10] {
            assert_eq!(classify(&err(code)), ErrorClass::Fatal, "{code}");
        }
        let transient = GraphError {
            code: Some(100),
            is_transient: Some(true),
            ..GraphError::default()
        };
        assert_eq!(classify(&transient), ErrorClass::Transient);
    }

    #[test]
    fn parses_facebook_error_body() {
        let body = br#"{"error":{"message":"(#100) Missing parameter(s): customer_file_source","type":"OAuthException","code":100,"error_subcode":33,"fbtrace_id":"AbC"}}"#;
        let e = GraphError::parse(body).expect("graph error");
        assert_eq!(e.code, Some(100));
        assert_eq!(e.error_subcode, Some(33));
        assert_eq!(e.fbtrace_id.as_deref(), Some("AbC"));
        assert!(GraphError::parse(br#"{"id":"1"}"#).is_none());
    }

    #[test]
    fn usage_header_takes_the_worst_entry() {
        let h = r#"{"1000000001":[{"type":"custom_audience","call_count":85,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":0},{"type":"ads_management","call_count":5,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3}]}"#;
        let u = parse_usage(h);
        assert_eq!(u.max_percent, 85.0);
        assert_eq!(u.regain_after_s, 180);
        assert_eq!(parse_usage("garbage"), Usage::default());
    }
}
