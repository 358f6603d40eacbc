//! The wasmtime runtime: one engine with an on-disk cache of compiled components, a ticker
//! for epoch-based deadlines, and sandboxed instances with a memory cap and captured output.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::DestinationPlugin;
use super::bindings::exports::audex::destination::destination as wit;
use super::imports::{HostState, SegmentHandle, Services};
use super::{Manifest, PluginSource};
use crate::source::prefetch::Prefetcher;

/// How often the epoch advances.
const TICK: Duration = Duration::from_millis(50);
/// Captured guest stdout/stderr, per stream.
const CAPTURE_BYTES: usize = 64 * 1024;
/// Stderr attached to an error message, at most.
const STDERR_IN_ERRORS: usize = 4 * 1024;

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// The host's cap on any plugin's memory, MiB.
    pub max_memory_mib: u64,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            max_memory_mib: 2048,
        }
    }
}

/// `$AUDEX_CACHE_DIR`, else `$XDG_CACHE_HOME/audex`, else `~/.cache/audex`, plus `wasmtime`.
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("AUDEX_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("audex")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/audex")))?;
    Some(base.join("wasmtime"))
}

/// A plugin failure as the host sees it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The engine could not be set up.
    #[error("cannot start the WebAssembly runtime: {0}")]
    Engine(String),
    /// The component does not compile or link.
    #[error("plugin `{plugin}` ({origin}) cannot be loaded: {message}")]
    Load {
        /// name@version.
        plugin: String,
        /// Where it came from.
        origin: String,
        /// Why.
        message: String,
    },
    /// The guest trapped, hit a limit or overran its deadline.
    #[error("plugin `{plugin}` crashed: {message}{stderr}")]
    Crashed {
        /// name@version.
        plugin: String,
        /// The trap or limit.
        message: String,
        /// Captured stderr, formatted for display (empty when there was none).
        stderr: String,
    },
    /// The plugin returned an error.
    #[error("plugin `{plugin}`: {}", describe(.error))]
    Returned {
        /// name@version.
        plugin: String,
        /// The plugin's error.
        error: Box<wit::PluginError>,
    },
}

/// A one-line description of a plugin-reported error.
pub fn describe(e: &wit::PluginError) -> String {
    let upstream = |kind: &str, u: &super::bindings::audex::destination::types::UpstreamError| {
        let mut s = format!("{kind}: {}", u.message);
        if let Some(code) = u.code {
            s.push_str(&format!(" (code {code}"));
            if let Some(sub) = u.subcode {
                s.push_str(&format!(", subcode {sub}"));
            }
            s.push(')');
        }
        if let Some(t) = &u.trace_id {
            s.push_str(&format!(" [fbtrace_id {t}]"));
        }
        if let Some(r) = u.retry_after_s {
            s.push_str(&format!("; retry after {r} s"));
        }
        s
    };
    match e {
        wit::PluginError::InvalidSettings(p) => {
            format!("invalid settings: destination.{}: {}", p.key, p.message)
        }
        wit::PluginError::AuthRejected(u) => format!(
            "{}; the connection is no longer valid: reconnect with `audex connect`, or set a new system user token",
            upstream("credentials rejected", u)
        ),
        wit::PluginError::RateLimited(u) => upstream("rate limited", u),
        wit::PluginError::Upstream(u) => upstream("destination error", u),
        wit::PluginError::NotReady(m) => format!("not ready: {m}"),
        wit::PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        wit::PluginError::Host(m) => format!("host failure: {m}"),
        wit::PluginError::Internal(m) => format!("internal plugin error: {m}"),
    }
}

/// The engine and its epoch ticker.
pub struct Runtime {
    engine: Engine,
    options: RuntimeOptions,
    stop_ticker: Arc<AtomicBool>,
}

