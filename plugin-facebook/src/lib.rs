//! The audex destination plugin for Facebook (Meta) Custom Audiences.
//!
//! Built for `wasm32-wasip2` on the plugin SDK ([`audex_plugin_sdk`]), it implements the
//! `audex:destination` WIT world: it validates the pipeline's destination settings,
//! normalizes and SHA-256-hashes identifier columns over whole Arrow batches ([`normalize`]),
//! and drives the Graph API calls of an export ([`export`]) through the host, which holds the
//! credentials. Built natively, the same code unit-tests against the SDK's
//! [`FakeHost`](audex_plugin_sdk::testing::FakeHost).

pub mod accounts;
pub mod calendar;
pub mod export;
pub mod graph;
pub mod host;
pub mod normalize;
pub mod settings;

use audex_plugin_sdk::Destination;
use audex_plugin_sdk::types::{
    Account, ConnectionInfo, ExportReport, ExportRequest, Plan, PluginError, SettingsProblem,
    UpstreamError,
};

use crate::host::{Host, SegmentReader};

/// The plugin: the SDK's [`Destination`] over this crate's modules.
pub struct FacebookPlugin;

impl Destination for FacebookPlugin {
    fn validate(settings: &str) -> Result<Plan, PluginError> {
        let v = settings::validate(settings).map_err(invalid_settings)?;
        Ok(Plan {
            account: Some(v.account.clone()),
            fields: v.input_fields(),
            optional_fields: vec![settings::COUNTRY_FIELD.to_owned()],
            audiences: v.audience_keys(),
            warnings: v.warnings.clone(),
        })
    }

    fn connect(host: &impl Host, settings: &str) -> Result<ConnectionInfo, PluginError> {
        accounts::connect(host, settings)
    }

    fn list_accounts(host: &impl Host, settings: &str) -> Result<Vec<Account>, PluginError> {
        accounts::list_accounts(host, settings)
    }

    fn export_segment(
        host: &impl Host,
        request: ExportRequest,
        segment: &impl SegmentReader,
    ) -> Result<ExportReport, PluginError> {
        export::export(host, segment, &request)
    }
}

audex_plugin_sdk::export_plugin!(FacebookPlugin);

/// Converts a settings problem to the WIT error.
pub(crate) fn invalid_settings(e: settings::SettingsError) -> PluginError {
    PluginError::InvalidSettings(SettingsProblem {
        key: e.key,
        message: e.message,
    })
}

/// A one-line description of an error, for warnings.
pub(crate) fn describe(e: &PluginError) -> String {
    let upstream = |u: &UpstreamError| match (&u.code, &u.trace_id) {
        (Some(code), Some(trace)) => format!("{} (code {code}, fbtrace_id {trace})", u.message),
        (Some(code), None) => format!("{} (code {code})", u.message),
        _ => u.message.clone(),
    };
    match e {
        PluginError::InvalidSettings(p) => format!("{}: {}", p.key, p.message),
        PluginError::AuthRejected(u) | PluginError::RateLimited(u) | PluginError::Upstream(u) => {
            upstream(u)
        }
        PluginError::NotReady(m)
        | PluginError::InvalidInput(m)
        | PluginError::Host(m)
        | PluginError::Internal(m) => m.clone(),
    }
}

#[cfg(test)]
mod tests {
    //! The plugin through the SDK's trait, against the SDK's fake host and segment.

    use audex_plugin_sdk::host::Response;
    use audex_plugin_sdk::testing::{FakeHost, FakeSegment};
    use serde_json::json;

    use super::*;

    /// A host answering as in a dry run: every request gets a synthetic `{"id": ...}`.
    fn dry_run_host() -> FakeHost {
        FakeHost::new()
            .with_endpoints(["graph"])
            .responding(|_| Ok(Response::json(200, &json!({"id": "990000000000001"}))))
    }

    /// A dry run of an e-mail audience.
    fn email_dry_run() -> ExportRequest {
        let settings = json!({
            "ad_account": "act_1000000001",
            "audience": {"name": "test {field}", "fields": ["email"]},
        });
        ExportRequest {
            pipeline: "unit".to_owned(),
            settings: settings.to_string(),
            dry_run: true,
            resume: Vec::new(),
        }
    }

