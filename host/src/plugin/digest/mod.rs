//! The `digest` import (WIT 0.1.1): SHA-256 of many messages in one call, computed natively.
//!
//! WebAssembly has no SHA instructions, which is why the plugin hands its normalized
//! identifiers to the host for this one step instead of hashing them itself. The function is
//! pure: the host learns nothing from it but the bytes it hashes, and keeps nothing.
//!
//! # Design
//!
//! The messages are short (normalized e-mail addresses of 20 to 30 bytes, phone numbers of
//! about 11 digits): almost all fit one 64-byte block with their padding, i.e. are at most
//! [`ONE_BLOCK_MAX`] = 55 bytes. On x86_64 CPUs with the SHA extensions (SHA-NI, detected
//! once per process) those are hashed by the `shani` submodule, the only `unsafe` code here:
//!
//! * each message is padded (0x80, zeros, the 64-bit big-endian bit length) in registers,
//!   straight from the caller's buffer (or from a copy for the last messages, which do not
//!   have 64 bytes after them), and compressed from the initial hash value: no streaming
//!   hasher, no block in memory;
//! * `N` messages are compressed together, their instruction streams interleaved: one
//!   message's 32 `sha256rnds2` form a single dependency chain, several messages' chains
//!   overlap.
//!
//! Longer messages, other CPUs and other architectures go through `sha2`'s `Sha256::digest`
//! (which uses SHA-NI itself when it can, one message at a time). [`sha256_many_with`] runs
//! any [`Variant`]; [`sha256_many`] runs [`Variant::FASTEST`].
//!
//! # Measured
//!
//! `cargo bench -p audex --bench digest` (`host/benches/digest.rs`): one call over 10,000
//! messages, on an AMD EPYC (Zen 4, 2 cores, about 3.7 GHz), median of three runs, which
//! agreed within 2 %:
//!
//! | variant          | e-mails (15–40 bytes)    | phones (11 bytes)        |
//! |------------------|--------------------------|--------------------------|
//! | `Sha2` (before)  | 62.4 ns/msg, 16.0 M/s    | 63.5 ns/msg, 15.7 M/s    |
//! | `OneBlock`       | 29.2 ns/msg, 34.3 M/s    | 29.1 ns/msg, 34.3 M/s    |
//! | `Interleaved2`   | **20.6 ns/msg, 48.5 M/s**| **20.7 ns/msg, 48.3 M/s**|
//! | `Interleaved3`   | 23.4 ns/msg, 42.7 M/s    | 23.4 ns/msg, 42.7 M/s    |
//! | `Interleaved4`   | 24.4 ns/msg, 40.9 M/s    | 24.5 ns/msg, 40.8 M/s    |
//!
//! Two messages at a time is the best: about 75 cycles per message, close to what two
//! chains of 32 `sha256rnds2` (about 4 cycles each) allow. Three or four would overlap more,
//! but their state and message schedules (6 registers per message) do not fit in the 16 XMM
//! registers the SHA instructions can use, and the spills land on the dependency chains.
//! What did not pay, measured on the way (partly in a standalone copy of this module, same
//! data): padding each message into a 64-byte block in memory first, as the 16-byte loads of a
//! block just written byte by byte wait for the stores to complete (44 instead of 28 ns/msg
//! one at a time, 25 instead of 21 two at a time); unrolling the 16 round groups completely,
//! as the compiler then hoists the message schedule ahead of the rounds and spills the state
//! (38 instead of 25 ns/msg two at a time, both padding in memory); computing the whole
//! schedule in a first pass (30 instead of 21 ns/msg); a call to the compression function per
//! batch instead of inlining it into the loop (21.5 instead of 20.3 ns/msg). The shape of the
//! code matters as much as the algorithm: `shani`'s comments say which shapes the compiler
//! needs. Messages of two blocks (56 to 119 bytes) are rare enough to stay with `sha2`.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// Bytes per SHA-256 digest.
pub const DIGEST_BYTES: usize = 32;

/// Why a call was refused: the offsets do not describe `messages` (a plugin bug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// An end offset is smaller than the one before it.
    #[error(
        "digest.sha256: end offset {end} of message {index} is before the previous one ({previous})"
    )]
    Decreasing {
        /// The message's position in `ends`.
        index: usize,
        /// Its end offset.
        end: u32,
        /// The previous end offset.
        previous: u32,
    },
    /// An end offset lies beyond the messages' bytes.
    #[error(
        "digest.sha256: end offset {end} of message {index} is past the {len} bytes of messages"
    )]
    PastEnd {
        /// The message's position in `ends`.
        index: usize,
        /// Its end offset.
        end: u32,
        /// The length of `messages`.
        len: usize,
    },
}

