//! Names one compile-time condition the kernels test in several places:
//! `portable_digest_simd128`, set when the SDK hashes inside the plugin with SIMD128 (a
//! `wasm32` build with the `portable-digest` feature and the `simd128` target feature).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(portable_digest_simd128)");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "wasm32");
    let feature = std::env::var_os("CARGO_FEATURE_PORTABLE_DIGEST").is_some();
    let simd128 = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .is_ok_and(|features| features.split(',').any(|f| f == "simd128"));
    if wasm && feature && simd128 {
        println!("cargo::rustc-cfg=portable_digest_simd128");
    }
}
