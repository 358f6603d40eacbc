//! One segment batch turned into what the webhook sends: per row and field, the SHA-256 hex
//! digest of the normalized value, or why the value was rejected.
//!
//! | field | normalized to | rejected as |
//! |---|---|---|
//! | `email` | trimmed, lower-cased; one `@` with non-empty local and domain parts, no inner whitespace | `malformed_email` |
//! | `phone` | E.164 digits without `+` (libphonenumber's rules), country from the number, the row's `country` column or `default_country` | `invalid_phone`, `missing_country`, `invalid_country` |
//! | `madid` | trimmed, lower-cased UUID with hyphens; the all-zero id is refused | `invalid_madid`, `zero_madid` |
//!
//! Null values are `missing`, blank ones `empty`; neither is ever hashed. A value already
//! shaped like a SHA-256 digest (64 hex digits) is sent lower-cased, never hashed twice.

use arrow_array::{Array, RecordBatch, StringArray};
use audex_plugin_sdk::kernels::digest::{copy_digest_lowercase, is_digest_shaped, sha256_hex};
use audex_plugin_sdk::kernels::phone::{Country, E164Style, e164_array};
use audex_plugin_sdk::kernels::strings::trim;
use audex_plugin_sdk::kernels::trim_lowercase_array;
use audex_plugin_sdk::prelude::PluginError;

use crate::settings::{COUNTRY_FIELD, Field};

/// One value's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// The digest to send: 64 lowercase hex digits.
    Digest([u8; 64]),
    /// Not sent, with a stable snake_case reason.
    Rejected(&'static str),
}

impl Cell {
    /// The digest as text, when the value is sent.
    pub fn digest(&self) -> Option<&str> {
        match self {
            Cell::Digest(hex) => std::str::from_utf8(hex).ok(),
            Cell::Rejected(_) => None,
        }
    }
}

/// The cells of one field, one per row.
pub type Column = Vec<Cell>;

fn bad_input(message: impl Into<String>) -> PluginError {
    PluginError::invalid_input(message)
}

fn hashed(value: &[u8]) -> Cell {
    let mut out = [0u8; 64];
    if is_digest_shaped(value) {
        copy_digest_lowercase(value, &mut out);
    } else {
        sha256_hex(value, &mut out);
    }
    Cell::Digest(out)
}

