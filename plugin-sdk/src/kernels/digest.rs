//! SHA-256 to lowercase hex, one value or many at once, and recognising values that already
//! are digests.
//!
//! One value: [`sha256_hex`]. Natively it uses `sha2`'s streaming hasher, which picks SHA-NI
//! at run time. A hand-padded single-call path over `sha2::compress256` for short inputs was
//! measured (native, release, SHA-NI): no faster than `Sha256::digest` (67-101 vs 70-93 ns per
//! 22-byte input, within noise), so it was dropped.
//!
//! Many values: [`PendingDigests`] gathers the messages of a batch and hashes them together.
//! Where depends on the build ([`DIGESTS_BY`]):
//! - in a WebAssembly plugin, the host hashes them natively, in one `digest.sha256` call per
//!   batch (WIT 0.1.1): WebAssembly has no SHA instructions, and the host's SHA-NI is several
//!   times faster than anything the plugin can compute itself;
//! - in a WebAssembly plugin built with the SDK's `portable-digest` feature and SIMD128
//!   (`-C target-feature=+simd128`), the plugin hashes four messages at once (`sha256x4`): for
//!   comparison, and for hosts without the import;
//! - natively (tests, the host's own use), `sha2` hashes each message as it is pushed.
//!
//! Every way gives the same digests (FIPS 180-4).
//!
//! ```
//! use audex_plugin_sdk::kernels::digest::{sha256_hex, PendingDigests};
//!
//! let mut hex = [0u8; 64];
//! sha256_hex(b"mary@example.com", &mut hex);
//! assert_eq!(&hex, b"f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79");
//!
//! // A batch: append each message, say which slot its digest goes to, hash at the end.
//! let mut slots = vec![[0u8; 64]; 2];
//! let mut pending = PendingDigests::default();
//! for (slot, message) in ["mary@example.com", "15559876543"].iter().enumerate() {
//!     let start = pending.buffer().len();
//!     pending.buffer().extend_from_slice(message.as_bytes());
//!     pending.push_from(slot, start, &mut slots);
//! }
//! pending.hash_into(&mut slots);
//! assert_eq!(slots[0], hex);
//! assert_eq!(&slots[1], b"1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e");
//! ```

use sha2::{Digest, Sha256};

/// `HEX_PAIRS[b]` is the two lowercase hex digits of byte `b`.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    table
};

/// Writes the SHA-256 digest of `input` to `out` as 64 lowercase hex digits.
#[inline]
pub fn sha256_hex(input: &[u8], out: &mut [u8; 64]) {
    hex_encode_32(&Sha256::digest(input).into(), out);
}

/// Where [`PendingDigests`] computes a batch's digests: see the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestsBy {
    /// The host, natively, one `digest.sha256` call per batch (WebAssembly builds).
    Host,
    /// The plugin itself, four messages at once with SIMD128 (WebAssembly builds with the
    /// `portable-digest` feature).
    Simd128,
    /// `sha2`, each message as soon as it is pushed (native builds: there `sha2` uses SHA-NI,
    /// and a second pass over the messages only costs, measured 12 % on an email kernel).
    EachAsPushed,
}

/// Where this build computes batched digests.
pub const DIGESTS_BY: DigestsBy = if cfg!(all(
    target_arch = "wasm32",
    not(feature = "portable-digest")
)) {
    DigestsBy::Host
} else if cfg!(portable_digest_simd128) {
    DigestsBy::Simd128
} else {
    DigestsBy::EachAsPushed
};

/// Whether [`PendingDigests`] keeps the messages and hashes them together at the end of a
/// batch, rather than each one as soon as it is pushed.
pub const BATCHED: bool = !matches!(DIGESTS_BY, DigestsBy::EachAsPushed);

/// Bytes of messages gathered before [`PendingDigests::push_from`] hashes them without
/// waiting for the end of the batch, which bounds the memory a huge batch takes.
const FLUSH_BYTES: usize = 8 << 20;

