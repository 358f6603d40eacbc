//! A faster `parse`, with libphonenumber's exact results, for the common shapes of numbers.
//!
//! libphonenumber's `parse` spends most of its time on patterns for things most numbers do
//! not have: RFC 3966 `tel:` parameters, extensions (`ext. 12`, `x12`, `#12`...), letters
//! (`1-800-FLOWERS`), Unicode digits and punctuation. A number written with ASCII digits,
//! spaces, `-`, `.`, `(`, `)`, `/` and at most a leading `+` has none of them, and for such a
//! number the rest of `parse_helper` is replayed here step by step with the region's own
//! metadata (see [`super::valid`]): the international prefix (IDD), the country calling code,
//! the default country's code written without `+`, the national prefix and its transform
//! rule, the possible-length test and the Italian leading zeros. Anything else, or any step
//! this replay does not cover (an unknown country calling code, a non-geographic one), goes
//! to libphonenumber. The differential tests in `tests.rs` compare both on many numbers.

use std::borrow::Cow;
use std::sync::LazyLock;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber, Region};

use super::valid::{Length, NationalPrefix, RegionRules, Validator};

/// libphonenumber's `MIN_LENGTH_FOR_NSN` and `MAX_LENGTH_FOR_NSN`.
const MIN_NSN: usize = 2;
const MAX_NSN: usize = 17;
/// Digits kept from the text at most; longer texts go to libphonenumber.
const MAX_DIGITS: usize = 24;

/// What the fast path made of a text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Parsed {
    /// The number libphonenumber's `parse` returns.
    Number(PhoneNumber),
    /// libphonenumber's `parse` fails on this text.
    Error,
}

/// libphonenumber's `parse(text, region)` for the shapes this module knows, `None` for the
/// others (then call libphonenumber).
pub(super) fn parse(
    text: &str,
    region: Option<Region>,
    validator: &mut Validator,
) -> Option<Parsed> {
    if validator.is_off() {
        return None;
    }
    // The text's digits, and whether it starts with `+`.
    let mut buf = [0u8; MAX_DIGITS];
    let mut len = 0;
    let mut plus = false;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                *buf.get_mut(len)? = b;
                len += 1;
            }
            b'+' if i == 0 => plus = true,
            b' ' | b'-' | b'.' | b'(' | b')' | b'/' => {}
            _ => return None,
        }
    }
    // Fewer than three digits: libphonenumber's viability rules decide.
    if len < 3 {
        return None;
    }
    let digits = std::str::from_utf8(&buf[..len]).ok()?;

    let default = match region {
        Some(r) => Some(validator.rules(r)?),
        None => None,
    };
    if !plus && default.is_none() {
        return None;
    }

    // maybe_extract_country_code
    let international = if plus {
        Some(digits)
    } else {
        // Checked above: a text without `+` has a default region here.
        strip_idd(default.as_deref()?, digits)
    };
    let (country_code, national): (i32, Cow<'_, str>) = match international {
        Some(rest) => {
            if rest.len() <= MIN_NSN {
                return Some(Parsed::Error);
            }
            let (code, national) = extract_country_code(rest)?;
            (code, Cow::Borrowed(national))
        }
        None => {
            let default = default.as_deref()?;
            match digits.strip_prefix(default.code_digits.as_str()) {
                Some(potential) => {
                    let stripped = strip_national_prefix(default, potential)?;
                    if (!default.matches_general(digits) && default.matches_general(&stripped))
                        || default.test_length(digits) == Length::TooLong
                    {
                        (default.country_code, Cow::Owned(stripped.into_owned()))
                    } else {
                        (0, Cow::Borrowed(digits))
                    }
                }
                None => (0, Cow::Borrowed(digits)),
            }
        }
    };

    // The metadata of the number's region.
    let (country_code, metadata) = if country_code != 0 {
        let number_region = region_for_country_code(country_code)?;
        if Some(number_region) == region {
            (country_code, default?)
        } else if number_region == Region::World {
            return None;
        } else {
            (country_code, validator.rules(number_region)?)
        }
    } else {
        let default = default?;
        (default.country_code, default)
    };
    if national.len() < MIN_NSN {
        return Some(Parsed::Error);
    }
    let potential = strip_national_prefix(&metadata, &national)?;
    let national = match metadata.test_length(&potential) {
        Length::PossibleLocalOnly | Length::TooShort | Length::Invalid => national.as_ref(),
        Length::Possible | Length::TooLong => potential.as_ref(),
    };
    if !(MIN_NSN..=MAX_NSN).contains(&national.len()) {
        return Some(Parsed::Error);
    }

    let mut number = PhoneNumber {
        country_code,
        ..PhoneNumber::default()
    };
    // get_italian_leading_zeros_for_phone_number
    let zeros = national.bytes().take_while(|&b| b == b'0').count();
    if zeros > 0 {
        let zeros = if zeros == national.len() {
            zeros - 1
        } else {
            zeros
        };
        number.italian_leading_zero = Some(true);
        if zeros > 1 {
            number.number_of_leading_zeros = Some(i32::try_from(zeros).ok()?);
        }
    }
    number.national_number = national.parse().ok()?;
    Some(Parsed::Number(number))
}

