//! Reading string columns straight from Arrow buffers; trimming and lower-casing.
//!
//! A kernel is written once against [`Strs`] and [`visit_strings`] instantiates it for each
//! physical layout (offsets + data for `Utf8`/`LargeUtf8`, views for `Utf8View`, keys + values
//! for dictionaries of those, and `Null`), so the per-row loop has no dynamic dispatch and no
//! allocation.
//!
//! ```
//! use arrow_array::{Array, LargeStringArray, StringArray};
//! use audex_plugin_sdk::kernels::strings::{visit_strings, trim, Strs, StrsVisitor};
//!
//! /// Counts the rows that are not blank.
//! struct NonBlank;
//!
//! impl StrsVisitor for NonBlank {
//!     type Output = usize;
//!     fn visit<S: Strs>(self, strs: &S) -> usize {
//!         (0..strs.len()).filter(|&i| strs.get(i).is_some_and(|v| !trim(v).is_empty())).count()
//!     }
//! }
//!
//! let column = StringArray::from(vec![Some(" a "), Some("  "), None, Some("b")]);
//! assert_eq!(visit_strings(&column, NonBlank), Some(2));
//! let large = LargeStringArray::from(vec!["x"]);
//! assert_eq!(visit_strings(&large, NonBlank), Some(1));
//! assert_eq!(visit_strings(&arrow_array::Int32Array::from(vec![1]), NonBlank), None);
//! ```

use arrow_array::cast::AsArray;
use arrow_array::{Array, OffsetSizeTrait, StringViewArray};
use arrow_buffer::{ArrowNativeType, NullBuffer};
use arrow_schema::DataType;

/// The string types [`visit_strings`] reads, for error messages.
pub const STRING_TYPES: &str = "Utf8, LargeUtf8, Utf8View or a Dictionary of one of them";

/// Random access to the (UTF-8) bytes of a string column; `None` for a null row.
pub trait Strs {
    /// The number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes of row `i` (valid UTF-8, Arrow guarantees it), or `None` if the row is null.
    fn get(&self, i: usize) -> Option<&[u8]>;
}

/// A kernel body, generic over the column layout: [`visit_strings`] calls
/// [`visit`](Self::visit) with the layout of the array at hand.
pub trait StrsVisitor {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel over `strs`.
    fn visit<S: Strs>(self, strs: &S) -> Self::Output;
}

/// `Utf8` / `LargeUtf8`: offsets and data buffers (already adjusted for the array's offset).
struct Offsets<'a, O> {
    offsets: &'a [O],
    data: &'a [u8],
    nulls: Option<&'a NullBuffer>,
}

impl<O: ArrowNativeType> Strs for Offsets<'_, O> {
    #[inline]
    fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    // Always inlined: in the plugin this is called once per row, and a call costs more than
    // the lookup.
    #[inline(always)]
    fn get(&self, i: usize) -> Option<&[u8]> {
        if self.nulls.is_some_and(|n| n.is_null(i)) {
            return None;
        }
        let start = self.offsets[i].as_usize();
        let end = self.offsets[i + 1].as_usize();
        Some(&self.data[start..end])
    }
}

/// `Utf8View`.
struct Views<'a>(&'a StringViewArray);

impl Strs for Views<'_> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        if self.0.is_null(i) {
            return None;
        }
        Some(self.0.value(i).as_bytes())
    }
}

/// A column of type `Null` (what CSV inference or an all-null Parquet column can give):
/// every row is null.
struct AllNull(usize);

impl Strs for AllNull {
    #[inline]
    fn len(&self) -> usize {
        self.0
    }

    #[inline]
    fn get(&self, _: usize) -> Option<&[u8]> {
        None
    }
}

/// A dictionary of strings: keys (normalized to `usize` once per batch) into a string column.
struct Dict<'a, S> {
    keys: Vec<usize>,
    key_nulls: Option<&'a NullBuffer>,
    /// `None` when the dictionary has no values at all (then every key is null).
    values: Option<S>,
}

impl<S: Strs> Strs for Dict<'_, S> {
    #[inline]
    fn len(&self) -> usize {
        self.keys.len()
    }

    #[inline]
    fn get(&self, i: usize) -> Option<&[u8]> {
        if self.key_nulls.is_some_and(|n| n.is_null(i)) {
            return None;
        }
        self.values.as_ref()?.get(self.keys[i])
    }
}

fn offsets<O: OffsetSizeTrait>(array: &dyn Array) -> Option<Offsets<'_, O>> {
    let array = array.as_string_opt::<O>()?;
    Some(Offsets {
        offsets: array.value_offsets(),
        data: array.value_data(),
        nulls: array.nulls(),
    })
}

