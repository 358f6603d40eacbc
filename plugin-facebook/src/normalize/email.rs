//! Emails: trim, lowercase, check the shape, SHA-256.

use arrow_array::Array;
use audex_plugin_sdk::kernels::ascii::lowercase_ascii_scan;

use super::digest::{copy_digest_lowercase, is_digest_shaped};
use super::input::{STRING_TYPES, Strs, StrsVisitor, is_trimmed_char, trim, visit_strings};
use super::{DIGEST_WIDTH, KernelError, NormalizedColumn, Reason};

/// Normalizes and hashes an email column into `out` (width [`DIGEST_WIDTH`]).
///
/// Per row: trim whitespace, control and invisible characters at both ends; a value that is
/// then exactly 64 hex digits is taken as an already-hashed email and passed through lower-cased;
/// otherwise lowercase it (ASCII fast path; full Unicode lowercase for internationalized
/// addresses) and hash its UTF-8 bytes. Rejected: null ([`Reason::Missing`]), empty or
/// whitespace-only ([`Reason::Empty`]), not exactly one `@`, an empty local or domain part,
/// whitespace or control characters inside, or longer than 254 bytes (RFC 5321's limit)
/// ([`Reason::MalformedEmail`]).
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
        let pending = &mut scratch.pending;
        pending.clear();
        for (i, reason) in rejected.iter_mut().enumerate() {
            let Some(raw) = strs.get(i) else {
                *reason = Some(Reason::Missing);
                continue;
            };
            let start = pending.buffer().len();
            match normalize(raw, pending.buffer()) {
                Ok(Normalized::PreHashed(digest)) => copy_digest_lowercase(digest, &mut slots[i]),
                Ok(Normalized::Appended) => pending.push_from(i, start, slots),
                Err(r) => {
                    pending.buffer().truncate(start);
                    *reason = Some(r);
                }
            }
        }
        pending.hash_into(slots);
    }
}

/// The longest address that can be delivered to (RFC 5321: a path is at most 256 octets,
/// angle brackets included). Anything longer identifies nobody, and is not worth hashing.
const MAX_EMAIL_BYTES: usize = 254;

/// Where a normalized email is.
#[derive(Debug, PartialEq, Eq)]
enum Normalized<'a> {
    /// The trimmed input is already a digest (any case).
    PreHashed(&'a [u8]),
    /// The normalized address, to hash, was appended to the buffer.
    Appended,
}

/// Normalizes one email, appending it to `buf`, or says why it is rejected (then `buf` may
/// hold part of it: the caller truncates).
#[inline(always)]
fn normalize<'a>(raw: &'a [u8], buf: &mut Vec<u8>) -> Result<Normalized<'a>, Reason> {
    let value = trim(raw);
    if value.is_empty() {
        return Err(Reason::Empty);
    }
    if is_digest_shaped(value) {
        return Ok(Normalized::PreHashed(value));
    }
    if value.len() > MAX_EMAIL_BYTES {
        return Err(Reason::MalformedEmail);
    }
    let start = buf.len();
    // ASCII (nearly every address): lower-cased 16 bytes at a time, counting the `@`s and
    // spotting spaces and control characters, which trimming removed at the ends and which
    // make the address malformed inside.
    if let Some(scan) = lowercase_ascii_scan(value, b'@', buf) {
        // Exactly one `@`, neither first nor last: non-empty local and domain parts.
        if scan.space_or_control
            || scan.count != 1
            || value[0] == b'@'
            || value[value.len() - 1] == b'@'
        {
            return Err(Reason::MalformedEmail);
        }
        return Ok(Normalized::Appended);
    }
    // Internationalized address (RFC 6531): Unicode lowercase, checked per character.
    let Ok(text) = std::str::from_utf8(value) else {
        return Err(Reason::MalformedEmail);
    };
    let mut ats = 0usize;
    // Offset of the (last) `@` in the normalized address.
    let mut at = 0usize;
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        if let Ok(b) = u8::try_from(c)
            && b.is_ascii()
        {
            // Most characters of such an address are still ASCII: no Unicode tables for them.
            if b <= b' ' || b == 0x7f {
                return Err(Reason::MalformedEmail);
            }
            if b == b'@' {
                ats += 1;
                at = buf.len() - start;
            }
            buf.push(b.to_ascii_lowercase());
            continue;
        }
        if is_trimmed_char(c) {
            return Err(Reason::MalformedEmail);
        }
        for lower in c.to_lowercase() {
            buf.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
        }
    }
    if ats != 1 || at == 0 || at + 1 == buf.len() - start {
        return Err(Reason::MalformedEmail);
    }
    Ok(Normalized::Appended)
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
    fn normalize_appends_without_reallocating() {
        let mut buf = Vec::with_capacity(64);
        let ptr = buf.as_ptr();
        let mut expected = Vec::new();
        for value in ["A@B.C", "d@e.f", "X@Y.Z", "ÉLODIE@EXEMPLE.FR"] {
            assert_eq!(
                normalize(value.as_bytes(), &mut buf),
                Ok(Normalized::Appended)
            );
            expected.extend_from_slice(value.to_lowercase().as_bytes());
            assert_eq!(buf, expected);
        }
        assert_eq!(buf.as_ptr(), ptr, "no reallocation");
        // A rejected value may leave a partial address: the kernel truncates it.
        assert_eq!(
            normalize("élodie @x.fr".as_bytes(), &mut buf),
            Err(Reason::MalformedEmail)
        );
    }

    #[test]
    fn many_rows_match_the_reference_in_every_batch_shape() {
        // Enough rows for several groups of four, with pre-hashed, rejected and long
        // (two-block and longer) addresses interleaved.
        let long = format!("{}@example.com", "x".repeat(50));
        let longer = format!("{}@example.com", "y".repeat(150));
        let values: Vec<Option<String>> = (0..203)
            .map(|i| match i % 9 {
                0 => None,
                1 => Some("not an email".to_owned()),
                2 => Some(format!("  User{i}@Example.COM ")),
                3 => Some(long.to_uppercase()),
                4 => Some(longer.clone()),
                5 => Some(h(&format!("u{i}@x.y")).to_ascii_uppercase()),
                6 => Some(format!("élodie{i}@exemple.fr")),
                _ => Some(format!("a{i}@b.c")),
            })
            .collect();
        let got = run(&StringArray::from(values.clone()));
        for (value, got) in values.iter().zip(got) {
            let expected = match value.as_deref().map(str::trim) {
                None => Err(Reason::Missing),
                Some("not an email") => Err(Reason::MalformedEmail),
                Some(v) if v.len() == 64 => Ok(v.to_ascii_lowercase()),
                Some(v) => Ok(h(&v.to_lowercase())),
            };
            assert_eq!(got, expected, "{value:?}");
        }
    }
}