/// Messages gathered during one kernel run and hashed together at its end (see
/// [`DIGESTS_BY`]). See the [module documentation](self) for an example.
///
/// Keep one per kernel and reuse it batch after batch: its buffers are kept.
#[derive(Clone, Default)]
pub struct PendingDigests {
    /// The messages, back to back.
    data: Vec<u8>,
    /// Where each message ends in `data` (the next one starts there).
    ends: Vec<u32>,
    /// The output slot of each message.
    slots: Vec<u32>,
}

impl PendingDigests {
    /// Forgets every message, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.slots.clear();
    }

    /// The message buffer: append a message to it, then call [`push_from`](Self::push_from)
    /// with the length it had before. Bytes already pushed must be left alone; a message
    /// appended and not pushed (say, rejected halfway) must be truncated away.
    #[inline]
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Takes `buffer()[start..]` as the message whose digest goes to `slots[slot]`: recorded
    /// for [`hash_into`](Self::hash_into) when [`BATCHED`], else hashed now and dropped. When
    /// the recorded messages pass 8 MiB they are hashed into `slots` at once.
    ///
    /// # Panics
    /// If `start` is not where the previous message ended (bytes were left in the buffer
    /// between two messages), or `slot` is out of `slots`.
    #[inline(always)]
    pub fn push_from(&mut self, slot: usize, start: usize, slots: &mut [[u8; 64]]) {
        if !BATCHED {
            sha256_hex(&self.data[start..], &mut slots[slot]);
            self.data.truncate(start);
            return;
        }
        self.record(slot, start, slots);
    }

    /// The batched half of [`push_from`](Self::push_from).
    #[inline(always)]
    fn record(&mut self, slot: usize, start: usize, slots: &mut [[u8; 64]]) {
        assert_eq!(
            start,
            self.ends.last().map_or(0, |&e| e as usize),
            "a message must start where the previous one ended"
        );
        // Both fit: the buffer is flushed long before 4 GiB, and `slots` is indexed by `slot`.
        let (Ok(end), Ok(slot_index)) = (u32::try_from(self.data.len()), u32::try_from(slot))
        else {
            panic!("message buffer or slot beyond 4 GiB");
        };
        self.ends.push(end);
        self.slots.push(slot_index);
        if self.data.len() >= FLUSH_BYTES {
            self.hash_into(slots);
            self.clear();
        }
    }

    /// Hashes every recorded message into its slot as lowercase hex.
    ///
    /// # Panics
    /// If a recorded slot is out of `slots`.
    pub fn hash_into(&self, slots: &mut [[u8; 64]]) {
        match DIGESTS_BY {
            DigestsBy::Host => self.hash_into_by_host(slots),
            #[cfg(any(test, portable_digest_simd128))]
            DigestsBy::Simd128 => self.hash_into_x4(slots),
            // `Simd128` is never selected without SIMD128.
            _ => self.hash_into_each(slots),
        }
    }

    /// The messages with their output slots, in order.
    fn messages(&self) -> impl Iterator<Item = (usize, &[u8])> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&e| e as usize));
        self.slots
            .iter()
            .zip(starts.zip(&self.ends))
            .map(|(&slot, (start, &end))| (slot as usize, &self.data[start..end as usize]))
    }

    /// [`hash_into`](Self::hash_into) with `sha2`, one message at a time.
    fn hash_into_each(&self, slots: &mut [[u8; 64]]) {
        for (slot, message) in self.messages() {
            sha256_hex(message, &mut slots[slot]);
        }
    }

    /// [`hash_into`](Self::hash_into) by the host's `digest.sha256` import.
    #[cfg(target_arch = "wasm32")]
    fn hash_into_by_host(&self, slots: &mut [[u8; 64]]) {
        if self.ends.is_empty() {
            return;
        }
        let digests = crate::bindings::audex::destination::digest::sha256(&self.data, &self.ends);
        let (digests, rest) = digests.as_chunks::<32>();
        assert!(
            digests.len() == self.ends.len() && rest.is_empty(),
            "the host's digest.sha256 returned a wrong number of bytes"
        );
        for (&slot, digest) in self.slots.iter().zip(digests) {
            hex_encode_32(digest, &mut slots[slot as usize]);
        }
    }

    /// Native builds have no host import: the same digests with `sha2`.
    #[cfg(not(target_arch = "wasm32"))]
    fn hash_into_by_host(&self, slots: &mut [[u8; 64]]) {
        self.hash_into_each(slots);
    }

    /// [`hash_into`](Self::hash_into) through the four-lane hasher.
    #[cfg(any(test, portable_digest_simd128))]
    fn hash_into_x4(&self, slots: &mut [[u8; 64]]) {
        let messages: Vec<(usize, &[u8])> = self.messages().collect();
        super::sha256x4::hash_many(
            messages.len(),
            |i| messages[i].1,
            |i, hex| slots[messages[i].0] = hex,
            sha256_hex,
        );
    }
}

