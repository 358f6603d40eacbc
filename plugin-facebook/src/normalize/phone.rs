//! Phones: E.164 digits with libphonenumber's rules (the SDK's
//! [`audex_plugin_sdk::kernels::phone`]), SHA-256, Facebook's rejection reasons.
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
//! Parsing and validation are the SDK's [`PhoneNormalizer`]: libphonenumber (the
//! `rlibphonenumber` port) behind fast paths that replay its rules with its own metadata and
//! answer exactly as it does. This kernel adds what is Facebook's: already-hashed values pass
//! through, the E.164 digits are hashed, and failures become [`Reason`]s.

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, UInt64Type};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::DataType;
use audex_plugin_sdk::kernels::phone::{
    self as sdk, Country, PHONE_TYPES, PhoneError, PhoneNormalizer, RowCountry,
};

use super::column::Scratch;
use super::digest::{PendingDigests, copy_digest_lowercase, is_digest_shaped};
use super::input::{STRING_TYPES, Strs, StrsVisitor, is_trimmed_char, visit_strings};
use super::{DIGEST_WIDTH, KernelError, NormalizedColumn, Reason};

/// The phone kernel's normalizer: the SDK's, with its fast paths (tests swap in
/// `Validator::library_only()` to compare with libphonenumber alone).
pub(super) use audex_plugin_sdk::kernels::phone::PhoneNormalizer as Validator;

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
            Country::from_iso2(code)
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
        countries,
        validator,
        pending,
        ..
    } = scratch;
    pending.clear();
    let countries = match country {
        None => None,
        Some(column) => {
            sdk::row_countries(column, countries).map_err(|_| KernelError::UnsupportedType {
                column: "country",
                data_type: column.data_type().clone(),
                expected: STRING_TYPES,
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
        normalizer: validator,
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
    Country::from_iso2(code).is_some()
}

/// Facebook's reason for a phone the SDK could not normalize.
fn reason(error: PhoneError) -> Reason {
    match error {
        PhoneError::Empty => Reason::Empty,
        PhoneError::Invalid => Reason::InvalidPhone,
        PhoneError::MissingCountry => Reason::MissingCountry,
        PhoneError::InvalidCountry => Reason::InvalidCountry,
    }
}

/// The per-row state of one [`phones`] run.
struct Rows<'a> {
    slots: &'a mut [[u8; DIGEST_WIDTH]],
    rejected: &'a mut [Option<Reason>],
    countries: Option<&'a [RowCountry]>,
    default: Option<Country>,
    normalizer: &'a mut PhoneNormalizer,
    /// The E.164 digits to hash (all at the end of the batch in WebAssembly, see
    /// [`PendingDigests`]).
    pending: &'a mut PendingDigests,
}

impl Rows<'_> {
    #[inline]
    fn country(&self, row: usize) -> RowCountry {
        self.countries
            .map_or(RowCountry::Absent, |cells| cells[row])
    }

    /// Normalizes the (non-null) text of `row`.
    #[inline]
    fn row(&mut self, row: usize, raw: &str) {
        let value = raw.trim_matches(is_trimmed_char);
        if is_digest_shaped(value.as_bytes()) {
            copy_digest_lowercase(value.as_bytes(), &mut self.slots[row]);
            return;
        }
        let cell = self.country(row);
        match self.normalizer.e164(value, cell, self.default) {
            Ok(number) => self.hash(row, number.as_bytes()),
            Err(error) => self.rejected[row] = Some(reason(error)),
        }
    }

    /// Queues the E.164 digits of `row` for hashing.
    #[inline]
    fn hash(&mut self, row: usize, digits: &[u8]) {
        let start = self.pending.buffer().len();
        self.pending.buffer().extend_from_slice(digits);
        self.pending.push_from(row, start, self.slots);
    }

    /// An integer column: each value's decimal digits are the number's text.
    fn integers<T>(&mut self, array: &PrimitiveArray<T>)
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i128>,
    {
        for (row, &value) in array.values().iter().enumerate() {
            if array.is_null(row) {
                self.rejected[row] = Some(Reason::Missing);
                continue;
            }
            let cell = self.country(row);
            match self
                .normalizer
                .e164_integer(value.into(), cell, self.default)
            {
                Ok(number) => self.hash(row, number.as_bytes()),
                Err(error) => self.rejected[row] = Some(reason(error)),
            }
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

#[cfg(test)]
mod tests;
