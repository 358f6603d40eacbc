//! The guest SDK for audex destination plugins.
//!
//! A destination plugin is a WebAssembly component (`wasm32-wasip2`) that knows one platform:
//! its settings, payloads, normalization rules and error meanings. The audex host owns every
//! side effect (files, network, credentials, clock, logs) and calls the plugin through the
//! `audex:destination` WIT contract. This crate hides that contract behind:
//!
//! - the [`Destination`] trait, whose four functions are the plugin's exports, and the
//!   [`export_plugin!`] macro, which registers an implementation as the component's exports;
//! - the [`Host`] and [`SegmentReader`] traits for what the plugin asks of the host (HTTP
//!   through declared endpoints, logs, clock, pauses, checkpoints, rejected rows, the
//!   segment's Arrow batches);
//! - [`kernels`]: trim and lowercase, E.164 phone numbers and SHA-256 hex over Arrow arrays;
//! - [`testing`]: a fake host and a fake segment, so the plugin's logic unit-tests natively
//!   with plain `cargo test`.
//!
//! The [plugin guide](guide) covers the contract, the manifest, the limits, building,
//! testing and distribution; `audex plugin new NAME` scaffolds a working plugin crate.
//!
//! # A minimal plugin
//!
//! ```no_run
//! use audex_plugin_sdk::prelude::*;
//!
//! /// Posts the hashed `email` column of every batch to the `api` endpoint.
//! pub struct MyPlugin;
//!
//! impl Destination for MyPlugin {
//!     fn validate(_settings: &str) -> Result<Plan, PluginError> {
//!         Ok(Plan::new(["email"], ["email"]))
//!     }
//!
//!     fn connect(_host: &impl Host, _settings: &str) -> Result<ConnectionInfo, PluginError> {
//!         Ok(ConnectionInfo {
//!             subject: "my-plugin".to_owned(),
//!             kind: "API_KEY".to_owned(),
//!             expires_at_s: None,
//!             scopes: Vec::new(),
//!             warnings: Vec::new(),
//!         })
//!     }
//!
//!     fn export_segment(
//!         host: &impl Host,
//!         _request: ExportRequest,
//!         segment: &impl SegmentReader,
//!     ) -> Result<ExportReport, PluginError> {
//!         let mut report = AudienceReport::new("email", ["email"]);
//!         while let Some(batch) = segment.next_batch().map_err(PluginError::host)? {
//!             let records = batch.to_record_batch().map_err(|e| PluginError::invalid_input(e.to_string()))?;
//!             let emails = records.column_by_name("email").ok_or_else(|| PluginError::invalid_input("no email column"))?;
//!             let hashed = kernels::sha256_hex_array(&kernels::trim_lowercase_array(emails)
//!                 .map_err(|e| PluginError::invalid_input(e.to_string()))?)
//!                 .map_err(|e| PluginError::invalid_input(e.to_string()))?;
//!             let rows: Vec<&str> = hashed.iter().flatten().collect();
//!             let request = Request::post_json("api", "/v1/members", &rows)
//!                 .map_err(|e| PluginError::internal(e.to_string()))?;
//!             let response = host.send(&request).map_err(|e| PluginError::host(e.to_string()))?;
//!             if !response.is_success() {
//!                 return Err(PluginError::Upstream(UpstreamError::new(response.status, "upload refused")));
//!             }
//!             report.uploaded += rows.len() as u64;
//!             report.requests += 1;
//!         }
//!         Ok(ExportReport { audiences: vec![report], warnings: Vec::new(), console_url: None, budget_used_percent: None })
//!     }
//! }
//!
//! audex_plugin_sdk::export_plugin!(MyPlugin);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the `.wasm` file plus a
//! manifest beside it is the plugin.

#[doc(hidden)]
pub mod bindings;
pub mod guide;
pub mod host;
pub mod kernels;
pub mod testing;
pub mod types;

pub use host::{Host, SegmentReader, WasmHost};

/// The Arrow crates the SDK's batches and kernels speak, so that a plugin uses the same
/// versions without naming them in its own `Cargo.toml`.
#[doc(no_inline)]
pub use arrow_array;
#[doc(no_inline)]
pub use arrow_schema;
/// The JSON crate the SDK's request and response helpers use.
#[doc(no_inline)]
pub use serde_json;

/// The version of the `audex:destination` WIT package this SDK is built on: the `wit` a
/// plugin's manifest names.
pub const WIT_VERSION: &str = "0.1.1";

use types::{Account, ConnectionInfo, ExportReport, ExportRequest, Plan, PluginError};