/// The longest message whose padding fits in the same 64-byte block: 64 bytes less the 0x80
/// marker and the 8-byte length.
pub const ONE_BLOCK_MAX: usize = 55;

/// How [`sha256_many_with`] hashes: the implementations compared by `benches/digest.rs`. All
/// of them return the same bytes; [`sha256_many`] uses [`Variant::FASTEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// `sha2`'s streaming hasher, one message at a time (`Sha256::digest`), on any CPU.
    Sha2,
    /// Messages of at most [`ONE_BLOCK_MAX`] bytes padded into one block here and compressed
    /// from the initial hash value with the SHA extensions, one at a time.
    OneBlock,
    /// As [`Variant::OneBlock`], two messages' instructions interleaved.
    Interleaved2,
    /// As [`Variant::OneBlock`], three messages' instructions interleaved.
    Interleaved3,
    /// As [`Variant::OneBlock`], four messages' instructions interleaved.
    Interleaved4,
}

impl Variant {
    /// Every variant.
    pub const ALL: [Self; 5] = [
        Self::Sha2,
        Self::OneBlock,
        Self::Interleaved2,
        Self::Interleaved3,
        Self::Interleaved4,
    ];

    /// The variant [`sha256_many`] uses: the fastest measured (module documentation).
    pub const FASTEST: Self = Self::Interleaved2;

    /// Whether this variant runs the SHA extensions on this CPU. When it does not (no SHA-NI,
    /// or not x86_64), every variant is [`Variant::Sha2`].
    pub fn is_accelerated(self) -> bool {
        self != Self::Sha2 && ShaNi::detect().is_some()
    }
}

/// The SHA-256 digest of each message of `messages` delimited by `ends` (message `i` is
/// `messages[ends[i-1]..ends[i]]`, the first starting at 0), back to back: `32 * ends.len()`
/// bytes. Bytes after the last end are ignored.
pub fn sha256_many(messages: &[u8], ends: &[u32]) -> Result<Vec<u8>, DigestError> {
    sha256_many_with(Variant::FASTEST, messages, ends)
}

/// [`sha256_many`] computed by a chosen implementation, for benchmarks and tests. The SHA-NI
/// variants fall back to [`Variant::Sha2`] on CPUs without the SHA extensions, and use `sha2`
/// for messages longer than [`ONE_BLOCK_MAX`] bytes.
pub fn sha256_many_with(
    variant: Variant,
    messages: &[u8],
    ends: &[u32],
) -> Result<Vec<u8>, DigestError> {
    let mut out = vec![0u8; ends.len() * DIGEST_BYTES];
    match (variant, ShaNi::detect()) {
        (Variant::Sha2, _) | (_, None) => streaming(messages, ends, &mut out)?,
        (Variant::OneBlock, Some(sha_ni)) => sha_ni.batched::<1>(messages, ends, &mut out)?,
        (Variant::Interleaved2, Some(sha_ni)) => sha_ni.batched::<2>(messages, ends, &mut out)?,
        (Variant::Interleaved3, Some(sha_ni)) => sha_ni.batched::<3>(messages, ends, &mut out)?,
        (Variant::Interleaved4, Some(sha_ni)) => sha_ni.batched::<4>(messages, ends, &mut out)?,
    }
    Ok(out)
}

/// Where each message `ends` delimits lies in `messages`, in order, or the first offset that
/// does not fit.
fn split(messages: &[u8], ends: &[u32]) -> impl Iterator<Item = Result<Range<usize>, DigestError>> {
    let len = messages.len();
    let mut previous = 0u32;
    ends.iter().enumerate().map(move |(index, &end)| {
        if end < previous {
            return Err(DigestError::Decreasing {
                index,
                end,
                previous,
            });
        }
        if end as usize > len {
            return Err(DigestError::PastEnd { index, end, len });
        }
        let range = previous as usize..end as usize;
        previous = end;
        Ok(range)
    })
}

/// Every message through `sha2`'s streaming hasher: the portable path.
fn streaming(messages: &[u8], ends: &[u32], out: &mut [u8]) -> Result<(), DigestError> {
    for (range, slot) in split(messages, ends).zip(out.chunks_exact_mut(DIGEST_BYTES)) {
        slot.copy_from_slice(&Sha256::digest(&messages[range?]));
    }
    Ok(())
}

/// A one-block message waiting for its batch: where it is and where its digest goes.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    start: usize,
    len: usize,
    index: usize,
}