    #[test]
    fn connect_describes_the_token_without_ever_seeing_it() {
        let host = FakeHost::new().with_endpoints(["graph"]).responding(|_| {
            Ok(Response::json(
                200,
                &json!({"data": {
                    "is_valid": true, "type": "SYSTEM_USER", "expires_at": 0,
                    "scopes": ["ads_management"], "user_id": "42", "application": "app"
                }}),
            ))
        });
        let info = FacebookPlugin::connect(&host, "{}").expect("connected");
        assert_eq!(info.kind, "SYSTEM_USER");
        assert!(info.warnings.is_empty(), "{:?}", info.warnings);
        let requests = host.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(
            request.path,
            format!("/{}/debug_token", settings::DEFAULT_API_VERSION)
        );
        // The token to inspect is placed by the host, by name.
        assert_eq!(request.secret_params[0].param, "input_token");
        assert_eq!(request.secret_params[0].secret, "access-token");
    }

    #[test]
    fn connect_reports_a_revoked_token_as_auth_rejected() {
        let host = FakeHost::new()
            .responding(|_| Ok(Response::json(200, &json!({"data": {"is_valid": false}}))));
        let err = FacebookPlugin::connect(&host, "{}").expect_err("revoked");
        assert!(
            matches!(&err, PluginError::AuthRejected(u) if u.code == Some(190)),
            "{err:?}"
        );
    }

    #[test]
    fn a_column_of_the_wrong_type_fails_before_any_audience_is_created() {
        use std::sync::Arc;

        use arrow_array::{ArrayRef, Int64Array, RecordBatch};

        let host = dry_run_host();
        let numbers: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let batch = RecordBatch::try_from_iter([("email", numbers)]).expect("batch");
        let segment = FakeSegment::new([batch]).expect("segment");
        let err =
            FacebookPlugin::export_segment(&host, email_dry_run(), &segment).expect_err("Int64");
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("`email`") && m.contains("Int64")),
            "{err:?}"
        );
        let paths: Vec<String> = host.requests().into_iter().map(|r| r.path).collect();
        assert!(
            paths.iter().all(|p| !p.ends_with("/customaudiences")),
            "no audience may be created for a segment that cannot be exported: {paths:?}"
        );
        assert!(host.checkpoints().is_empty(), "nothing journaled either");
    }

    #[test]
    fn dry_run_export_uploads_digests_and_rejects_the_rest() {
        let host = dry_run_host();
        let emails = [
            Some(" Mary@Example.com "),
            None,
            Some("   "),
            Some("not-an-email"),
            Some("john@example.org"),
        ];
        let segment = FakeSegment::from_strings(&[("email", &emails)], 2).expect("segment");
        let request = email_dry_run();
        let plan = FacebookPlugin::validate(&request.settings).expect("valid settings");
        assert_eq!(plan.fields, ["email"]);
        let report = FacebookPlugin::export_segment(&host, request, &segment).expect("exported");

        let audience = &report.audiences[0];
        assert_eq!(audience.uploaded, 2);
        let rejected: u64 = audience.rejected.iter().map(|r| r.count).sum();
        assert_eq!(audience.uploaded + rejected, emails.len() as u64);
        let reasons: Vec<(u64, String)> = host
            .rejections()
            .into_iter()
            .map(|r| (r.row, r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (1, "missing".to_owned()),
                (2, "empty".to_owned()),
                (3, "malformed_email".to_owned())
            ]
        );
        // Every uploaded value is a digest; Mary's is the digest of her normalized address.
        let uploads: Vec<serde_json::Value> = host
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/users"))
            .map(|r| r.json().expect("a JSON body"))
            .collect();
        assert!(!uploads.is_empty());
        let data: Vec<String> = uploads
            .iter()
            .flat_map(|u| u["payload"]["data"].as_array().cloned().unwrap_or_default())
            .map(|row| row.as_str().expect("a digest").to_owned())
            .collect();
        assert_eq!(data.len(), 2);
        assert!(data.contains(
            &"f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79".to_owned()
        ));
        assert!(
            host.logs()
                .iter()
                .all(|(_, line)| !line.to_lowercase().contains("mary")),
            "no raw identifier in logs"
        );
    }
}
