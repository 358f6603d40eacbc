//! The run report: what a run read, uploaded and rejected, per audience. Written as
//! `report.json` and printed by `audex run --json`; its schema is documented in the README.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every audience was filled.
    Succeeded,
    /// Some audiences were filled, others stopped with an error (exit code 6); the next run
    /// of the pipeline resumes the unfinished ones.
    Partial,
    /// The run stopped with an error.
    Failed,
}

/// A lookalike audience created from an exported one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookalikeReport {
    /// Destination id.
    pub audience_id: String,
    /// Name.
    pub name: String,
    /// Spec in words, e.g. `US 1%`.
    pub spec: String,
}

/// One audience's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudienceReport {
    /// Key in the plan (`email`, `phone`, `madid` or `multi`).
    pub key: String,
    /// Identifier fields it holds.
    pub fields: Vec<String>,
    /// Name.
    pub name: String,
    /// Destination id.
    pub audience_id: String,
    /// Created by this run (false: it existed).
    pub created: bool,
    /// Rows uploaded.
    pub uploaded: u64,
    /// Rows not uploaded, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Upload requests sent.
    pub requests: u32,
    /// Rows the destination says it received for the session, when it says.
    pub num_received: Option<u64>,
    /// Entries the destination found invalid, when it says.
    pub num_invalid_entries: Option<u64>,
    /// Invalid-entry samples returned (a count; samples are personal data).
    pub invalid_entry_samples: u64,
    /// Lookalikes created from it.
    pub lookalikes: Vec<LookalikeReport>,
    /// Why this audience stopped early while the others went on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rows neither uploaded nor rejected because the audience stopped early; a later run of
    /// the pipeline resumes them. 0 for a finished audience.
    #[serde(default)]
    pub pending: u64,
}

impl AudienceReport {
    /// Rows rejected for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// Class: `config`, `input`, `auth`, `destination`, `plugin`, `internal`.
    pub kind: String,
    /// The message shown to the user.
    pub message: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Pipeline name.
    pub pipeline: String,
    /// Plugin `name@version`.
    pub plugin: String,
    /// The account exported to.
    pub ad_account: Option<String>,
    /// Outcome.
    pub status: RunStatus,
    /// True when nothing was sent.
    pub dry_run: bool,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall-clock duration, seconds.
    pub duration_s: f64,
    /// Rows read from the source.
    pub rows_read: u64,
    /// The journal's id for this logical run (live runs): every attempt of one export shares
    /// it, and the counts cover the whole logical run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// Which attempt of the logical run this was: 1 for a fresh run, 2 for its first resume...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
    /// One entry per audience.
    pub audiences: Vec<AudienceReport>,
    /// Warnings for the user.
    pub warnings: Vec<String>,
    /// Why it failed, when it did.
    pub error: Option<ErrorReport>,
    /// Peak resident memory of the process, bytes (Linux).
    pub peak_rss_bytes: Option<u64>,
    /// Where the audiences can be seen in the destination's console (Ads Manager).
    pub console_url: Option<String>,
    /// Upload requests this attempt sent per second of the run (all audiences together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    /// The highest share of the account's API call budget the destination reported during
    /// the run, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_used_percent: Option<u32>,
    /// Completion notifications and whether each was delivered.
    pub notifications: Vec<NotificationReport>,
}

