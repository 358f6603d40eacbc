//! Completion notifications, sent by the host when a run ends (success or failure): an
//! e-mail over SMTP and a signed webhook POST of the report. A failed delivery never changes
//! the run's outcome; it is shown on the terminal and recorded in the report.

mod email;
mod webhook;

use serde::Deserialize;

pub use email::{Email, render};
pub use webhook::{SIGNATURE_HEADER, sign};

use crate::report::{NotificationReport, RunReport, RunStatus};
use crate::settings::SmtpSettings;

/// When a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// After a successful run.
    Success,
    /// After a failed run.
    Failure,
}

fn both() -> Vec<When> {
    vec![When::Success, When::Failure]
}

/// `notify.email`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailNotify {
    /// Recipients.
    pub to: Vec<String>,
    /// When to send (default: always).
    #[serde(default = "both")]
    pub on: Vec<When>,
}

/// `notify.webhook`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookNotify {
    /// The URL to POST the report to.
    pub url: String,
    /// Environment variable holding the HMAC-SHA256 signing key.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// When to send (default: always).
    #[serde(default = "both")]
    pub on: Vec<When>,
    /// Attempts in all (default 3).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_attempts() -> u32 {
    3
}

/// A pipeline's `notify` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    /// E-mail.
    #[serde(default)]
    pub email: Option<EmailNotify>,
    /// Webhook.
    #[serde(default)]
    pub webhook: Option<WebhookNotify>,
}

/// Sends the notifications a run asks for and says how each went.
pub fn send_all(
    report: &RunReport,
    section: &NotifySection,
    smtp: Option<&SmtpSettings>,
) -> Vec<NotificationReport> {
    let when = match report.status {
        RunStatus::Succeeded => When::Success,
        RunStatus::Partial | RunStatus::Failed => When::Failure,
    };
    let mut outcomes = Vec::new();
    if let Some(email) = section.email.as_ref().filter(|e| e.on.contains(&when)) {
        let target = email.to.join(", ");
        let outcome = match smtp {
            Some(smtp) => email::send(report, &email.to, smtp),
            None => Err("no SMTP server configured (set smtp in the audex config file or AUDEX_SMTP__HOST and AUDEX_SMTP__FROM)".to_owned()),
        };
        outcomes.push(NotificationReport {
            channel: "email".to_owned(),
            target,
            delivered: outcome.is_ok(),
            attempts: 1,
            error: outcome.err(),
        });
    }
    if let Some(hook) = section.webhook.as_ref().filter(|w| w.on.contains(&when)) {
        let (attempts, outcome) = webhook::send(report, hook);
        outcomes.push(NotificationReport {
            channel: "webhook".to_owned(),
            target: webhook::redact_url(&hook.url),
            delivered: outcome.is_ok(),
            attempts,
            error: outcome.err(),
        });
    }
    outcomes
}
