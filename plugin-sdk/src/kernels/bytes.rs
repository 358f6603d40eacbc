//! Appending a 64-byte value (a hex digest) to a byte buffer in the per-row loops of a
//! plugin.
//!
//! In a WebAssembly build with bulk memory (the default of `wasm32-wasip2`), LLVM compiles a
//! copy of more than a few bytes to a heap buffer into a `memory.copy` instruction, and
//! wasmtime runs that instruction as a call out of the plugin into the host. Per row, the call
//! costs more than the copy. [`append_64`] copies with four 16-byte vector loads and stores
//! instead; natively (and in WebAssembly without SIMD128) it is `extend_from_slice`.
//!
//! ```
//! use audex_plugin_sdk::kernels::bytes::append_64;
//!
//! let mut body = b"[\"".to_vec();
//! append_64(&mut body, &[b'a'; 64]);
//! body.extend_from_slice(b"\"]");
//! assert_eq!(body.len(), 2 + 64 + 2);
//! assert!(body[2..66].iter().all(|&b| b == b'a'));
//! ```

/// Appends the 64 bytes of `value` to `out`.
#[inline(always)]
pub fn append_64(out: &mut Vec<u8>, value: &[u8; 64]) {
    simd::append_64(out, value);
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
mod simd {
    use core::arch::wasm32::{v128, v128_load, v128_store};

    #[inline(always)]
    pub(super) fn append_64(out: &mut Vec<u8>, value: &[u8; 64]) {
        out.reserve(64);
        let len = out.len();
        let src = value.as_ptr();
        // SAFETY: `reserve` made room for 64 more bytes after `len`, so the four 16-byte
        // stores at `len`, `len + 16`, `len + 32` and `len + 48` stay inside the allocation;
        // the four loads read `value`'s 64 bytes; `v128_load` and `v128_store` have no
        // alignment requirement. The 64 bytes are initialized before `set_len` counts them.
        unsafe {
            let dst = out.as_mut_ptr().add(len);
            for i in 0..4 {
                let block = v128_load(src.add(16 * i).cast::<v128>());
                v128_store(dst.add(16 * i).cast::<v128>(), block);
            }
            out.set_len(len + 64);
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    #[inline(always)]
    pub(super) fn append_64(out: &mut Vec<u8>, value: &[u8; 64]) {
        out.extend_from_slice(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_after_what_is_there_and_grows_as_needed() {
        let value: [u8; 64] = std::array::from_fn(|i| i as u8);
        let mut out = Vec::new();
        for n in 1..=40 {
            append_64(&mut out, &value);
            assert_eq!(out.len(), 64 * n);
        }
        assert!(out.chunks_exact(64).all(|c| c == value));
        let mut tight = Vec::with_capacity(3);
        tight.extend_from_slice(b"abc");
        append_64(&mut tight, &value);
        assert_eq!(&tight[..3], b"abc");
        assert_eq!(&tight[3..], value);
    }
}