/// Runs `visitor` over `array` if it is a string column (see [`STRING_TYPES`]; an all-null
/// `Null` column counts), else `None`.
pub fn visit_strings<V: StrsVisitor>(array: &dyn Array, visitor: V) -> Option<V::Output> {
    match array.data_type() {
        DataType::Utf8 => Some(visitor.visit(&offsets::<i32>(array)?)),
        DataType::LargeUtf8 => Some(visitor.visit(&offsets::<i64>(array)?)),
        DataType::Utf8View => Some(visitor.visit(&Views(array.as_string_view_opt()?))),
        DataType::Null => Some(visitor.visit(&AllNull(array.len()))),
        DataType::Dictionary(_, value_type) => {
            let dict = array.as_any_dictionary_opt()?;
            let values = dict.values().as_ref();
            let keys = if values.is_empty() {
                vec![0; dict.len()]
            } else {
                dict.normalized_keys()
            };
            let key_nulls = dict.keys().nulls();
            let non_empty = !values.is_empty();
            match value_type.as_ref() {
                DataType::Utf8 => Some(visitor.visit(&Dict {
                    keys,
                    key_nulls,
                    values: non_empty.then_some(offsets::<i32>(values)?),
                })),
                DataType::LargeUtf8 => Some(visitor.visit(&Dict {
                    keys,
                    key_nulls,
                    values: non_empty.then_some(offsets::<i64>(values)?),
                })),
                DataType::Utf8View => Some(visitor.visit(&Dict {
                    keys,
                    key_nulls,
                    values: non_empty.then_some(Views(values.as_string_view_opt()?)),
                })),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether a character is trimmed from both ends of a value: Unicode whitespace, control
/// characters (NUL, DEL, C1...) and the invisible BOM / zero-width space that spreadsheet and
/// CSV exports leave behind.
#[inline]
pub fn is_trimmed_char(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\u{feff}' || c == '\u{200b}'
}

/// Trims [`is_trimmed_char`] characters from both ends of valid UTF-8 bytes, ASCII fast path.
///
/// ```
/// use audex_plugin_sdk::kernels::strings::trim;
/// assert_eq!(trim("\u{feff} Mary@Example.com\t\r\n".as_bytes()), b"Mary@Example.com");
/// ```
#[inline(always)]
pub fn trim(bytes: &[u8]) -> &[u8] {
    // Most values start and end with a printable ASCII character: nothing to trim, and no call.
    let printable = |b: &u8| (b'!'..=b'~').contains(b);
    if bytes.first().is_some_and(printable) && bytes.last().is_some_and(printable) {
        return bytes;
    }
    trim_ends(bytes)
}

/// [`trim`] when an end may need trimming.
#[inline(never)]
fn trim_ends(mut bytes: &[u8]) -> &[u8] {
    loop {
        match bytes.first() {
            Some(&b) if b <= b' ' || b == 0x7f => bytes = &bytes[1..],
            Some(&b) if b >= 0x80 => {
                let width = match b {
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                match char_at(bytes, 0, width) {
                    Some(c) if is_trimmed_char(c) => bytes = &bytes[width..],
                    _ => break,
                }
            }
            _ => break,
        }
    }
    loop {
        match bytes.last() {
            Some(&b) if b <= b' ' || b == 0x7f => bytes = &bytes[..bytes.len() - 1],
            Some(&b) if b >= 0x80 => {
                // Step back over continuation bytes (0b10xx_xxxx) to the start of the character.
                let mut start = bytes.len() - 1;
                while start > 0 && bytes.len() - start < 4 && bytes[start] & 0xc0 == 0x80 {
                    start -= 1;
                }
                match char_at(bytes, start, bytes.len() - start) {
                    Some(c) if is_trimmed_char(c) => bytes = &bytes[..start],
                    _ => break,
                }
            }
            _ => break,
        }
    }
    bytes
}

/// Appends `value` trimmed (see [`trim`]) and lower-cased to `out`, and returns whether
/// anything was appended (false: the value is empty or blank). ASCII is lower-cased byte by
/// byte; other text with Unicode's full lowercase mapping (`ÉLODIE` is `élodie`).
///
/// ```
/// use audex_plugin_sdk::kernels::strings::trim_lowercase_into;
/// let mut out = Vec::new();
/// assert!(trim_lowercase_into("  Mary@Example.COM ".as_bytes(), &mut out));
/// assert!(trim_lowercase_into(" ÉLODIE".as_bytes(), &mut out));
/// assert!(!trim_lowercase_into(" \t".as_bytes(), &mut out));
/// assert_eq!(out, "mary@example.comélodie".as_bytes());
/// ```
#[inline]
pub fn trim_lowercase_into(value: &[u8], out: &mut Vec<u8>) -> bool {
    let value = trim(value);
    if value.is_ascii() {
        out.extend(value.iter().map(u8::to_ascii_lowercase));
    } else {
        match std::str::from_utf8(value) {
            Ok(text) => {
                let mut utf8 = [0u8; 4];
                for lower in text.chars().flat_map(char::to_lowercase) {
                    out.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
                }
            }
            // Not UTF-8 (never from an Arrow string column): ASCII letters only.
            Err(_) => out.extend(value.iter().map(u8::to_ascii_lowercase)),
        }
    }
    !value.is_empty()
}

/// Decodes the one character encoded in `bytes[start..start + width]`, if that is what it holds.
#[inline]
fn char_at(bytes: &[u8], start: usize, width: usize) -> Option<char> {
    let encoded = bytes.get(start..start + width)?;
    let mut chars = std::str::from_utf8(encoded).ok()?.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int8Type;
    use arrow_array::{
        ArrayRef, DictionaryArray, Int8Array, Int64Array, LargeStringArray, StringArray,
    };

    use super::*;

    struct Collect;
    impl StrsVisitor for Collect {
        type Output = Vec<Option<String>>;
        fn visit<S: Strs>(self, strs: &S) -> Self::Output {
            (0..strs.len())
                .map(|i| {
                    strs.get(i)
                        .map(|b| String::from_utf8(b.to_vec()).expect("utf-8"))
                })
                .collect()
        }
    }

    fn collect(array: &dyn Array) -> Option<Vec<Option<String>>> {
        visit_strings(array, Collect)
    }

    fn owned(values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    }

    #[test]
    fn reads_every_string_layout_including_slices() {
        let rows = [
            Some("a"),
            None,
            Some(""),
            Some("a value longer than twelve bytes"),
            Some("é"),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(rows.to_vec())),
            Arc::new(LargeStringArray::from(rows.to_vec())),
            Arc::new(StringViewArray::from(rows.to_vec())),
            Arc::new(rows.iter().copied().collect::<DictionaryArray<Int8Type>>()),
        ];
        for array in arrays {
            assert_eq!(
                collect(&array).expect("string type"),
                owned(&rows),
                "{}",
                array.data_type()
            );
            let sliced = array.slice(1, 3);
            assert_eq!(
                collect(&sliced).expect("string type"),
                owned(&rows[1..4]),
                "sliced {}",
                array.data_type()
            );
        }
    }

    #[test]
    fn dictionary_nulls_in_keys_and_values() {
        let values: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None]));
        let keys = Int8Array::from(vec![Some(0), None, Some(1), Some(0)]);
        let dict = DictionaryArray::new(keys, values);
        assert_eq!(
            collect(&dict).expect("string type"),
            owned(&[Some("x"), None, None, Some("x")])
        );

        // No values at all: every key must be null.
        let empty: ArrayRef = Arc::new(StringArray::from(Vec::<Option<&str>>::new()));
        let dict = DictionaryArray::new(Int8Array::from(vec![None, None]), empty);
        assert_eq!(collect(&dict).expect("string type"), owned(&[None, None]));
    }

    #[test]
    fn null_type_is_all_nulls() {
        let array = arrow_array::NullArray::new(3);
        assert_eq!(
            collect(&array).expect("null type"),
            owned(&[None, None, None])
        );
        assert_eq!(
            collect(&array.slice(1, 1)).expect("null type"),
            owned(&[None])
        );
    }

    #[test]
    fn non_strings_are_not_visited() {
        assert!(collect(&Int64Array::from(vec![1])).is_none());
        let values: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let dict = DictionaryArray::new(Int8Array::from(vec![0]), values);
        assert!(collect(&dict).is_none());
    }

    #[test]
    fn trims_ascii_unicode_and_invisible_characters() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("   ", ""),
            ("\t a b \r\n", "a b"),
            ("\u{a0}x\u{a0}", "x"),
            ("\u{3000}x\u{2003}", "x"),
            ("\u{feff}x\u{200b}", "x"),
            ("\0x\u{7f}", "x"),
            ("\u{85}x", "x"),
            ("é", "é"),
            ("  éa😀 ", "éa😀"),
            ("😀", "😀"),
            ("x\u{a0}y", "x\u{a0}y"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                trim(input.as_bytes()),
                expected.as_bytes(),
                "trim({input:?})"
            );
            assert_eq!(
                input.trim_matches(is_trimmed_char),
                *expected,
                "str trim({input:?})"
            );
        }
    }
}