impl Runtime {
    /// Creates the engine (with the compiled-code cache when it can be opened).
    pub fn new(options: RuntimeOptions) -> Result<Self, PluginError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        if std::env::var_os("AUDEX_PERFMAP").is_some_and(|v| v == "1") {
            // `perf report` can then name the plugin's functions (/tmp/perf-PID.map).
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = &options.cache_dir {
            let mut cache_config = wasmtime::CacheConfig::new();
            cache_config.with_directory(dir);
            match wasmtime::Cache::new(cache_config) {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => tracing::warn!("compiled-plugin cache disabled ({}): {e}", dir.display()),
            }
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.weak();
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("audex-epoch".to_owned())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match ticker_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        Ok(Self {
            engine,
            options,
            stop_ticker,
        })
    }

    /// Compiles (or fetches from the cache) a plugin's component.
    pub fn load(&self, source: &PluginSource) -> Result<LoadedPlugin, PluginError> {
        let plugin = format!("{}@{}", source.manifest.name, source.manifest.version);
        let load_error = |message: String| PluginError::Load {
            plugin: plugin.clone(),
            origin: source.origin.clone(),
            message,
        };
        let component = self.compile(&source.wasm).map_err(load_error)?;
        self.load_compiled(source, &component)
    }

    /// [`Runtime::load`] for a component already compiled with [`Runtime::compile`].
    pub fn load_compiled(
        &self,
        source: &PluginSource,
        component: &Component,
    ) -> Result<LoadedPlugin, PluginError> {
        let plugin = format!("{}@{}", source.manifest.name, source.manifest.version);
        let load_error = |message: String| PluginError::Load {
            plugin: plugin.clone(),
            origin: source.origin.clone(),
            message,
        };
        // The WIT version the component was built against, before linking: refused with the
        // supported range rather than with a linker message.
        self.component_wit(source, component).map_err(load_error)?;
        let mut linker: Linker<HostState> = Linker::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| load_error(format!("{e:#}")))?;
        DestinationPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| load_error(format!("{e:#}")))?;
        let pre = linker.instantiate_pre(component).map_err(|e| {
            load_error(format!(
                "it does not fit the audex:destination world: {e:#}"
            ))
        })?;
        Ok(LoadedPlugin {
            engine: self.engine.clone(),
            pre,
            manifest: source.manifest.clone(),
            plugin,
            max_memory_mib: self.options.max_memory_mib,
        })
    }
}

impl Runtime {
    /// The wasmtime engine, e.g. to inspect a compiled component's imports.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles (or fetches from the cache) a plugin's component, without linking it.
    pub fn compile(&self, wasm: &[u8]) -> Result<Component, String> {
        Component::new(&self.engine, wasm).map_err(|e| format!("{e:#}"))
    }

