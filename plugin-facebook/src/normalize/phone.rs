//! Phones: parse and validate with libphonenumber (the `rlibphonenumber` port), E.164 digits,
//! SHA-256.
//!
//! Country, in order of precedence:
//! 1. a number written with `+` (or an international call prefix) carries its own country code;
//! 2. else the row's country (ISO 3166-1 alpha-2, any case) from the country column;
//! 3. else the default country.
//!
//! Parsing with the number's region also handles national trunk prefixes (`020 7946 0958` in GB
//! is `+44 20 7946 0958`), a trunk `0` written after the country code (`+44 (0)20 7946 0958`),
//! the region's own international prefix (`011 44 ...` from the US, `00 44 ...` from Germany)
//! and a country code written without `+` when it matches the region (`1 202 555 0123` in the
//! US). On top of that a leading `00` is read as an international prefix when the number is
//! not valid otherwise (`0044 20 7946 0958` with a US default, where the prefix is `011`), or
//! when no country is known at all: `00` is the ITU-recommended prefix and by far the most
//! common one in data.
//!
//! The output is the E.164 number without `+` (country code, national significant number,
//! Italian leading zeros kept, extensions dropped), hashed with SHA-256.
//!
//! Speed: libphonenumber's `parse` and `is_valid_number` run one regex after another (about
//! 300k numbers/s in the plugin). Numbers written with ASCII digits, spaces, `-`, `.`, `(`,
//! `)`, `/` and an optional leading `+` are parsed by `fast.rs`, which replays
//! libphonenumber's parsing steps with the region's own metadata, and every parsed number is
//! validated by `valid.rs`, which joins the region's number-type patterns into one regex per
//! length. Both answer exactly as libphonenumber does (differential tests in `tests.rs`) and
//! leave anything else to it.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber, Region};

use super::column::Scratch;
use super::digest::{PendingDigests, copy_digest_lowercase, is_digest_shaped};
use super::input::{STRING_TYPES, Strs, StrsVisitor, is_trimmed_char, trim, visit_strings};
use super::{DIGEST_WIDTH, KernelError, NormalizedColumn, Reason};

/// The types [`phones`] accepts for the phone column, for error messages.
const PHONE_TYPES: &str = "Utf8, LargeUtf8, Utf8View or a Dictionary of one of them (or Null), \
     Int64, UInt64 or Decimal128 with scale 0";

/// Normalizes and hashes a phone column into `out` (width [`DIGEST_WIDTH`]).
///
/// `country` is an optional per-row country column (ISO 3166-1 alpha-2, any case, trimmed;
/// null or empty means "use `default_country`"); it must have as many rows as `input`.
/// `default_country` is the pipeline's default (see [`validate_default_country`]).
///
/// Per row: trim; a value that is then exactly 64 hex digits passes through lower-cased (an
/// already-hashed phone); otherwise parse it with libphonenumber in the row's country (see the
/// module documentation for the precedence) and hash the E.164 digits of a number
/// libphonenumber considers *valid*. Rejected: null ([`Reason::Missing`]), empty or
/// whitespace-only ([`Reason::Empty`]), no country known ([`Reason::MissingCountry`]), a row
/// country that is not a known ISO-2 code for a number that needs one
/// ([`Reason::InvalidCountry`]), anything else libphonenumber rejects ([`Reason::InvalidPhone`]).
///
/// The phone column may be a string column (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of
/// them, `Null`) or an integer column (`Int64`, `UInt64`, `Decimal128(_, 0)`, as warehouses often store
/// phones), whose decimal digits are parsed like a string (an integer cannot hold a `+` or a
/// leading `0`, so it needs a country unless it starts with the country code of that country).
///
/// The country column may be a string column or `Null` (no row countries).
///
/// Errors (the whole batch, `out` is left empty): an unsupported type for either column,
/// columns of different lengths, an unknown `default_country`, or an output column of the
/// wrong width.
pub fn phones(
    input: &dyn Array,
    country: Option<&dyn Array>,
    default_country: Option<&str>,
    out: &mut NormalizedColumn,
) -> Result<(), KernelError> {
    let result = run(input, country, default_country, out);
    if result.is_err() {
        out.clear();
    }
    result
}

