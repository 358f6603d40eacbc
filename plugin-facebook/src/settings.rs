//! The destination settings a pipeline gives this plugin, and their validation.
//!
//! The host passes the pipeline's `destination` section (minus the host's own keys such as
//! `plugin`, `connection` and `graph_url`) as a JSON object. Every problem is reported with the
//! dotted key path so the host can point at the line of the pipeline file.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::graph::policy;
use crate::normalize;

/// The Graph API version used when the pipeline does not name one.
pub const DEFAULT_API_VERSION: &str = "v25.0";

/// The audience name template used when the pipeline does not give one.
pub const DEFAULT_NAME_TEMPLATE: &str = "{pipeline} {field}";

/// An identifier field this plugin can export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// E-mail address, normalized and SHA-256 hashed.
    Email,
    /// Phone number, normalized to E.164 digits and SHA-256 hashed.
    Phone,
    /// Mobile advertiser id (IDFA / GAID), lower-cased, not hashed.
    Madid,
}

impl Field {
    /// The field's name in pipelines, plans and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Madid => "madid",
        }
    }

    /// Facebook's single-key schema name for the field.
    pub fn single_key_schema(self) -> &'static str {
        match self {
            Field::Email => "EMAIL_SHA256",
            Field::Phone => "PHONE_SHA256",
            Field::Madid => "MOBILE_ADVERTISER_ID",
        }
    }

    /// Facebook's multi-key schema name for the field.
    pub fn multi_key_schema(self) -> &'static str {
        match self {
            Field::Email => "EMAIL",
            Field::Phone => "PHONE",
            Field::Madid => "MADID",
        }
    }
}

/// Who collected the customer data, as Facebook requires on customer-file audiences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum CustomerFileSource {
    /// The advertiser collected it directly from its customers.
    #[default]
    #[serde(rename = "USER_PROVIDED_ONLY")]
    UserProvidedOnly,
    /// It comes from partners.
    #[serde(rename = "PARTNER_PROVIDED_ONLY")]
    PartnerProvidedOnly,
    /// Both.
    #[serde(rename = "BOTH_USER_AND_PARTNER_PROVIDED")]
    BothUserAndPartnerProvided,
}

impl CustomerFileSource {
    /// Facebook's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerFileSource::UserProvidedOnly => "USER_PROVIDED_ONLY",
            CustomerFileSource::PartnerProvidedOnly => "PARTNER_PROVIDED_ONLY",
            CustomerFileSource::BothUserAndPartnerProvided => "BOTH_USER_AND_PARTNER_PROVIDED",
        }
    }
}

/// `destination.audience`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudienceSettings {
    /// Name template: `{pipeline}`, `{field}` and `{date}` are replaced.
    #[serde(default)]
    pub name: Option<String>,
    /// Optional description.
    #[serde(default)]
    pub description: Option<String>,
    /// The identifier fields to export.
    pub fields: Vec<Field>,
    /// One multi-key audience instead of one audience per field.
    #[serde(default)]
    pub multi_key: bool,
    /// Facebook's `customer_file_source`.
    #[serde(default)]
    pub customer_file_source: CustomerFileSource,
    /// Existing audience ids to add to instead of creating audiences, by field (or `multi`).
    #[serde(default)]
    pub existing_id: BTreeMap<String, String>,
}

/// `destination.lookalike`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookalikeSettings {
    /// Target country, ISO 3166-1 alpha-2.
    pub country: String,
    /// Share of the country's population, 0.01 to 0.20.
    pub ratio: f64,
}

/// `destination.retry`: how Facebook's own "try again later" answers (rate limits, transient
/// error codes) are retried. Transport failures are the host's and not configured here.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Attempts in all, the first included.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First pause when Facebook gives no time, milliseconds; doubled each attempt.
    #[serde(default = "default_initial_delay_ms")]
    pub initial_delay_ms: u64,
}

fn default_attempts() -> u32 {
    6
}

fn default_initial_delay_ms() -> u64 {
    5_000
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            attempts: default_attempts(),
            initial_delay_ms: default_initial_delay_ms(),
        }
    }
}

/// The whole destination section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The ad account, `act_<digits>` or bare digits.
    pub ad_account: String,
    /// Graph API version, e.g. `v25.0`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Country for phone numbers that carry none (ISO-2).
    #[serde(default)]
    pub default_country: Option<String>,
    /// The audience(s) to fill.
    pub audience: AudienceSettings,
    /// Optional lookalike audiences to create from each exported audience.
    #[serde(default)]
    pub lookalike: Option<LookalikeSettings>,
    /// Retries of Facebook's rate-limit and transient answers.
    #[serde(default)]
    pub retry: RetrySettings,
}

