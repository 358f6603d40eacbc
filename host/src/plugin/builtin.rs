//! Plugins compiled into the `audex` binary by its build script.

use std::sync::Arc;

use super::{Manifest, ManifestError, PluginSource};

/// Names of the built-in plugins.
pub const NAMES: &[&str] = &["facebook"];

const FACEBOOK_WASM: &[u8] = include_bytes!(env!("AUDEX_BUILTIN_FACEBOOK_WASM"));
const FACEBOOK_MANIFEST: &str = include_str!("../../../plugin-facebook/manifest.toml");

/// The built-in plugin called `name`, if there is one.
pub fn find(name: &str) -> Option<Result<PluginSource, ManifestError>> {
    match name {
        "facebook" => Some(
            Manifest::parse(FACEBOOK_MANIFEST, "built-in facebook manifest").map(|manifest| {
                PluginSource {
                    manifest,
                    wasm: Arc::from(FACEBOOK_WASM),
                    origin: "built-in".to_owned(),
                }
            }),
        ),
        _ => None,
    }
}
