//! Builds the plugins the end-to-end tests load by path, with their manifests beside them:
//! the misbehaving fixture and the webhook plugin.

use std::path::Path;

/// Builds `package` and copies `manifest` (relative to the repository root) beside the
/// component, with the component's stem; exports the component's path as `env`.
fn plugin(package: &str, manifest: &str, env: &str) {
    let wasm = audex_guest_build::build_component(package);
    // Read at run time: a build script compiled for one checkout may be reused for another.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let source = Path::new(&dir)
        .parent()
        .expect("repository root")
        .join(manifest);
    std::fs::copy(&source, wasm.with_extension("toml")).expect("copying the plugin manifest");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rustc-env={env}={}", wasm.display());
}

fn main() {
    plugin(
        "fixture-plugin-misbehave",
        "tests/fixtures/plugin-misbehave/plugin.toml",
        "FIXTURE_MISBEHAVE_WASM",
    );
    plugin(
        "plugin-webhook",
        "plugin-webhook/manifest.toml",
        "WEBHOOK_PLUGIN_WASM",
    );
}