/// A settings problem: the dotted key and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// Dotted key path, e.g. `audience.fields`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl SettingsError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

/// Settings after validation, with normalized values.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The raw settings.
    pub settings: Settings,
    /// `act_<digits>`.
    pub account: String,
    /// The Graph API version.
    pub api_version: String,
    /// Upper-case ISO-2 default country, if any.
    pub default_country: Option<String>,
    /// Fields in a stable order, without repeats.
    pub fields: Vec<Field>,
    /// Warnings for the user.
    pub warnings: Vec<String>,
}

impl Validated {
    /// The audience keys: each field's name, or `multi`.
    pub fn audience_keys(&self) -> Vec<String> {
        if self.settings.audience.multi_key {
            vec![MULTI_KEY.to_owned()]
        } else {
            self.fields.iter().map(|f| f.as_str().to_owned()).collect()
        }
    }

    /// The input fields the export reads: the identifier fields, plus `country` for phones.
    pub fn input_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self.fields.iter().map(|f| f.as_str().to_owned()).collect();
        if self.fields.contains(&Field::Phone) {
            fields.push(COUNTRY_FIELD.to_owned());
        }
        fields
    }
}

/// The audience key of a multi-key audience.
pub const MULTI_KEY: &str = "multi";

/// The optional per-row country input field.
pub const COUNTRY_FIELD: &str = "country";

/// Parses and validates the settings JSON.
pub fn validate(json: &str) -> Result<Validated, SettingsError> {
    let settings = deserialize_tracked(json)?;

    let account = normalize_account(&settings.ad_account).ok_or_else(|| {
        SettingsError::new(
            "ad_account",
            format!(
                "expected `act_` followed by digits (or digits only), got `{}`",
                settings.ad_account
            ),
        )
    })?;

    let api_version = settings
        .api_version
        .clone()
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
    if !is_api_version(&api_version) {
        return Err(SettingsError::new(
            "api_version",
            format!("expected a Graph API version such as `v25.0`, got `{api_version}`"),
        ));
    }

    let default_country = match &settings.default_country {
        Some(code) if normalize::validate_default_country(code) => Some(code.to_ascii_uppercase()),
        Some(code) => {
            return Err(SettingsError::new(
                "default_country",
                format!("expected an ISO 3166-1 alpha-2 country code such as `US`, got `{code}`"),
            ));
        }
        None => None,
    };

    let mut fields = settings.audience.fields.clone();
    if fields.is_empty() {
        return Err(SettingsError::new(
            "audience.fields",
            "expected at least one of `email`, `phone`, `madid`",
        ));
    }
    fields.sort();
    fields.dedup();

    let keys: Vec<&str> = if settings.audience.multi_key {
        vec![MULTI_KEY]
    } else {
        fields.iter().map(|f| f.as_str()).collect()
    };
    for (key, id) in &settings.audience.existing_id {
        if !keys.contains(&key.as_str()) {
            return Err(SettingsError::new(
                &format!("audience.existing_id.{key}"),
                format!("expected one of the audience keys {keys:?}"),
            ));
        }
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SettingsError::new(
                &format!("audience.existing_id.{key}"),
                format!("expected a numeric audience id, got `{id}`"),
            ));
        }
    }

    if let Some(lookalike) = &settings.lookalike {
        if !normalize::validate_default_country(&lookalike.country) {
            return Err(SettingsError::new(
                "lookalike.country",
                format!(
                    "expected an ISO 3166-1 alpha-2 country code, got `{}`",
                    lookalike.country
                ),
            ));
        }
        let hundredths = lookalike.ratio * 100.0;
        if !(0.01..=0.20).contains(&lookalike.ratio)
            || (hundredths - hundredths.round()).abs() > 1e-9
        {
            return Err(SettingsError::new(
                "lookalike.ratio",
                format!(
                    "expected 0.01 to 0.20 in steps of 0.01, got {}",
                    lookalike.ratio
                ),
            ));
        }
    }

    if settings.retry.attempts == 0 {
        return Err(SettingsError::new("retry.attempts", "expected at least 1"));
    }

    let mut warnings = Vec::new();
    let template = settings
        .audience
        .name
        .as_deref()
        .unwrap_or(DEFAULT_NAME_TEMPLATE);
    if let Some(word) = policy::sensitive_word(template) {
        warnings.push(format!(
            "audience.name `{template}` contains `{word}`: Facebook flags audiences named after health or financial status (operation_status 471) and blocks uploads to them"
        ));
    }

    Ok(Validated {
        account,
        api_version,
        default_country,
        fields,
        warnings,
        settings,
    })
}

