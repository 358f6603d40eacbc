//! Normalization kernels: Facebook's rules for identifier columns, over whole Arrow arrays.
//!
//! Each kernel reads one Arrow array and fills a reusable [`NormalizedColumn`] with one
//! fixed-width value per row, or the [`Reason`] the row was rejected. An invalid value rejects
//! its row only; a [`KernelError`] (wrong column type, bad settings) fails the whole batch.
//!
//! | field | kernel | normalize | output |
//! |---|---|---|---|
//! | email | [`emails`] | trim, lowercase; exactly one `@`, non-empty local and domain parts, nothing blank inside, at most 254 bytes | SHA-256 hex |
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
//! The generic pieces are the plugin SDK's kernels ([`audex_plugin_sdk::kernels`]): reading
//! every Arrow string layout and trimming (`strings`), SHA-256 hex (`digest`, four digests at
//! a time with SIMD128 in the WebAssembly build) and E.164 phone numbers (`phone`). What is
//! Facebook's stays here: the email, phone and madid rules above, pass-through of digests, the
//! fixed-width output and the [`Reason`] codes.
//!
//! Performance: the email and madid paths do not allocate per row (normalization goes through
//! a scratch buffer kept in the column, hex is written through a lookup table straight into the
//! packed values, strings are read from the Arrow buffers directly). Phones in the usual
//! shapes are parsed and validated by the SDK's fast paths, which replay libphonenumber's rules
//! with its own metadata; `rlibphonenumber` handles the rest and is the oracle of their
//! differential tests. In the WebAssembly build, digests are computed at the end of each
//! batch, four at a time.
//!
//! Throughput: `cargo bench -p plugin-facebook` (criterion, `benches/kernels.rs`) measures
//! each kernel natively over messy generated batches; `audex bench` measures them inside the
//! plugin through the host. Figures and history: `BENCHMARKS.md` at the repository root.

mod column;
mod email;
mod madid;
#[cfg(test)]
mod messy;
mod phone;
#[cfg(test)]
mod proptests;
mod reason;
pub mod vocabulary;

// The generic pieces are the SDK's kernels; these names keep the modules below short.
use audex_plugin_sdk::kernels::digest;
use audex_plugin_sdk::kernels::strings as input;

pub use audex_plugin_sdk::kernels::digest::sha256_hex;
pub use column::NormalizedColumn;
pub use email::emails;
pub use madid::madids;
pub use phone::{phones, validate_default_country};
pub use reason::Reason;

/// Width of a SHA-256 digest in lowercase hex: the email and phone kernels' values.
pub const DIGEST_WIDTH: usize = audex_plugin_sdk::kernels::DIGEST_WIDTH;
/// Width of a UUID in its 8-4-4-4-12 text form: the madid kernel's values.
pub const MADID_WIDTH: usize = 36;

/// Why a kernel could not process a batch at all (as opposed to rejecting some rows): the
/// SDK's kernel error (the output column's width check is
/// [`KernelError::WidthMismatch`]).
pub use audex_plugin_sdk::kernels::KernelError;
