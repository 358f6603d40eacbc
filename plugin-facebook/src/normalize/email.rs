//! Emails: trim, lowercase, check the shape, SHA-256.

use arrow_array::Array;

use super::digest::{copy_digest_lowercase, is_digest_shaped, sha256_hex};
use super::input::{STRING_TYPES, Strs, StrsVisitor, is_trimmed_char, trim, visit_strings};
use super::{DIGEST_WIDTH, KernelError, NormalizedColumn, Reason};

/// Normalizes and hashes an email column into `out` (width [`DIGEST_WIDTH`]).
///
/// Per row: trim whitespace, control and invisible characters at both ends; a value that is
/// then exactly 64 hex digits is taken as an already-hashed email and passed through lower-cased;
/// otherwise lowercase it (ASCII fast path; full Unicode lowercase for internationalized
/// addresses) and hash its UTF-8 bytes. Rejected: null ([`Reason::Missing`]), empty or
/// whitespace-only ([`Reason::Empty`]), not exactly one `@`, an empty local or domain part, or
/// whitespace or control characters inside ([`Reason::MalformedEmail`]).
///
/// Accepts `Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of them and `Null` (all rows
/// missing); any other type is a [`KernelError::UnsupportedType`]. After an error `out` is
/// empty.
pub fn emails(input: &dyn Array, out: &mut NormalizedColumn) -> Result<(), KernelError> {
    out.begin("email", DIGEST_WIDTH, input.len())?;
    visit_strings(input, EmailKernel { out: &mut *out }).ok_or_else(|| {
        out.clear();
        KernelError::UnsupportedType {
            column: "email",
            data_type: input.data_type().clone(),
            expected: STRING_TYPES,
        }
    })
}

struct EmailKernel<'a> {
    out: &'a mut NormalizedColumn,
}

impl StrsVisitor for EmailKernel<'_> {
    type Output = ();

    fn visit<S: Strs>(self, strs: &S) {
        let NormalizedColumn {
            values,
            rejected,
            scratch,
            ..
        } = self.out;
        let (slots, _) = values.as_chunks_mut::<DIGEST_WIDTH>();
        for ((i, slot), reason) in slots.iter_mut().enumerate().zip(rejected.iter_mut()) {
            let Some(raw) = strs.get(i) else {
                *reason = Some(Reason::Missing);
                continue;
            };
            match normalize(raw, &mut scratch.bytes) {
                Ok(Normalized::PreHashed(digest)) => copy_digest_lowercase(digest, slot),
                Ok(Normalized::InScratch) => sha256_hex(&scratch.bytes, slot),
                Err(r) => *reason = Some(r),
            }
        }
    }
}

/// Where a normalized email is.
#[derive(Debug, PartialEq, Eq)]
enum Normalized<'a> {
    /// The trimmed input is already a digest (any case).
    PreHashed(&'a [u8]),
    /// The normalized address, to hash, is in the scratch buffer.
    InScratch,
}

