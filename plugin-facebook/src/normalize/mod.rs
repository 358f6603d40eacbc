//! Normalization kernels: Facebook's rules for identifier columns, over whole Arrow arrays.
//!
//! Each kernel reads one Arrow array and fills a reusable [`NormalizedColumn`] with one
//! fixed-width value per row, or the [`Reason`] the row was rejected. An invalid value rejects
//! its row only; a [`KernelError`] (wrong column type, bad settings) fails the whole batch.
//!
//! | field | kernel | normalize | output |
//! |---|---|---|---|
//! | email | [`emails`] | trim, lowercase; exactly one `@`, non-empty local and domain parts, nothing blank inside | SHA-256 hex |
//! | phone | [`phones`] | libphonenumber-valid number, E.164 digits without `+` (country from the number, the row or the default) | SHA-256 hex |
//! | madid | [`madids`] | trim, lowercase, 8-4-4-4-12 hex UUID, not all zeros | the UUID itself |
//!
//! For emails and phones, a value that already is a SHA-256 digest (64 hex digits after
//! trimming, any case) passes through lower-cased and is not hashed again. Nothing empty is ever
//! hashed: null is [`Reason::Missing`], empty or whitespace-only is [`Reason::Empty`].
//!
//! ```
//! use arrow_array::StringArray;
//! use plugin_facebook::normalize::{emails, NormalizedColumn, Reason, DIGEST_WIDTH};
//!
//! let mut out = NormalizedColumn::new(DIGEST_WIDTH);
//! emails(&StringArray::from(vec![Some(" Mary@Example.com "), Some("nope"), None]), &mut out)?;
//! assert_eq!(out.get(0), Ok("f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"));
//! assert_eq!(out.get(1), Err(Reason::MalformedEmail));
//! assert_eq!(out.get(2).map_err(Reason::as_str), Err("missing"));
//! assert_eq!(out.accepted(), 1);
//! # Ok::<(), plugin_facebook::normalize::KernelError>(())
//! ```
//!
//! Performance: the email and madid paths do not allocate per row (normalization goes through
//! a scratch buffer kept in the column, hex is written through a lookup table straight into the
//! packed values, strings are read from the Arrow buffers directly). Phones in the usual
//! shapes are parsed and validated by fast paths that replay libphonenumber's rules with its
//! own metadata (`phone/fast.rs`, `phone/valid.rs`); `rlibphonenumber` handles the rest and is
//! the oracle of their differential tests. In the WebAssembly build, digests are computed at
//! the end of each batch, four at a time with SIMD128 (`sha256x4.rs`).
//!
//! Throughput: `cargo bench -p plugin-facebook` (criterion, `benches/kernels.rs`) measures
//! each kernel natively over messy generated batches; `audex bench` measures them inside the
//! plugin through the host. Figures and history: `BENCHMARKS.md` at the repository root.

mod column;
mod digest;
mod email;
mod input;
mod madid;
#[cfg(test)]
mod messy;
mod phone;
mod reason;
#[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
mod sha256x4;
pub mod vocabulary;

use arrow_schema::DataType;

pub use column::NormalizedColumn;
pub use digest::sha256_hex;
pub use email::emails;
pub use madid::madids;
pub use phone::{phones, validate_default_country};
pub use reason::Reason;

/// Width of a SHA-256 digest in lowercase hex: the email and phone kernels' values.
pub const DIGEST_WIDTH: usize = 64;
/// Width of a UUID in its 8-4-4-4-12 text form: the madid kernel's values.
pub const MADID_WIDTH: usize = 36;

/// Why a kernel could not process a batch at all (as opposed to rejecting some rows).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KernelError {
    /// The column's Arrow type is not one the kernel reads.
    #[error(
        "unsupported Arrow data type {data_type} for the {column} column (expected {expected})"
    )]
    UnsupportedType {
        /// Which input: `"email"`, `"phone"`, `"country"` or `"madid"`.
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
    /// (see [`validate_default_country`]).
    #[error("default country {0:?} is not a known ISO 3166-1 alpha-2 country code")]
    InvalidDefaultCountry(String),
    /// The output column was created with another width than the kernel writes.
    #[error(
        "the {kernel} kernel writes {expected}-byte values but the output column is {actual} bytes wide"
    )]
    WidthMismatch {
        /// The kernel: `"email"`, `"phone"` or `"madid"`.
        kernel: &'static str,
        /// The kernel's width ([`DIGEST_WIDTH`] or [`MADID_WIDTH`]).
        expected: usize,
        /// The column's width.
        actual: usize,
    },
}
