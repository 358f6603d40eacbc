//! The values a plugin exchanges with the host: settings answers, reports, errors.
//!
//! These are the records and variants of the `audex:destination` WIT package, as Rust types
//! (the WIT documentation of each item is on it), plus a few constructors for the common
//! cases. The HTTP and run-bookkeeping types are in [`crate::host`].

use std::fmt;

pub use crate::bindings::audex::destination::run::{Checkpoint, Rejection};
pub use crate::bindings::audex::destination::types::{
    PluginError, ReasonCount, SettingsProblem, UpstreamError,
};
pub use crate::bindings::exports::audex::destination::destination::{
    Account, AudienceReport, ConnectionInfo, ExportReport, ExportRequest, Lookalike, Plan,
};

impl PluginError {
    /// [`PluginError::InvalidSettings`] for the settings key `key` (a dotted path inside the
    /// destination settings, e.g. `audience.fields`).
    pub fn invalid_settings(key: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError::InvalidSettings(SettingsProblem {
            key: key.into(),
            message: message.into(),
        })
    }

    /// [`PluginError::InvalidInput`]: the input data cannot be processed at all.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        PluginError::InvalidInput(message.into())
    }

    /// [`PluginError::NotReady`]: the account cannot receive the export as it stands.
    pub fn not_ready(message: impl Into<String>) -> Self {
        PluginError::NotReady(message.into())
    }

    /// [`PluginError::Host`]: a host call failed in a way the plugin cannot recover from.
    pub fn host(message: impl Into<String>) -> Self {
        PluginError::Host(message.into())
    }

    /// [`PluginError::Internal`]: a bug in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        PluginError::Internal(message.into())
    }

    /// A one-line description for people: the settings key and message, the destination's
    /// message with its code and trace id, or the message of the other cases.
    pub fn describe(&self) -> String {
        match self {
            PluginError::InvalidSettings(p) => format!("{}: {}", p.key, p.message),
            PluginError::AuthRejected(u)
            | PluginError::RateLimited(u)
            | PluginError::Upstream(u) => u.to_string(),
            PluginError::NotReady(m)
            | PluginError::InvalidInput(m)
            | PluginError::Host(m)
            | PluginError::Internal(m) => m.clone(),
        }
    }
}

impl UpstreamError {
    /// An error answered with HTTP `status`, with the destination's `message` and nothing else
    /// known (add the code, trace id or retry delay with struct update syntax).
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        UpstreamError {
            status,
            code: None,
            subcode: None,
            message: message.into(),
            trace_id: None,
            retry_after_s: None,
        }
    }
}

impl fmt::Display for UpstreamError {
    /// The message, then the code and trace id when known: `Invalid parameter (code 100,
    /// trace AbC)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (&self.code, &self.trace_id) {
            (Some(code), Some(trace)) => write!(f, " (code {code}, trace {trace})"),
            (Some(code), None) => write!(f, " (code {code})"),
            (None, Some(trace)) => write!(f, " (trace {trace})"),
            (None, None) => Ok(()),
        }
    }
}

impl ReasonCount {
    /// `count` rows rejected for `reason` (a stable snake_case code).
    pub fn new(reason: impl Into<String>, count: u64) -> Self {
        ReasonCount {
            reason: reason.into(),
            count,
        }
    }
}

impl Rejection {
    /// Row `row` (0-based, in the whole segment) not uploaded for `field` because of `reason`.
    pub fn new(row: u64, field: impl Into<String>, reason: impl Into<String>) -> Self {
        Rejection {
            row,
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Plan {
    /// A plan that needs `fields` from the segment, fills one audience per entry of
    /// `audiences`, with no account, no optional field and no warning.
    pub fn new<S: Into<String>>(
        fields: impl IntoIterator<Item = S>,
        audiences: impl IntoIterator<Item = S>,
    ) -> Self {
        Plan {
            account: None,
            fields: fields.into_iter().map(Into::into).collect(),
            optional_fields: Vec::new(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            warnings: Vec::new(),
        }
    }
}

impl AudienceReport {
    /// The report of audience `key` holding `fields`, with every count at zero: fill in what
    /// the export did.
    pub fn new<S: Into<String>>(
        key: impl Into<String>,
        fields: impl IntoIterator<Item = S>,
    ) -> Self {
        let key = key.into();
        AudienceReport {
            name: key.clone(),
            audience_key: key,
            fields: fields.into_iter().map(Into::into).collect(),
            audience_id: String::new(),
            created: false,
            uploaded: 0,
            rejected: Vec::new(),
            requests: 0,
            num_received: None,
            num_invalid_entries: None,
            invalid_entry_samples: 0,
            lookalikes: Vec::new(),
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_version_is_the_packages() {
        let wit = include_str!("../../wit/0.1.1/destination.wit");
        let declared = wit
            .lines()
            .find_map(|l| l.trim().strip_prefix("package audex:destination@"))
            .and_then(|rest| rest.strip_suffix(';'))
            .expect("a package declaration");
        assert_eq!(declared, crate::WIT_VERSION);
    }

    #[test]
    fn describe_names_key_code_and_trace() {
        assert_eq!(
            PluginError::invalid_settings("audience.fields", "must not be empty").describe(),
            "audience.fields: must not be empty"
        );
        let upstream = UpstreamError {
            code: Some(100),
            trace_id: Some("AbC".to_owned()),
            ..UpstreamError::new(400, "Invalid parameter")
        };
        assert_eq!(
            PluginError::Upstream(upstream.clone()).describe(),
            "Invalid parameter (code 100, trace AbC)"
        );
        assert_eq!(
            PluginError::AuthRejected(UpstreamError::new(401, "expired")).describe(),
            "expired"
        );
        assert_eq!(PluginError::internal("bug").describe(), "bug");
    }

    #[test]
    fn constructors_fill_every_field() {
        let plan = Plan::new(["email"], ["email"]);
        assert_eq!(plan.fields, ["email"]);
        assert_eq!(plan.audiences, ["email"]);
        assert!(plan.account.is_none() && plan.warnings.is_empty());
        let report = AudienceReport::new("email", ["email"]);
        assert_eq!(report.audience_key, "email");
        assert_eq!(report.uploaded, 0);
        assert_eq!(
            Rejection::new(3, "email", "empty"),
            Rejection {
                row: 3,
                field: "email".to_owned(),
                reason: "empty".to_owned()
            }
        );
        assert_eq!(ReasonCount::new("empty", 2).count, 2);
    }
}
