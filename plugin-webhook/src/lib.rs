//! A generic audex destination: posts SHA-256-hashed identifier batches as JSON to a URL of
//! yours, each request signed by the host with HMAC-SHA256. Useful on its own for internal
//! systems, and the proof that the `audex:destination` contract is not Facebook's: the host
//! runs it without knowing anything about it.
//!
//! ```yaml
//! destination:
//!   plugin: path/to/plugin_webhook.wasm   # with plugin_webhook.toml (manifest.toml) beside it
//!   url: https://hooks.example.com/audex  # consumed by the host (the `hook` endpoint's URL)
//!   fields: [email, phone]
//!   default_country: US
//!   # batch_rows: 1000    # 1 to 10,000
//!   # path: /             # appended to url
//!   # audience: vip       # default: the pipeline's name
//! ```
//!
//! The signing key comes from `AUDEX_SECRET_SIGNING_KEY`; the host adds
//! `X-Audex-Signature: sha256=<hex(HMAC-SHA256(key, body))>` to every request and the plugin
//! never sees the key. [`settings`] lists the settings, [`rows`] the normalization and
//! [`export`] the payload.

pub mod export;
pub mod rows;
pub mod settings;

use audex_plugin_sdk::prelude::*;

use settings::{COUNTRY_FIELD, Settings};

/// The plugin.
pub struct WebhookPlugin;

impl Destination for WebhookPlugin {
    fn validate(settings: &str) -> Result<Plan, PluginError> {
        let s = Settings::parse(settings)?;
        let mut fields: Vec<String> = s.fields.iter().map(|f| f.as_str().to_owned()).collect();
        let mut optional = Vec::new();
        if s.has_phone() {
            fields.push(COUNTRY_FIELD.to_owned());
            optional.push(COUNTRY_FIELD.to_owned());
        }
        let mut plan = Plan::new(fields, vec![export::AUDIENCE_KEY.to_owned()]);
        plan.optional_fields = optional;
        Ok(plan)
    }

    /// Posts a signed `{"type": "ping", ...}`: a receiver that checks signatures answers 2xx
    /// only when it holds the same signing key.
    fn connect(host: &impl Host, settings: &str) -> Result<ConnectionInfo, PluginError> {
        let s = Settings::parse(settings)?;
        let body = serde_json::json!({"type": "ping", "audience": s.audience, "sent_at_ms": host.now_ms()});
        let request = Request::post_json("hook", s.path.clone(), &body)
            .map_err(|e| PluginError::internal(e.to_string()))?
            .idempotent(true);
        export::deliver(host, &request, "ping")?;
        Ok(ConnectionInfo {
            subject: "webhook receiver".to_owned(),
            kind: "HMAC_SHA256".to_owned(),
            expires_at_s: None,
            scopes: Vec::new(),
            warnings: Vec::new(),
        })
    }

    fn export_segment(
        host: &impl Host,
        request: ExportRequest,
        segment: &impl SegmentReader,
    ) -> Result<ExportReport, PluginError> {
        export::export(host, &request, segment)
    }
}

audex_plugin_sdk::export_plugin!(WebhookPlugin);

#[cfg(test)]
mod tests {
    use audex_plugin_sdk::testing::{FakeHost, FakeSegment};
    use sha2::{Digest, Sha256};

    use super::*;