/// The body of [`phones`].
fn run(
    input: &dyn Array,
    country: Option<&dyn Array>,
    default_country: Option<&str>,
    out: &mut NormalizedColumn,
) -> Result<(), KernelError> {
    let default = match default_country {
        None => None,
        Some(code) => Some(
            region_of(code.as_bytes())
                .ok_or_else(|| KernelError::InvalidDefaultCountry(code.to_owned()))?,
        ),
    };
    if let Some(country) = country
        && country.len() != input.len()
    {
        return Err(KernelError::LengthMismatch {
            phone: input.len(),
            country: country.len(),
        });
    }
    out.begin("phone", DIGEST_WIDTH, input.len())?;

    let NormalizedColumn {
        values,
        rejected,
        scratch,
        ..
    } = out;
    let Scratch {
        text,
        countries,
        validator,
        pending,
        ..
    } = scratch;
    pending.clear();
    let countries = match country {
        None => None,
        Some(column) => {
            countries.clear();
            visit_strings(column, ResolveCountries { cells: countries }).ok_or_else(|| {
                KernelError::UnsupportedType {
                    column: "country",
                    data_type: column.data_type().clone(),
                    expected: STRING_TYPES,
                }
            })?;
            Some(countries.as_slice())
        }
    };
    let (slots, _) = values.as_chunks_mut::<DIGEST_WIDTH>();
    let mut rows = Rows {
        slots: &mut *slots,
        rejected,
        countries,
        default,
        text,
        validator,
        pending: &mut *pending,
    };

    match input.data_type() {
        DataType::Int64 => rows.integers(input.as_primitive::<Int64Type>()),
        DataType::UInt64 => rows.integers(input.as_primitive::<UInt64Type>()),
        DataType::Decimal128(_, 0) => rows.integers(input.as_primitive::<Decimal128Type>()),
        _ => visit_strings(input, rows).ok_or_else(|| KernelError::UnsupportedType {
            column: "phone",
            data_type: input.data_type().clone(),
            expected: PHONE_TYPES,
        })?,
    }
    pending.hash_into(slots);
    Ok(())
}

/// Whether `code` is a country the phone kernel knows: an ISO 3166-1 alpha-2 code (any case,
/// surrounding whitespace ignored) for which libphonenumber has numbering metadata. `"US"`,
/// `"gb"` and `" DE "` are; `"XX"`, `"UK"` (the ISO code is `GB`), `"USA"` and `""` are not.
pub fn validate_default_country(code: &str) -> bool {
    region_of(code.as_bytes()).is_some()
}

/// The row country of the phone kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountryCell {
    /// Null or empty: use the default country.
    Absent,
    /// Not a known ISO-2 code.
    Invalid,
    /// A country libphonenumber has metadata for.
    Known(Region),
}

/// The libphonenumber region of an ISO-2 country code, if it has numbering metadata.
fn region_of(code: &[u8]) -> Option<Region> {
    let code = trim(code);
    if code.len() != 2 || !code.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let region = Region::from_code(std::str::from_utf8(code).ok()?).ok()?;
    PHONE_NUMBER_UTIL
        .get_country_code_for_region(region)
        .is_some()
        .then_some(region)
}

/// Resolves a country column into one [`CountryCell`] per row.
struct ResolveCountries<'a> {
    cells: &'a mut Vec<CountryCell>,
}

impl StrsVisitor for ResolveCountries<'_> {
    type Output = ();

    fn visit<S: Strs>(self, strs: &S) {
        self.cells
            .extend((0..strs.len()).map(|i| match strs.get(i).map(trim) {
                None | Some([]) => CountryCell::Absent,
                Some(code) => region_of(code).map_or(CountryCell::Invalid, CountryCell::Known),
            }));
    }
}

