//! Multi-buffer SHA-256: four independent messages hashed at once, one per 32-bit lane of a
//! 128-bit vector, so that every instruction of the compression function serves four
//! identifiers (FIPS 180-4, unchanged: each lane computes exactly the scalar algorithm).
//!
//! Used by a WebAssembly plugin built with the SDK's `portable-digest` feature and `+simd128`
//! (see `.cargo/config.toml`): the lanes are `v128` values and wasmtime compiles the code to
//! SSE/AVX instructions. WASM has no SHA instructions, so this is the fastest digest a plugin
//! can compute itself; by default plugins ask the host instead (`digest.sha256`, natively with
//! SHA-NI, several times faster). Natively the lanes are plain `[u32; 4]` arrays and this code
//! is only compiled for its tests, which check it against `sha2`.

use super::digest::hex_encode_32;

/// Messages of at most this many bytes fit in one 64-byte block with their padding.
const ONE_BLOCK: usize = 55;
/// Messages of at most this many bytes fit in two blocks; longer ones are hashed one by one.
pub(super) const MAX_LEN: usize = 119;

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    //! Four `u32` lanes in a WASM `v128`.
    use core::arch::wasm32::{
        u32x4, u32x4_add, u32x4_extract_lane, u32x4_shl, u32x4_shr, u32x4_splat, v128, v128_and,
        v128_andnot, v128_or, v128_xor,
    };

    #[derive(Clone, Copy)]
    pub(super) struct X4(v128);

    impl X4 {
        #[inline(always)]
        pub(super) fn splat(x: u32) -> Self {
            Self(u32x4_splat(x))
        }
        #[inline(always)]
        pub(super) fn new(l: [u32; 4]) -> Self {
            Self(u32x4(l[0], l[1], l[2], l[3]))
        }
        #[inline(always)]
        pub(super) fn lanes(self) -> [u32; 4] {
            [
                u32x4_extract_lane::<0>(self.0),
                u32x4_extract_lane::<1>(self.0),
                u32x4_extract_lane::<2>(self.0),
                u32x4_extract_lane::<3>(self.0),
            ]
        }
        #[inline(always)]
        pub(super) fn add(self, o: Self) -> Self {
            Self(u32x4_add(self.0, o.0))
        }
        #[inline(always)]
        pub(super) fn xor(self, o: Self) -> Self {
            Self(v128_xor(self.0, o.0))
        }
        #[inline(always)]
        pub(super) fn and(self, o: Self) -> Self {
            Self(v128_and(self.0, o.0))
        }
        /// `!self & o`.
        #[inline(always)]
        pub(super) fn andnot(self, o: Self) -> Self {
            Self(v128_andnot(o.0, self.0))
        }
        #[inline(always)]
        pub(super) fn shr(self, n: u32) -> Self {
            Self(u32x4_shr(self.0, n))
        }
        #[inline(always)]
        pub(super) fn rotr(self, n: u32) -> Self {
            Self(v128_or(u32x4_shr(self.0, n), u32x4_shl(self.0, 32 - n)))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    //! Four `u32` lanes in an array (native builds and WASM without SIMD).

    #[derive(Clone, Copy)]
    pub(super) struct X4([u32; 4]);

    impl X4 {
        #[inline(always)]
        fn map2(self, o: Self, f: impl Fn(u32, u32) -> u32) -> Self {
            Self([
                f(self.0[0], o.0[0]),
                f(self.0[1], o.0[1]),
                f(self.0[2], o.0[2]),
                f(self.0[3], o.0[3]),
            ])
        }
        #[inline(always)]
        pub(super) fn splat(x: u32) -> Self {
            Self([x; 4])
        }
        #[inline(always)]
        pub(super) fn new(l: [u32; 4]) -> Self {
            Self(l)
        }
        #[inline(always)]
        pub(super) fn lanes(self) -> [u32; 4] {
            self.0
        }
        #[inline(always)]
        pub(super) fn add(self, o: Self) -> Self {
            self.map2(o, u32::wrapping_add)
        }
        #[inline(always)]
        pub(super) fn xor(self, o: Self) -> Self {
            self.map2(o, |a, b| a ^ b)
        }
        #[inline(always)]
        pub(super) fn and(self, o: Self) -> Self {
            self.map2(o, |a, b| a & b)
        }
        /// `!self & o`.
        #[inline(always)]
        pub(super) fn andnot(self, o: Self) -> Self {
            self.map2(o, |a, b| !a & b)
        }
        #[inline(always)]
        pub(super) fn shr(self, n: u32) -> Self {
            Self(self.0.map(|a| a >> n))
        }
        #[inline(always)]
        pub(super) fn rotr(self, n: u32) -> Self {
            Self(self.0.map(|a| a.rotate_right(n)))
        }
    }
}

use lanes::X4;

/// One SHA-256 round on four lanes; the caller rotates the variables' roles instead of
/// moving values (`d` and `h` are updated in place).
macro_rules! round {
    ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $kw:expr) => {{
        let s1 = $e.rotr(6).xor($e.rotr(11)).xor($e.rotr(25));
        let ch = $e.and($f).xor($e.andnot($g));
        let t1 = $h.add(s1).add(ch).add($kw);
        let s0 = $a.rotr(2).xor($a.rotr(13)).xor($a.rotr(22));
        let maj = $a.and($b).xor($c.and($a.xor($b)));
        $d = $d.add(t1);
        $h = t1.add(s0).add(maj);
    }};
}