/// One-block messages `N` at a time through the SHA extensions, longer ones through `sha2`.
/// Inlined into [`ShaNi::batched`]'s function, compiled for the SHA extensions, with the one
/// call to [`ShaNi::digest`].
#[inline(always)]
fn batched<const N: usize>(
    sha_ni: ShaNi,
    messages: &[u8],
    ends: &[u32],
    out: &mut [u8],
) -> Result<(), DigestError> {
    let mut batch = [Pending::default(); N];
    let mut pending = 0;
    // A message is read through the 64 bytes that start with it; near the end of `messages`
    // there are not that many, and a copy of the message takes their place.
    let mut copies = [[0u8; 64]; N];
    let mut ranges = split(messages, ends).enumerate();
    loop {
        let next = ranges.next();
        let last = next.is_none();
        if let Some((index, range)) = next {
            let range = range?;
            if range.len() > ONE_BLOCK_MAX {
                let digest = Sha256::digest(&messages[range]);
                out[index * DIGEST_BYTES..][..DIGEST_BYTES].copy_from_slice(&digest);
                continue;
            }
            batch[pending] = Pending {
                start: range.start,
                len: range.len(),
                index,
            };
            pending += 1;
            if pending < N {
                continue;
            }
        } else if pending == 0 {
            return Ok(());
        } else {
            // The last few: the batch's free places repeat its first message, whose extra
            // digests are dropped; a narrower batch would take about as long.
            let first = batch[0];
            batch[pending..].fill(first);
        }

        for (copy, message) in copies.iter_mut().zip(&batch) {
            if messages.len() - message.start < 64 {
                copy[..message.len].copy_from_slice(&messages[message.start..][..message.len]);
            }
        }
        let windows: [Window<'_>; N] = std::array::from_fn(|lane| {
            let Pending { start, len, .. } = batch[lane];
            let bytes = messages[start..].first_chunk().unwrap_or(&copies[lane]);
            Window { bytes, len }
        });
        let digests = sha_ni.digest(windows);
        for (message, digest) in batch.iter().zip(&digests).take(pending) {
            out[message.index * DIGEST_BYTES..][..DIGEST_BYTES].copy_from_slice(digest);
        }
        pending = 0;
        if last {
            return Ok(());
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod shani;
#[cfg(target_arch = "x86_64")]
use shani::{ShaNi, Window};

/// Elsewhere there are no SHA extensions to use: the token cannot exist, and the batching
/// code, still compiled, never runs.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy)]
enum ShaNi {}

/// A one-block message and the 64 bytes that start with it (see the x86_64 version).
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)]
struct Window<'a> {
    bytes: &'a [u8; 64],
    len: usize,
}

#[cfg(not(target_arch = "x86_64"))]
impl ShaNi {
    fn detect() -> Option<Self> {
        None
    }

    fn batched<const N: usize>(
        self,
        messages: &[u8],
        ends: &[u32],
        out: &mut [u8],
    ) -> Result<(), DigestError> {
        batched::<N>(self, messages, ends, out)
    }

