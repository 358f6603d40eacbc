//! Kernels over Arrow arrays: the normalizations most destinations ask for, fast.
//!
//! | kernel | does | per value |
//! |---|---|---|
//! | [`trim_lowercase_array`] | trims whitespace, control and invisible characters, lowercases (Unicode); blank becomes null | [`strings::trim_lowercase_into`] |
//! | [`phone::e164_array`] | phone numbers to E.164 with libphonenumber's rules and metadata (country from the number, the row or a default) | [`phone::PhoneNormalizer`] |
//! | [`sha256_hex_array`] | SHA-256, 64 lowercase hex digits (in a plugin: by the host, natively, once per batch) | [`digest::sha256_hex`], [`digest::PendingDigests`] |
//!
//! The array functions take any string layout (`Utf8`, `LargeUtf8`, `Utf8View`, dictionaries
//! of them, `Null`) and return a `Utf8` [`StringArray`] of the same length, null where the
//! input is null (or rejected). They are the simple way; the per-value building blocks in
//! [`strings`], [`phone`] and [`digest`] are for kernels that must not allocate per row
//! (write them once against [`strings::Strs`] and let [`strings::visit_strings`] pick the
//! layout).
//!
//! ```
//! use arrow_array::{Array, StringArray};
//! use audex_plugin_sdk::kernels::{sha256_hex_array, trim_lowercase_array};
//!
//! let emails = StringArray::from(vec![Some(" Mary@Example.com "), Some("   "), None]);
//! let normalized = trim_lowercase_array(&emails)?;
//! assert_eq!(normalized.value(0), "mary@example.com");
//! assert!(normalized.is_null(1) && normalized.is_null(2));
//! let hashed = sha256_hex_array(&normalized)?;
//! assert_eq!(hashed.value(0), "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79");
//! assert!(hashed.is_null(1));
//! # Ok::<(), audex_plugin_sdk::kernels::KernelError>(())
//! ```

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, StringArray};
use arrow_schema::DataType;

pub mod ascii;
pub mod bytes;
pub mod digest;
pub mod phone;
#[cfg(any(test, portable_digest_simd128))]
mod sha256x4;
pub mod strings;

use strings::{STRING_TYPES, Strs, StrsVisitor, visit_strings};

/// Width of a SHA-256 digest in lowercase hex.
pub const DIGEST_WIDTH: usize = 64;

/// Why a kernel could not process a batch at all (as opposed to rejecting some rows).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The column's Arrow type is not one the kernel reads.
    #[error(
        "unsupported Arrow data type {data_type} for the {column} column (expected {expected})"
    )]
    UnsupportedType {
        /// Which input: `"input"` for single-column kernels, `"phone"` or `"country"`.
        column: &'static str,
        /// The type found.
        data_type: DataType,
        /// The types accepted, in words.
        expected: &'static str,
    },
    /// The phone and country columns have different lengths.
    #[error("the country column has {country} rows but the phone column has {phone}")]
    LengthMismatch {
        /// Rows in the phone column.
        phone: usize,
        /// Rows in the country column.
        country: usize,
    },
    /// The default country is not a known ISO 3166-1 alpha-2 code
    /// (see [`phone::Country::from_iso2`]).
    #[error("default country {0:?} is not a known ISO 3166-1 alpha-2 country code")]
    InvalidDefaultCountry(String),
    /// A kernel writing fixed-width values into a column made for another width.
    #[error(
        "the {kernel} kernel writes {expected}-byte values but the output column is {actual} bytes wide"
    )]
    WidthMismatch {
        /// The kernel, e.g. `"email"`.
        kernel: &'static str,
        /// The width the kernel writes.
        expected: usize,
        /// The column's width.
        actual: usize,
    },
}

/// Trims and lower-cases every value of a string column (see
/// [`strings::trim_lowercase_into`]). Null stays null, and a value that is empty or blank
/// once trimmed becomes null too: nothing blank should ever be hashed or sent.
pub fn trim_lowercase_array(input: &dyn Array) -> Result<StringArray, KernelError> {
    struct TrimLowercase;
    impl StrsVisitor for TrimLowercase {
        type Output = StringArray;
        fn visit<S: Strs>(self, strs: &S) -> StringArray {
            let mut out = StringBuilder::with_capacity(strs.len(), strs.len() * 24);
            let mut buf = Vec::new();
            for i in 0..strs.len() {
                buf.clear();
                match strs.get(i) {
                    Some(value) if strings::trim_lowercase_into(value, &mut buf) => {
                        // Lower-casing valid UTF-8 gives valid UTF-8.
                        out.append_value(String::from_utf8_lossy(&buf));
                    }
                    _ => out.append_null(),
                }
            }
            out.finish()
        }
    }
    visit_strings(input, TrimLowercase).ok_or_else(|| unsupported(input))
}