/// Hex-encodes a 32-byte digest into 64 lowercase hex digits through a lookup table.
#[inline]
pub fn hex_encode_32(bytes: &[u8; 32], out: &mut [u8; 64]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    hex_simd128::encode_32(bytes, out);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    for (pair, &b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
    }
}

/// Hex encoding with WebAssembly SIMD128: 16 bytes at a time, each nibble looked up in a
/// 16-digit table by one swizzle, the two digits of each byte interleaved by one shuffle.
/// Several times faster than the table above in the plugin, where it runs once per digest.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
mod hex_simd128 {
    use core::arch::wasm32::{
        u8x16, u8x16_shr, u8x16_shuffle, u8x16_splat, u8x16_swizzle, v128, v128_and, v128_load,
        v128_store,
    };

    #[inline]
    pub(super) fn encode_32(bytes: &[u8; 32], out: &mut [u8; 64]) {
        let digits = u8x16(
            b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9', b'a', b'b', b'c', b'd',
            b'e', b'f',
        );
        for (input, output) in bytes
            .as_chunks::<16>()
            .0
            .iter()
            .zip(out.as_chunks_mut::<32>().0)
        {
            // SAFETY: `input` is 16 readable bytes; `v128_load` has no alignment requirement.
            let v = unsafe { v128_load(input.as_ptr().cast::<v128>()) };
            let high = u8x16_swizzle(digits, u8x16_shr(v, 4));
            let low = u8x16_swizzle(digits, v128_and(v, u8x16_splat(0x0f)));
            let first =
                u8x16_shuffle::<0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23>(high, low);
            let second =
                u8x16_shuffle::<8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31>(
                    high, low,
                );
            let (head, tail) = output.split_at_mut(16);
            // SAFETY: `head` and `tail` are 16 writable bytes each; no alignment requirement.
            unsafe {
                v128_store(head.as_mut_ptr().cast::<v128>(), first);
                v128_store(tail.as_mut_ptr().cast::<v128>(), second);
            }
        }
    }
}

/// Hex-encodes `bytes` into `out` (lowercase), which must be twice as long (extra bytes of
/// either are ignored).
#[inline]
pub fn hex_encode(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (pair, &b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
    }
}

/// Whether `value` (already trimmed) looks like a SHA-256 digest: exactly 64 hex digits, any
/// case. Destinations that accept pre-hashed identifiers pass such values through (see
/// [`copy_digest_lowercase`]) rather than hash them twice.
#[inline]
pub fn is_digest_shaped(value: &[u8]) -> bool {
    value.len() == 64 && value.iter().all(u8::is_ascii_hexdigit)
}

