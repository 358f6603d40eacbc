//! Lower-casing an ASCII value 16 bytes at a time while counting one byte and spotting spaces
//! and control characters: the inner loop of e-mail normalization.
//!
//! [`lowercase_ascii_scan`] looks at each 16-byte block of the value once: one compare per
//! question (non-ASCII? space or control? the byte counted?), each answered for all 16 bytes
//! as a 16-bit mask, and one add-and-select for the lower-casing. A value whose length is not a
//! multiple of 16 ends with a block that overlaps the one before it (so no byte outside the
//! value is read or written), and the count ignores the lanes already counted. Values shorter
//! than 16 bytes go byte by byte.
//!
//! In a WebAssembly build with SIMD128 the blocks are `v128` values; natively they are
//! `[u8; 16]` arrays worked on lane by lane (the compiler vectorizes them), so the block
//! logic, overlap and masks included, is what the native tests check.
//!
//! ```
//! use audex_plugin_sdk::kernels::ascii::{lowercase_ascii_scan, AsciiScan};
//!
//! let mut out = Vec::new();
//! let scan = lowercase_ascii_scan(b"Mary.Smith@Example.COM", b'@', &mut out);
//! assert_eq!(scan, Some(AsciiScan { count: 1, space_or_control: false }));
//! assert_eq!(out, b"mary.smith@example.com");
//! assert_eq!(lowercase_ascii_scan("Élodie@example.fr".as_bytes(), b'@', &mut out), None);
//! assert_eq!(out, b"mary.smith@example.com", "a non-ASCII value leaves `out` as it was");
//! ```

/// What [`lowercase_ascii_scan`] found in an ASCII value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsciiScan {
    /// How many times the counted byte occurs.
    pub count: u32,
    /// Whether the value holds a space, a control character (below 0x20) or DEL (0x7f).
    pub space_or_control: bool,
}

/// Bytes per block.
const LANES: usize = 16;

/// If `value` is all ASCII: appends it to `out` with `A`-`Z` lower-cased, and says how many
/// times `needle` occurs in it and whether it holds a space or control character. Otherwise
/// returns `None` and leaves `out` as it was.
#[inline]
pub fn lowercase_ascii_scan(value: &[u8], needle: u8, out: &mut Vec<u8>) -> Option<AsciiScan> {
    if value.len() < LANES {
        return scan_bytes(value, needle, out);
    }
    let start = out.len();
    out.reserve(value.len());
    let mut blocks = Blocks::default();
    // Whole blocks are appended 16 bytes at a time: a copy of known size, which in WebAssembly
    // is a vector store where a copy of any other size is a `memory.copy` call out of the plugin.
    let (whole, rest) = value.as_chunks::<LANES>();
    for block in whole {
        out.extend_from_slice(&blocks.scan(block, u16::MAX, needle));
    }
    if !rest.is_empty() {
        // The last 16 bytes, overlapping the previous block: only the top `rest.len()` lanes
        // are new. The overlapped bytes already appended are dropped and appended again, the
        // same, with the block.
        let at = value.len() - LANES;
        let new_lanes = u16::MAX << (LANES - rest.len());
        if let Some(block) = value[at..].first_chunk::<LANES>() {
            let lower = blocks.scan(block, new_lanes, needle);
            out.truncate(start + at);
            out.extend_from_slice(&lower);
        }
    }
    if blocks.non_ascii {
        out.truncate(start);
        return None;
    }
    Some(AsciiScan {
        count: blocks.count,
        space_or_control: blocks.space_or_control,
    })
}

/// The byte-by-byte path, for values shorter than a block.
fn scan_bytes(value: &[u8], needle: u8, out: &mut Vec<u8>) -> Option<AsciiScan> {
    if !value.is_ascii() {
        return None;
    }
    let mut count = 0u32;
    let mut space_or_control = false;
    for &b in value {
        count += u32::from(b == needle);
        space_or_control |= b <= b' ' || b == 0x7f;
    }
    out.extend(value.iter().map(u8::to_ascii_lowercase));
    Some(AsciiScan {
        count,
        space_or_control,
    })
}

/// What the blocks seen so far held.
#[derive(Default)]
struct Blocks {
    count: u32,
    space_or_control: bool,
    non_ascii: bool,
}

impl Blocks {
    /// Scans one block and returns it lower-cased; `new_lanes` marks the lanes not counted
    /// before (bit `i` for byte `i`).
    #[inline(always)]
    fn scan(&mut self, block: &[u8; LANES], new_lanes: u16, needle: u8) -> [u8; LANES] {
        let mut lower = [0u8; LANES];
        let masks = lanes::scan(block, &mut lower, needle);
        self.count += (masks.needle & new_lanes).count_ones();
        // Re-reading overlapped lanes cannot change these two answers.
        self.space_or_control |= masks.space_or_control != 0;
        self.non_ascii |= masks.non_ascii != 0;
        lower
    }
}

