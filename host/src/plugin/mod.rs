//! Destination plugins: their manifests, the built-in ones, and the wasmtime runtime that
//! runs them in a sandbox (memory cap, CPU deadline between host calls, captured output).

pub mod builtin;
pub mod digest;
pub mod imports;
pub mod manifest;
pub mod runtime;

pub use manifest::{Manifest, ManifestError};
pub use runtime::{ExportInputs, PluginError, PluginInstance, Runtime, RuntimeOptions};

/// Host bindings of the `audex:destination` world.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "destination-plugin",
        path: "../wit/0.1.1",
        with: {
            "audex:destination/segment-source.segment": crate::plugin::imports::SegmentHandle,
        },
        imports: { default: trappable },
    });
}

/// The WIT package versions this host can run, as `(major, minor)` of `audex:destination`:
/// the current version and the previous minor one (0.1 is the first release, so it is alone).
/// While the package is 0.x, a minor version is a breaking one. Each version is bound from its
/// frozen folder, `wit/<version>/`; the policy is applied by [`manifest::wit_supported`].
///
/// Within a minor version, the host binds the newest patch folder (`wit/0.1.1/`): a patch only
/// adds interfaces, and wasmtime resolves a plugin's `@0.1.0` imports and export to the `@0.1.1`
/// definitions (semver-compatible lookup), so plugins built against 0.1.0 run unchanged.
pub const SUPPORTED_WIT: &[(u64, u64)] = &[(0, 1)];

/// A plugin's code and manifest, ready to load.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The manifest.
    pub manifest: Manifest,
    /// The component bytes.
    pub wasm: std::sync::Arc<[u8]>,
    /// Where it came from, for messages (`built-in` or a path).
    pub origin: String,
}

impl PluginSource {
    /// Resolves the pipeline's `destination.plugin`: a built-in name, or a path to a `.wasm`
    /// file whose manifest sits beside it with the same stem and a `.toml` extension.
    pub fn resolve(spec: &str, base: &std::path::Path) -> Result<PluginSource, ManifestError> {
        if let Some(builtin) = builtin::find(spec) {
            return builtin;
        }
        let path = if std::path::Path::new(spec).is_absolute() {
            std::path::PathBuf::from(spec)
        } else {
            base.join(spec)
        };
        if path.extension().is_some_and(|e| e == "wasm") {
            return Self::from_path(&path);
        }
        Err(ManifestError::UnknownPlugin {
            name: spec.to_owned(),
            builtins: builtin::NAMES.join(", "),
        })
    }

    /// Loads `plugin.wasm` and `plugin.toml` beside it.
    pub fn from_path(wasm_path: &std::path::Path) -> Result<PluginSource, ManifestError> {
        let manifest_path = wasm_path.with_extension("toml");
        let manifest = Manifest::load(&manifest_path)?;
        let wasm = std::fs::read(wasm_path).map_err(|source| ManifestError::Io {
            path: wasm_path.to_owned(),
            source,
        })?;
        Ok(PluginSource {
            manifest,
            wasm: wasm.into(),
            origin: wasm_path.display().to_string(),
        })
    }
}
