//! Mobile advertiser ids (IDFA / GAID): trim, lowercase, check the UUID shape. Not hashed.

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;

use super::digest::hex_encode;
use super::input::{Strs, StrsVisitor, trim, visit_strings};
use super::{KernelError, MADID_WIDTH, NormalizedColumn, Reason};

/// Byte positions of the hyphens in the 8-4-4-4-12 form.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Normalizes a madid column into `out` (width [`MADID_WIDTH`]): the output is the lower-cased
/// UUID text itself, since Meta wants advertiser ids unhashed.
///
/// Per row: trim; the value must be a UUID in the 8-4-4-4-12 hex form (hyphens kept, any case,
/// lower-cased) else [`Reason::InvalidMadid`]; the all-zero id (what iOS and Android report
/// when the user limited ad tracking) is [`Reason::ZeroMadid`]. Null is [`Reason::Missing`],
/// empty or whitespace-only [`Reason::Empty`]. A 64-hex value is not passed through: a madid is
/// never hashed, so a digest here is an invalid madid.
///
/// Accepts `Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of them, `Null` (all rows missing),
/// and `FixedSizeBinary(16)` (how Parquet's UUID logical type arrives in Arrow), formatted as
/// above. Any other type is a [`KernelError::UnsupportedType`], after which `out` is empty.
pub fn madids(input: &dyn Array, out: &mut NormalizedColumn) -> Result<(), KernelError> {
    out.begin("madid", MADID_WIDTH, input.len())?;
    if let DataType::FixedSizeBinary(16) = input.data_type()
        && let Some(binary) = input.as_fixed_size_binary_opt()
    {
        let NormalizedColumn {
            values, rejected, ..
        } = out;
        let (slots, _) = values.as_chunks_mut::<MADID_WIDTH>();
        for ((i, slot), reason) in slots.iter_mut().enumerate().zip(rejected.iter_mut()) {
            if binary.is_null(i) {
                *reason = Some(Reason::Missing);
                continue;
            }
            match format_uuid(binary.value(i)) {
                Ok(text) => *slot = text,
                Err(r) => *reason = Some(r),
            }
        }
        return Ok(());
    }
    visit_strings(input, MadidKernel { out: &mut *out }).ok_or_else(|| {
        out.clear();
        KernelError::UnsupportedType {
            column: "madid",
            data_type: input.data_type().clone(),
            expected: MADID_TYPES,
        }
    })
}

/// The types [`madids`] accepts, for error messages: the string types plus UUIDs as binary.
const MADID_TYPES: &str =
    "Utf8, LargeUtf8, Utf8View or a Dictionary of one of them (or Null), or FixedSizeBinary(16)";

struct MadidKernel<'a> {
    out: &'a mut NormalizedColumn,
}

impl StrsVisitor for MadidKernel<'_> {
    type Output = ();

    fn visit<S: Strs>(self, strs: &S) {
        let NormalizedColumn {
            values, rejected, ..
        } = self.out;
        let (slots, _) = values.as_chunks_mut::<MADID_WIDTH>();
        for ((i, slot), reason) in slots.iter_mut().enumerate().zip(rejected.iter_mut()) {
            match strs.get(i).map(normalize) {
                None => *reason = Some(Reason::Missing),
                Some(Ok(text)) => *slot = text,
                Some(Err(r)) => *reason = Some(r),
            }
        }
    }
}

/// Normalizes one madid: trimmed, 8-4-4-4-12 hex, lower-cased, not all zeros.
fn normalize(raw: &[u8]) -> Result<[u8; MADID_WIDTH], Reason> {
    let value = trim(raw);
    if value.is_empty() {
        return Err(Reason::Empty);
    }
    let Ok(value) = <&[u8; MADID_WIDTH]>::try_from(value) else {
        return Err(Reason::InvalidMadid);
    };
    let mut text = [0u8; MADID_WIDTH];
    let mut nonzero = false;
    for (i, (&b, t)) in value.iter().zip(&mut text).enumerate() {
        let ok = if HYPHENS.contains(&i) {
            b == b'-'
        } else {
            nonzero |= b != b'0';
            b.is_ascii_hexdigit()
        };
        if !ok {
            return Err(Reason::InvalidMadid);
        }
        *t = b.to_ascii_lowercase();
    }
    if !nonzero {
        return Err(Reason::ZeroMadid);
    }
    Ok(text)
}