/// libphonenumber's `parse_prefix_as_idd`: the digits after the region's international
/// prefix, unless the next digit is a 0 (no country calling code starts with 0).
fn strip_idd<'a>(rules: &RegionRules, digits: &'a str) -> Option<&'a str> {
    let rest = &digits[rules.idd_end(digits)?..];
    (!rest.starts_with('0')).then_some(rest)
}

/// libphonenumber's `extract_country_code`: the first 1 to 3 digits that are a known country
/// calling code, and the rest. `None` when there is none (libphonenumber then retries in
/// ways this module does not replay).
fn extract_country_code(digits: &str) -> Option<(i32, &str)> {
    if digits.starts_with('0') {
        return None;
    }
    let mut code = 0;
    for (len, digit) in digits.bytes().take(3).enumerate() {
        code = code * 10 + i32::from(digit - b'0');
        if region_for_country_code(code).is_some() {
            return Some((code, &digits[len + 1..]));
        }
    }
    None
}

/// libphonenumber's `get_region_for_country_code` (the main region of a country calling code),
/// from a table of the codes below 1000 (all of them) built once.
fn region_for_country_code(code: i32) -> Option<Region> {
    static REGIONS: LazyLock<Vec<Option<Region>>> = LazyLock::new(|| {
        (0..1000)
            .map(|code| PHONE_NUMBER_UTIL.get_region_for_country_code(code))
            .collect()
    });
    match usize::try_from(code) {
        Ok(at) if at < REGIONS.len() => REGIONS[at],
        _ => PHONE_NUMBER_UTIL.get_region_for_country_code(code),
    }
}

/// libphonenumber's `maybe_strip_national_prefix_and_carrier_code` (the number only).
fn strip_national_prefix<'a>(rules: &RegionRules, number: &'a str) -> Option<Cow<'a, str>> {
    if number.is_empty() {
        return Some(Cow::Borrowed(number));
    }
    // libphonenumber checks the original number against the general pattern before matching
    // the prefix; it only matters once a prefix matched, so it is checked then.
    let keep_viable =
        |candidate: &str| rules.matches_general(number) && !rules.matches_general(candidate);
    let (pattern, transform) = match rules.national_prefix() {
        None => return Some(Cow::Borrowed(number)),
        Some(NationalPrefix::Literals(literals)) => {
            let Some(prefix) = literals.iter().find(|l| number.starts_with(l.as_str())) else {
                return Some(Cow::Borrowed(number));
            };
            let stripped = &number[prefix.len()..];
            if keep_viable(stripped) {
                return Some(Cow::Borrowed(number));
            }
            return Some(Cow::Borrowed(stripped));
        }
        Some(NationalPrefix::Pattern(pattern, transform, dfa)) => {
            if dfa.is_some_and(|dfa| !dfa.matches_prefix(number.as_bytes())) {
                return Some(Cow::Borrowed(number));
            }
            (pattern, transform)
        }
    };
    let end = if transform.is_empty() {
        // Without a transform rule the groups do not matter: the match's end is enough (the
        // same leftmost-first match, found without resolving the groups).
        match pattern.find(number) {
            Some(found) => found.end(),
            None => return Some(Cow::Borrowed(number)),
        }
    } else {
        let Some(captures) = pattern.captures(number) else {
            return Some(Cow::Borrowed(number));
        };
        let first = captures.get(1);
        let second = captures.get(2);
        let transforms = |first: &regex::Match<'_>| {
            second.is_some_and(|c| !c.is_empty()) || (!first.is_empty() && second.is_none())
        };
        if first.filter(transforms).is_some() {
            let replaced = pattern.replace(number, transform);
            if keep_viable(&replaced) {
                return Some(Cow::Borrowed(number));
            }
            return Some(Cow::Owned(replaced.into_owned()));
        }
        captures.get(0)?.end()
    };
    let stripped = &number[end..];
    if keep_viable(stripped) {
        return Some(Cow::Borrowed(number));
    }
    Some(Cow::Borrowed(stripped))
}
