use std::sync::Arc;

use arrow_array::types::{Int8Type, Int32Type};
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, StringArray, StringViewArray, UInt64Array,
};
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat, PhoneNumberType};
use sha2::{Digest, Sha256};

use super::super::{MADID_WIDTH, sha256_hex};
use super::*;

/// The expected output for E.164 digits, from the streaming hasher (independent of the
/// kernel's fast path).
fn h(digits: &str) -> String {
    Sha256::digest(digits.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn run(
    input: &dyn Array,
    country: Option<&dyn Array>,
    default: Option<&str>,
) -> Vec<Result<String, Reason>> {
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    phones(input, country, default, &mut out).expect("supported input");
    assert_eq!(out.len(), input.len());
    out.iter().map(|r| r.map(str::to_owned)).collect()
}

/// One phone, with an optional row country and an optional default country.
fn one(phone: &str, country: Option<&str>, default: Option<&str>) -> Result<String, Reason> {
    let countries = country.map(|c| StringArray::from(vec![c]));
    run(
        &StringArray::from(vec![phone]),
        countries.as_ref().map(|c| c as &dyn Array),
        default,
    )
    .remove(0)
}

#[test]
fn meta_vector() {
    // Meta's published example hashes "15559876543", i.e. +1 (555) 987-6543. Area code 555 is
    // not assigned in the NANP, so libphonenumber (rightly) rejects the number itself: check
    // the published hash through sha256_hex, and the kernel on a valid US number.
    let mut hex = [0u8; 64];
    sha256_hex(b"15559876543", &mut hex);
    assert_eq!(
        &hex,
        b"1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
    );
    assert_eq!(
        one("+1 (555) 987-6543", None, Some("US")),
        Err(Reason::InvalidPhone)
    );
    assert_eq!(
        one("+1 (202) 555-0173", None, Some("US")),
        Ok(h("12025550173"))
    );
    assert_eq!(
        one("(202) 555-0173", None, Some("US")),
        Ok(h("12025550173"))
    );
}

#[test]
fn messy_numbers_from_many_countries() {
    // (as written, the row's country, E.164 digits)
    let cases: &[(&str, &str, &str)] = &[
        // United States: punctuation, dots, country code with and without +.
        ("(202) 555-0173", "US", "12025550173"),
        ("202.555.0173", "US", "12025550173"),
        ("202 555 0173", "US", "12025550173"),
        ("1-202-555-0173", "US", "12025550173"),
        ("12025550173", "US", "12025550173"),
        ("+1 202-555-0173", "US", "12025550173"),
        ("202-555-0173 ext. 12", "US", "12025550173"),
        ("tel:+1-202-555-0173", "US", "12025550173"),
        // United Kingdom: trunk 0, and the trunk 0 written in parentheses after +44.
        ("020 7946 0958", "GB", "442079460958"),
        ("+44 (0)20 7946 0958", "GB", "442079460958"),
        ("+44 20 7946 0958", "GB", "442079460958"),
        ("07400 123456", "GB", "447400123456"),
        ("(07400) 123-456", "GB", "447400123456"),
        // Germany.
        ("030 12345678", "DE", "493012345678"),
        ("030/12345678", "DE", "493012345678"),
        ("+49 (0)30 12345678", "DE", "493012345678"),
        ("0151-23456789", "DE", "4915123456789"),
        // France.
        ("01 23 45 67 89", "FR", "33123456789"),
        ("06.12.34.56.78", "FR", "33612345678"),
        ("+33 (0)6 12 34 56 78", "FR", "33612345678"),
        // India.
        ("98765 43210", "IN", "919876543210"),
        ("098765-43210", "IN", "919876543210"),
        ("+91-98765-43210", "IN", "919876543210"),
        // Brazil: area code in parentheses, 9-digit mobiles.
        ("(11) 96123-4567", "BR", "5511961234567"),
        ("+55 (11) 96123-4567", "BR", "5511961234567"),
        ("011 96123 4567", "BR", "5511961234567"),
        // Japan.
        ("03-1234-5678", "JP", "81312345678"),
        ("090-1234-5678", "JP", "819012345678"),
        ("+81 90 1234 5678", "JP", "819012345678"),
        // Australia.
        ("0412 345 678", "AU", "61412345678"),
        ("(02) 9876 5432", "AU", "61298765432"),
        ("+61 (0)412 345 678", "AU", "61412345678"),
        // Mexico.
        ("55 1234 5678", "MX", "525512345678"),
        ("+52 55 1234 5678", "MX", "525512345678"),
        // Italy: the leading 0 is part of the number, not a trunk prefix (E.164 keeps it).
        ("06 1234 5678", "IT", "390612345678"),
        ("+39 06 1234 5678", "IT", "390612345678"),
        // Full-width digits and plus, as typed with some East Asian input methods.
        ("＋８１ ９０ １２３４ ５６７８", "JP", "819012345678"),
    ];
    for &(text, country, digits) in cases {
        assert_eq!(
            one(text, Some(country), None),
            Ok(h(digits)),
            "{text:?} in {country}"
        );
        // The same through the default country instead of the row's.
        assert_eq!(
            one(text, None, Some(country)),
            Ok(h(digits)),
            "{text:?} with default {country}"
        );
    }
}

#[test]
fn international_prefixes() {
    let london = Ok(h("442079460958"));
    // `00` is Germany's own international prefix: libphonenumber strips it.
    assert_eq!(one("00 44 20 7946 0958", Some("DE"), None), london);
    // The US prefix is 011, handled natively too.
    assert_eq!(one("011 44 20 7946 0958", None, Some("US")), london);
    // `00` with a US default is not a valid US number: read as an international prefix.
    assert_eq!(one("0044 20 7946 0958", None, Some("US")), london);
    assert_eq!(one("0044 (0)20 7946 0958", Some("US"), None), london);
    // And with no country at all.
    assert_eq!(one("0044 20 7946 0958", None, None), london);
    assert_eq!(one("(0044) 20 7946 0958", None, None), london);
    // `+` with no country at all.
    assert_eq!(one("+44 20 7946 0958", None, None), london);
    assert_eq!(one("+1 202 555 0173", None, None), Ok(h("12025550173")));
    // `00` followed by something that is not an international number either.
    assert_eq!(one("00 999 1234", None, None), Err(Reason::InvalidPhone));
    assert_eq!(
        one("00 999 1234", None, Some("US")),
        Err(Reason::InvalidPhone)
    );
}

#[test]
fn the_number_and_the_row_country_beat_the_default() {
    let countries = StringArray::from(vec![
        Some("GB"),   // the row's country wins over the default
        None,         // null: the default
        Some(""),     // empty: the default
        Some("  "),   // blank: the default
        Some("gb"),   // any case
        Some(" Gb "), // trimmed
        Some("FR"),   // a number with + carries its own country
        Some("US"),
    ]);
    let input = StringArray::from(vec![
        "020 7946 0958",
        "(202) 555-0173",
        "(202) 555-0173",
        "(202) 555-0173",
        "020 7946 0958",
        "020 7946 0958",
        "+44 20 7946 0958",
        "020 7946 0958", // a GB number read in the US: not valid there
    ]);
    assert_eq!(
        run(&input, Some(&countries), Some("US")),
        [
            Ok(h("442079460958")),
            Ok(h("12025550173")),
            Ok(h("12025550173")),
            Ok(h("12025550173")),
            Ok(h("442079460958")),
            Ok(h("442079460958")),
            Ok(h("442079460958")),
            Err(Reason::InvalidPhone),
        ]
    );
}

#[test]
fn null_typed_columns() {
    // An all-null country column (type Null) means "no row country": the default applies.
    let input = StringArray::from(vec!["(202) 555-0173"]);
    let countries = arrow_array::NullArray::new(1);
    assert_eq!(
        run(&input, Some(&countries), Some("US")),
        [Ok(h("12025550173"))]
    );
    assert_eq!(
        run(&input, Some(&countries), None),
        [Err(Reason::MissingCountry)]
    );
    // An all-null phone column: every row missing.
    assert_eq!(
        run(&arrow_array::NullArray::new(2), None, Some("US")),
        [Err(Reason::Missing), Err(Reason::Missing)]
    );
}

#[test]
fn missing_and_invalid_countries() {
    // No +, no row country, no default.
    assert_eq!(
        one("020 7946 0958", None, None),
        Err(Reason::MissingCountry)
    );
    assert_eq!(
        one("(202) 555-0173", Some(""), None),
        Err(Reason::MissingCountry)
    );
    assert_eq!(one("2025550173", None, None), Err(Reason::MissingCountry));
    // A row country that is not a known ISO-2 code is not replaced by the default.
    for bad in ["XX", "UK", "USA", "United States", "1", "U S", "é"] {
        assert_eq!(
            one("020 7946 0958", Some(bad), Some("GB")),
            Err(Reason::InvalidCountry),
            "{bad:?}"
        );
    }
    // ...but a number with its own country code does not need it.
    assert_eq!(
        one("+44 20 7946 0958", Some("XX"), None),
        Ok(h("442079460958"))
    );
    assert_eq!(
        one("0044 20 7946 0958", Some("UK"), None),
        Ok(h("442079460958"))
    );
}

#[test]
fn invalid_numbers() {
    for (text, default) in [
        ("123", "US"),                  // too short
        ("555-0173", "US"),             // local-only, no area code
        ("+1 202", "US"),               // too short
        ("(999) 555-0173", "US"),       // area code 999 does not exist
        ("+1 (555) 987-6543", "US"),    // area code 555 does not exist
        ("(202) 555-01734567", "US"),   // too long
        ("020 7946 095", "GB"),         // one digit short
        ("+44 20 7946 09581", "GB"),    // one digit long
        ("+999 1234 5678", "US"),       // no such country calling code
        ("+", "US"),                    // a plus alone
        ("call me", "US"),              // no digits
        ("n/a", "US"),                  // no digits
        ("-", "GB"),                    // punctuation only
        ("0000000000", "US"),           // zeros
        ("12345678901234567890", "DE"), // far too long
        ("+52 1 55 1234 5678", "MX"),   // Mexico's mobile "1" was abolished in 2019;
                                        // libphonenumber no longer accepts it
    ] {
        assert_eq!(
            one(text, None, Some(default)),
            Err(Reason::InvalidPhone),
            "{text:?}"
        );
    }
}

#[test]
fn null_empty_and_prehashed() {
    let digest = h("12025550173");
    let upper = digest.to_ascii_uppercase();
    let padded = format!("  {upper}\t");
    let input = StringArray::from(vec![
        None,
        Some(""),
        Some("   "),
        Some(upper.as_str()),
        Some(padded.as_str()),
    ]);
    // No country needed for a digest, and it is never hashed again.
    assert_eq!(
        run(&input, None, None),
        [
            Err(Reason::Missing),
            Err(Reason::Empty),
            Err(Reason::Empty),
            Ok(digest.clone()),
            Ok(digest.clone()),
        ]
    );
    // 63 or 65 hex digits: not a digest, and not a phone either.
    assert_eq!(
        one(&digest[1..], None, Some("US")),
        Err(Reason::InvalidPhone)
    );
    assert_eq!(
        one(&format!("{digest}0"), None, Some("US")),
        Err(Reason::InvalidPhone)
    );
}

#[test]
fn integer_columns() {
    let int64 = Int64Array::from(vec![
        Some(12025550173),
        Some(2025550173),
        None,
        Some(0),
        Some(-12025550173),
        Some(442079460958),
        Some(123),
    ]);
    let expected_us = [
        Ok(h("12025550173")),
        Ok(h("12025550173")),
        Err(Reason::Missing),
        Err(Reason::InvalidPhone),
        Err(Reason::InvalidPhone),
        Err(Reason::InvalidPhone), // a GB number without + is not a valid US number
        Err(Reason::InvalidPhone),
    ];
    assert_eq!(run(&int64, None, Some("US")), expected_us);

    // The country code without + is recognised when it is the row's country.
    let countries = StringArray::from(vec!["US", "US", "US", "US", "US", "GB", "US"]);
    let mut expected_rows = expected_us.clone();
    expected_rows[5] = Ok(h("442079460958"));
    assert_eq!(run(&int64, Some(&countries), None), expected_rows);

    // Integers carry no + so they need a country.
    assert_eq!(
        run(&Int64Array::from(vec![12025550173]), None, None),
        [Err(Reason::MissingCountry)]
    );

    let uint64 = UInt64Array::from(vec![Some(12025550173), None, Some(0), Some(u64::MAX)]);
    assert_eq!(
        run(&uint64, None, Some("US")),
        [
            Ok(h("12025550173")),
            Err(Reason::Missing),
            Err(Reason::InvalidPhone),
            Err(Reason::InvalidPhone),
        ]
    );

    // NUMBER(38, 0) columns (Snowflake, Oracle) arrive as Decimal128 with scale 0.
    let decimal = Decimal128Array::from(vec![Some(447400123456), None, Some(-1)])
        .with_precision_and_scale(38, 0)
        .expect("valid decimal type");
    assert_eq!(
        run(&decimal, None, Some("GB")),
        [
            Ok(h("447400123456")),
            Err(Reason::Missing),
            Err(Reason::InvalidPhone)
        ]
    );
    // Sliced integer column.
    assert_eq!(run(&int64.slice(1, 2), None, Some("US")), expected_us[1..3]);
}

#[test]
fn every_string_layout_and_slices() {
    let rows = vec![
        Some("junk"),
        Some("020 7946 0958"),
        None,
        Some("(202) 555-0173"),
        Some("+33 6 12 34 56 78"),
        Some(""),
    ];
    let countries = vec![
        Some("US"),
        Some("GB"),
        Some("GB"),
        None,
        Some("XX"),
        Some("FR"),
    ];
    let expected = vec![
        Err(Reason::InvalidPhone),
        Ok(h("442079460958")),
        Err(Reason::Missing),
        Ok(h("12025550173")),
        Ok(h("33612345678")),
        Err(Reason::Empty),
    ];
    let phone_arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.clone())),
        Arc::new(LargeStringArray::from(rows.clone())),
        Arc::new(StringViewArray::from(rows.clone())),
        Arc::new(rows.iter().copied().collect::<DictionaryArray<Int32Type>>()),
    ];
    let country_arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(countries.clone())),
        Arc::new(LargeStringArray::from(countries.clone())),
        Arc::new(StringViewArray::from(countries.clone())),
        Arc::new(
            countries
                .iter()
                .copied()
                .collect::<DictionaryArray<Int8Type>>(),
        ),
    ];
    for phones_array in &phone_arrays {
        for country_array in &country_arrays {
            let what = format!(
                "{} / {}",
                phones_array.data_type(),
                country_array.data_type()
            );
            assert_eq!(
                run(phones_array, Some(country_array), Some("US")),
                expected,
                "{what}"
            );
            // Both sliced the same way (offset != 0 in both).
            assert_eq!(
                run(
                    &phones_array.slice(1, 4),
                    Some(&country_array.slice(1, 4)),
                    Some("US")
                ),
                expected[1..5],
                "sliced {what}"
            );
        }
    }
}

