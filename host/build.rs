//! Compiles the built-in plugins to WebAssembly components so the binary can embed them.

fn main() {
    let wasm = audex_guest_build::build_component("plugin-facebook");
    println!(
        "cargo:rustc-env=AUDEX_BUILTIN_FACEBOOK_WASM={}",
        wasm.display()
    );
}