    fn digest<const N: usize>(self, _: [Window<'_>; N]) -> [[u8; DIGEST_BYTES]; N] {
        match self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn random_message(rng: &mut StdRng, len: usize) -> Vec<u8> {
        let mut message = vec![0u8; len];
        rng.fill(&mut message[..]);
        message
    }

    /// Hashes `messages` back to back with `variant` and compares with `sha2`, one by one; with
    /// and without bytes after the last message (the last messages are read from copies when
    /// fewer than 64 bytes follow their start).
    fn assert_matches_sha2(variant: Variant, messages: &[Vec<u8>]) {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for message in messages {
            bytes.extend_from_slice(message);
            ends.push(u32::try_from(bytes.len()).expect("small test data"));
        }
        let exact = bytes.clone();
        bytes.extend_from_slice(b"trailing bytes, ignored");
        for bytes in [exact, bytes] {
            let out = sha256_many_with(variant, &bytes, &ends).expect("valid offsets");
            assert_eq!(out.len(), messages.len() * DIGEST_BYTES);
            let digests = out.chunks(DIGEST_BYTES);
            for (index, (message, digest)) in messages.iter().zip(digests).enumerate() {
                assert_eq!(
                    hex(digest),
                    hex(&Sha256::digest(message)),
                    "{variant:?}: message {index} of {}, {} bytes, {} in all",
                    messages.len(),
                    message.len(),
                    bytes.len()
                );
            }
        }
    }

    #[test]
    fn digests_each_message_in_order() {
        let messages = b"mary@example.com15559876543abc";
        let out = sha256_many(messages, &[16, 16, 27, 30]).expect("valid offsets");
        assert_eq!(out.len(), 4 * DIGEST_BYTES);
        let digests: Vec<String> = out.chunks(DIGEST_BYTES).map(hex).collect();
        assert_eq!(
            digests,
            [
                // Meta's published examples, the empty message and FIPS 180's "abc".
                "f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ]
        );
        for variant in Variant::ALL {
            assert_eq!(
                sha256_many_with(variant, messages, &[16, 16, 27, 30]),
                Ok(out.clone())
            );
            assert_eq!(sha256_many_with(variant, b"ignored", &[]), Ok(Vec::new()));
        }
        assert_eq!(sha256_many(b"ignored", &[]), Ok(Vec::new()));
    }

    #[test]
    fn fips_180_vectors_of_one_and_two_blocks() {
        // FIPS 180-2 appendix B: the 56-byte message needs a second block for its padding.
        let one = b"abc";
        let two = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        let messages = [&one[..], &two[..], &one[..]].concat();
        for variant in Variant::ALL {
            let out = sha256_many_with(variant, &messages, &[3, 59, 62]).expect("valid offsets");
            let digests: Vec<String> = out.chunks(DIGEST_BYTES).map(hex).collect();
            assert_eq!(
                digests,
                [
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                ],
                "{variant:?}"
            );
        }
    }

    #[test]
    fn every_variant_matches_sha2_at_every_length_up_to_200() {
        let mut rng = StdRng::seed_from_u64(1804);
        let mut messages: Vec<Vec<u8>> =
            (0..=200).map(|len| random_message(&mut rng, len)).collect();
        for variant in Variant::ALL {
            for message in &messages {
                assert_matches_sha2(variant, std::slice::from_ref(message));
            }
            // In order: the one-block ones first, then the rest.
            assert_matches_sha2(variant, &messages);
        }
        // Shuffled: long messages interrupt half-filled batches.
        for _ in 0..8 {
            messages.shuffle(&mut rng);
            for variant in Variant::ALL {
                assert_matches_sha2(variant, &messages);
            }
        }
    }

    #[test]
    fn odd_counts_reach_the_interleaving_tail() {
        let mut rng = StdRng::seed_from_u64(55);
        for count in [1, 2, 3, 4, 5, 7, 1000] {
            let short: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = rng.random_range(0..=ONE_BLOCK_MAX);
                    random_message(&mut rng, len)
                })
                .collect();
            let mixed: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let len = rng.random_range(0..=130);
                    random_message(&mut rng, len)
                })
                .collect();
            for variant in Variant::ALL {
                assert_matches_sha2(variant, &short);
                assert_matches_sha2(variant, &mixed);
            }
        }
    }

    #[test]
    fn the_empty_message() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for variant in Variant::ALL {
            for ends in [&[0u32][..], &[0; 5]] {
                let out = sha256_many_with(variant, b"", ends).expect("valid offsets");
                assert_eq!(out.len(), ends.len() * DIGEST_BYTES);
                assert!(out.chunks(DIGEST_BYTES).all(|digest| hex(digest) == empty));
            }
        }
    }

    #[test]
    fn the_sha_extensions_are_used_when_the_cpu_has_them() {
        #[cfg(target_arch = "x86_64")]
        let present = std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("ssse3")
            && std::arch::is_x86_feature_detected!("sse4.1");
        #[cfg(not(target_arch = "x86_64"))]
        let present = false;
        for variant in [
            Variant::OneBlock,
            Variant::Interleaved2,
            Variant::Interleaved4,
        ] {
            assert_eq!(variant.is_accelerated(), present, "{variant:?}");
        }
        // The portable path, which the tests above also check, never is.
        assert!(!Variant::Sha2.is_accelerated());
    }

    #[test]
    fn refuses_offsets_that_do_not_describe_the_messages() {
        for variant in Variant::ALL {
            // After messages already waiting in a batch, and after a long one.
            let long = [b'x'; 80];
            let messages = [&b"abcdef"[..], &long].concat();
            assert_eq!(
                sha256_many_with(variant, &messages, &[1, 2, 3, 86, 5]),
                Err(DigestError::Decreasing {
                    index: 4,
                    end: 5,
                    previous: 86
                })
            );
            assert_eq!(
                sha256_many_with(variant, &messages, &[1, 2, 3, 87]),
                Err(DigestError::PastEnd {
                    index: 3,
                    end: 87,
                    len: 86
                })
            );
        }
        assert_eq!(
            sha256_many(b"abcdef", &[4, 2]),
            Err(DigestError::Decreasing {
                index: 1,
                end: 2,
                previous: 4
            })
        );
        let err = sha256_many(b"abcdef", &[3, 7]).expect_err("past the end");
        assert_eq!(
            err.to_string(),
            "digest.sha256: end offset 7 of message 1 is past the 6 bytes of messages"
        );
    }
}
