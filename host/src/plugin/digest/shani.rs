//! SHA-256 of messages that fit one block, with the x86 SHA extensions ("SHA-NI"), several
//! messages interleaved.
//!
//! Written from FIPS 180-4 (§5.1.1, §6.2) and Intel's description of the instructions:
//!
//! * `sha256rnds2 cdgh, abef, wk` runs two rounds. The eight working variables live in two
//!   registers, `abef` = (A, B, E, F) and `cdgh` = (C, D, G, H) from the high lane down, and
//!   the low two lanes of `wk` hold `W[t] + K[t]` and `W[t+1] + K[t+1]`. It returns the new
//!   (A, B, E, F); the new (C, D, G, H) is the old (A, B, E, F), so four rounds are two calls
//!   with the registers' roles swapped and leave them as they started.
//! * `sha256msg1 w0, w1` gives `W[t-16] + σ0(W[t-15])` for four t, `sha256msg2 x, w3` adds
//!   `σ1(W[t-2])` to x lane by lane, including the two W it has just made: together with
//!   `W[t-7]` (`palignr` of the two newest message vectors) they extend the message schedule
//!   four words at a time.
//!
//! One block's 32 `sha256rnds2` form a single dependency chain (about 4 cycles per link on
//! the Zen 4 this was measured on, where independent ones issue about one per cycle), so
//! [`compress`] runs the rounds of `N` independent blocks side by side. The message is padded
//! in registers (masks from byte compares) straight from the bytes that follow it in the
//! caller's buffer: padding it in memory first costs more than the compression saves, as the
//! 16-byte loads of a block just written byte by byte wait for the stores to complete. The
//! batching loop of the parent module is compiled into [`batched`], with the target features,
//! so that [`compress`] is inlined into it. The figures are in the parent module's
//! documentation.
//!
//! The round constants and the initial hash value are derived at compile time from their
//! definitions (cube and square roots of the first primes) rather than typed in.
//!
//! This is the only `unsafe` of the `digest` import: calling the `#[target_feature]` functions
//! (only once the features are known to be present, which the [`ShaNi`] token stands for) and
//! the unaligned loads and stores between byte arrays and registers.

#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, _mm_add_epi8, _mm_add_epi32, _mm_alignr_epi8, _mm_and_si128, _mm_cmpeq_epi8,
    _mm_cmplt_epi8, _mm_loadu_si128, _mm_or_si128, _mm_set_epi8, _mm_set_epi32, _mm_set1_epi8,
    _mm_setr_epi8, _mm_setzero_si128, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32,
    _mm_sha256rnds2_epu32, _mm_shuffle_epi8, _mm_shuffle_epi32, _mm_storeu_si128,
    _mm_unpackhi_epi64, _mm_unpacklo_epi64,
};
use std::sync::OnceLock;

use super::{DIGEST_BYTES, DigestError, ONE_BLOCK_MAX};

/// Proof that this CPU has the SHA extensions (and the SSE levels around them): only
/// [`ShaNi::detect`] makes one, after asking the CPU.
#[derive(Debug, Clone, Copy)]
pub(super) struct ShaNi(());

/// A message of at most [`ONE_BLOCK_MAX`] bytes, seen through the 64 bytes that start with it:
/// whatever follows the message in the window is ignored.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window<'a> {
    /// The message, then anything.
    pub(super) bytes: &'a [u8; 64],
    /// The message's length.
    pub(super) len: usize,
}

impl ShaNi {
    /// The token, if the CPU has the instructions [`compress`] is compiled for. The answer is
    /// computed once per process.
    pub(super) fn detect() -> Option<Self> {
        static PRESENT: OnceLock<bool> = OnceLock::new();
        let present = *PRESENT.get_or_init(|| {
            std::arch::is_x86_feature_detected!("sha")
                && std::arch::is_x86_feature_detected!("sse2")
                && std::arch::is_x86_feature_detected!("ssse3")
                && std::arch::is_x86_feature_detected!("sse4.1")
        });
        present.then_some(Self(()))
    }

    /// [`super::batched`]: hashes `messages` delimited by `ends` into `out`, compiled with the
    /// SHA extensions enabled so that [`compress`] is inlined into its loop.
    #[inline]
    pub(super) fn batched<const N: usize>(
        self,
        messages: &[u8],
        ends: &[u32],
        out: &mut [u8],
    ) -> Result<(), DigestError> {
        // SAFETY: as in `digest`: `batched` only requires the CPU features that `self` proves
        // present.
        unsafe { batched::<N>(self, messages, ends, out) }
    }

