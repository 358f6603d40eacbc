//! The host services the export logic uses: the plugin SDK's [`Host`] and [`SegmentReader`]
//! traits (so the logic unit-tests natively with the SDK's fake host), [`WasmHost`] for the
//! component, and the WIT types they speak. Re-exported from [`audex_plugin_sdk::host`].

pub use audex_plugin_sdk::host::*;
