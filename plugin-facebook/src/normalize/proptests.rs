//! Property tests of the normalization kernels over arbitrary and identifier-shaped input,
//! the same entry points the fuzz targets (`fuzz/fuzz_targets/`) drive:
//!
//! - no kernel panics, whatever the text (any Unicode, controls, nulls, huge values);
//! - every accepted email and phone is 64 lowercase hex digits, every accepted madid a
//!   lowercase 8-4-4-4-12 UUID;
//! - normalization is idempotent on its own output (a digest passes through unchanged);
//! - surrounding blanks and ASCII case never change an email's result;
//! - phones come out the same through the fast paths and through libphonenumber alone.

use arrow_array::{Array, StringArray};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::phone::Validator;
use super::{
    DIGEST_WIDTH, MADID_WIDTH, NormalizedColumn, Reason, emails, madids, phones,
    validate_default_country,
};

/// Countries rows and defaults are drawn from: common ones, lower case, unknown and empty.
const COUNTRIES: &[&str] = &[
    "US", "GB", "DE", "FR", "IT", "IN", "BR", "JP", "AU", "CA", "MX", "NG", "AR", "CH", "us",
    " gb ", "XX", "UK", "USA", "",
];

fn run_emails(values: &[Option<String>]) -> Vec<Result<String, Reason>> {
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    emails(&StringArray::from(values.to_vec()), &mut out).expect("Utf8 is supported");
    assert_eq!(out.len(), values.len());
    out.iter().map(|r| r.map(str::to_owned)).collect()
}

fn email(value: &str) -> Result<String, Reason> {
    run_emails(&[Some(value.to_owned())]).remove(0)
}

fn run_madids(values: &[Option<String>]) -> Vec<Result<String, Reason>> {
    let mut out = NormalizedColumn::new(MADID_WIDTH);
    madids(&StringArray::from(values.to_vec()), &mut out).expect("Utf8 is supported");
    assert_eq!(out.len(), values.len());
    out.iter().map(|r| r.map(str::to_owned)).collect()
}

fn run_phones(
    values: &[Option<String>],
    countries: Option<&[Option<String>]>,
    default: Option<&str>,
    validator: Validator,
) -> Vec<Result<String, Reason>> {
    let phones_array = StringArray::from(values.to_vec());
    let countries = countries.map(|c| StringArray::from(c.to_vec()));
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    out.scratch.validator = validator;
    phones(
        &phones_array,
        countries.as_ref().map(|c| c as &dyn Array),
        default,
        &mut out,
    )
    .expect("Utf8 columns of equal length and a known default are supported");
    assert_eq!(out.len(), values.len());
    out.iter().map(|r| r.map(str::to_owned)).collect()
}

fn is_lower_hex_digest(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn is_lower_uuid(value: &str) -> bool {
    value.len() == 36
        && value.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Any text, weighted towards what identifiers look like and the characters that trip
/// normalizers up (blanks, controls, BOMs, `@`, `+`, digits, hex, hyphens, non-ASCII case).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t\r\n\u{feff}\u{200b}\u{a0}]{0,2}[a-zA-Z0-9._%+@-]{0,30}[ \t\u{0}\u{85}]{0,2}",
        "[A-Za-z0-9.+_-]{1,20}@[A-Za-z0-9.-]{1,20}",
        "[ÉéİıßΣσςΑΘ用户@.a-z]{1,12}",
        "[+0-9 ().\\-/]{0,24}",
        "(00|\\+|＋)?[0-9٠-٩０-９ ]{1,20}",
        "[0-9a-fA-F]{64}",
        "[0-9a-fA-F-]{36}",
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ]
}

/// Rows of a column: text or null.
fn column() -> impl Strategy<Value = Vec<Option<String>>> {
    prop::collection::vec(prop::option::weighted(0.9, text()), 0..24)
}

/// Phone-shaped text: an optional international lead, digits in groups, punctuation.
fn phone_text() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(""),
            Just("+"),
            Just("00"),
            Just("011 "),
            Just("+1 "),
            Just("+44 (0)"),
            Just("0")
        ],
        prop::collection::vec(("[0-9]{1,4}", "[ .()/-]?"), 1..6),
    )
        .prop_map(|(lead, groups)| {
            let mut s = lead.to_owned();
            for (digits, sep) in groups {
                s.push_str(&digits);
                s.push_str(&sep);
            }
            s
        })
}

fn country() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.8, prop::sample::select(COUNTRIES).prop_map(str::to_owned))
}