    /// The SHA-256 digests of `N` messages of at most [`ONE_BLOCK_MAX`] bytes each (longer
    /// ones give wrong digests, nothing worse).
    #[inline]
    pub(super) fn digest<const N: usize>(
        self,
        windows: [Window<'_>; N],
    ) -> [[u8; DIGEST_BYTES]; N] {
        debug_assert!(windows.iter().all(|window| window.len <= ONE_BLOCK_MAX));
        // SAFETY: `compress` only requires that the CPU supports the target features it is
        // compiled with; `self` exists only because `detect` found all of them.
        unsafe { compress(windows) }
    }
}

/// [`super::batched`] (always inlined) in a function compiled for the SHA extensions.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn batched<const N: usize>(
    sha_ni: ShaNi,
    messages: &[u8],
    ends: &[u32],
    out: &mut [u8],
) -> Result<(), DigestError> {
    super::batched::<N>(sha_ni, messages, ends, out)
}

/// SHA-256 of `N` one-block messages: each padded (FIPS 180-4 §5.1.1) in registers, then
/// compressed from the initial hash value, the `N` blocks' instructions interleaved.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
#[inline]
fn compress<const N: usize>(windows: [Window<'_>; N]) -> [[u8; DIGEST_BYTES]; N] {
    // Big-endian words: reverse the bytes of each 32-bit lane.
    let word_order = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    let positions = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let marker = _mm_set1_epi8(0x80u8.cast_signed());

    // The block, as four registers of four big-endian words each: the message's bytes, 0x80,
    // zeros, and the length in bits as a 64-bit number (its high word is 0 here). Built in
    // registers rather than in memory, where 16-byte loads of a block just written byte by
    // byte would wait for the stores to complete instead of forwarding them.
    // `words[slot]` holds W[4g..4g+4] for the round group g ≡ slot (mod 4) in progress.
    let mut words = [[_mm_setzero_si128(); N]; 4];
    for (lane, window) in windows.iter().enumerate() {
        // Lengths up to 55 are positive as `i8`, as are the positions 0..64.
        let len = _mm_set1_epi8(window.len as i8);
        // (Constant ranges once the loop is unrolled; `as_chunks` would leave a loop here.)
        for (quarter, slot) in words.iter_mut().enumerate() {
            let chunk = window.bytes[16 * quarter..].first_chunk();
            let chunk = chunk.expect("a block is four times 16 bytes");
            let position = _mm_add_epi8(positions, _mm_set1_epi8(16 * quarter as i8));
            let message = _mm_and_si128(load(chunk), _mm_cmplt_epi8(position, len));
            let end = _mm_and_si128(_mm_cmpeq_epi8(position, len), marker);
            slot[lane] = _mm_shuffle_epi8(_mm_or_si128(message, end), word_order);
        }
        let bits = lanes((window.len as u32) << 3, 0, 0, 0);
        words[3][lane] = _mm_or_si128(words[3][lane], bits);
    }

    let mut abef = [lanes(H0[0], H0[1], H0[4], H0[5]); N];
    let mut cdgh = [lanes(H0[2], H0[3], H0[6], H0[7]); N];
    // Four rounds per group, four groups per pass: within a pass every slot index is a
    // constant, and the loop keeps the compiler from hoisting the whole message schedule
    // ahead of the rounds (which needs more than the 16 registers, and spills the state).
    for pass in 0..4 {
        for slot in 0..4 {
            let k = load(&ROUND_CONSTANTS[4 * pass + slot]);
            for lane in 0..N {
                let wk = _mm_add_epi32(words[slot][lane], k);
                cdgh[lane] = _mm_sha256rnds2_epu32(cdgh[lane], abef[lane], wk);
                let wk_high = _mm_shuffle_epi32::<0x0E>(wk);
                abef[lane] = _mm_sha256rnds2_epu32(abef[lane], cdgh[lane], wk_high);
                if pass < 3 {
                    // W[t..t+4] for t = 4 * (4 * pass + slot + 4) replaces W[t-16..t-12],
                    // from it, W[t-12..t-8], W[t-8..t-4] and W[t-4..t].
                    let oldest = words[slot][lane];
                    let old = words[(slot + 1) % 4][lane];
                    let newer = words[(slot + 2) % 4][lane];
                    let newest = words[(slot + 3) % 4][lane];
                    let partial = _mm_add_epi32(
                        _mm_sha256msg1_epu32(oldest, old),
                        _mm_alignr_epi8::<4>(newest, newer),
                    );
                    words[slot][lane] = _mm_sha256msg2_epu32(partial, newest);
                }
            }
        }
    }

    // Add the initial value back, then write A B C D | E F G H as big-endian words: the high
    // halves of (A, B, E, F) and (C, D, G, H) are (A, B) and (C, D), each 64-bit half reversed.
    let initial_abef = lanes(H0[0], H0[1], H0[4], H0[5]);
    let initial_cdgh = lanes(H0[2], H0[3], H0[6], H0[7]);
    let half_order = _mm_set_epi8(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    let mut digests = [[0u8; DIGEST_BYTES]; N];
    for ((digest, abef), cdgh) in digests.iter_mut().zip(abef).zip(cdgh) {
        let abef = _mm_add_epi32(abef, initial_abef);
        let cdgh = _mm_add_epi32(cdgh, initial_cdgh);
        let (halves, _) = digest.as_chunks_mut::<16>();
        let high = _mm_unpackhi_epi64(abef, cdgh);
        let low = _mm_unpacklo_epi64(abef, cdgh);
        store(&mut halves[0], _mm_shuffle_epi8(high, half_order));
        store(&mut halves[1], _mm_shuffle_epi8(low, half_order));
    }
    digests
}

/// A register of four words, the first argument in the high lane (Intel's order).
#[target_feature(enable = "sse2")]
#[inline]
fn lanes(high: u32, second: u32, third: u32, low: u32) -> __m128i {
    _mm_set_epi32(
        high.cast_signed(),
        second.cast_signed(),
        third.cast_signed(),
        low.cast_signed(),
    )
}

/// 16 bytes into a register, in memory order.
#[target_feature(enable = "sse2")]
#[inline]
fn load(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: the pointer comes from a reference to 16 initialized bytes, all read;
    // `_mm_loadu_si128` has no alignment requirement, and this function has its SSE2.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

/// A register's 16 bytes into `bytes`, in memory order.
#[target_feature(enable = "sse2")]
#[inline]
fn store(bytes: &mut [u8; 16], value: __m128i) {
    // SAFETY: the pointer comes from an exclusive reference to 16 bytes, all written;
    // `_mm_storeu_si128` has no alignment requirement, and this function has its SSE2.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), value) }
}

/// [`K`] as one register's bytes per round group: K[4g..4g+4], little-endian, lowest first.
static ROUND_CONSTANTS: [[u8; 16]; 16] = {
    let mut groups = [[0; 16]; 16];
    let mut t = 0;
    while t < 64 {
        let bytes = K[t].to_le_bytes();
        let mut i = 0;
        while i < 4 {
            groups[t / 4][4 * (t % 4) + i] = bytes[i];
            i += 1;
        }
        t += 1;
    }
    groups
};

/// The first `N` primes.
const fn first_primes<const N: usize>() -> [u128; N] {
    let mut primes = [0; N];
    let mut found = 0;
    let mut candidate = 2;
    while found < N {
        let mut divisor = 2;
        while divisor * divisor <= candidate && candidate % divisor != 0 {
            divisor += 1;
        }
        if divisor * divisor > candidate {
            primes[found] = candidate;
            found += 1;
        }
        candidate += 1;
    }
    primes
}

/// ⌊x^(1/degree)⌋ for roots below 2^36, by bisection.
const fn integer_root(x: u128, degree: u32) -> u128 {
    // Invariant: low^degree <= x < high^degree.
    let (mut low, mut high) = (0u128, 1u128 << 36);
    while high - low > 1 {
        let middle = (low + high) / 2;
        if middle.pow(degree) <= x {
            low = middle;
        } else {
            high = middle;
        }
    }
    low
}

/// FIPS 180-4 §5.3.3: the first 32 bits of the fractional parts of the square roots of the
/// first 8 primes, i.e. the low 32 bits of ⌊√(p · 2^64)⌋.
const H0: [u32; 8] = {
    let primes = first_primes::<8>();
    let mut words = [0; 8];
    let mut i = 0;
    while i < 8 {
        words[i] = integer_root(primes[i] << 64, 2) as u32;
        i += 1;
    }
    words
};

/// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the
/// first 64 primes, i.e. the low 32 bits of ⌊∛(p · 2^96)⌋.
const K: [u32; 64] = {
    let primes = first_primes::<64>();
    let mut words = [0; 64];
    let mut i = 0;
    while i < 64 {
        words[i] = integer_root(primes[i] << 96, 3) as u32;
        i += 1;
    }
    words
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_fips_180_4() {
        // The first and last of each table, as FIPS 180-4 prints them.
        assert_eq!([H0[0], H0[7]], [0x6a09e667, 0x5be0cd19]);
        assert_eq!([K[0], K[1], K[63]], [0x428a2f98, 0x71374491, 0xc67178f2]);
    }
}
