//! The e-mail notification: a plain-text summary of the report, sent with lettre.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::report::{RunReport, RunStatus};
use crate::settings::{SmtpSettings, TlsMode};

/// A rendered e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Renders the notification for a report.
pub fn render(report: &RunReport) -> Email {
    let outcome = match report.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Partial => "PARTLY FAILED",
        RunStatus::Failed => "FAILED",
    };
    let uploaded: u64 = report.audiences.iter().map(|a| a.uploaded).sum();
    let subject = format!(
        "[audex] {} {outcome}: {} rows read, {uploaded} uploaded",
        report.pipeline, report.rows_read
    );
    let mut body = format!(
        "Pipeline: {}\nAd account: {}\nStatus: {outcome}\nStarted: {}\nDuration: {:.1} s\nRows read: {}\n\n",
        report.pipeline,
        report.ad_account.as_deref().unwrap_or("-"),
        report.started_at,
        report.duration_s,
        report.rows_read
    );
    for a in &report.audiences {
        body.push_str(&format!(
            "Audience {} ({}), id {}\n",
            a.name, a.key, a.audience_id
        ));
        body.push_str(&format!("  uploaded: {}\n", a.uploaded));
        for (reason, n) in &a.rejected {
            body.push_str(&format!("  rejected ({reason}): {n}\n"));
        }
        if let Some(n) = a.num_received {
            body.push_str(&format!("  Facebook received: {n}\n"));
        }
        if let Some(n) = a.num_invalid_entries {
            body.push_str(&format!("  Facebook found invalid: {n}\n"));
        }
        for l in &a.lookalikes {
            body.push_str(&format!(
                "  lookalike: {} {} ({})\n",
                l.audience_id, l.name, l.spec
            ));
        }
    }
    if let Some(url) = &report.console_url {
        body.push_str(&format!("\nSee the audiences in Ads Manager: {url}\n"));
    }
    for w in &report.warnings {
        body.push_str(&format!("\nWarning: {w}\n"));
    }
    if let Some(e) = &report.error {
        body.push_str(&format!("\nError ({}): {}\n", e.kind, e.message));
    }
    Email { subject, body }
}

/// Sends the notification to `to` through `smtp`.
pub(super) fn send(report: &RunReport, to: &[String], smtp: &SmtpSettings) -> Result<(), String> {
    let email = render(report);
    let mut builder = Message::builder()
        .from(
            smtp.from
                .parse()
                .map_err(|e| format!("smtp.from `{}`: {e}", smtp.from))?,
        )
        .subject(email.subject)
        .header(ContentType::TEXT_PLAIN);
    for recipient in to {
        builder = builder.to(recipient
            .parse()
            .map_err(|e| format!("notify.email.to `{recipient}`: {e}"))?);
    }
    let message = builder.body(email.body).map_err(|e| e.to_string())?;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| e.to_string());
    let mut transport = SmtpTransport::builder_dangerous(&smtp.host).port(smtp.port());
    transport = match smtp.tls {
        TlsMode::None => transport.tls(Tls::None),
        TlsMode::Starttls => transport.tls(Tls::Required(tls(&smtp.host)?)),
        TlsMode::Tls => transport.tls(Tls::Wrapper(tls(&smtp.host)?)),
    };
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_env {
            Some(var) => {
                std::env::var(var).map_err(|_| format!("smtp.password_env: {var} is not set"))?
            }
            None => String::new(),
        };
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    transport
        .timeout(Some(std::time::Duration::from_secs(30)))
        .build()
        .send(&message)
        .map(|_| ())
        .map_err(|e| format!("SMTP delivery to {}:{} failed: {e}", smtp.host, smtp.port()))
}