proptest! {
    #[test]
    fn kernels_never_panic_and_accept_only_well_formed_values(values in column()) {
        for value in run_emails(&values).into_iter().flatten() {
            prop_assert!(is_lower_hex_digest(&value), "email output {value:?}");
        }
        for value in run_madids(&values).into_iter().flatten() {
            prop_assert!(is_lower_uuid(&value), "madid output {value:?}");
        }
        let countries: Vec<Option<String>> = values
            .iter()
            .enumerate()
            .map(|(i, _)| COUNTRIES.get(i % COUNTRIES.len()).map(|c| (*c).to_owned()))
            .collect();
        for (rows, default) in [(None, None), (None, Some("US")), (Some(countries.as_slice()), Some("GB"))] {
            for value in run_phones(&values, rows, default, Validator::default())
                .into_iter()
                .flatten()
            {
                prop_assert!(is_lower_hex_digest(&value), "phone output {value:?}");
            }
        }
    }

    #[test]
    fn every_row_gets_a_value_or_a_reason_and_nulls_are_missing(values in column()) {
        let results = run_emails(&values);
        for (value, result) in values.iter().zip(&results) {
            if value.is_none() {
                prop_assert_eq!(result, &Err(Reason::Missing));
            }
        }
    }

    #[test]
    fn email_normalization_is_idempotent_on_its_output(value in text()) {
        if let Ok(digest) = email(&value) {
            prop_assert_eq!(email(&digest), Ok(digest.clone()));
            prop_assert_eq!(email(&digest.to_ascii_uppercase()), Ok(digest));
        }
    }

    #[test]
    fn blanks_around_and_ascii_case_do_not_change_an_email(value in text()) {
        let plain = email(&value);
        prop_assert_eq!(&email(&format!(" \t{value}\r\n")), &plain);
        if value.is_ascii() {
            prop_assert_eq!(&email(&value.to_ascii_uppercase()), &plain);
        }
    }

    #[test]
    fn ascii_addresses_hash_to_the_digest_of_their_lowercase_form(
        value in "[A-Za-z0-9._%+-]{1,40}@[A-Za-z0-9.-]{1,40}"
    ) {
        prop_assert_eq!(email(&value), Ok(sha256(&value.to_ascii_lowercase())));
    }

    #[test]
    fn madid_normalization_is_idempotent_on_its_output(value in text()) {
        let first = run_madids(&[Some(value)]).remove(0);
        if let Ok(uuid) = first {
            prop_assert_eq!(run_madids(&[Some(uuid.clone())]).remove(0), Ok(uuid));
        }
    }

    #[test]
    fn phone_digests_pass_through_unchanged(
        value in phone_text(),
        default in prop::sample::select(&COUNTRIES[..14]),
    ) {
        let first = run_phones(&[Some(value)], None, Some(default), Validator::default()).remove(0);
        if let Ok(digest) = first {
            let again = run_phones(&[Some(digest.clone())], None, None, Validator::default()).remove(0);
            prop_assert_eq!(again, Ok(digest));
        }
    }

    #[test]
    fn phone_fast_paths_agree_with_libphonenumber(
        rows in prop::collection::vec((prop_oneof![phone_text(), text()], country()), 1..16),
        default in prop::option::of(prop::sample::select(&COUNTRIES[..14])),
    ) {
        let values: Vec<Option<String>> = rows.iter().map(|(p, _)| Some(p.clone())).collect();
        let countries: Vec<Option<String>> = rows.iter().map(|(_, c)| c.clone()).collect();
        for row_countries in [None, Some(countries.as_slice())] {
            let fast = run_phones(&values, row_countries, default, Validator::default());
            let library = run_phones(&values, row_countries, default, Validator::library_only());
            for ((value, f), l) in values.iter().zip(&fast).zip(&library) {
                prop_assert_eq!(f, l, "{:?} (default {:?}, row countries: {})", value, default, row_countries.is_some());
            }
        }
    }

    #[test]
    fn default_country_check_never_panics(code in any::<String>()) {
        let known = validate_default_country(&code);
        if known {
            prop_assert_eq!(code.trim().len(), 2);
        }
    }
}

#[test]
fn huge_values_are_rejected_not_hashed() {
    // 1 MiB in one cell: rejected by every kernel, quickly.
    let big = "a".repeat(1 << 20);
    let shaped = format!("{big}@example.com");
    assert_eq!(email(&shaped), Err(Reason::MalformedEmail));
    assert_eq!(email(&big), Err(Reason::MalformedEmail));
    let digits = "1".repeat(1 << 20);
    assert_eq!(
        run_phones(&[Some(digits)], None, Some("US"), Validator::default()).remove(0),
        Err(Reason::InvalidPhone)
    );
    assert_eq!(
        run_madids(&[Some(big)]).remove(0),
        Err(Reason::InvalidMadid)
    );
}

#[test]
fn email_length_limit_is_rfc_5321s() {
    let domain = "@example.com";
    let longest = format!("{}{domain}", "a".repeat(254 - domain.len()));
    assert_eq!(email(&longest), Ok(sha256(&longest)));
    let over = format!("{}{domain}", "a".repeat(255 - domain.len()));
    assert_eq!(email(&over), Err(Reason::MalformedEmail));
    // Blanks around do not count.
    assert_eq!(email(&format!("  {longest}  ")), Ok(sha256(&longest)));
}
