//! Builds the fixture plugins the end-to-end tests load, with their manifests beside them.

fn main() {
    let wasm = audex_guest_build::build_component("fixture-plugin-misbehave");
    let manifest = wasm.with_extension("toml");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/plugin-misbehave/plugin.toml");
    std::fs::copy(&source, &manifest).expect("copying the fixture manifest");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rustc-env=FIXTURE_MISBEHAVE_WASM={}", wasm.display());
}