/// Normalizes one email into `scratch` (cleared first) or says why it is rejected.
fn normalize<'a>(raw: &'a [u8], scratch: &mut Vec<u8>) -> Result<Normalized<'a>, Reason> {
    let value = trim(raw);
    if value.is_empty() {
        return Err(Reason::Empty);
    }
    if is_digest_shaped(value) {
        return Ok(Normalized::PreHashed(value));
    }
    scratch.clear();
    let mut ats = 0usize;
    let mut at = 0usize;
    if value.is_ascii() {
        for &b in value {
            // Trimming removed these at the ends; inside, they make the address malformed.
            if b <= b' ' || b == 0x7f {
                return Err(Reason::MalformedEmail);
            }
            if b == b'@' {
                ats += 1;
                at = scratch.len();
            }
            scratch.push(b.to_ascii_lowercase());
        }
    } else {
        // Internationalized address (RFC 6531): Unicode lowercase, checked per character.
        let Ok(text) = std::str::from_utf8(value) else {
            return Err(Reason::MalformedEmail);
        };
        let mut buf = [0u8; 4];
        for c in text.chars() {
            if is_trimmed_char(c) {
                return Err(Reason::MalformedEmail);
            }
            if c == '@' {
                ats += 1;
                at = scratch.len();
            }
            for lower in c.to_lowercase() {
                scratch.extend_from_slice(lower.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if ats != 1 || at == 0 || at + 1 == scratch.len() {
        return Err(Reason::MalformedEmail);
    }
    Ok(Normalized::InScratch)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{
        ArrayRef, BinaryArray, DictionaryArray, Float64Array, LargeStringArray, StringArray,
        StringViewArray,
    };
    use sha2::{Digest, Sha256};

    use super::*;

    /// The expected digest, from the streaming hasher (independent of the kernel's fast path).
    fn h(normalized: &str) -> String {
        Sha256::digest(normalized.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn run(input: &dyn Array) -> Vec<Result<String, Reason>> {
        let mut out = NormalizedColumn::new(DIGEST_WIDTH);
        emails(input, &mut out).expect("supported type");
        assert_eq!(out.len(), input.len());
        out.iter().map(|r| r.map(str::to_owned)).collect()
    }

    fn one(value: &str) -> Result<String, Reason> {
        run(&StringArray::from(vec![value])).remove(0)
    }

    #[test]
    fn meta_vector() {
        assert_eq!(
            one("mary@example.com").as_deref(),
            Ok("f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79")
        );
    }

    #[test]
    fn lowercases_and_trims() {
        let expected = Ok(h("mary@example.com"));
        assert_eq!(one("Mary@Example.COM"), expected);
        assert_eq!(one("  mary@example.com\t"), expected);
        assert_eq!(one("\r\n MARY@EXAMPLE.COM \n"), expected);
        assert_eq!(one("\u{feff}mary@example.com\u{a0}"), expected);
        // Dots, plus tags and digits are kept as written (Meta's rule is trim + lowercase only).
        assert_eq!(
            one("Mary.Jones+ads@Example.co.uk"),
            Ok(h("mary.jones+ads@example.co.uk"))
        );
    }

    #[test]
    fn internationalized_addresses_are_unicode_lowercased() {
        assert_eq!(one("  ÉLODIE@Exemple.FR "), Ok(h("élodie@exemple.fr")));
        assert_eq!(one("ΑΘΗΝΑ@ΠΑΡΆΔΕΙΓΜΑ.ΕΛ"), Ok(h("αθηνα@παράδειγμα.ελ")));
        assert_eq!(one("用户@例子.广告"), Ok(h("用户@例子.广告")));
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for value in [
            "mary.example.com",   // no @
            "mary@@example.com",  // two @
            "ma@ry@example.com",  // two @
            "@example.com",       // empty local part
            "mary@",              // empty domain
            "@",                  // both empty
            "mary @example.com",  // inner space
            "mary@exa mple.com",  // inner space
            "mary@example\t.com", // inner tab
            "mary\0@example.com", // inner control
            "mary\u{a0}@example.com",
            "mary\u{200b}@example.com",
            "élodie @exemple.fr",
        ] {
            assert_eq!(one(value), Err(Reason::MalformedEmail), "{value:?}");
        }
    }

    #[test]
    fn null_and_empty_are_never_hashed() {
        let input = StringArray::from(vec![
            None,
            Some(""),
            Some("   "),
            Some("\t\n"),
            Some("\u{3000}"),
        ]);
        assert_eq!(
            run(&input),
            [
                Err(Reason::Missing),
                Err(Reason::Empty),
                Err(Reason::Empty),
                Err(Reason::Empty),
                Err(Reason::Empty),
            ]
        );
    }

    #[test]
    fn null_typed_column_is_all_missing() {
        assert_eq!(
            run(&arrow_array::NullArray::new(2)),
            [Err(Reason::Missing), Err(Reason::Missing)]
        );
    }

    #[test]
    fn prehashed_values_pass_through_lowercased() {
        let digest = h("mary@example.com");
        assert_eq!(one(&digest.to_ascii_uppercase()), Ok(digest.clone()));
        assert_eq!(one(&format!("  {digest} ")), Ok(digest.clone()));
        // One character short or long is not a digest: a malformed email then.
        assert_eq!(one(&digest[..63]), Err(Reason::MalformedEmail));
        assert_eq!(one(&format!("{digest}a")), Err(Reason::MalformedEmail));
    }

    #[test]
    fn every_string_layout_and_slices() {
        let rows = vec![
            Some("x@a.io"),
            None,
            Some(" Mary@Example.com "),
            Some("bad"),
            Some(""),
        ];
        let expected = vec![
            Ok(h("x@a.io")),
            Err(Reason::Missing),
            Ok(h("mary@example.com")),
            Err(Reason::MalformedEmail),
            Err(Reason::Empty),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rows.clone())),
            Arc::new(LargeStringArray::from(rows.clone())),
            Arc::new(StringViewArray::from(rows.clone())),
            Arc::new(rows.iter().copied().collect::<DictionaryArray<Int32Type>>()),
        ];
        for array in arrays {
            assert_eq!(run(&array), expected, "{}", array.data_type());
            assert_eq!(
                run(&array.slice(2, 2)),
                expected[2..4],
                "sliced {}",
                array.data_type()
            );
            assert_eq!(
                run(&array.slice(5, 0)),
                [],
                "empty slice {}",
                array.data_type()
            );
        }
    }

    #[test]
    fn rejected_slots_are_zeroed_and_buffers_reused() {
        let mut out = NormalizedColumn::new(DIGEST_WIDTH);
        emails(&StringArray::from(vec!["a@b.c", "bad"]), &mut out).expect("utf8");
        assert_eq!(out.accepted(), 1);
        assert_eq!(&out.values()[..64], h("a@b.c").as_bytes());
        assert_eq!(&out.values()[64..], &[0u8; 64]);

        // The next batch replaces the content.
        emails(&StringArray::from(vec![None, Some("c@d.e")]), &mut out).expect("utf8");
        assert_eq!(out.len(), 2);
        assert_eq!(out.get(0), Err(Reason::Missing));
        assert_eq!(&out.values()[..64], &[0u8; 64]);
        assert_eq!(out.get(1).map(str::to_owned), Ok(h("c@d.e")));
    }

    #[test]
    fn unsupported_types_are_named() {
        let mut out = NormalizedColumn::new(DIGEST_WIDTH);
        emails(&StringArray::from(vec!["a@b.c"]), &mut out).expect("utf8");
        let err = emails(&Float64Array::from(vec![1.0]), &mut out).expect_err("float");
        assert!(out.is_empty(), "no stale rows after an error");
        assert!(
            matches!(&err, KernelError::UnsupportedType { column: "email", data_type, .. } if data_type.to_string() == "Float64"),
            "{err:?}"
        );
        assert!(err.to_string().contains("Float64"), "{err}");
        let err = emails(&BinaryArray::from(vec![&b"x"[..]]), &mut out).expect_err("binary");
        assert!(err.to_string().contains("Binary"), "{err}");
    }

    #[test]
    fn wrong_output_width_is_an_error() {
        let mut out = NormalizedColumn::new(super::super::MADID_WIDTH);
        let err = emails(&StringArray::from(vec!["a@b.c"]), &mut out).expect_err("width");
        assert!(matches!(err, KernelError::WidthMismatch { .. }), "{err:?}");
    }

    #[test]
    fn normalize_reuses_scratch() {
        let mut scratch = Vec::with_capacity(64);
        let ptr = scratch.as_ptr();
        for value in ["A@B.C", "d@e.f", "x@y.z"] {
            assert_eq!(
                normalize(value.as_bytes(), &mut scratch),
                Ok(Normalized::InScratch)
            );
            assert_eq!(scratch, value.to_ascii_lowercase().as_bytes());
        }
        assert_eq!(scratch.as_ptr(), ptr, "no reallocation");
    }
}