/// Hashes every value of a string column with SHA-256 into 64 lowercase hex digits (the
/// value's UTF-8 bytes as they are: normalize first). Null stays null; an empty string is
/// hashed like any other value, so turn blanks into nulls first ([`trim_lowercase_array`]
/// does).
///
/// In a WebAssembly plugin the host computes the digests, once per call ([`digest::DIGESTS_BY`]).
pub fn sha256_hex_array(input: &dyn Array) -> Result<StringArray, KernelError> {
    struct Sha256Hex;
    impl StrsVisitor for Sha256Hex {
        type Output = StringArray;
        fn visit<S: Strs>(self, strs: &S) -> StringArray {
            let mut slots = vec![[0u8; DIGEST_WIDTH]; strs.len()];
            let mut pending = digest::PendingDigests::default();
            for i in 0..strs.len() {
                if let Some(value) = strs.get(i) {
                    let start = pending.buffer().len();
                    pending.buffer().extend_from_slice(value);
                    pending.push_from(i, start, &mut slots);
                }
            }
            pending.hash_into(&mut slots);
            let mut out = StringBuilder::with_capacity(strs.len(), strs.len() * DIGEST_WIDTH);
            for (i, hex) in slots.iter().enumerate() {
                match strs.get(i) {
                    // Hex digits are ASCII.
                    Some(_) => out.append_value(std::str::from_utf8(hex).unwrap_or_default()),
                    None => out.append_null(),
                }
            }
            out.finish()
        }
    }
    visit_strings(input, Sha256Hex).ok_or_else(|| unsupported(input))
}

fn unsupported(input: &dyn Array) -> KernelError {
    KernelError::UnsupportedType {
        column: "input",
        data_type: input.data_type().clone(),
        expected: STRING_TYPES,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{ArrayRef, DictionaryArray, Float64Array, LargeStringArray, StringViewArray};
    use sha2::{Digest, Sha256};

    use super::*;

    fn h(value: &str) -> String {
        Sha256::digest(value.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn strings(array: &StringArray) -> Vec<Option<String>> {
        array.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn trim_lowercase_every_layout() {
        let rows = vec![
            Some(" Mary@Example.COM\t"),
            None,
            Some(""),
            Some(" \u{feff} "),
            Some("ÉLODIE@Exemple.FR"),
        ];
        let expected = vec![
            Some("mary@example.com".to_owned()),
            None,
            None,
            None,
            Some("élodie@exemple.fr".to_owned()),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rows.clone())),
            Arc::new(LargeStringArray::from(rows.clone())),
            Arc::new(StringViewArray::from(rows.clone())),
            Arc::new(rows.iter().copied().collect::<DictionaryArray<Int8Type>>()),
        ];
        for array in &arrays {
            let out = trim_lowercase_array(array).expect("strings");
            assert_eq!(strings(&out), expected, "{}", array.data_type());
            let sliced = trim_lowercase_array(&array.slice(3, 2)).expect("strings");
            assert_eq!(
                strings(&sliced),
                expected[3..],
                "sliced {}",
                array.data_type()
            );
        }
        let nulls = trim_lowercase_array(&arrow_array::NullArray::new(2)).expect("null type");
        assert_eq!(nulls.null_count(), 2);
        let err = trim_lowercase_array(&Float64Array::from(vec![1.0])).expect_err("float");
        assert!(err.to_string().contains("Float64"), "{err}");
    }

    #[test]
    fn sha256_hex_matches_the_reference_in_every_batch_shape() {
        // Enough rows for several groups of four, nulls and long (two-block and longer)
        // messages interleaved.
        let values: Vec<Option<String>> = (0..203)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some(format!("{}@example.com", "x".repeat(i))),
                2 => Some(String::new()),
                _ => Some(format!("user{i}@example.com")),
            })
            .collect();
        let array = StringArray::from(values.clone());
        let out = sha256_hex_array(&array).expect("strings");
        assert_eq!(out.len(), values.len());
        for (value, got) in values.iter().zip(out.iter()) {
            assert_eq!(got.map(str::to_owned), value.as_deref().map(h), "{value:?}");
        }
        assert_eq!(
            sha256_hex_array(&StringArray::from(vec!["mary@example.com"]))
                .expect("strings")
                .value(0),
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        let err = sha256_hex_array(&Float64Array::from(vec![1.0])).expect_err("float");
        assert!(
            matches!(
                err,
                KernelError::UnsupportedType {
                    column: "input",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