/// One compression of four blocks (one per lane) into four states.
#[inline(always)]
fn compress(state: &mut [X4; 8], block: &[X4; 16]) {
    // The whole message schedule first, K added in: the rounds then read one vector each.
    let mut w = [X4::splat(0); 64];
    w[..16].copy_from_slice(block);
    for t in 16..64 {
        let w15 = w[t - 15];
        let w2 = w[t - 2];
        let s0 = w15.rotr(7).xor(w15.rotr(18)).xor(w15.shr(3));
        let s1 = w2.rotr(17).xor(w2.rotr(19)).xor(w2.shr(10));
        w[t] = w[t - 16].add(s0).add(w[t - 7]).add(s1);
    }
    for (t, k) in K.iter().enumerate() {
        w[t] = w[t].add(X4::splat(*k));
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for kw in w.as_chunks::<8>().0 {
        round!(a, b, c, d, e, f, g, h, kw[0]);
        round!(h, a, b, c, d, e, f, g, kw[1]);
        round!(g, h, a, b, c, d, e, f, kw[2]);
        round!(f, g, h, a, b, c, d, e, kw[3]);
        round!(e, f, g, h, a, b, c, d, kw[4]);
        round!(d, e, f, g, h, a, b, c, kw[5]);
        round!(c, d, e, f, g, h, a, b, kw[6]);
        round!(b, c, d, e, f, g, h, a, kw[7]);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.add(v);
    }
}

/// The padded blocks of up to four messages, as big-endian words, lane by lane.
struct Padded {
    /// `words[lane][block * 16 + i]`.
    words: [[u32; 32]; 4],
}

impl Padded {
    fn new() -> Self {
        Self {
            words: [[0; 32]; 4],
        }
    }

    /// Pads `message` into `lane`, over `blocks` blocks (1 or 2; the message must fit).
    fn set(&mut self, lane: usize, message: &[u8], blocks: usize) {
        let mut bytes = [0u8; 128];
        bytes[..message.len()].copy_from_slice(message);
        bytes[message.len()] = 0x80;
        let end = blocks * 64;
        let bits = (message.len() as u64) * 8;
        bytes[end - 8..end].copy_from_slice(&bits.to_be_bytes());
        let (words, _) = bytes.as_chunks::<4>();
        for (w, chunk) in self.words[lane].iter_mut().zip(words) {
            *w = u32::from_be_bytes(*chunk);
        }
    }

    /// Block `block` of the four lanes.
    fn block(&self, block: usize) -> [X4; 16] {
        std::array::from_fn(|i| {
            let at = block * 16 + i;
            X4::new([
                self.words[0][at],
                self.words[1][at],
                self.words[2][at],
                self.words[3][at],
            ])
        })
    }
}

/// Hashes four messages of `blocks` blocks each (all of at most 55 bytes for one block, of
/// 56 to 119 bytes for two) and writes each digest in lowercase hex.
fn hash4(messages: [&[u8]; 4], blocks: usize, out: [&mut [u8; 64]; 4]) {
    let mut padded = Padded::new();
    for (lane, message) in messages.iter().enumerate() {
        padded.set(lane, message, blocks);
    }
    let mut state = H0.map(X4::splat);
    for block in 0..blocks {
        compress(&mut state, &padded.block(block));
    }
    let words = state.map(X4::lanes);
    for (lane, hex) in out.into_iter().enumerate() {
        let mut digest = [0u8; 32];
        for (i, chunk) in digest.as_chunks_mut::<4>().0.iter_mut().enumerate() {
            *chunk = words[i][lane].to_be_bytes();
        }
        hex_encode_32(&digest, hex);
    }
}

/// Hashes many messages, four at a time: `message(i)` is message `i`'s bytes and its digest
/// goes to `out(i)` as lowercase hex. Messages longer than [`MAX_LEN`] go to `single`.
pub(super) fn hash_many<'a>(
    count: usize,
    message: impl Fn(usize) -> &'a [u8],
    mut out: impl FnMut(usize, [u8; 64]),
    single: impl Fn(&[u8], &mut [u8; 64]),
) {
    // Messages of one block, and of two, are grouped by four; a last partial group is filled
    // with a copy of its first message, whose extra digests are thrown away.
    let mut groups: [([usize; 4], usize); 2] = [([0; 4], 0), ([0; 4], 0)];
    let flush =
        |group: &[usize; 4], len: usize, blocks: usize, out: &mut dyn FnMut(usize, [u8; 64])| {
            let mut hex = [[0u8; 64]; 4];
            let pick = |lane: usize| message(group[if lane < len { lane } else { 0 }]);
            let [h0, h1, h2, h3] = &mut hex;
            hash4(
                [pick(0), pick(1), pick(2), pick(3)],
                blocks,
                [h0, h1, h2, h3],
            );
            for (lane, digest) in hex.into_iter().enumerate().take(len) {
                out(group[lane], digest);
            }
        };
    for i in 0..count {
        let bytes = message(i);
        let blocks = if bytes.len() <= ONE_BLOCK {
            1
        } else if bytes.len() <= MAX_LEN {
            2
        } else {
            let mut hex = [0u8; 64];
            single(bytes, &mut hex);
            out(i, hex);
            continue;
        };
        let (group, len) = &mut groups[blocks - 1];
        group[*len] = i;
        *len += 1;
        if *len == 4 {
            flush(group, 4, blocks, &mut out);
            *len = 0;
        }
    }
    for (index, (group, len)) in groups.iter().enumerate() {
        if *len > 0 {
            flush(group, *len, index + 1, &mut out);
        }
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn reference(message: &[u8]) -> [u8; 64] {
        let mut hex = [0u8; 64];
        hex_encode_32(&Sha256::digest(message).into(), &mut hex);
        hex
    }

    fn hashed(messages: &[Vec<u8>]) -> Vec<[u8; 64]> {
        let mut out = vec![[0u8; 64]; messages.len()];
        let mut seen = vec![0; messages.len()];
        hash_many(
            messages.len(),
            |i| messages[i].as_slice(),
            |i, hex| {
                out[i] = hex;
                seen[i] += 1;
            },
            |m, hex| *hex = reference(m),
        );
        assert!(seen.iter().all(|&n| n == 1), "each digest written once");
        out
    }

    #[test]
    fn every_length_around_the_block_boundaries() {
        // 0 to 200 bytes: one block, the 55/56 boundary, two blocks, the 119/120 boundary,
        // and longer messages through the fallback; mixed so that groups interleave.
        let messages: Vec<Vec<u8>> = (0..=200usize)
            .map(|len| (0..len).map(|i| (i * 31 + len) as u8).collect())
            .collect();
        for (message, hex) in messages.iter().zip(hashed(&messages)) {
            assert_eq!(hex, reference(message), "length {}", message.len());
        }
    }

    #[test]
    fn partial_groups_and_known_vectors() {
        for count in 0..9 {
            let messages: Vec<Vec<u8>> = (0..count)
                .map(|i| format!("user{i}@example.com").into_bytes())
                .collect();
            let out = hashed(&messages);
            for (m, hex) in messages.iter().zip(&out) {
                assert_eq!(*hex, reference(m));
            }
        }
        let out = hashed(&[b"mary@example.com".to_vec(), b"".to_vec()]);
        assert_eq!(
            &out[0],
            b"f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79"
        );
        assert_eq!(
            &out[1],
            b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
