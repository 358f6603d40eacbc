//! Phone numbers to E.164, with libphonenumber's rules (the `rlibphonenumber` port) and its
//! metadata.
//!
//! Country, in order of precedence:
//! 1. a number written with `+` (or an international call prefix) carries its own country code;
//! 2. else the row's country (ISO 3166-1 alpha-2, any case), e.g. from a country column;
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
//! Only numbers libphonenumber considers *valid* (right length and a known number range of
//! the region) are accepted. The result is the E.164 number: country code, national
//! significant number (Italian leading zeros kept), extensions dropped.
//!
//! ```
//! use audex_plugin_sdk::kernels::phone::{Country, PhoneError, PhoneNormalizer, RowCountry};
//!
//! let mut phones = PhoneNormalizer::new();
//! let us = Country::from_iso2("US");
//! let gb = RowCountry::Known(Country::from_iso2("gb").expect("a country"));
//! assert_eq!(phones.e164("(202) 555-0173", RowCountry::Absent, us)?.digits(), "12025550173");
//! assert_eq!(phones.e164("+44 (0)20 7946 0958", RowCountry::Absent, us)?.to_string(), "+442079460958");
//! assert_eq!(phones.e164("020 7946 0958", gb, us)?.digits(), "442079460958");
//! assert_eq!(phones.e164("555-0173", RowCountry::Absent, None), Err(PhoneError::MissingCountry));
//! assert_eq!(phones.e164("+1 (555) 987-6543", RowCountry::Absent, us), Err(PhoneError::Invalid));
//! # Ok::<(), PhoneError>(())
//! ```
//!
//! Speed: libphonenumber's `parse` and `is_valid_number` run one regex after another (about
//! 300k numbers/s in a plugin). Numbers written with ASCII digits, spaces, `-`, `.`, `(`,
//! `)`, `/` and an optional leading `+` are parsed by a fast path that replays libphonenumber's
//! parsing steps with the region's own metadata, and every parsed number is validated by a
//! fast check that joins the region's number-type patterns into one pattern per length. The
//! patterns are matched by digit automata built once from them (one table lookup per digit).
//! All of it answers exactly as libphonenumber does (differential tests check it on every
//! region) and leaves anything else to it.

use std::fmt;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray, StringArray};
use arrow_schema::DataType;
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber, Region};

use super::KernelError;
use super::strings::{STRING_TYPES, Strs, StrsVisitor, is_trimmed_char, trim, visit_strings};

mod dfa;
mod fast;
#[cfg(test)]
mod tests;
mod valid;

use valid::Validator;

/// The types [`e164_array`] accepts for the phone column, for error messages.
pub const PHONE_TYPES: &str = "Utf8, LargeUtf8, Utf8View or a Dictionary of one of them (or Null), \
     Int64, UInt64 or Decimal128 with scale 0";

/// A country whose phone numbers libphonenumber knows: an ISO 3166-1 alpha-2 code with
/// numbering metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(Region);

impl Country {
    /// The country of an ISO 3166-1 alpha-2 code (any case, surrounding whitespace ignored),
    /// if libphonenumber has numbering metadata for it. `"US"`, `"gb"` and `" DE "` are
    /// countries; `"XX"`, `"UK"` (the ISO code is `GB`), `"USA"` and `""` are not.
    pub fn from_iso2(code: &str) -> Option<Country> {
        Country::from_iso2_bytes(code.as_bytes())
    }

    /// [`from_iso2`](Self::from_iso2) over the UTF-8 bytes of a code.
    pub fn from_iso2_bytes(code: &[u8]) -> Option<Country> {
        let code = trim(code);
        if code.len() != 2 || !code.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let region = Region::from_code(std::str::from_utf8(code).ok()?).ok()?;
        PHONE_NUMBER_UTIL
            .get_country_code_for_region(region)
            .is_some()
            .then_some(Country(region))
    }

    /// The upper-case ISO 3166-1 alpha-2 code, e.g. `GB`.
    pub fn iso2(self) -> String {
        self.0.as_region_str().to_string()
    }

    /// The country calling code, e.g. 44 for GB.
    pub fn calling_code(self) -> u32 {
        PHONE_NUMBER_UTIL
            .get_country_code_for_region(self.0)
            .map_or(0, i32::unsigned_abs)
    }
}

/// A row's own country, as read from a country column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCountry {
    /// Null or empty: use the default country.
    Absent,
    /// Not a known ISO-2 code: numbers without a country code of their own are
    /// [`PhoneError::InvalidCountry`].
    Invalid,
    /// A country libphonenumber has metadata for.
    Known(Country),
}