    /// The `audex:destination` version a compiled component was built against, checked
    /// against the host's policy and the plugin's manifest
    /// ([`super::Manifest::check_component_wit`]).
    pub fn component_wit(
        &self,
        source: &PluginSource,
        component: &Component,
    ) -> Result<String, String> {
        let ty = component.component_type();
        let imports: Vec<&str> = ty.imports(&self.engine).map(|(name, _)| name).collect();
        let exports: Vec<&str> = ty.exports(&self.engine).map(|(name, _)| name).collect();
        source.manifest.check_component_wit(imports, exports)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// A compiled, linked plugin; instantiate it once per run.
pub struct LoadedPlugin {
    engine: Engine,
    pre: wasmtime::component::InstancePre<HostState>,
    manifest: Manifest,
    plugin: String,
    max_memory_mib: u64,
}

impl LoadedPlugin {
    /// `name@version`.
    pub fn label(&self) -> &str {
        &self.plugin
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A fresh sandboxed instance using `services` for its imports.
    pub fn instantiate(&self, services: Services) -> Result<PluginInstance, PluginError> {
        let stdout = MemoryOutputPipe::new(CAPTURE_BYTES);
        let stderr = MemoryOutputPipe::new(CAPTURE_BYTES);
        // A deny-all WASI context: no files, no sockets, no environment, no arguments.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let memory_mib = self.manifest.limits.memory_mib.min(self.max_memory_mib);
        let limits = StoreLimitsBuilder::new()
            .memory_size((memory_mib as usize) << 20)
            .instances(16)
            .tables(16)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            wasi,
            table: ResourceTable::new(),
            limits,
            host_calls: 0,
            calls_at_last_check: 0,
            services,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = (self.manifest.limits.cpu_deadline_ms / TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_callback(move |mut ctx| {
            let state = ctx.data_mut();
            if state.host_calls != state.calls_at_last_check {
                state.calls_at_last_check = state.host_calls;
                Ok(UpdateDeadline::Continue(ticks))
            } else {
                Err(wasmtime::format_err!(
                    "CPU deadline exceeded: no batch read, request, pause or run record for {} ms (limits.cpu_deadline_ms)",
                    ticks * TICK.as_millis() as u64
                ))
            }
        });
        let plugin = self.plugin.clone();
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| PluginError::Crashed {
                plugin: plugin.clone(),
                message: format!("instantiation failed: {e:#}"),
                stderr: format_stderr(&stderr),
            })?;
        let bindings =
            DestinationPlugin::new(&mut store, &bindings).map_err(|e| PluginError::Load {
                plugin: plugin.clone(),
                origin: "instance".to_owned(),
                message: format!("{e:#}"),
            })?;
        Ok(PluginInstance {
            store,
            bindings,
            plugin,
            stderr,
            poisoned: false,
        })
    }
}

fn format_stderr(pipe: &MemoryOutputPipe) -> String {
    let bytes = pipe.contents();
    if bytes.is_empty() {
        return String::new();
    }
    let start = bytes.len().saturating_sub(STDERR_IN_ERRORS);
    let text = String::from_utf8_lossy(&bytes[start..]);
    format!("\n--- plugin stderr ---\n{}", text.trim_end())
}

/// The segment an export reads.
pub struct ExportInputs {
    /// Field names in each batch.
    pub fields: Vec<String>,
    /// Rows, if known.
    pub estimated_rows: Option<u64>,
    /// The batches.
    pub batches: Prefetcher,
}

/// A live plugin instance. After a crash it refuses further calls.
pub struct PluginInstance {
    store: Store<HostState>,
    bindings: DestinationPlugin,
    plugin: String,
    stderr: MemoryOutputPipe,
    poisoned: bool,
}

impl PluginInstance {
    /// The services, to read what the calls recorded.
    pub fn services_mut(&mut self) -> &mut Services {
        &mut self.store.data_mut().services
    }

    fn crashed(&mut self, e: wasmtime::Error) -> PluginError {
        self.poisoned = true;
        let mut message = format!("{e:#}");
        // A full capture refuses further writes, and a guest usually dies of that without a
        // word (its panic message cannot be written either): say what happened.
        if self.stderr.contents().len() >= CAPTURE_BYTES {
            message.push_str(&format!(
                " (the plugin wrote more than {} KiB to stderr, the most the host keeps; writes past it fail)",
                CAPTURE_BYTES >> 10
            ));
        }
        PluginError::Crashed {
            plugin: self.plugin.clone(),
            message,
            stderr: format_stderr(&self.stderr),
        }
    }

    fn check_usable(&self) -> Result<(), PluginError> {
        if self.poisoned {
            return Err(PluginError::Crashed {
                plugin: self.plugin.clone(),
                message: "the instance crashed earlier and cannot be used again".to_owned(),
                stderr: String::new(),
            });
        }
        Ok(())
    }

    fn returned<T>(&self, r: Result<T, wit::PluginError>) -> Result<T, PluginError> {
        r.map_err(|error| PluginError::Returned {
            plugin: self.plugin.clone(),
            error: Box::new(error),
        })
    }

    /// `validate`.
    pub fn validate(&mut self, settings: &str) -> Result<wit::Plan, PluginError> {
        self.check_usable()?;
        let r = self
            .bindings
            .audex_destination_destination()
            .call_validate(&mut self.store, settings);
        let r = r.map_err(|e| self.crashed(e))?;
        self.returned(r)
    }

    /// `connect`.
    pub fn connect(&mut self, settings: &str) -> Result<wit::ConnectionInfo, PluginError> {
        self.check_usable()?;
        let r = self
            .bindings
            .audex_destination_destination()
            .call_connect(&mut self.store, settings);
        let r = r.map_err(|e| self.crashed(e))?;
        self.returned(r)
    }

    /// `list-accounts`.
    pub fn list_accounts(&mut self, settings: &str) -> Result<Vec<wit::Account>, PluginError> {
        self.check_usable()?;
        let r = self
            .bindings
            .audex_destination_destination()
            .call_list_accounts(&mut self.store, settings);
        let r = r.map_err(|e| self.crashed(e))?;
        self.returned(r)
    }

    /// `export-segment`.
    pub fn export_segment(
        &mut self,
        request: &wit::ExportRequest,
        inputs: ExportInputs,
    ) -> Result<wit::ExportReport, PluginError> {
        self.check_usable()?;
        let handle = SegmentHandle {
            fields: inputs.fields,
            estimated_rows: inputs.estimated_rows,
            batches: inputs.batches,
        };
        let resource = self
            .store
            .data_mut()
            .table
            .push(handle)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let borrowed = wasmtime::component::Resource::<SegmentHandle>::new_borrow(resource.rep());
        let r = self
            .bindings
            .audex_destination_destination()
            .call_export_segment(&mut self.store, request, borrowed);
        // The segment (and its reader thread) goes away with the call, success or not.
        let _ = self.store.data_mut().table.delete(resource);
        let r = r.map_err(|e| self.crashed(e))?;
        self.returned(r)
    }
}