/// One block's answers, bit `i` for byte `i`.
struct Masks {
    needle: u16,
    space_or_control: u16,
    non_ascii: u16,
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
mod lanes {
    //! A block as a WebAssembly `v128`.
    use core::arch::wasm32::{
        i8x16_eq, u8x16_bitmask, u8x16_ge, u8x16_le, u8x16_splat, v128, v128_and, v128_load,
        v128_or, v128_store,
    };

    use super::{LANES, Masks};

    #[inline(always)]
    pub(super) fn scan(block: &[u8; LANES], target: &mut [u8; LANES], needle: u8) -> Masks {
        // SAFETY: `block` is 16 readable bytes; `v128_load` has no alignment requirement.
        let v = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
        let upper = v128_and(
            u8x16_ge(v, u8x16_splat(b'A')),
            u8x16_le(v, u8x16_splat(b'Z')),
        );
        let lower = v128_or(v, v128_and(upper, u8x16_splat(0x20)));
        // SAFETY: `target` is 16 writable bytes; `v128_store` has no alignment requirement.
        unsafe { v128_store(target.as_mut_ptr().cast::<v128>(), lower) };
        let space_or_control = v128_or(
            u8x16_le(v, u8x16_splat(b' ')),
            i8x16_eq(v, u8x16_splat(0x7f)),
        );
        Masks {
            needle: u8x16_bitmask(i8x16_eq(v, u8x16_splat(needle))),
            space_or_control: u8x16_bitmask(space_or_control),
            // The top bit of each byte.
            non_ascii: u8x16_bitmask(v),
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    //! A block as a byte array, lane by lane.
    use super::{LANES, Masks};

    #[inline(always)]
    pub(super) fn scan(block: &[u8; LANES], target: &mut [u8; LANES], needle: u8) -> Masks {
        let mut masks = Masks {
            needle: 0,
            space_or_control: 0,
            non_ascii: 0,
        };
        for (i, (&b, t)) in block.iter().zip(target.iter_mut()).enumerate() {
            *t = b.to_ascii_lowercase();
            masks.needle |= u16::from(b == needle) << i;
            masks.space_or_control |= u16::from(b <= b' ' || b == 0x7f) << i;
            masks.non_ascii |= u16::from(b >= 0x80) << i;
        }
        masks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious answer, byte by byte.
    fn expected(value: &[u8], needle: u8) -> Option<(AsciiScan, Vec<u8>)> {
        value.is_ascii().then(|| {
            (
                AsciiScan {
                    count: value.iter().filter(|&&b| b == needle).count() as u32,
                    space_or_control: value.iter().any(|&b| b <= b' ' || b == 0x7f),
                },
                value.to_ascii_lowercase(),
            )
        })
    }

    #[test]
    fn every_length_and_position_agrees_with_the_byte_by_byte_answer() {
        // Lengths around one, two and three blocks; the special byte at every position.
        for len in 0..=50 {
            let base: Vec<u8> = (0..len)
                .map(|i| b"AbCdEfGhIjKlMnOpQrStUvWxYz09._+-"[i % 32])
                .collect();
            for position in 0..len {
                for special in [b'@', b' ', b'\t', 0x7f, 0x00, b'Z', b'[', b'`', 0xc3, 0x80] {
                    let mut value = base.clone();
                    value[position] = special;
                    if special == b'@' && position + 1 < len {
                        // Two of them, one in an overlapped lane when the length is not a
                        // multiple of 16.
                        value[len - 1] = b'@';
                    }
                    let mut out = b"kept".to_vec();
                    let got = lowercase_ascii_scan(&value, b'@', &mut out);
                    match expected(&value, b'@') {
                        Some((scan, lower)) => {
                            assert_eq!(got, Some(scan), "{value:?}");
                            assert_eq!(&out[..4], b"kept");
                            assert_eq!(&out[4..], &lower[..], "{value:?}");
                        }
                        None => {
                            assert_eq!(got, None, "{value:?}");
                            assert_eq!(out, b"kept", "{value:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn counts_every_occurrence_once() {
        let mut out = Vec::new();
        // 20 bytes: the last block overlaps 12 lanes of the first, which hold two `@`.
        let value = b"a@b@c@d@e@f@g@h@i@j@";
        let scan = lowercase_ascii_scan(value, b'@', &mut out).expect("ASCII");
        assert_eq!(scan.count, 10);
        assert!(!scan.space_or_control);
        assert_eq!(out, value);
    }
}