impl RowCountry {
    /// The row country of a country column's value (`None` for null).
    pub fn of(value: Option<&[u8]>) -> RowCountry {
        match value.map(trim) {
            None | Some([]) => RowCountry::Absent,
            Some(code) => {
                Country::from_iso2_bytes(code).map_or(RowCountry::Invalid, RowCountry::Known)
            }
        }
    }
}

/// Resolves a country column (a string column or `Null`) into one [`RowCountry`] per row,
/// replacing the content of `out` (whose allocation is reused).
pub fn row_countries(column: &dyn Array, out: &mut Vec<RowCountry>) -> Result<(), KernelError> {
    out.clear();
    visit_strings(column, ResolveCountries { cells: out }).ok_or_else(|| {
        KernelError::UnsupportedType {
            column: "country",
            data_type: column.data_type().clone(),
            expected: STRING_TYPES,
        }
    })
}

/// Resolves a country column into one [`RowCountry`] per row.
struct ResolveCountries<'a> {
    cells: &'a mut Vec<RowCountry>,
}

impl StrsVisitor for ResolveCountries<'_> {
    type Output = ();

    fn visit<S: Strs>(self, strs: &S) {
        self.cells
            .extend((0..strs.len()).map(|i| RowCountry::of(strs.get(i))));
    }
}

/// Why a phone number has no E.164 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum PhoneError {
    /// The value is empty or only whitespace.
    #[error("empty")]
    Empty,
    /// libphonenumber does not consider the number valid (too short, too long, unknown area
    /// code or country calling code, not a number...).
    #[error("invalid_phone")]
    Invalid,
    /// The number has no `+` or international prefix, and there is neither a row country nor
    /// a default country, so its country code cannot be known.
    #[error("missing_country")]
    MissingCountry,
    /// The row's country is not a known ISO 3166-1 alpha-2 code (and the number carries no
    /// country code of its own).
    #[error("invalid_country")]
    InvalidCountry,
}

impl PhoneError {
    /// A stable snake_case code for reports: `empty`, `invalid_phone`, `missing_country` or
    /// `invalid_country`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PhoneError::Empty => "empty",
            PhoneError::Invalid => "invalid_phone",
            PhoneError::MissingCountry => "missing_country",
            PhoneError::InvalidCountry => "invalid_country",
        }
    }
}

/// A phone number in E.164 form. [`digits`](Self::digits) is the form without `+` (what
/// Facebook hashes); `Display` writes the canonical form with `+`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct E164 {
    digits: [u8; 48],
    len: usize,
}

impl E164 {
    /// The country code and national significant number, without `+`: `442079460958`.
    pub fn digits(&self) -> &str {
        // Only ASCII digits are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// [`digits`](Self::digits) as bytes, e.g. to hash.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+{}", self.digits())
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164(+{})", self.digits())
    }
}

/// Normalizes phone numbers to E.164 (see the [module documentation](self)).
///
/// Keep one per column and reuse it: it holds a scratch buffer and a memo of the regions'
/// compiled rules, so steady-state normalization does not allocate.
#[derive(Debug, Clone, Default)]
pub struct PhoneNormalizer {
    /// A number being rewritten (`00` international prefix to `+`).
    text: String,
    /// The fast validity check (its per-region rules).
    validator: Validator,
}

impl PhoneNormalizer {
    /// A normalizer with the fast paths.
    pub fn new() -> Self {
        Self::default()
    }

    /// A normalizer that asks libphonenumber itself for every number, without the fast
    /// paths: same answers, several times slower. For differential tests.
    pub fn library_only() -> Self {
        PhoneNormalizer {
            text: String::new(),
            validator: Validator::library_only(),
        }
    }

    /// The E.164 form of `raw` (trimmed first), with `row` the row's own country and
    /// `default` the default country; see the [module documentation](self) for the
    /// precedence.
    pub fn e164(
        &mut self,
        raw: &str,
        row: RowCountry,
        default: Option<Country>,
    ) -> Result<E164, PhoneError> {
        let value = raw.trim_matches(is_trimmed_char);
        if value.is_empty() {
            return Err(PhoneError::Empty);
        }
        let region = match row {
            RowCountry::Known(country) => Some(country.0),
            RowCountry::Absent => default.map(|c| c.0),
            RowCountry::Invalid => None,
        };
        let lead = lead(value);
        let validator = &mut self.validator;
        let number = match (lead, region) {
            (Lead::NoDigits, _) => return Err(PhoneError::Invalid),
            (Lead::National, None) => {
                return Err(if row == RowCountry::Invalid {
                    PhoneError::InvalidCountry
                } else {
                    PhoneError::MissingCountry
                });
            }
            // Nothing to parse `00` against: read it as the international prefix straight away.
            (Lead::DoubleZero(_), None) => None,
            (_, region) => parse_valid(value, region, validator),
        };
        let number = match (number, lead) {
            (Some(number), _) => number,
            (None, Lead::DoubleZero(rest)) => {
                let text = &mut self.text;
                text.clear();
                text.push('+');
                text.push_str(&value[rest..]);
                parse_valid(text, region, validator).ok_or(PhoneError::Invalid)?
            }
            (None, _) => return Err(PhoneError::Invalid),
        };
        Ok(number)
    }

