//! SHA-256 to lowercase hex, and recognising values that already are digests.
//!
//! Hashing uses `sha2`'s streaming hasher, which picks SHA-NI at run time natively. A
//! hand-padded single-call path over `sha2::compress256` for short inputs was measured (native,
//! release, SHA-NI): no faster than `Sha256::digest` (67-101 vs 70-93 ns per 22-byte input,
//! within noise), so it was dropped.

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
///
/// ```
/// use plugin_facebook::normalize::sha256_hex;
/// let mut hex = [0u8; 64];
/// sha256_hex(b"mary@example.com", &mut hex);
/// assert_eq!(&hex, b"f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79");
/// ```
pub fn sha256_hex(input: &[u8], out: &mut [u8; 64]) {
    hex_encode_32(&Sha256::digest(input).into(), out);
}

/// Hex-encodes a 32-byte digest into 64 lowercase hex digits through a lookup table.
pub(super) fn hex_encode_32(bytes: &[u8; 32], out: &mut [u8; 64]) {
    for (pair, &b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
    }
}

/// Hex-encodes `bytes` into `out` (lowercase), which must be twice as long.
pub(super) fn hex_encode(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), bytes.len() * 2);
    for (pair, &b) in out.as_chunks_mut::<2>().0.iter_mut().zip(bytes) {
        *pair = HEX_PAIRS[usize::from(b)];
    }
}

/// Whether `value` (already trimmed) looks like a SHA-256 digest: exactly 64 hex digits, any case.
pub(super) fn is_digest_shaped(value: &[u8]) -> bool {
    value.len() == 64 && value.iter().all(u8::is_ascii_hexdigit)
}

/// Copies a digest-shaped value (see [`is_digest_shaped`]) into `out`, lower-cased.
pub(super) fn copy_digest_lowercase(value: &[u8], out: &mut [u8; 64]) {
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