/// The per-row state of one [`phones`] run.
struct Rows<'a> {
    slots: &'a mut [[u8; DIGEST_WIDTH]],
    rejected: &'a mut [Option<Reason>],
    countries: Option<&'a [CountryCell]>,
    default: Option<Region>,
    text: &'a mut String,
    validator: &'a mut Validator,
    /// The E.164 digits to hash (all at the end of the batch in WebAssembly, see
    /// [`PendingDigests`]).
    pending: &'a mut PendingDigests,
}

impl Rows<'_> {
    #[inline]
    fn country(&self, row: usize) -> CountryCell {
        self.countries
            .map_or(CountryCell::Absent, |cells| cells[row])
    }

    /// Normalizes the (non-null) text of `row`.
    #[inline]
    fn row(&mut self, row: usize, raw: &str) {
        let cell = self.country(row);
        let result = normalize(raw, cell, self.default, self.text, self.validator);
        match result {
            Ok(Normalized::PreHashed(digest)) => {
                copy_digest_lowercase(digest.as_bytes(), &mut self.slots[row]);
            }
            Ok(Normalized::E164(digits, len)) => {
                let start = self.pending.data.len();
                self.pending.data.extend_from_slice(&digits[..len]);
                self.pending.push_from(row, start, self.slots);
            }
            Err(reason) => self.rejected[row] = Some(reason),
        }
    }

    /// An integer column: each value's decimal digits are the number's text.
    fn integers<T>(&mut self, array: &PrimitiveArray<T>)
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i128>,
    {
        let mut digits = [0u8; 40];
        for (row, &value) in array.values().iter().enumerate() {
            if array.is_null(row) {
                self.rejected[row] = Some(Reason::Missing);
                continue;
            }
            let value: i128 = value.into();
            if value <= 0 {
                self.rejected[row] = Some(Reason::InvalidPhone);
                continue;
            }
            let text = write_decimal(value.unsigned_abs(), &mut digits);
            self.row(row, text);
        }
    }
}

impl StrsVisitor for Rows<'_> {
    type Output = ();

    fn visit<S: Strs>(mut self, strs: &S) {
        for row in 0..strs.len() {
            match strs.get(row).map(std::str::from_utf8) {
                None => self.rejected[row] = Some(Reason::Missing),
                Some(Ok(raw)) => self.row(row, raw),
                // Arrow string arrays are valid UTF-8: unreachable, but not worth a panic.
                Some(Err(_)) => self.rejected[row] = Some(Reason::InvalidPhone),
            }
        }
    }
}

/// How a number starts, which decides whether it needs a country from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// `+` (or a full-width `＋`): the number carries its own country code.
    Plus,
    /// `00`, the common international call prefix; the rest of the text starts at this offset.
    DoubleZero(usize),
    /// Anything else: a national number (or a country code without `+`).
    National,
    /// No digit at all: not a phone number.
    NoDigits,
}

fn lead(text: &str) -> Lead {
    for (at, c) in text.char_indices() {
        match c {
            '+' | '\u{ff0b}' => return Lead::Plus,
            '0' if text[at + 1..].starts_with('0') => return Lead::DoubleZero(at + 2),
            c if c.is_numeric() => return Lead::National,
            _ => {}
        }
    }
    Lead::NoDigits
}