    /// [`e164`](Self::e164) for a number stored as an integer (as warehouses often store
    /// phones): its decimal digits are the text. An integer cannot hold a `+` or a leading
    /// `0`, so it needs a country unless it starts with that country's code. Zero and
    /// negative values are [`PhoneError::Invalid`].
    pub fn e164_integer(
        &mut self,
        value: i128,
        row: RowCountry,
        default: Option<Country>,
    ) -> Result<E164, PhoneError> {
        if value <= 0 {
            return Err(PhoneError::Invalid);
        }
        let mut digits = [0u8; 40];
        let text = write_decimal(value.unsigned_abs(), &mut digits);
        self.e164(text, row, default)
    }
}

/// How [`e164_array`] writes numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E164Style {
    /// Digits only, no `+`: `442079460958` (Facebook's form).
    Digits,
    /// The canonical form with `+`: `+442079460958` (Google's form).
    Plus,
}

/// The output of [`e164_array`]: one value per row, or why the row has none.
#[derive(Debug, Clone)]
pub struct E164Column {
    /// The E.164 numbers; null where the input row was null or rejected.
    pub values: StringArray,
    /// Per row, why it was rejected (`None`: accepted, or null in the input).
    pub errors: Vec<Option<PhoneError>>,
}

/// Normalizes a phone column to E.164.
///
/// `phones` is a string column (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of them,
/// `Null`) or an integer column (`Int64`, `UInt64`, `Decimal128(_, 0)`). `countries` is an
/// optional per-row country column (ISO 3166-1 alpha-2, any case; null or empty means "use
/// `default_country`") of the same length. `default_country` is an ISO-2 code.
///
/// ```
/// use arrow_array::{Array, StringArray};
/// use audex_plugin_sdk::kernels::phone::{e164_array, E164Style, PhoneError};
///
/// let phones = StringArray::from(vec![Some("(202) 555-0173"), Some("020 7946 0958"), Some("n/a"), None]);
/// let countries = StringArray::from(vec![None, Some("GB"), None, None]);
/// let out = e164_array(&phones, Some(&countries), Some("US"), E164Style::Plus)?;
/// assert_eq!(out.values.value(0), "+12025550173");
/// assert_eq!(out.values.value(1), "+442079460958");
/// assert!(out.values.is_null(2) && out.values.is_null(3));
/// assert_eq!(out.errors, [None, None, Some(PhoneError::Invalid), None]);
/// # Ok::<(), audex_plugin_sdk::kernels::KernelError>(())
/// ```
///
/// Errors (the whole batch): an unsupported type for either column, columns of different
/// lengths, or an unknown `default_country`.
pub fn e164_array(
    phones: &dyn Array,
    countries: Option<&dyn Array>,
    default_country: Option<&str>,
    style: E164Style,
) -> Result<E164Column, KernelError> {
    let default = match default_country {
        None => None,
        Some(code) => Some(
            Country::from_iso2(code)
                .ok_or_else(|| KernelError::InvalidDefaultCountry(code.to_owned()))?,
        ),
    };
    if let Some(countries) = countries
        && countries.len() != phones.len()
    {
        return Err(KernelError::LengthMismatch {
            phone: phones.len(),
            country: countries.len(),
        });
    }
    let mut cells = Vec::new();
    if let Some(countries) = countries {
        row_countries(countries, &mut cells)?;
    }
    let mut rows = E164Rows {
        cells: &cells,
        default,
        normalizer: PhoneNormalizer::new(),
        style,
        values: StringBuilder::with_capacity(phones.len(), phones.len() * 13),
        errors: Vec::with_capacity(phones.len()),
        text: String::new(),
    };
    match phones.data_type() {
        DataType::Int64 => rows.integers(phones.as_primitive::<Int64Type>()),
        DataType::UInt64 => rows.integers(phones.as_primitive::<UInt64Type>()),
        DataType::Decimal128(_, 0) => rows.integers(phones.as_primitive::<Decimal128Type>()),
        _ => {
            rows = visit_strings(phones, rows).ok_or_else(|| KernelError::UnsupportedType {
                column: "phone",
                data_type: phones.data_type().clone(),
                expected: PHONE_TYPES,
            })?;
        }
    }
    Ok(E164Column {
        values: rows.values.finish(),
        errors: rows.errors,
    })
}