/// Everything a plugin usually needs, in one `use audex_plugin_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::host::{
        Batch, Checkpoint, Host, HttpError, Level, Method, Rejection, Rejections, Request,
        Response, SegmentReader,
    };
    pub use crate::kernels;
    pub use crate::types::{
        Account, AudienceReport, ConnectionInfo, ExportReport, ExportRequest, Lookalike, Plan,
        PluginError, ReasonCount, SettingsProblem, UpstreamError,
    };
    pub use crate::{Destination, export_plugin};
}

/// A destination plugin: the four functions the host calls.
///
/// Implement it on a unit struct and register it with [`export_plugin!`]. Write the bodies
/// against `&impl Host` and `&impl SegmentReader`: in the component they are the real host
/// ([`WasmHost`]) and segment, in unit tests [`testing::FakeHost`] and
/// [`testing::FakeSegment`].
///
/// Errors are [`PluginError`]s; the case tells the host what to do (fix the settings,
/// re-authenticate, retry later, fail the run). A row that cannot be used is not an error: it
/// is a rejection ([`Host::reject`]) counted in the report.
pub trait Destination {
    /// Checks the destination settings (the pipeline's `destination` section as a JSON
    /// object) and says what the export needs: the input fields and the audiences it fills.
    /// No I/O: `audex validate` calls it offline.
    fn validate(settings: &str) -> Result<Plan, PluginError>;

    /// Checks the host-held credentials with the destination (through [`Host::send`]) and
    /// describes them. `audex status` and the run's pre-flight call it.
    fn connect(host: &impl Host, settings: &str) -> Result<ConnectionInfo, PluginError>;

    /// Lists the accounts the credentials can export to, with their readiness (`audex
    /// accounts`). Destinations without accounts keep the default: none.
    fn list_accounts(host: &impl Host, settings: &str) -> Result<Vec<Account>, PluginError> {
        let _ = (host, settings);
        Ok(Vec::new())
    }

    /// Exports the segment: reads every batch, normalizes and uploads the rows, records
    /// rejected rows and checkpoints, and reports one entry per audience of the plan.
    fn export_segment(
        host: &impl Host,
        request: ExportRequest,
        segment: &impl SegmentReader,
    ) -> Result<ExportReport, PluginError>;
}

/// Registers a [`Destination`] implementation as the component's exports.
///
/// Invoke it once, at the root of the plugin crate (whose `[lib]` has
/// `crate-type = ["cdylib", "rlib"]`): `audex_plugin_sdk::export_plugin!(MyPlugin);`.
///
/// On `wasm32` it expands to the export glue generated by wit-bindgen (which needs `unsafe`
/// for the canonical ABI; the lint is allowed inside the generated block only). On other
/// targets it only checks that the type implements [`Destination`], so native builds and
/// tests need nothing else.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            /// The component's exports, forwarded to the plugin's [`Destination`] impl.
            struct AudexPluginExports;

            impl $crate::bindings::exports::audex::destination::destination::Guest
                for AudexPluginExports
            {
                fn validate(
                    settings: ::std::string::String,
                ) -> ::std::result::Result<$crate::types::Plan, $crate::types::PluginError> {
                    <$plugin as $crate::Destination>::validate(&settings)
                }

                fn connect(
                    settings: ::std::string::String,
                ) -> ::std::result::Result<
                    $crate::types::ConnectionInfo,
                    $crate::types::PluginError,
                > {
                    <$plugin as $crate::Destination>::connect(&$crate::WasmHost, &settings)
                }

                fn list_accounts(
                    settings: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::types::Account>,
                    $crate::types::PluginError,
                > {
                    <$plugin as $crate::Destination>::list_accounts(&$crate::WasmHost, &settings)
                }

                fn export_segment(
                    request: $crate::types::ExportRequest,
                    segment: &$crate::bindings::audex::destination::segment_source::Segment,
                ) -> ::std::result::Result<
                    $crate::types::ExportReport,
                    $crate::types::PluginError,
                > {
                    <$plugin as $crate::Destination>::export_segment(
                        &$crate::WasmHost,
                        request,
                        segment,
                    )
                }
            }

            $crate::bindings::__export_destination!(
                AudexPluginExports with_types_in $crate::bindings
            );
        };

        #[cfg(not(target_arch = "wasm32"))]
        const _: () = {
            fn audex_plugin_implements_destination<T: $crate::Destination>() {}
            let _ = audex_plugin_implements_destination::<$plugin>;
        };
    };
}