/// Normalizes one phone number, or says why it is rejected. `text` is a reusable buffer.
fn normalize<'a>(
    raw: &'a str,
    cell: CountryCell,
    default: Option<Region>,
    text: &mut String,
    validator: &mut Validator,
) -> Result<Normalized<'a>, Reason> {
    let value = raw.trim_matches(is_trimmed_char);
    if value.is_empty() {
        return Err(Reason::Empty);
    }
    if is_digest_shaped(value.as_bytes()) {
        return Ok(Normalized::PreHashed(value));
    }
    let region = match cell {
        CountryCell::Known(region) => Some(region),
        CountryCell::Absent => default,
        CountryCell::Invalid => None,
    };
    let lead = lead(value);
    let number = match (lead, region) {
        (Lead::NoDigits, _) => return Err(Reason::InvalidPhone),
        (Lead::National, None) => {
            return Err(if cell == CountryCell::Invalid {
                Reason::InvalidCountry
            } else {
                Reason::MissingCountry
            });
        }
        // Nothing to parse `00` against: read it as the international prefix straight away.
        (Lead::DoubleZero(_), None) => None,
        (_, region) => parse_valid(value, region, validator),
    };
    let number = match (number, lead) {
        (Some(number), _) => number,
        (None, Lead::DoubleZero(rest)) => {
            text.clear();
            text.push('+');
            text.push_str(&value[rest..]);
            parse_valid(text, region, validator).ok_or(Reason::InvalidPhone)?
        }
        (None, _) => return Err(Reason::InvalidPhone),
    };
    let mut digits = [0u8; 48];
    let len = e164_digits(&number, &mut digits).len();
    Ok(Normalized::E164(digits, len))
}

/// A normalized phone number.
enum Normalized<'a> {
    /// The trimmed input is already a digest (any case).
    PreHashed(&'a str),
    /// E.164 digits without `+` (the first `len` bytes), to hash.
    E164([u8; 48], usize),
}

/// The number libphonenumber parses from `text` in `region`, if it is a valid number.
/// Parsing and validity are libphonenumber's `parse` and `is_valid_number`, replayed by the
/// fast paths of `phone/fast.rs` and `phone/valid.rs` for the common shapes of numbers (same
/// metadata, same regex engine, same results), by libphonenumber itself for the others.
fn parse_valid(
    text: &str,
    region: Option<Region>,
    validator: &mut Validator,
) -> Option<PhoneNumber> {
    let number = match fast::parse(text, region, validator) {
        Some(fast::Parsed::Number(number)) => number,
        Some(fast::Parsed::Error) => return None,
        None => PHONE_NUMBER_UTIL.parse(text, region).ok()?,
    };
    is_valid(&number, validator).then_some(number)
}

/// libphonenumber's `is_valid_number(number)`, through the fast [`Validator`] when it can
/// tell.
fn is_valid(number: &PhoneNumber, validator: &mut Validator) -> bool {
    let mut digits = [0u8; 48];
    let e164 = e164_digits(number, &mut digits);
    let mut tmp = [0u8; 40];
    let code_len = write_decimal(number.country_code.unsigned_abs().into(), &mut tmp).len();
    // E.164 is the country code followed by the national significant number.
    let nsn = std::str::from_utf8(&e164[code_len.min(e164.len())..]).unwrap_or_default();
    validator
        .is_valid(number, nsn)
        .unwrap_or_else(|| PHONE_NUMBER_UTIL.is_valid_number(number))
}

/// The E.164 digits (no `+`) of a parsed number: country code, the Italian leading zeros if
/// any, the national number. Same result as libphonenumber's E.164 format without the `+` (a
/// test checks it), without its allocation.
fn e164_digits<'a>(number: &PhoneNumber, buf: &'a mut [u8; 48]) -> &'a [u8] {
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    let mut tmp = [0u8; 40];
    push(write_decimal(number.country_code.unsigned_abs().into(), &mut tmp).as_bytes());
    if number.italian_leading_zero() {
        // As libphonenumber formats them: at least 0, at most 10 zeros.
        let zeros = usize::try_from(number.number_of_leading_zeros())
            .unwrap_or(0)
            .min(10);
        push(&[b'0'; 10][..zeros]);
    }
    push(write_decimal(number.national_number.into(), &mut tmp).as_bytes());
    &buf[..len]
}

/// Writes the decimal digits of `value` at the end of `buf` and returns them.
fn write_decimal(mut value: u128, buf: &mut [u8; 40]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

mod fast;
#[cfg(test)]
mod tests;
mod valid;

pub(super) use valid::Validator;