/// The state of one [`e164_array`] run.
struct E164Rows<'a> {
    cells: &'a [RowCountry],
    default: Option<Country>,
    normalizer: PhoneNormalizer,
    style: E164Style,
    values: StringBuilder,
    errors: Vec<Option<PhoneError>>,
    text: String,
}

impl E164Rows<'_> {
    fn push(&mut self, result: Option<Result<E164, PhoneError>>) {
        match result {
            None => {
                self.values.append_null();
                self.errors.push(None);
            }
            Some(Ok(number)) => {
                self.text.clear();
                if self.style == E164Style::Plus {
                    self.text.push('+');
                }
                self.text.push_str(number.digits());
                self.values.append_value(&self.text);
                self.errors.push(None);
            }
            Some(Err(e)) => {
                self.values.append_null();
                self.errors.push(Some(e));
            }
        }
    }

    fn cell(&self, row: usize) -> RowCountry {
        self.cells.get(row).copied().unwrap_or(RowCountry::Absent)
    }

    fn integers<T>(&mut self, array: &PrimitiveArray<T>)
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i128>,
    {
        for (row, &value) in array.values().iter().enumerate() {
            let result = (!array.is_null(row)).then(|| {
                let cell = self.cell(row);
                self.normalizer
                    .e164_integer(value.into(), cell, self.default)
            });
            self.push(result);
        }
    }
}

impl StrsVisitor for E164Rows<'_> {
    type Output = Self;

    fn visit<S: Strs>(mut self, strs: &S) -> Self {
        for row in 0..strs.len() {
            let result = strs.get(row).map(|raw| {
                let cell = self.cell(row);
                match std::str::from_utf8(raw) {
                    Ok(raw) => self.normalizer.e164(raw, cell, self.default),
                    // Arrow string arrays are valid UTF-8: unreachable, but not worth a panic.
                    Err(_) => Err(PhoneError::Invalid),
                }
            });
            self.push(result);
        }
        self
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

/// The E.164 form of the number libphonenumber parses from `text` in `region`, if it is a
/// valid number. Parsing and validity are libphonenumber's `parse` and `is_valid_number`,
/// replayed by the fast paths of `phone/fast.rs` and `phone/valid.rs` for the common shapes of
/// numbers (same metadata, same patterns, same results), by libphonenumber itself for the
/// others.
fn parse_valid(text: &str, region: Option<Region>, validator: &mut Validator) -> Option<E164> {
    let number = match fast::parse(text, region, validator) {
        Some(fast::Parsed::Number(number)) => number,
        Some(fast::Parsed::Error) => return None,
        None => PHONE_NUMBER_UTIL.parse(text, region).ok()?,
    };
    let mut digits = [0u8; 48];
    let len = e164_digits(&number, &mut digits).len();
    // E.164 is the country code followed by the national significant number.
    let code_len = decimal_len(u64::from(number.country_code.unsigned_abs()));
    let nsn = std::str::from_utf8(&digits[code_len.min(len)..len]).unwrap_or_default();
    let valid = validator
        .is_valid(&number, nsn)
        .unwrap_or_else(|| PHONE_NUMBER_UTIL.is_valid_number(&number));
    valid.then_some(E164 { digits, len })
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
    push(write_u64(
        u64::from(number.country_code.unsigned_abs()),
        &mut tmp,
    ));
    if number.italian_leading_zero() {
        // As libphonenumber formats them: at least 0, at most 10 zeros.
        let zeros = usize::try_from(number.number_of_leading_zeros())
            .unwrap_or(0)
            .min(10);
        push(&[b'0'; 10][..zeros]);
    }
    push(write_u64(number.national_number, &mut tmp));
    &buf[..len]
}

/// The number of decimal digits of `value`.
fn decimal_len(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Writes the decimal digits of `value` at the end of `buf` and returns them (64-bit
/// arithmetic: a 128-bit division is a slow library call, in WebAssembly above all).
fn write_u64(mut value: u64, buf: &mut [u8; 40]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[at..]
}

/// Writes the decimal digits of `value` at the end of `buf` and returns them.
fn write_decimal(value: u128, buf: &mut [u8; 40]) -> &str {
    let digits = match u64::try_from(value) {
        Ok(small) => write_u64(small, buf),
        Err(_) => {
            let (mut value, mut at) = (value, buf.len());
            loop {
                at -= 1;
                buf[at] = b'0' + (value % 10) as u8;
                value /= 10;
                if value == 0 {
                    break;
                }
            }
            &buf[at..]
        }
    };
    // Only ASCII digits were written.
    std::str::from_utf8(digits).unwrap_or_default()
}