/// The delivery of one completion notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationReport {
    /// `email` or `webhook`.
    pub channel: String,
    /// Recipients or URL (without credentials).
    pub target: String,
    /// True when the server accepted it.
    pub delivered: bool,
    /// Attempts made.
    pub attempts: u32,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl RunReport {
    /// Checks `rows_read = uploaded + rejected + pending` for every audience (`pending` is 0
    /// unless the audience stopped early), naming the first that does not add up.
    pub fn check_accounting(&self) -> Result<(), String> {
        for a in &self.audiences {
            let accounted = a.uploaded + a.rejected_total() + a.pending;
            if accounted != self.rows_read || (a.error.is_none() && a.pending != 0) {
                return Err(format!(
                    "audience `{}`: {} rows read but {} uploaded + {} rejected + {} pending = {accounted}",
                    a.key,
                    self.rows_read,
                    a.uploaded,
                    a.rejected_total(),
                    a.pending
                ));
            }
        }
        Ok(())
    }

    /// A short human summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}{} `{}` to {} in {:.1}s: {} rows read\n",
            match self.status {
                RunStatus::Succeeded => "Exported",
                RunStatus::Partial => "PARTLY exported",
                RunStatus::Failed => "FAILED exporting",
            },
            if self.dry_run { " (dry run)" } else { "" },
            self.pipeline,
            self.ad_account.as_deref().unwrap_or("?"),
            self.duration_s,
            self.rows_read,
        );
        for a in &self.audiences {
            s.push_str(&format!(
                "  {:<6} {} ({}): {} uploaded, {} rejected",
                a.key,
                a.audience_id,
                a.name,
                a.uploaded,
                a.rejected_total()
            ));
            if !a.rejected.is_empty() {
                let reasons: Vec<String> =
                    a.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
                s.push_str(&format!(" [{}]", reasons.join(", ")));
            }
            if let Some(n) = a.num_received {
                s.push_str(&format!("; Facebook received {n}"));
            }
            if let Some(e) = &a.error {
                s.push_str(&format!("; STOPPED with {} rows pending: {e}", a.pending));
            }
            s.push('\n');
            for l in &a.lookalikes {
                s.push_str(&format!(
                    "         lookalike {} {} ({})\n",
                    l.audience_id, l.name, l.spec
                ));
            }
        }
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("  error ({}): {}\n", e.kind, e.message));
        }
        for n in &self.notifications {
            match &n.error {
                None => s.push_str(&format!("  notified by {} ({})\n", n.channel, n.target)),
                Some(e) => s.push_str(&format!(
                    "  {} notification to {} NOT delivered: {e}\n",
                    n.channel, n.target
                )),
            }
        }
        if let Some(url) = &self.console_url {
            s.push_str(&format!("  see the audiences at {url}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(uploaded: u64, rejected: u64) -> RunReport {
        RunReport {
            pipeline: "p".into(),
            plugin: "facebook@0.1.0".into(),
            ad_account: Some("act_1".into()),
            status: RunStatus::Succeeded,
            dry_run: true,
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_s: 0.5,
            rows_read: 10,
            run_id: None,
            attempt: None,
            audiences: vec![AudienceReport {
                key: "email".into(),
                fields: vec!["email".into()],
                name: "n".into(),
                audience_id: "1".into(),
                created: true,
                uploaded,
                rejected: BTreeMap::from([("empty".to_owned(), rejected)]),
                requests: 1,
                num_received: None,
                num_invalid_entries: None,
                invalid_entry_samples: 0,
                lookalikes: vec![],
                error: None,
                pending: 0,
            }],
            warnings: vec![],
            error: None,
            peak_rss_bytes: None,
            console_url: None,
            requests_per_s: None,
            budget_used_percent: None,
            notifications: vec![],
        }
    }

    #[test]
    fn accounting_must_add_up() {
        assert!(report(7, 3).check_accounting().is_ok());
        let e = report(7, 2).check_accounting().expect_err("lost a row");
        assert!(e.contains("10 rows read"), "{e}");
    }

    #[test]
    fn json_has_the_documented_keys() {
        let v = serde_json::to_value(report(7, 3)).expect("json");
        for key in [
            "pipeline",
            "ad_account",
            "status",
            "duration_s",
            "rows_read",
            "audiences",
        ] {
            assert!(v.get(key).is_some(), "{key}");
        }
        let a = &v["audiences"][0];
        for key in ["fields", "name", "audience_id", "uploaded", "rejected"] {
            assert!(a.get(key).is_some(), "{key}");
        }
        assert_eq!(v["status"], "succeeded");
    }
}
