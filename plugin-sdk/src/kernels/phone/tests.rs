use std::sync::Arc;

use arrow_array::types::Int8Type;
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, StringArray, StringViewArray, UInt64Array,
};
use rlibphonenumber::{PhoneNumberFormat, PhoneNumberType};

use super::*;

/// A small, fast, deterministic random generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `n` random decimal digits.
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `rows` phone numbers written as data has them (every usual style of eight countries,
/// random digits, so valid or not, 5 % junk), with their row country (10 % without).
fn messy_phones(rows: usize, seed: u64) -> Vec<(Option<String>, Option<String>)> {
    const COUNTRIES: &[&str] = &["US", "US", "US", "GB", "DE", "FR", "IN", "BR", "AU", "JP"];
    const JUNK: &[&str] = &[
        "n/a",
        "000",
        "call me",
        "+",
        "12",
        "(555) 01",
        "+1 (800) FLOWERS",
    ];
    let mut rng = Rng::new(seed);
    (0..rows)
        .map(|_| {
            let roll = rng.below(100);
            if roll < 2 {
                return (None, None);
            }
            if roll < 7 {
                return (Some(rng.pick(JUNK).to_owned()), Some("US".to_owned()));
            }
            let country = rng.pick(COUNTRIES);
            let style = rng.below(3);
            let number = match country {
                "US" => {
                    let area = rng.pick(&["201", "212", "305", "415", "617", "650", "713"]);
                    let exchange =
                        format!("{}{}{}", 2 + rng.below(8), rng.digits(1), 2 + rng.below(8));
                    let line = rng.digits(4);
                    match style {
                        0 => format!("+1 ({area}) {exchange}-{line}"),
                        1 => format!("{area}.{exchange}.{line}"),
                        _ => format!("1-{area}-{exchange}-{line}"),
                    }
                }
                "GB" => match style {
                    0 => format!("+44 (0)20 7{} {}", rng.digits(3), rng.digits(4)),
                    1 => format!("07400 {}", rng.digits(6)),
                    _ => format!("0044 7400 {}", rng.digits(6)),
                },
                "DE" => match style {
                    0 => format!("+49 30 {}", rng.digits(8)),
                    1 => format!("0151 {}", rng.digits(8)),
                    _ => format!("(030) {}-{}", rng.digits(4), rng.digits(4)),
                },
                "FR" => match style {
                    0 => format!("+33 1 {} {}", rng.digits(4), rng.digits(4)),
                    _ => format!(
                        "06.{}.{}.{}.{}",
                        rng.digits(2),
                        rng.digits(2),
                        rng.digits(2),
                        rng.digits(2)
                    ),
                },
                "IN" => format!("+91 98{} {}", rng.digits(3), rng.digits(5)),
                "BR" => format!("+55 (11) 9{}-{}", rng.digits(4), rng.digits(4)),
                "AU" => format!("041{} {} {}", rng.digits(1), rng.digits(3), rng.digits(3)),
                _ => format!("090-{}-{}", rng.digits(4), rng.digits(4)),
            };
            let column = (rng.below(10) != 0).then(|| country.to_owned());
            (Some(number), column)
        })
        .collect()
}

fn us() -> Option<Country> {
    Country::from_iso2("US")
}

fn digits(result: Result<E164, PhoneError>) -> Result<String, PhoneError> {
    result.map(|n| n.digits().to_owned())
}

#[test]
fn countries() {
    for good in [
        "US", "us", "Gb", " DE ", "FR", "IN", "BR", "JP", "AU", "MX", "XK",
    ] {
        assert!(Country::from_iso2(good).is_some(), "{good:?}");
    }
    for bad in ["XX", "UK", "USA", "", "  ", "U", "001", "AQ", "1A", "é"] {
        assert!(Country::from_iso2(bad).is_none(), "{bad:?}");
    }
    let gb = Country::from_iso2(" gb ").expect("GB");
    assert_eq!(gb.iso2(), "GB");
    assert_eq!(gb.calling_code(), 44);
    assert_eq!(RowCountry::of(None), RowCountry::Absent);
    assert_eq!(RowCountry::of(Some(b"  ")), RowCountry::Absent);
    assert_eq!(RowCountry::of(Some(b"XX")), RowCountry::Invalid);
    assert_eq!(RowCountry::of(Some(b"gb")), RowCountry::Known(gb));
}

#[test]
fn normalizer_precedence_and_errors() {
    let mut n = PhoneNormalizer::new();
    let gb = RowCountry::Known(Country::from_iso2("GB").expect("GB"));
    assert_eq!(
        digits(n.e164(" (202) 555-0173 ", RowCountry::Absent, us())).as_deref(),
        Ok("12025550173")
    );
    // The row's country beats the default; a number with + carries its own.
    assert_eq!(
        digits(n.e164("020 7946 0958", gb, us())).as_deref(),
        Ok("442079460958")
    );
    assert_eq!(
        digits(n.e164("+33 6 12 34 56 78", gb, us())).as_deref(),
        Ok("33612345678")
    );
    // `00` as the international prefix where the region's is another, or with no country.
    assert_eq!(
        digits(n.e164("0044 20 7946 0958", RowCountry::Absent, us())).as_deref(),
        Ok("442079460958")
    );
    assert_eq!(
        digits(n.e164("0044 20 7946 0958", RowCountry::Absent, None)).as_deref(),
        Ok("442079460958")
    );
    assert_eq!(n.e164("", RowCountry::Absent, us()), Err(PhoneError::Empty));
    assert_eq!(
        n.e164(" \t", RowCountry::Absent, us()),
        Err(PhoneError::Empty)
    );
    assert_eq!(
        n.e164("n/a", RowCountry::Absent, us()),
        Err(PhoneError::Invalid)
    );
    assert_eq!(
        n.e164("2025550173", RowCountry::Absent, None),
        Err(PhoneError::MissingCountry)
    );
    assert_eq!(
        n.e164("2025550173", RowCountry::Invalid, us()),
        Err(PhoneError::InvalidCountry)
    );
    assert_eq!(
        n.e164("00 999 1234", RowCountry::Absent, us()),
        Err(PhoneError::Invalid)
    );
    // Italian leading zeros are part of the number.
    let it = RowCountry::Known(Country::from_iso2("IT").expect("IT"));
    assert_eq!(
        digits(n.e164("06 1234 5678", it, None)).as_deref(),
        Ok("390612345678")
    );
    // Integers.
    assert_eq!(
        digits(n.e164_integer(2025550173, RowCountry::Absent, us())).as_deref(),
        Ok("12025550173")
    );
    assert_eq!(
        n.e164_integer(0, RowCountry::Absent, us()),
        Err(PhoneError::Invalid)
    );
    assert_eq!(
        n.e164_integer(-12025550173, RowCountry::Absent, us()),
        Err(PhoneError::Invalid)
    );
    assert_eq!(
        n.e164_integer(12025550173, RowCountry::Absent, None),
        Err(PhoneError::MissingCountry)
    );
    let number = n
        .e164("+44 20 7946 0958", RowCountry::Absent, None)
        .expect("valid");
    assert_eq!(number.to_string(), "+442079460958");
    assert_eq!(format!("{number:?}"), "E164(+442079460958)");
    assert_eq!(number.as_bytes(), b"442079460958");
    assert_eq!(PhoneError::MissingCountry.as_str(), "missing_country");
    assert_eq!(PhoneError::Invalid.to_string(), "invalid_phone");
}

#[test]
fn normalizer_reuses_its_buffer() {
    let mut n = PhoneNormalizer::new();
    n.e164("0044 20 7946 0958", RowCountry::Absent, us())
        .expect("valid");
    let text = n.text.as_ptr();
    for _ in 0..3 {
        n.e164("0044 20 7946 0958", RowCountry::Absent, us())
            .expect("valid");
    }
    assert_eq!(n.text.as_ptr(), text);
}

#[test]
fn e164_array_every_layout_style_and_error() {
    let rows = vec![
        Some("junk"),
        Some("020 7946 0958"),
        None,
        Some("(202) 555-0173"),
        Some(""),
    ];
    let countries = vec![Some("US"), Some("GB"), Some("GB"), None, Some("FR")];
    let expected_errors = [
        Some(PhoneError::Invalid),
        None,
        None,
        None,
        Some(PhoneError::Empty),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.clone())),
        Arc::new(LargeStringArray::from(rows.clone())),
        Arc::new(StringViewArray::from(rows.clone())),
        Arc::new(rows.iter().copied().collect::<DictionaryArray<Int8Type>>()),
    ];
    let country_column = StringArray::from(countries);
    for array in &arrays {
        let out = e164_array(array, Some(&country_column), Some("US"), E164Style::Digits)
            .expect("strings");
        assert_eq!(out.errors, expected_errors, "{}", array.data_type());
        let values: Vec<Option<&str>> = out.values.iter().collect();
        assert_eq!(
            values,
            [None, Some("442079460958"), None, Some("12025550173"), None]
        );
        let sliced = e164_array(
            &array.slice(1, 3),
            Some(&country_column.slice(1, 3)),
            Some("US"),
            E164Style::Plus,
        )
        .expect("strings");
        let values: Vec<Option<&str>> = sliced.values.iter().collect();
        assert_eq!(values, [Some("+442079460958"), None, Some("+12025550173")]);
    }

    let ints = Int64Array::from(vec![Some(2025550173), None, Some(-1)]);
    let out = e164_array(&ints, None, Some("US"), E164Style::Plus).expect("integers");
    assert_eq!(
        out.values.iter().collect::<Vec<_>>(),
        [Some("+12025550173"), None, None]
    );
    assert_eq!(out.errors, [None, None, Some(PhoneError::Invalid)]);
    let uints = UInt64Array::from(vec![12025550173]);
    assert_eq!(
        e164_array(&uints, None, Some("US"), E164Style::Digits)
            .expect("ok")
            .values
            .value(0),
        "12025550173"
    );
    assert_eq!(
        e164_array(&uints, None, None, E164Style::Digits)
            .expect("ok")
            .errors,
        [Some(PhoneError::MissingCountry)]
    );
    let decimal = Decimal128Array::from(vec![447400123456])
        .with_precision_and_scale(38, 0)
        .expect("decimal");
    assert_eq!(
        e164_array(&decimal, None, Some("GB"), E164Style::Digits)
            .expect("ok")
            .values
            .value(0),
        "447400123456"
    );

    let one = StringArray::from(vec!["(202) 555-0173"]);
    let err = e164_array(
        &Float64Array::from(vec![1.0]),
        None,
        None,
        E164Style::Digits,
    )
    .expect_err("type");
    assert!(
        matches!(
            err,
            KernelError::UnsupportedType {
                column: "phone",
                ..
            }
        ),
        "{err:?}"
    );
    let err = e164_array(
        &one,
        Some(&Int32Array::from(vec![1])),
        None,
        E164Style::Digits,
    )
    .expect_err("type");
    assert!(
        matches!(
            err,
            KernelError::UnsupportedType {
                column: "country",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Int32"), "{err}");
    let err = e164_array(
        &one,
        Some(&StringArray::from(vec!["US", "GB"])),
        None,
        E164Style::Digits,
    )
    .expect_err("len");
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
    let err = e164_array(&one, None, Some("UK"), E164Style::Digits).expect_err("country");
    assert!(
        matches!(&err, KernelError::InvalidDefaultCountry(c) if c == "UK"),
        "{err:?}"
    );
}

/// Every region's example numbers, written in international and national format, come out as
/// libphonenumber's own E.164 (this also checks `e164_digits`, Italian leading zeros
/// included, against the library's formatter).
#[test]
fn every_region_example_numbers_round_trip() {
    let mut n = PhoneNormalizer::new();
    let mut checked = 0;
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        for kind in [PhoneNumberType::FixedLine, PhoneNumberType::Mobile] {
            let Ok(number) = PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, kind)
            else {
                continue;
            };
            let e164 = number.format_as(PhoneNumberFormat::E164);
            let expected = e164.trim_start_matches('+');
            let mut buf = [0u8; 48];
            assert_eq!(
                e164_digits(&number, &mut buf),
                expected.as_bytes(),
                "{region}"
            );
            let international = number.format_as(PhoneNumberFormat::International);
            assert_eq!(
                digits(n.e164(&international, RowCountry::Absent, None)).as_deref(),
                Ok(expected),
                "{region} {kind:?} {international}"
            );
            let national = number.format_as(PhoneNumberFormat::National);
            assert_eq!(
                digits(n.e164(&national, RowCountry::Known(Country(region)), None)).as_deref(),
                Ok(expected),
                "{region} {kind:?} {national}"
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} example numbers");
}

#[test]
fn normalizer_with_fast_paths_agrees_with_libphonenumber_on_messy_numbers() {
    // End to end (the E.164 digits, or the error), with the fast paths and with libphonenumber
    // alone, on generated messy numbers, with a default country and with row countries.
    let rows = messy_phones(20_000, 11);
    let (mut fast, mut library) = (PhoneNormalizer::new(), PhoneNormalizer::library_only());
    let mut accepted = 0;
    for (phone, country) in &rows {
        let Some(phone) = phone else { continue };
        for row in [
            RowCountry::Absent,
            RowCountry::of(country.as_deref().map(str::as_bytes)),
        ] {
            let f = digits(fast.e164(phone, row, us()));
            let l = digits(library.e164(phone, row, us()));
            accepted += usize::from(l.is_ok());
            assert_eq!(f, l, "{phone:?} {row:?}");
        }
    }
    assert!(accepted > 10_000, "{accepted}");
}

#[test]
fn lead_detection() {
    assert_eq!(lead("+44"), Lead::Plus);
    assert_eq!(lead("(+84) 091"), Lead::Plus);
    assert_eq!(lead("＋81"), Lead::Plus);
    assert_eq!(lead("0044 20"), Lead::DoubleZero(2));
    assert_eq!(lead("(0044) 20"), Lead::DoubleZero(3));
    assert_eq!(lead("0 044"), Lead::National);
    assert_eq!(lead("020"), Lead::National);
    assert_eq!(lead("２０２"), Lead::National);
    assert_eq!(lead("n/a"), Lead::NoDigits);
    assert_eq!(lead(""), Lead::NoDigits);
}

/// The national significant number of a parsed number, as libphonenumber writes it.
fn nsn_of(number: &PhoneNumber) -> String {
    rlibphonenumber::get_national_significant_number_owned(number)
}

#[test]
fn fast_validity_agrees_with_libphonenumber_in_every_region() {
    // For every region and number type: the example number, then variants of it (digits
    // replaced at random from the end, one digit dropped, one added) and random digit strings,
    // written with `+` and the country code. The fast check must decide nearly all of them,
    // and exactly as `is_valid_number`.
    let kinds = [
        PhoneNumberType::FixedLine,
        PhoneNumberType::Mobile,
        PhoneNumberType::TollFree,
        PhoneNumberType::PremiumRate,
        PhoneNumberType::SharedCost,
        PhoneNumberType::VoIP,
        PhoneNumberType::PersonalNumber,
        PhoneNumberType::Pager,
        PhoneNumberType::UAN,
        PhoneNumberType::VoiceMail,
    ];
    let mut rng = Rng::new(7);
    let mut validator = Validator::default();
    let (mut decided, mut valid, mut total) = (0, 0, 0);
    for region in PHONE_NUMBER_UTIL.get_supported_regions() {
        let Some(code) = PHONE_NUMBER_UTIL.get_country_code_for_region(region) else {
            continue;
        };
        let mut nsns = Vec::new();
        for kind in kinds {
            if let Ok(number) =
                PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, kind)
            {
                nsns.push(nsn_of(&number));
            }
        }
        let examples = nsns.clone();
        for nsn in &examples {
            for _ in 0..16 {
                let keep = rng.below(nsn.len() as u64) as usize;
                nsns.push(format!("{}{}", &nsn[..keep], rng.digits(nsn.len() - keep)));
            }
            if nsn.len() > 2 {
                let at = rng.below(nsn.len() as u64) as usize;
                nsns.push(format!("{}{}", &nsn[..at], &nsn[at + 1..]));
            }
            nsns.push(format!("{nsn}{}", rng.digits(1)));
        }
        for len in [4, 7, 9, 10, 11, 13] {
            nsns.push(rng.digits(len));
        }
        for nsn in nsns {
            let Ok(number) = PHONE_NUMBER_UTIL.parse(format!("+{code} {nsn}"), None) else {
                continue;
            };
            total += 1;
            let expected = PHONE_NUMBER_UTIL.is_valid_number(&number);
            valid += usize::from(expected);
            if let Some(fast) = validator.is_valid(&number, &nsn_of(&number)) {
                decided += 1;
                assert_eq!(
                    fast, expected,
                    "{region} +{code} {nsn}: fast {fast}, library {expected}"
                );
            }
        }
    }
    eprintln!("fast validity: {decided} of {total} numbers decided, {valid} valid");
    assert!(total > 10_000, "only {total} numbers");
    assert!(
        valid > total / 5 && valid < total * 4 / 5,
        "{valid} valid of {total}"
    );
    assert!(
        decided * 100 >= total * 99,
        "the fast check decided only {decided} of {total}"
    );
}

#[test]
fn fast_parse_agrees_with_libphonenumber() {
    // Every region's example numbers of every type, and variants with random digits, written
    // every way the fast path accepts (E.164, international, national, with the region's
    // international prefix, the country code without `+`, punctuated), parsed with and
    // without a region: the fast path must give libphonenumber's exact result (the same
    // number, or a failure) whenever it answers, and answer for nearly all of them.
    use super::fast::{Parsed, parse};
    let mut rng = Rng::new(5);
    let mut validator = Validator::default();
    let (mut answered, mut total, mut parsed_ok) = (0, 0, 0);
    let mut check = |text: &str, region: Option<Region>, validator: &mut Validator| {
        // Without `+` nor a region there is nothing to parse against: the kernel rejects
        // those before parsing (missing_country), and the fast path leaves them alone.
        if region.is_none() && !text.starts_with('+') {
            return;
        }
        total += 1;
        let expected = PHONE_NUMBER_UTIL.parse(text, region);
        parsed_ok += usize::from(expected.is_ok());
        if let Some(fast) = parse(text, region, validator) {
            answered += 1;
            match (&fast, &expected) {
                (Parsed::Number(a), Ok(b)) => assert_eq!(a, b, "{text:?} in {region:?}"),
                (Parsed::Error, Err(_)) => {}
                _ => panic!("{text:?} in {region:?}: fast {fast:?}, library {expected:?}"),
            }
        }
    };
    let idd = |region: Region| match region.as_region_str().as_ref() {
        "US" | "CA" => "011",
        "JP" => "010",
        "AU" => "0011",
        _ => "00",
    };
    let regions: Vec<Region> = PHONE_NUMBER_UTIL.get_supported_regions().collect();
    for &region in &regions {
        for kind in [
            PhoneNumberType::FixedLine,
            PhoneNumberType::Mobile,
            PhoneNumberType::TollFree,
            PhoneNumberType::VoIP,
        ] {
            let Ok(example) =
                PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, kind)
            else {
                continue;
            };
            let code = example.country_code;
            let nsn = nsn_of(&example);
            let keep = rng.below(nsn.len() as u64) as usize;
            let variant = format!("{}{}", &nsn[..keep], rng.digits(nsn.len() - keep));
            let national = example.format_as(PhoneNumberFormat::National);
            let international = example.format_as(PhoneNumberFormat::International);
            let other = regions[rng.below(regions.len() as u64) as usize];
            let texts = [
                format!("+{code}{nsn}"),
                format!("+{code} {variant}"),
                international.to_string(),
                national.to_string(),
                format!("0{nsn}"),
                format!("{code}{nsn}"),
                format!("{code} {variant}"),
                format!("{}{code}{nsn}", idd(region)),
                format!("{} {code} {variant}", idd(other)),
                format!(
                    "({}) {}-{}",
                    &nsn[..3.min(nsn.len())],
                    &nsn[3.min(nsn.len())..],
                    rng.digits(2)
                ),
                nsn.clone(),
                variant.clone(),
            ];
            for text in &texts {
                for r in [Some(region), Some(other), None] {
                    check(text, r, &mut validator);
                }
            }
        }
    }
    // Messy numbers as data has them, with the US default and with their own countries.
    let rows = messy_phones(5_000, 13);
    for (phone, country) in &rows {
        let Some(phone) = phone else { continue };
        let phone = phone.trim();
        let country = country.as_deref().and_then(|c| Region::from_code(c).ok());
        check(
            phone,
            Some(Region::from_code("US").expect("US")),
            &mut validator,
        );
        check(phone, country, &mut validator);
    }
    eprintln!("fast parse: {answered} of {total} texts answered, {parsed_ok} parse");
    assert!(total > 20_000, "only {total} texts");
    assert!(parsed_ok * 2 > total, "{parsed_ok} of {total} parsed");
    assert!(
        answered * 100 >= total * 95,
        "the fast path answered {answered} of {total}"
    );
}