#[test]
fn batch_errors() {
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    let input = StringArray::from(vec!["(202) 555-0173"]);
    // Every error leaves `out` empty, not holding the previous batch or unfilled slots.
    let mut fail =
        |phones_array: &dyn Array, country: Option<&dyn Array>, default: Option<&str>| {
            phones(&input, None, Some("US"), &mut out).expect("a good batch first");
            assert_eq!(out.len(), 1);
            let err = phones(phones_array, country, default, &mut out).expect_err("batch error");
            assert!(out.is_empty(), "stale rows after {err}");
            err
        };

    let err = fail(&Float64Array::from(vec![1.0]), None, Some("US"));
    assert!(
        matches!(
            &err,
            KernelError::UnsupportedType {
                column: "phone",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Float64"), "{err}");

    let decimal = Decimal128Array::from(vec![1])
        .with_precision_and_scale(20, 2)
        .expect("valid decimal type");
    let err = fail(&decimal, None, Some("US"));
    assert!(err.to_string().contains("Decimal128(20, 2)"), "{err}");

    let err = fail(&input, Some(&Int32Array::from(vec![1])), None);
    assert!(
        matches!(
            &err,
            KernelError::UnsupportedType {
                column: "country",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Int32"), "{err}");

    let err = fail(&input, Some(&StringArray::from(vec!["US", "GB"])), None);
    assert!(
        matches!(
            err,
            KernelError::LengthMismatch {
                phone: 1,
                country: 2
            }
        ),
        "{err:?}"
    );

    for bad in ["XX", "UK", "", "usa"] {
        let err = fail(&input, None, Some(bad));
        assert!(
            matches!(&err, KernelError::InvalidDefaultCountry(c) if c == bad),
            "{err:?}"
        );
    }

    let mut narrow = NormalizedColumn::new(MADID_WIDTH);
    let err = phones(&input, None, Some("US"), &mut narrow).expect_err("width");
    assert!(matches!(err, KernelError::WidthMismatch { .. }), "{err:?}");
}

#[test]
fn default_country_validation() {
    for good in [
        "US", "us", "Gb", " DE ", "FR", "IN", "BR", "JP", "AU", "MX", "XK",
    ] {
        assert!(validate_default_country(good), "{good:?}");
    }
    for bad in ["XX", "UK", "USA", "", "  ", "U", "001", "AQ", "1A", "é"] {
        assert!(!validate_default_country(bad), "{bad:?}");
    }
}

#[test]
fn buffers_are_reused_across_batches() {
    let mut out = NormalizedColumn::new(DIGEST_WIDTH);
    let input = StringArray::from(vec!["0044 20 7946 0958"; 3]);
    let countries = StringArray::from(vec!["US"; 3]);
    phones(&input, Some(&countries), None, &mut out).expect("first batch");
    let (values, cells) = (out.values.as_ptr(), out.scratch.countries.as_ptr());
    phones(&input, Some(&countries), None, &mut out).expect("second batch");
    assert_eq!(out.accepted(), 3);
    assert_eq!(out.values.as_ptr(), values);
    assert_eq!(out.scratch.countries.as_ptr(), cells);
}

/// Every region's example numbers, written in international and national format, come out as
/// the digest of libphonenumber's own E.164 (Italian leading zeros included).
#[test]
fn every_region_example_numbers_round_trip() {
    let mut checked = 0;
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        for kind in [PhoneNumberType::FixedLine, PhoneNumberType::Mobile] {
            let Ok(number) = PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, kind)
            else {
                continue;
            };
            let e164 = number.format_as(PhoneNumberFormat::E164);
            let digits = e164.trim_start_matches('+');

            let code = region.as_region_str();
            let international = number.format_as(PhoneNumberFormat::International);
            assert_eq!(
                one(&international, None, None),
                Ok(h(digits)),
                "{region} {kind:?} {international}"
            );
            let national = number.format_as(PhoneNumberFormat::National);
            assert_eq!(
                one(&national, Some(&code), None),
                Ok(h(digits)),
                "{region} {kind:?} {national}"
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} example numbers");
}

#[test]
fn kernel_with_fast_validity_agrees_with_libphonenumber_on_messy_numbers() {
    // The kernel end to end (E.164 digits hashed, or the rejection reason), with the fast
    // check and with libphonenumber alone, on generated messy numbers, with a default country
    // and with row countries.
    use super::super::messy;
    let rows = messy::column(20_000, 11, |rng| messy::phone(rng, 0.05));
    let phones_array = StringArray::from(rows.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    let countries = StringArray::from(rows.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    let run_with = |validator: Validator, country: Option<&dyn Array>| {
        let mut out = NormalizedColumn::new(DIGEST_WIDTH);
        out.scratch.validator = validator;
        phones(&phones_array, country, Some("US"), &mut out).expect("utf8");
        out.iter().map(|r| r.map(str::to_owned)).collect::<Vec<_>>()
    };
    for country in [None, Some(&countries as &dyn Array)] {
        let fast = run_with(Validator::default(), country);
        let library = run_with(Validator::library_only(), country);
        let accepted = library.iter().filter(|r| r.is_ok()).count();
        assert!(accepted > 10_000, "{accepted}");
        for ((raw, f), l) in rows.iter().zip(&fast).zip(&library) {
            assert_eq!(f, l, "{raw:?}");
        }
    }
}
