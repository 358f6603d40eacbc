//! SHA-256 to lowercase hex, one value or many at once, and recognising values that already
//! are digests.
//!
//! One value: [`sha256_hex`]. Natively it uses `sha2`'s streaming hasher, which picks SHA-NI
//! at run time. A hand-padded single-call path over `sha2::compress256` for short inputs was
//! measured (native, release, SHA-NI): no faster than `Sha256::digest` (67-101 vs 70-93 ns per
//! 22-byte input, within noise), so it was dropped.
//!
//! Many values: [`PendingDigests`] gathers the messages of a batch and hashes them together.
//! In a WebAssembly build with SIMD128 (`-C target-feature=+simd128`, which `audex plugin new`
//! sets up) it hashes four messages at once, one per 32-bit lane (WebAssembly has no SHA
//! instructions: this is the fastest digest a plugin can compute itself); elsewhere it hashes
//! each message as it comes.
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

/// Whether [`PendingDigests`] keeps the messages and hashes them together at the end of a
/// batch (the WebAssembly build with SIMD128, four at a time), rather than hash each one as
/// soon as it is pushed (natively, where `sha2` uses SHA-NI and a second pass over the
/// messages only costs: measured 12 % slower on an email kernel).
pub const BATCHED: bool = cfg!(all(target_arch = "wasm32", target_feature = "simd128"));

/// Messages gathered during one kernel run and hashed together at its end, so that the
/// WebAssembly build can hash them four at a time (SIMD128). See the [module
/// documentation](self) for an example.
///
/// Keep one per kernel and reuse it batch after batch: its buffers are kept.
#[derive(Clone, Default)]
pub struct PendingDigests {
    /// The messages, back to back.
    data: Vec<u8>,
    /// `(slot, start, end)`: `data[start..end]` is hashed into output slot `slot`.
    items: Vec<(usize, usize, usize)>,
}

impl PendingDigests {
    /// Forgets every message, keeping the allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.items.clear();
    }

    /// The message buffer: append a message to it, then call [`push_from`](Self::push_from)
    /// with the length it had before. Bytes already pushed must be left alone; a message
    /// appended and not pushed (say, rejected halfway) must be truncated away.
    #[inline]
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Takes `buffer()[start..]` as the message whose digest goes to `slots[slot]`: recorded
    /// for [`hash_into`](Self::hash_into) when [`BATCHED`], else hashed now and dropped.
    ///
    /// # Panics
    /// If `start` is past the end of the buffer, or (when not [`BATCHED`]) `slot` is out of
    /// `slots`.
    #[inline]
    pub fn push_from(&mut self, slot: usize, start: usize, slots: &mut [[u8; 64]]) {
        if BATCHED {
            self.items.push((slot, start, self.data.len()));
        } else {
            sha256_hex(&self.data[start..], &mut slots[slot]);
            self.data.truncate(start);
        }
    }

    /// Hashes every recorded message into its slot as lowercase hex.
    ///
    /// # Panics
    /// If a recorded slot is out of `slots`.
    pub fn hash_into(&self, slots: &mut [[u8; 64]]) {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        self.hash_into_x4(slots);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        for &(slot, start, end) in &self.items {
            sha256_hex(&self.data[start..end], &mut slots[slot]);
        }
    }

    /// [`hash_into`](Self::hash_into) through the four-lane hasher.
    #[cfg(any(test, all(target_arch = "wasm32", target_feature = "simd128")))]
    fn hash_into_x4(&self, slots: &mut [[u8; 64]]) {
        super::sha256x4::hash_many(
            self.items.len(),
            |i| {
                let (_, start, end) = self.items[i];
                &self.data[start..end]
            },
            |i, hex| slots[self.items[i].0] = hex,
            sha256_hex,
        );
    }
}

/// Hex-encodes a 32-byte digest into 64 lowercase hex digits through a lookup table.
#[inline]
pub fn hex_encode_32(bytes: &[u8; 32], out: &mut [u8; 64]) {
    for (pair, &b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
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
            pending
                .items
                .push((messages.len() - i, start, pending.data.len()));
        }
        pending.hash_into(&mut direct);
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