/// Deserializes while tracking the key path of the first error.
fn deserialize_tracked(json: &str) -> Result<Settings, SettingsError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| SettingsError {
        key: e.path().to_string(),
        message: e.into_inner().to_string(),
    })
}

/// `act_123` or `123` to `act_123`.
pub fn normalize_account(raw: &str) -> Option<String> {
    let digits = raw.trim().strip_prefix("act_").unwrap_or(raw.trim());
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("act_{digits}"))
}

fn is_api_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ad_account": "act_1000000001",
            "default_country": "us",
            "audience": {"fields": ["phone", "email"]}
        })
    }

    #[test]
    fn valid_settings_normalize() {
        let v = validate(&base().to_string()).expect("valid");
        assert_eq!(v.account, "act_1000000001");
        assert_eq!(v.default_country.as_deref(), Some("US"));
        assert_eq!(v.fields, vec![Field::Email, Field::Phone]);
        assert_eq!(v.audience_keys(), vec!["email", "phone"]);
        assert_eq!(v.input_fields(), vec!["email", "phone", "country"]);
        assert_eq!(v.api_version, DEFAULT_API_VERSION);
    }

    #[test]
    fn bare_account_digits_get_prefix() {
        assert_eq!(normalize_account("123").as_deref(), Some("act_123"));
        assert_eq!(normalize_account("act_x1"), None);
        assert_eq!(normalize_account(""), None);
    }

    #[test]
    fn unknown_key_names_its_path() {
        let mut s = base();
        s["audience"]["colour"] = serde_json::json!("red");
        let e = validate(&s.to_string()).expect_err("unknown key");
        assert_eq!(e.key, "audience.colour");
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }

    #[test]
    fn wrong_field_name_is_rejected_with_path() {
        let mut s = base();
        s["audience"]["fields"] = serde_json::json!(["email", "fax"]);
        let e = validate(&s.to_string()).expect_err("bad field");
        assert_eq!(e.key, "audience.fields[1]");
    }

    #[test]
    fn bad_country_and_ratio_are_rejected() {
        let mut s = base();
        s["default_country"] = serde_json::json!("XX");
        assert_eq!(
            validate(&s.to_string()).expect_err("country").key,
            "default_country"
        );
        let mut s = base();
        s["lookalike"] = serde_json::json!({"country": "US", "ratio": 0.5});
        assert_eq!(
            validate(&s.to_string()).expect_err("ratio").key,
            "lookalike.ratio"
        );
        let mut s = base();
        s["lookalike"] = serde_json::json!({"country": "US", "ratio": 0.015});
        assert_eq!(
            validate(&s.to_string()).expect_err("step").key,
            "lookalike.ratio"
        );
        let mut s = base();
        s["lookalike"] = serde_json::json!({"country": "USA", "ratio": 0.05});
        assert_eq!(
            validate(&s.to_string()).expect_err("la country").key,
            "lookalike.country"
        );
    }

    #[test]
    fn existing_id_must_match_an_audience_key() {
        let mut s = base();
        s["audience"]["existing_id"] = serde_json::json!({"madid": "123"});
        assert_eq!(
            validate(&s.to_string()).expect_err("key").key,
            "audience.existing_id.madid"
        );
        let mut s = base();
        s["audience"]["existing_id"] = serde_json::json!({"email": "12a"});
        assert_eq!(
            validate(&s.to_string()).expect_err("id").key,
            "audience.existing_id.email"
        );
    }

    #[test]
    fn multi_key_has_one_audience() {
        let mut s = base();
        s["audience"]["multi_key"] = serde_json::json!(true);
        let v = validate(&s.to_string()).expect("valid");
        assert_eq!(v.audience_keys(), vec![MULTI_KEY]);
    }

    #[test]
    fn sensitive_name_warns() {
        let mut s = base();
        s["audience"]["name"] = serde_json::json!("Diabetes patients {date}");
        let v = validate(&s.to_string()).expect("valid");
        assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
    }
}