#[test]
fn fast_path_metadata_is_the_locked_rlibphonenumber_s() {
    // phone/metadata.bin is rlibphonenumber 2.2.15's src/generated/metadata/metadata.bin: the
    // fast paths must use the metadata the library itself uses. When Cargo.lock moves to
    // another version, copy that version's file over it (the differential tests above then
    // check the result).
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"rlibphonenumber\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .expect("rlibphonenumber in Cargo.lock");
    assert_eq!(
        version, "\"2.2.15\"",
        "rlibphonenumber changed: refresh plugin-sdk/src/kernels/phone/metadata.bin"
    );
}

#[test]
fn digit_automata_agree_with_regex_on_every_region_pattern() {
    // Every pattern the validator matches whole (general pattern, per-length unions of the
    // number types, shared codes' unions) must become a digit automaton, and the automaton must
    // answer as `regex` does on `^(?:pattern)$`: on the region's example numbers, variants of
    // them (digits replaced from the end, one dropped, one added, a non-digit put in) and
    // random digit strings of every length from 0 to 18.
    use super::dfa::DigitDfa;
    use super::valid::whole_number_patterns;
    let kinds = [
        PhoneNumberType::FixedLine,
        PhoneNumberType::Mobile,
        PhoneNumberType::TollFree,
        PhoneNumberType::PremiumRate,
        PhoneNumberType::SharedCost,
        PhoneNumberType::VoIP,
        PhoneNumberType::PersonalNumber,
        PhoneNumberType::Pager,
        PhoneNumberType::UAN,
        PhoneNumberType::VoiceMail,
    ];
    let mut rng = Rng::new(11);
    let (mut patterns_seen, mut checks, mut matches, mut max_states) = (0, 0, 0, 0);
    for (region, patterns) in whole_number_patterns() {
        // Example numbers of the region and of the regions sharing its code.
        let mut examples = Vec::new();
        let code = PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .unwrap_or(0);
        for other in PHONE_NUMBER_UTIL
            .get_regions_for_country_calling_code(code)
            .into_iter()
            .flatten()
        {
            for kind in kinds {
                if let Ok(number) =
                    PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(other, kind)
                {
                    examples.push(nsn_of(&number));
                }
            }
        }
        let mut numbers = examples.clone();
        for nsn in &examples {
            for _ in 0..8 {
                let keep = rng.below(nsn.len() as u64) as usize;
                numbers.push(format!("{}{}", &nsn[..keep], rng.digits(nsn.len() - keep)));
            }
            let at = rng.below(nsn.len() as u64) as usize;
            numbers.push(format!("{}{}", &nsn[..at], &nsn[at + 1..]));
            numbers.push(format!("{nsn}{}", rng.digits(1)));
            numbers.push(format!("{}x{}", &nsn[..at], &nsn[at..]));
        }
        for len in 0..=18 {
            numbers.push(rng.digits(len));
        }
        for pattern in patterns {
            patterns_seen += 1;
            let dfa = DigitDfa::new(&format!("(?:{pattern})"))
                .unwrap_or_else(|| panic!("{region}: no digit automaton for {pattern}"));
            max_states = max_states.max(dfa.states());
            let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                .build()
                .expect("libphonenumber's pattern compiles");
            for number in &numbers {
                let expected = re.is_match(number);
                checks += 1;
                matches += usize::from(expected);
                assert_eq!(
                    dfa.is_match(number.as_bytes()),
                    expected,
                    "{region}: {number:?} against {pattern}"
                );
            }
        }
    }
    eprintln!(
        "digit automata: {patterns_seen} patterns, {checks} checks ({matches} matches), \
         at most {max_states} states"
    );
    assert!(patterns_seen > 1_000, "only {patterns_seen} patterns");
    assert!(
        matches > checks / 20 && matches < checks / 2,
        "{matches} matches of {checks}"
    );
}