/// Whether a trimmed, lower-cased value is an e-mail address the plugin accepts.
pub fn is_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Whether a trimmed, lower-cased value is a UUID (8-4-4-4-12 hex digits).
fn is_uuid(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Cells of a column that is trimmed and lower-cased, then checked by `check`.
fn text_column(
    column: &dyn Array,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Result<Column, PluginError> {
    let normalized = trim_lowercase_array(column).map_err(|e| bad_input(e.to_string()))?;
    Ok((0..column.len())
        .map(|i| {
            if column.is_null(i) {
                Cell::Rejected("missing")
            } else if normalized.is_null(i) {
                Cell::Rejected("empty")
            } else {
                let value = normalized.value(i);
                if is_digest_shaped(value.as_bytes()) {
                    return hashed(value.as_bytes());
                }
                match check(value) {
                    Ok(()) => hashed(value.as_bytes()),
                    Err(reason) => Cell::Rejected(reason),
                }
            }
        })
        .collect())
}

fn phone_column(
    column: &dyn Array,
    countries: Option<&dyn Array>,
    default: Option<Country>,
) -> Result<Column, PluginError> {
    let default = default.map(Country::iso2);
    let e164 = e164_array(column, countries, default.as_deref(), E164Style::Digits)
        .map_err(|e| bad_input(e.to_string()))?;
    // Pre-hashed values pass through; the E.164 kernel would call them invalid.
    let strings = column.as_any().downcast_ref::<StringArray>();
    Ok((0..column.len())
        .map(|i| {
            if column.is_null(i) {
                return Cell::Rejected("missing");
            }
            if let Some(s) = strings {
                let raw = trim(s.value(i).as_bytes());
                if is_digest_shaped(raw) {
                    return hashed(raw);
                }
            }
            match (
                e164.errors.get(i).copied().flatten(),
                e164.values.is_null(i),
            ) {
                (Some(error), _) => Cell::Rejected(error.as_str()),
                (None, true) => Cell::Rejected("missing"),
                (None, false) => hashed(e164.values.value(i).as_bytes()),
            }
        })
        .collect())
}

/// The cells of every field of `fields` in `batch`, in the order of `fields`.
pub fn normalize(
    batch: &RecordBatch,
    fields: &[Field],
    default_country: Option<Country>,
) -> Result<Vec<Column>, PluginError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| bad_input(format!("the batch has no `{name}` column")))
    };
    fields
        .iter()
        .map(|field| match field {
            Field::Email => text_column(column("email")?.as_ref(), |v| {
                if is_email(v) {
                    Ok(())
                } else {
                    Err("malformed_email")
                }
            }),
            Field::Madid => text_column(column("madid")?.as_ref(), |v| {
                if !is_uuid(v) {
                    Err("invalid_madid")
                } else if v.bytes().all(|b| b == b'0' || b == b'-') {
                    Err("zero_madid")
                } else {
                    Ok(())
                }
            }),
            Field::Phone => phone_column(
                column("phone")?.as_ref(),
                batch.column_by_name(COUNTRY_FIELD).map(AsRef::as_ref),
                default_country,
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array};
    use sha2::{Digest, Sha256};

    use super::*;

    fn h(value: &str) -> String {
        Sha256::digest(value.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("batch")
    }

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    #[test]
    fn emails() {
        let upper = h("x@example.com").to_uppercase();
        let b = batch(vec![(
            "email",
            strings(&[
                Some("  Mary@Example.COM\t"),
                None,
                Some("   "),
                Some("mary@@example.com"),
                Some("two words@example.com"),
                Some(&upper),
            ]),
        )]);
        let cells = normalize(&b, &[Field::Email], None).expect("normalized");
        let e = &cells[0];
        assert_eq!(e[0].digest(), Some(h("mary@example.com").as_str()));
        assert_eq!(e[1], Cell::Rejected("missing"));
        assert_eq!(e[2], Cell::Rejected("empty"));
        assert_eq!(e[3], Cell::Rejected("malformed_email"));
        assert_eq!(e[4], Cell::Rejected("malformed_email"));
        assert_eq!(
            e[5].digest(),
            Some(h("x@example.com").as_str()),
            "pre-hashed passes through"
        );
    }

    #[test]
    fn phones_with_row_and_default_countries() {
        let b = batch(vec![
            (
                "phone",
                strings(&[
                    Some("+44 (0)20 7946 0958"),
                    Some("020 7946 0958"),
                    Some("(202) 555-0173"),
                    Some("555-CALL-NOW"),
                    Some("020 7946 0958"),
                ]),
            ),
            (
                "country",
                strings(&[None, Some("GB"), None, None, Some("ZZ")]),
            ),
        ]);
        let cells = normalize(&b, &[Field::Phone], Country::from_iso2("US")).expect("normalized");
        let p = &cells[0];
        assert_eq!(p[0].digest(), Some(h("442079460958").as_str()));
        assert_eq!(p[1].digest(), Some(h("442079460958").as_str()));
        assert_eq!(p[2].digest(), Some(h("12025550173").as_str()));
        assert_eq!(p[3], Cell::Rejected("invalid_phone"));
        assert_eq!(p[4], Cell::Rejected("invalid_country"));
        let ints = batch(vec![(
            "phone",
            Arc::new(Int64Array::from(vec![Some(12025550173), None])) as ArrayRef,
        )]);
        let cells = normalize(&ints, &[Field::Phone], Country::from_iso2("US")).expect("integers");
        assert_eq!(cells[0][0].digest(), Some(h("12025550173").as_str()));
        assert_eq!(cells[0][1], Cell::Rejected("missing"));
    }

    #[test]
    fn madids() {
        let b = batch(vec![(
            "madid",
            strings(&[
                Some(" 6D92078A-8246-4BA4-AE5B-76104861E7DC "),
                Some("00000000-0000-0000-0000-000000000000"),
                Some("not-a-uuid"),
            ]),
        )]);
        let cells = normalize(&b, &[Field::Madid], None).expect("normalized");
        let m = &cells[0];
        assert_eq!(
            m[0].digest(),
            Some(h("6d92078a-8246-4ba4-ae5b-76104861e7dc").as_str())
        );
        assert_eq!(m[1], Cell::Rejected("zero_madid"));
        assert_eq!(m[2], Cell::Rejected("invalid_madid"));
        let err = normalize(&b, &[Field::Email], None).expect_err("no email column");
        assert!(matches!(err, PluginError::InvalidInput(m) if m.contains("`email`")));
    }
}