/// Copies a digest-shaped value (see [`is_digest_shaped`]) into `out`, lower-cased.
#[inline]
pub fn copy_digest_lowercase(value: &[u8], out: &mut [u8; 64]) {
    for (o, &b) in out.iter_mut().zip(value) {
        *o = b.to_ascii_lowercase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(input: &[u8]) -> String {
        let mut out = [0u8; 64];
        sha256_hex(input, &mut out);
        String::from_utf8(out.to_vec()).expect("hex is ASCII")
    }

    #[test]
    fn meta_published_vectors() {
        assert_eq!(
            hex_of(b"mary@example.com"),
            "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        assert_eq!(
            hex_of(b"15559876543"),
            "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e"
        );
    }

    #[test]
    fn fips_vectors() {
        assert_eq!(
            hex_of(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_of(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // 56 bytes: the classic two-block case (no room for the length in the first block).
        assert_eq!(
            hex_of(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn hex_table_is_lowercase_and_ordered() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let mut out = vec![0u8; 512];
        hex_encode(&bytes, &mut out);
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(out, expected.as_bytes());
    }

    #[test]
    fn pending_digests_land_in_their_slots_either_way() {
        let messages: Vec<String> = (0..23)
            .map(|i| format!("{}@example.com", "u".repeat(i * 7)))
            .collect();
        let mut pending = PendingDigests::default();
        // Slots in reverse order, one left empty.
        let mut direct = vec![[0u8; 64]; messages.len() + 1];
        for (i, m) in messages.iter().enumerate() {
            let start = pending.data.len();
            pending.data.extend_from_slice(m.as_bytes());
            assert_eq!(start, pending.ends.last().map_or(0, |&e| e as usize));
            pending.ends.push(pending.data.len() as u32);
            pending.slots.push((messages.len() - i) as u32);
        }
        pending.hash_into_each(&mut direct);
        let mut four = vec![[0u8; 64]; messages.len() + 1];
        pending.hash_into_x4(&mut four);
        assert_eq!(direct, four);
        assert_eq!(direct[0], [0u8; 64]);
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(direct[messages.len() - i], {
                let mut hex = [0u8; 64];
                sha256_hex(m.as_bytes(), &mut hex);
                hex
            });
        }
    }

    #[test]
    fn a_huge_batch_is_hashed_in_parts_with_the_same_digests() {
        let message = vec![b'x'; 1 << 20];
        let mut expected = [0u8; 64];
        sha256_hex(&message, &mut expected);
        let mut pending = PendingDigests::default();
        let mut slots = vec![[0u8; 64]; 10];
        for slot in 0..10 {
            let start = pending.buffer().len();
            pending.buffer().extend_from_slice(&message);
            pending.record(slot, start, &mut slots);
        }
        assert_eq!(
            pending.ends.len(),
            2,
            "the first 8 MiB were hashed as they filled up"
        );
        assert!(slots[..8].iter().all(|s| *s == expected));
        assert!(slots[8..].iter().all(|s| *s == [0u8; 64]));
        pending.hash_into(&mut slots);
        assert!(slots.iter().all(|s| *s == expected));
    }

    #[test]
    #[should_panic(expected = "start where the previous one ended")]
    fn batched_messages_must_be_contiguous() {
        let mut pending = PendingDigests::default();
        let mut slots = vec![[0u8; 64]; 2];
        pending.buffer().extend_from_slice(b"abc");
        pending.record(0, 0, &mut slots);
        // A stray byte left between two messages.
        pending.buffer().extend_from_slice(b"-def");
        pending.record(1, 4, &mut slots);
    }

    #[test]
    fn digest_shape() {
        let lower = "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79";
        let upper = lower.to_ascii_uppercase();
        assert!(is_digest_shaped(lower.as_bytes()));
        assert!(is_digest_shaped(upper.as_bytes()));
        assert!(!is_digest_shaped(&lower.as_bytes()[..63]));
        assert!(!is_digest_shaped(format!("{lower}0").as_bytes()));
        assert!(!is_digest_shaped(lower.replace('f', "g").as_bytes()));
        let mut out = [0u8; 64];
        copy_digest_lowercase(upper.as_bytes(), &mut out);
        assert_eq!(&out, lower.as_bytes());
    }
}
