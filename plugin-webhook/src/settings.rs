//! The destination settings a pipeline gives the webhook plugin.
//!
//! The host consumes `url` (the receiver's base URL, the manifest endpoint's `url_setting`)
//! and passes the rest as a JSON object:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `fields` | identifier fields to send: `email`, `phone`, `madid` | required |
//! | `batch_rows` | rows per request, 1 to 10,000 | 1,000 |
//! | `path` | path appended to `url` | `/` |
//! | `audience` | the `audience` value of every batch | the pipeline's name |
//! | `default_country` | ISO 3166-1 alpha-2 country of phone numbers without a country code or `country` column | none |

use audex_plugin_sdk::kernels::phone::Country;
use audex_plugin_sdk::prelude::PluginError;
use serde::Deserialize;

/// Rows per request when the pipeline does not say.
pub const DEFAULT_BATCH_ROWS: usize = 1_000;
/// The most rows a request may carry (the manifest's `limits.max_batch_rows`).
pub const MAX_BATCH_ROWS: usize = 10_000;

/// An identifier field the plugin sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// E-mail address: trimmed, lower-cased, checked, SHA-256.
    Email,
    /// Phone number: E.164 digits without `+`, SHA-256.
    Phone,
    /// Mobile advertiser id: trimmed, lower-cased UUID, SHA-256.
    Madid,
}

impl Field {
    /// The field's name in pipelines, plans and payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Madid => "madid",
        }
    }
}

/// The optional per-row country column of phone numbers.
pub const COUNTRY_FIELD: &str = "country";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    fields: Vec<Field>,
    #[serde(default)]
    batch_rows: Option<u64>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    default_country: Option<String>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Fields to send, in the pipeline's order, without duplicates.
    pub fields: Vec<Field>,
    /// Rows per request.
    pub batch_rows: usize,
    /// Path of every request, relative to the receiver's URL.
    pub path: String,
    /// The `audience` value, when the pipeline gives one.
    pub audience: Option<String>,
    /// Country of phone numbers that carry none.
    pub default_country: Option<Country>,
}

fn invalid(key: &str, message: impl Into<String>) -> PluginError {
    PluginError::invalid_settings(key, message)
}

impl Settings {
    /// Parses and checks the settings JSON; problems name the settings key.
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let raw: Raw = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            // The JSON is the host's rendering of the pipeline: its positions mean nothing.
            let message = e.into_inner().to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            invalid(&key, message)
        })?;
        if raw.fields.is_empty() {
            return Err(invalid(
                "fields",
                "name at least one of email, phone, madid",
            ));
        }
        let mut fields = Vec::with_capacity(raw.fields.len());
        for field in raw.fields {
            if fields.contains(&field) {
                return Err(invalid(
                    "fields",
                    format!("`{}` is listed twice", field.as_str()),
                ));
            }
            fields.push(field);
        }
        let batch_rows = match raw.batch_rows {
            None => DEFAULT_BATCH_ROWS,
            Some(n) if (1..=MAX_BATCH_ROWS as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(invalid(
                    "batch_rows",
                    format!("{n} is out of range: 1 to {MAX_BATCH_ROWS} rows a request"),
                ));
            }
        };
        let path = raw.path.unwrap_or_else(|| "/".to_owned());
        if !path.starts_with('/')
            || path.starts_with("//")
            || path.contains(['?', '#', '@', '\\', ' '])
            || path.split('/').any(|s| s == ".." || s == ".")
        {
            return Err(invalid(
                "path",
                format!(
                    "`{path}` must be a clean path starting with `/`, without query or fragment"
                ),
            ));
        }
        if raw.audience.as_deref().is_some_and(|a| a.trim().is_empty()) {
            return Err(invalid("audience", "must not be empty"));
        }
        let default_country = match raw.default_country {
            None => None,
            Some(code) => Some(Country::from_iso2(&code).ok_or_else(|| {
                invalid(
                    "default_country",
                    format!("`{code}` is not an ISO 3166-1 alpha-2 country code (e.g. US, GB)"),
                )
            })?),
        };
        Ok(Settings {
            fields,
            batch_rows,
            path,
            audience: raw.audience,
            default_country,
        })
    }

    /// True when phone numbers are sent.
    pub fn has_phone(&self) -> bool {
        self.fields.contains(&Field::Phone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(json: &str) -> (String, String) {
        match Settings::parse(json) {
            Err(PluginError::InvalidSettings(p)) => (p.key, p.message),
            other => panic!("expected invalid settings, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::parse(r#"{"fields":["email","phone"]}"#).expect("valid");
        assert_eq!(s.fields, [Field::Email, Field::Phone]);
        assert_eq!((s.batch_rows, s.path.as_str()), (DEFAULT_BATCH_ROWS, "/"));
        assert!(s.audience.is_none() && s.default_country.is_none() && s.has_phone());
    }

    #[test]
    fn every_problem_names_its_key() {
        assert_eq!(problem(r#"{"fields":[]}"#).0, "fields");
        assert!(
            problem(r#"{"fields":["email","email"]}"#)
                .1
                .contains("twice")
        );
        assert_eq!(problem(r#"{"fields":["fax"]}"#).0, "fields[0]");
        assert_eq!(
            problem(r#"{"fields":["email"],"batch_rows":0}"#).0,
            "batch_rows"
        );
        assert_eq!(
            problem(r#"{"fields":["email"],"batch_rows":10001}"#).0,
            "batch_rows"
        );
        assert_eq!(problem(r#"{"fields":["email"],"path":"x"}"#).0, "path");
        assert_eq!(
            problem(r#"{"fields":["email"],"path":"/a/../b"}"#).0,
            "path"
        );
        assert_eq!(
            problem(r#"{"fields":["email"],"default_country":"XX"}"#).0,
            "default_country"
        );
        assert_eq!(
            problem(r#"{"fields":["email"],"audience":" "}"#).0,
            "audience"
        );
        let (key, message) = problem(r#"{"fields":["email"],"surprise":1}"#);
        assert_eq!(key, "surprise");
        assert!(
            message.starts_with("unknown field `surprise`, expected one of"),
            "{message}"
        );
        assert!(!message.contains("line"), "{message}");
        assert_eq!(problem(r#"{}"#).1, "missing field `fields`");
    }
}