    fn h(value: &str) -> String {
        Sha256::digest(value.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn request(settings: &str) -> ExportRequest {
        ExportRequest {
            pipeline: "vip".to_owned(),
            settings: settings.to_owned(),
            dry_run: false,
            resume: Vec::new(),
        }
    }

    fn bodies(host: &FakeHost) -> Vec<serde_json::Value> {
        host.requests()
            .iter()
            .map(|r| r.json().expect("json body"))
            .collect()
    }

    #[test]
    fn plan_asks_for_the_country_column_with_phones() {
        let plan = WebhookPlugin::validate(r#"{"fields":["email","phone"]}"#).expect("plan");
        assert_eq!(plan.fields, ["email", "phone", "country"]);
        assert_eq!(plan.optional_fields, ["country"]);
        assert_eq!(plan.audiences, ["webhook"]);
        assert!(plan.account.is_none());
    }

    #[test]
    fn posts_hashed_batches_with_sequence_numbers_and_accounts_for_every_row() {
        let emails = [
            Some(" A@Example.com"),
            Some("bad"),
            None,
            Some("b@example.com"),
            Some("c@example.com"),
            Some("   "),
            Some("d@example.com"),
        ];
        let phones = [
            Some("+1 202 555 0173"),
            Some("(202) 555-0174"),
            Some("n/a"),
            None,
            Some("x"),
            None,
            Some("+44 20 7946 0958"),
        ];
        let segment = FakeSegment::from_strings(&[("email", &emails), ("phone", &phones)], 3)
            .expect("segment");
        let host = FakeHost::new().with_endpoints(["hook"]);
        let report = WebhookPlugin::export_segment(
            &host,
            request(r#"{"fields":["email","phone"],"batch_rows":2,"default_country":"US","path":"/in"}"#),
            &segment,
        )
        .expect("exported");
        let sent = bodies(&host);
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(
            host.requests()
                .iter()
                .all(|r| r.path == "/in" && r.idempotent)
        );
        let seqs: Vec<u64> = sent
            .iter()
            .map(|b| b["batch_seq"].as_u64().expect("seq"))
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        let lasts: Vec<bool> = sent
            .iter()
            .map(|b| b["last"].as_bool().expect("last"))
            .collect();
        assert_eq!(lasts, [false, false, true]);
        assert_eq!(sent[0]["audience"], "vip");
        assert_eq!(sent[0]["run_id"], sent[2]["run_id"]);
        assert_eq!(
            sent[0]["rows"],
            serde_json::json!([
                {"email": h("a@example.com"), "phone": h("12025550173")},
                {"phone": h("12025550174")},
            ])
        );
        assert_eq!(
            sent[1]["rows"],
            serde_json::json!([{"email": h("b@example.com")}, {"email": h("c@example.com")}])
        );
        assert_eq!(
            sent[2]["rows"],
            serde_json::json!([{"email": h("d@example.com"), "phone": h("442079460958")}])
        );
        let a = &report.audiences[0];
        assert_eq!(a.uploaded, 5);
        assert_eq!(a.rejected, [ReasonCount::new("no_valid_identifier", 2)]);
        assert_eq!(
            a.uploaded + a.rejected.iter().map(|r| r.count).sum::<u64>(),
            7
        );
        assert_eq!(a.requests, 3);
        // One rejection per refused value, with its field.
        let rejections = host.rejections();
        assert!(rejections.contains(&Rejection::new(1, "email", "malformed_email")));
        assert!(rejections.contains(&Rejection::new(2, "phone", "invalid_phone")));
        assert!(rejections.contains(&Rejection::new(5, "email", "empty")));
        // A checkpoint at the start and after each acknowledged request, all consistent.
        let checkpoints = host.checkpoints();
        assert_eq!(checkpoints.len(), 4);
        for c in &checkpoints {
            let rejected: u64 = c.rejected.iter().map(|r| r.count).sum();
            assert!(c.uploaded + rejected <= c.rows_done, "{c:?}");
        }
        let end = checkpoints.last().expect("final");
        assert_eq!((end.rows_done, end.uploaded, end.batches_acked), (7, 5, 3));
    }

    #[test]
    fn a_rejected_signature_is_an_auth_error() {
        let segment =
            FakeSegment::from_strings(&[("email", &[Some("a@example.com")])], 10).expect("segment");
        let host = FakeHost::new().responding(|_| Ok(Response::new(401, "bad signature")));
        let err =
            WebhookPlugin::export_segment(&host, request(r#"{"fields":["email"]}"#), &segment)
                .expect_err("refused");
        match err {
            PluginError::AuthRejected(u) => {
                assert_eq!(u.status, 401);
                assert!(
                    u.message.contains("AUDEX_SECRET_SIGNING_KEY")
                        && u.message.contains("bad signature"),
                    "{}",
                    u.message
                );
            }
            other => panic!("{other:?}"),
        }
        let host = FakeHost::new()
            .responding(|_| Ok(Response::new(429, "").with_header("retry-after", "30")));
        let err = WebhookPlugin::connect(&host, r#"{"fields":["email"]}"#).expect_err("limited");
        assert!(matches!(err, PluginError::RateLimited(u) if u.retry_after_s == Some(30)));
        let host = FakeHost::new();
        let info = WebhookPlugin::connect(&host, r#"{"fields":["email"]}"#).expect("pinged");
        assert_eq!(info.kind, "HMAC_SHA256");
        assert_eq!(bodies(&host)[0]["type"], "ping");
    }

    #[test]
    fn resumes_after_the_last_acknowledged_batch() {
        let emails: Vec<String> = (0..10).map(|i| format!("u{i}@example.com")).collect();
        let column: Vec<Option<&str>> = emails.iter().map(|e| Some(e.as_str())).collect();
        let segment = FakeSegment::from_strings(&[("email", &column)], 4).expect("segment");
        let settings = r#"{"fields":["email"],"batch_rows":3}"#;
        // The first attempt fails on its third request.
        let host = FakeHost::new();
        host.push_response(Ok(Response::new(200, "{}")));
        host.push_response(Ok(Response::new(200, "{}")));
        host.push_response(Ok(Response::new(503, "down")));
        let err =
            WebhookPlugin::export_segment(&host, request(settings), &segment).expect_err("503");
        assert!(matches!(err, PluginError::Upstream(u) if u.status == 503));
        let checkpoint = host.checkpoints().last().cloned().expect("checkpoint");
        assert_eq!(
            (
                checkpoint.batches_acked,
                checkpoint.rows_done,
                checkpoint.uploaded
            ),
            (2, 6, 6)
        );
        // The second attempt goes on from row 6 and batch 3, in the same run.
        let segment = FakeSegment::from_strings(&[("email", &column)], 4).expect("segment");
        let again = FakeHost::new();
        let report = WebhookPlugin::export_segment(
            &again,
            ExportRequest {
                resume: vec![checkpoint.clone()],
                ..request(settings)
            },
            &segment,
        )
        .expect("resumed");
        let sent = bodies(&again);
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0]["batch_seq"], 3);
        assert_eq!(sent[0]["run_id"], checkpoint.session_id.to_string());
        assert_eq!(sent[0]["rows"][0]["email"], h("u6@example.com"));
        assert_eq!(report.audiences[0].uploaded, 10);
    }
}