/// Formats 16 raw bytes as a lower-case 8-4-4-4-12 UUID, rejecting the all-zero id.
fn format_uuid(bytes: &[u8]) -> Result<[u8; MADID_WIDTH], Reason> {
    if bytes.len() != 16 {
        return Err(Reason::InvalidMadid);
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err(Reason::ZeroMadid);
    }
    let mut text = [b'-'; MADID_WIDTH];
    let groups = [(0, 4, 0), (4, 6, 9), (6, 8, 14), (8, 10, 19), (10, 16, 24)];
    for (from, to, at) in groups {
        hex_encode(&bytes[from..to], &mut text[at..at + 2 * (to - from)]);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::UInt16Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, FixedSizeBinaryArray, Int64Array, LargeStringArray, StringArray,
        StringViewArray,
    };

    use super::super::DIGEST_WIDTH;
    use super::super::input::STRING_TYPES;
    use super::*;

    const IDFA: &str = "6d92078a-8246-4ba4-ae5b-76104861e7dc";

    fn run(input: &dyn Array) -> Vec<Result<String, Reason>> {
        let mut out = NormalizedColumn::new(MADID_WIDTH);
        madids(input, &mut out).expect("supported type");
        assert_eq!(out.len(), input.len());
        out.iter().map(|r| r.map(str::to_owned)).collect()
    }

    fn one(value: &str) -> Result<String, Reason> {
        run(&StringArray::from(vec![value])).remove(0)
    }

    #[test]
    fn valid_ids_are_lowercased_not_hashed() {
        assert_eq!(one(IDFA).as_deref(), Ok(IDFA));
        assert_eq!(one(&IDFA.to_ascii_uppercase()).as_deref(), Ok(IDFA));
        assert_eq!(
            one("  6D92078A-8246-4BA4-AE5B-76104861E7DC\t").as_deref(),
            Ok(IDFA)
        );
        assert_eq!(
            one("\u{feff}6d92078a-8246-4ba4-ae5b-76104861e7dc\u{a0}").as_deref(),
            Ok(IDFA)
        );
        // A GAID has the same shape.
        assert_eq!(
            one("38400000-8CF0-11BD-B23E-10B96E40000D").as_deref(),
            Ok("38400000-8cf0-11bd-b23e-10b96e40000d")
        );
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for value in [
            "6d92078a82464ba4ae5b76104861e7dc",         // no hyphens
            "6d92078a-8246-4ba4-ae5b-76104861e7d",      // 35
            "6d92078a-8246-4ba4-ae5b-76104861e7dc0",    // 37
            "6d92078a-8246-4ba4-ae5b76104861e7dc-",     // hyphen moved
            "6d92078-a8246-4ba4-ae5b-76104861e7dc",     // hyphen moved
            "6d92078a-8246-4ba4-ae5b-76104861e7dg",     // non-hex
            "6d92078a_8246_4ba4_ae5b_76104861e7dc",     // wrong separator
            "{6d92078a-8246-4ba4-ae5b-76104861e7dc}",   // braces
            "6d92078a-8246-4ba4-ae5b-76104861e7\u{e9}", // non-ASCII, 36 bytes
            "6d92078a-8246-4ba4 ae5b-76104861e7dc",     // inner space
            "x",
            // A digest is not a madid: madids are never hashed, so no pass-through.
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79",
        ] {
            assert_eq!(one(value), Err(Reason::InvalidMadid), "{value:?}");
        }
    }

    #[test]
    fn zero_id_is_rejected() {
        assert_eq!(
            one("00000000-0000-0000-0000-000000000000"),
            Err(Reason::ZeroMadid)
        );
        assert_eq!(
            one(" 00000000-0000-0000-0000-000000000000 "),
            Err(Reason::ZeroMadid)
        );
        // One non-zero digit anywhere makes it a real id.
        assert!(one("00000000-0000-0000-0000-000000000001").is_ok());
        assert!(one("10000000-0000-0000-0000-000000000000").is_ok());
    }

    #[test]
    fn null_and_empty() {
        let input = StringArray::from(vec![None, Some(""), Some("  ")]);
        assert_eq!(
            run(&input),
            [Err(Reason::Missing), Err(Reason::Empty), Err(Reason::Empty)]
        );
        assert_eq!(run(&arrow_array::NullArray::new(1)), [Err(Reason::Missing)]);
    }

    #[test]
    fn every_string_layout_and_slices() {
        let upper = IDFA.to_ascii_uppercase();
        let rows = vec![
            None,
            Some(upper.as_str()),
            Some("nope"),
            Some("00000000-0000-0000-0000-000000000000"),
        ];
        let expected = vec![
            Err(Reason::Missing),
            Ok(IDFA.to_owned()),
            Err(Reason::InvalidMadid),
            Err(Reason::ZeroMadid),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rows.clone())),
            Arc::new(LargeStringArray::from(rows.clone())),
            Arc::new(StringViewArray::from(rows.clone())),
            Arc::new(
                rows.iter()
                    .copied()
                    .collect::<DictionaryArray<UInt16Type>>(),
            ),
        ];
        for array in arrays {
            assert_eq!(run(&array), expected, "{}", array.data_type());
            assert_eq!(
                run(&array.slice(1, 3)),
                expected[1..],
                "sliced {}",
                array.data_type()
            );
        }
    }

    #[test]
    fn fixed_size_binary_uuids() {
        let id: [u8; 16] = [
            0x6d, 0x92, 0x07, 0x8a, 0x82, 0x46, 0x4b, 0xa4, 0xae, 0x5b, 0x76, 0x10, 0x48, 0x61,
            0xe7, 0xdc,
        ];
        let input = FixedSizeBinaryArray::try_from_sparse_iter_with_size(
            [Some(id), None, Some([0u8; 16]), Some(id)].into_iter(),
            16,
        )
        .expect("valid fixed size binary");
        let expected = vec![
            Ok(IDFA.to_owned()),
            Err(Reason::Missing),
            Err(Reason::ZeroMadid),
            Ok(IDFA.to_owned()),
        ];
        assert_eq!(run(&input), expected);
        assert_eq!(run(&input.slice(1, 3)), expected[1..]);
    }

    #[test]
    fn unsupported_types_are_named() {
        let mut out = NormalizedColumn::new(MADID_WIDTH);
        madids(&StringArray::from(vec![IDFA]), &mut out).expect("utf8");
        let err = madids(&Int64Array::from(vec![1]), &mut out).expect_err("int");
        assert!(out.is_empty(), "no stale rows after an error");
        assert!(err.to_string().contains("Int64"), "{err}");
        assert!(err.to_string().contains(STRING_TYPES), "{err}");
        let input = FixedSizeBinaryArray::try_from_iter([[1u8; 8]].into_iter()).expect("fsb");
        let err = madids(&input, &mut out).expect_err("fsb(8)");
        assert!(err.to_string().contains("FixedSizeBinary(8)"), "{err}");

        let mut out = NormalizedColumn::new(DIGEST_WIDTH);
        let err = madids(&StringArray::from(vec![IDFA]), &mut out).expect_err("width");
        assert!(matches!(err, KernelError::WidthMismatch { .. }), "{err:?}");
    }
}
