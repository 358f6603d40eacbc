//! Parsing Graph API success responses. Facebook is lenient about number types (ids and
//! counts sometimes arrive as strings), so these parsers are too.

use serde::{Deserialize, Deserializer};

/// A number that may arrive as a JSON number or a numeric string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u64),
        Float(f64),
        Str(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::Num(n)) => Some(n),
        Some(Raw::Float(f)) if f >= 0.0 => Some(f as u64),
        Some(Raw::Str(s)) => s.parse().ok(),
        _ => None,
    })
}

/// `{"id": "..."}`, the answer to a create call.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    /// The new object's id.
    pub id: String,
}

/// The answer to `POST /{audience}/users`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UploadAck {
    /// Rows received so far in the session.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub num_received: Option<u64>,
    /// Invalid entries so far in the session (approximate).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub num_invalid_entries: Option<u64>,
    /// Samples of invalid entries: an array or a map, counted but never logged.
    #[serde(default)]
    pub invalid_entry_samples: Option<serde_json::Value>,
}

impl UploadAck {
    /// How many invalid-entry samples came back.
    pub fn sample_count(&self) -> u64 {
        match &self.invalid_entry_samples {
            Some(serde_json::Value::Array(a)) => a.len() as u64,
            Some(serde_json::Value::Object(o)) => o.len() as u64,
            _ => 0,
        }
    }
}

/// `tos_accepted` on an ad account.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TosAccepted {
    /// 1 when the Custom Audience terms are accepted.
    #[serde(default)]
    pub custom_audience_tos: Option<i64>,
}

/// The ad account fields read before an export.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdAccount {
    /// `act_<digits>`.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// 1 = active; other values are documented by Facebook (2 disabled, 3 unsettled...).
    #[serde(default)]
    pub account_status: Option<i64>,
    /// Currency code.
    #[serde(default)]
    pub currency: Option<String>,
    /// Terms-of-service state.
    #[serde(default)]
    pub tos_accepted: Option<TosAccepted>,
    /// What the token's user may do on the account.
    #[serde(default)]
    pub user_tasks: Vec<String>,
}

impl AdAccount {
    /// Facebook's account status in words.
    pub fn status_name(&self) -> &'static str {
        match self.account_status {
            Some(1) => "active",
            Some(2) => "disabled",
            Some(3) => "unsettled",
            Some(7) => "pending risk review",
            Some(8) => "pending settlement",
            Some(9) => "in grace period",
            Some(100) => "pending closure",
            Some(101) => "closed",
            Some(_) => "other",
            None => "unknown",
        }
    }

    /// True when the Custom Audience terms of service are accepted.
    pub fn terms_accepted(&self) -> bool {
        self.tos_accepted
            .as_ref()
            .and_then(|t| t.custom_audience_tos)
            == Some(1)
    }

    /// Where the account's admin accepts the Custom Audience terms.
    pub fn terms_url(account: &str) -> String {
        let digits = account.trim_start_matches("act_");
        format!("https://business.facebook.com/ads/manage/customaudiences/tos/?act={digits}")
    }
}

/// `operation_status` of an audience.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OperationStatus {
    /// Status code (200 normal, 471 flagged...).
    #[serde(default)]
    pub code: Option<i64>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// The audience fields read before adding to an existing audience.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AudienceInfo {
    /// The audience id.
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its operation status.
    #[serde(default)]
    pub operation_status: Option<OperationStatus>,
}

/// A page of a list endpoint.
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Paging cursors.
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// Paging information.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Paging {
    /// Cursors.
    #[serde(default)]
    pub cursors: Option<Cursors>,
    /// URL of the next page; absent on the last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// Cursors of a page.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Cursors {
    /// Cursor after the last item.
    #[serde(default)]
    pub after: Option<String>,
}

impl<T> Page<T> {
    /// The cursor of the next page, when there is one.
    pub fn next_cursor(&self) -> Option<&str> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ack_accepts_strings_and_maps() {
        let a: UploadAck = serde_json::from_str(
            r#"{"audience_id":"1","session_id":"9","num_received":"20","num_invalid_entries":1,"invalid_entry_samples":{"x":"y","z":"w"}}"#,
        )
        .expect("parse");
        assert_eq!(a.num_received, Some(20));
        assert_eq!(a.num_invalid_entries, Some(1));
        assert_eq!(a.sample_count(), 2);
        let b: UploadAck = serde_json::from_str(r#"{"id":"5"}"#).expect("parse");
        assert_eq!(b.num_received, None);
        assert_eq!(b.sample_count(), 0);
    }

    #[test]
    fn account_readiness() {
        let a: AdAccount = serde_json::from_str(
            r#"{"id":"act_1","account_status":1,"tos_accepted":{"custom_audience_tos":1}}"#,
        )
        .expect("parse");
        assert!(a.terms_accepted());
        assert_eq!(a.status_name(), "active");
        let b: AdAccount =
            serde_json::from_str(r#"{"id":"act_2","account_status":2,"tos_accepted":{}}"#)
                .expect("parse");
        assert!(!b.terms_accepted());
        assert_eq!(b.status_name(), "disabled");
        assert!(AdAccount::terms_url("act_2").ends_with("act=2"));
    }

    #[test]
    fn page_cursor_only_when_next_exists() {
        let p: Page<Created> = serde_json::from_str(
            r#"{"data":[{"id":"1"}],"paging":{"cursors":{"after":"abc"},"next":"http://x"}}"#,
        )
        .expect("parse");
        assert_eq!(p.next_cursor(), Some("abc"));
        let last: Page<Created> =
            serde_json::from_str(r#"{"data":[],"paging":{"cursors":{"after":"abc"}}}"#)
                .expect("parse");
        assert_eq!(last.next_cursor(), None);
    }
}