#[test]
fn prefix_automata_agree_with_regex_on_every_region_pattern() {
    // The national prefixes for parsing and the leading-digits patterns, matched at the start
    // of a number: where one becomes a digit automaton, its answer must be `regex`'s on the
    // region's example numbers written nationally (with the national prefix, with other
    // leading digits) and on random digit strings.
    use super::valid::{prefix_automaton, prefix_patterns};
    let mut rng = Rng::new(13);
    let (mut patterns_seen, mut automata, mut checks, mut matches) = (0, 0, 0, 0);
    for (region, patterns) in prefix_patterns() {
        let mut numbers = Vec::new();
        for kind in [PhoneNumberType::FixedLine, PhoneNumberType::Mobile] {
            if let Ok(number) =
                PHONE_NUMBER_UTIL.get_example_number_for_type_and_region(region, kind)
            {
                let nsn = nsn_of(&number);
                let national: String = PHONE_NUMBER_UTIL
                    .format(&number, PhoneNumberFormat::National)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                numbers.push(national);
                for prefix in ["0", "1", "00", "01", "8", "90", "0015", "1831", "10"] {
                    numbers.push(format!("{prefix}{nsn}"));
                }
                numbers.push(nsn);
            }
        }
        for len in 0..=14 {
            numbers.push(rng.digits(len));
            numbers.push(format!("0{}", rng.digits(len)));
        }
        numbers.push("12a34".to_owned());
        for source in patterns {
            patterns_seen += 1;
            let Some(dfa) = prefix_automaton(&source) else {
                continue;
            };
            automata += 1;
            let re = regex::Regex::new(&source).expect("libphonenumber's pattern compiles");
            for number in &numbers {
                let expected = re.is_match(number);
                checks += 1;
                matches += usize::from(expected);
                assert_eq!(
                    dfa.matches_prefix(number.as_bytes()),
                    expected,
                    "{region}: {number:?} against {source}"
                );
            }
        }
    }
    eprintln!(
        "prefix automata: {automata} of {patterns_seen} patterns, {checks} checks \
         ({matches} matches)"
    );
    assert!(
        automata * 10 >= patterns_seen * 9,
        "{automata} of {patterns_seen}"
    );
    assert!(matches > checks / 50, "{matches} matches of {checks}");
}
