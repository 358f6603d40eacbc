//! `audex plugin check PLUGIN`: a conformance suite any destination plugin can be run
//! through, before it is shipped.
//!
//! The plugin is loaded like a pipeline would load it, its WIT version is checked (the
//! manifest's `wit` and the version of the interfaces the component really imports and
//! exports), and its four exports are called on a fixture segment ([`super::fixture`]) with
//! the settings of its manifest's `[check]` section (or `--settings FILE.yaml`). Endpoints
//! that declare an embedded emulator (`emulator = "graph-api"`) are served by it; every other
//! request is recorded and answered from the canned responses of the check settings (`200`
//! with `{}` by default), so nothing leaves the machine. Then the recorded requests are read
//! ([`super::scan`]) and the outcome is a table of [`CHECKS`], each passed, failed (with the
//! reason) or skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::fixture::{COLUMNS, Field, Fixture};
use super::scan::{self, Scan};
use crate::embedded::EmbeddedEmulator;
use crate::http::live::{HttpPolicy, LiveTransport};
use crate::http::{
    HttpResponse, MediationError, Mediator, PreparedRequest, Transport, TransportError,
};
use crate::plugin::bindings::audex::destination::run::Checkpoint;
use crate::plugin::bindings::exports::audex::destination::destination as wit;
use crate::plugin::imports::Services;
use crate::plugin::manifest::{CannedResponse, CheckSection, supported_wit_range};
use crate::plugin::runtime::LoadedPlugin;
use crate::plugin::{ExportInputs, Manifest, PluginInstance, PluginSource, Runtime, builtin};
use crate::secrets::Secrets;
use crate::source::prefetch::Prefetcher;
use crate::source::{ColumnMapping, Format, SegmentStream, SourceSpec};

/// Exit code of `audex plugin check` when at least one check failed.
pub const CHECK_FAILED: i32 = 8;

/// The checks, in the order they are reported.
pub const CHECKS: &[&str] = &[
    "manifest",
    "wit-version",
    "load",
    "validate",
    "connect",
    "list-accounts",
    "export-segment",
    "raw-identifiers",
    "hashed-identifiers",
    "forbidden-headers",
    "declared-endpoints",
    "declared-secrets",
    "batch-size",
    "accounting",
    "checkpoints",
];

/// The pipeline name the check exports under.
pub const PIPELINE: &str = "audex-plugin-check";

/// Fixture rows when neither the command line nor the manifest says.
const DEFAULT_ROWS: u64 = 600;
/// The most fixture rows a check generates, whatever it is asked.
const MAX_ROWS: u64 = 200_000;
/// Rows per segment batch handed to the plugin: several batches, even for small fixtures.
const BATCH_ROWS: usize = 250;
/// Longest pause a plugin may take during a check.
const MAX_PAUSE_MS: u64 = 1_000;
/// The base URL of endpoints answered from canned responses (never contacted).
const CANNED_BASE_URL: &str = "https://plugin-check.invalid";

/// What to check, and with what.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A path to a `.wasm` component (its manifest beside it, same stem, `.toml`), or
    /// `builtin:NAME` for a plugin compiled into audex.
    pub plugin: String,
    /// A YAML file with the keys of a manifest's `[check]` section (`settings`, `rows`,
    /// `responses`), used instead of that section.
    pub settings: Option<PathBuf>,
    /// Fixture rows, instead of the default.
    pub rows: Option<u64>,
}

/// Why a check could not run at all (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// An input file cannot be read or parsed.
    #[error("{path}: {message}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `builtin:NAME` names no built-in plugin.
    #[error("unknown built-in plugin `{name}` (built-in: {builtins})")]
    UnknownBuiltin {
        /// What was asked for.
        name: String,
        /// The built-in names.
        builtins: String,
    },
    /// Something of the host's own failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CheckError {
    /// The process exit code: 3 for unusable inputs, 1 for the host's own failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            CheckError::Internal(_) => crate::exit::INTERNAL,
            _ => crate::exit::INVALID_CONFIG,
        }
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It holds.
    Pass,
    /// It does not; the detail says why.
    Fail,
    /// It could not run because an earlier step failed.
    Skip,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// One of [`CHECKS`].
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found, or why it failed or was skipped.
    pub detail: String,
}

/// The outcome of `audex plugin check` (printed as a table, or as this JSON with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// `name@version`, or the path when the manifest is unusable.
    pub plugin: String,
    /// Where it came from (`built-in` or the `.wasm` path).
    pub origin: String,
    /// The `audex:destination` version the component was built against, when known.
    pub wit: Option<String>,
    /// Rows of the fixture segment.
    pub fixture_rows: u64,
    /// Requests the plugin made (denied ones excluded).
    pub requests: u64,
    /// True when no check failed.
    pub passed: bool,
    /// Every check of [`CHECKS`], in that order.
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// The process exit code: 0 when every check passed, [`CHECK_FAILED`] otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.passed {
            crate::exit::SUCCESS
        } else {
            CHECK_FAILED
        }
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The pass/fail table.
    pub fn table(&self) -> String {
        let mut out = format!("audex plugin check: {} ({})", self.plugin, self.origin);
        if let Some(wit) = &self.wit {
            out.push_str(&format!(", audex:destination@{wit}"));
        }
        out.push_str(&format!(
            ", {} fixture rows, {} requests\n",
            self.fixture_rows, self.requests
        ));
        let width = CHECKS.iter().map(|c| c.len()).max().unwrap_or(0);
        for c in &self.checks {
            out.push_str(&format!(
                "{}  {:width$}  {}\n",
                c.status.word(),
                c.name,
                c.detail
            ));
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        if self.passed {
            out.push_str(&format!("passed: all {} checks\n", count(Status::Pass)));
        } else {
            let failed: Vec<&str> = self
                .checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| c.name.as_str())
                .collect();
            out.push_str(&format!(
                "FAILED: {} failed ({}), {} passed, {} skipped\n",
                failed.len(),
                failed.join(", "),
                count(Status::Pass),
                count(Status::Skip)
            ));
        }
        out
    }
}

/// The results gathered so far.
struct Results {
    report: CheckReport,
}

impl Results {
    fn set(&mut self, name: &str, status: Status, detail: impl Into<String>) {
        debug_assert!(CHECKS.contains(&name), "{name}");
        self.report.checks.push(CheckResult {
            name: name.to_owned(),
            status,
            detail: detail.into(),
        });
    }

    fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.set(name, Status::Pass, detail);
    }

    fn fail(&mut self, name: &str, detail: impl Into<String>) {
        self.set(name, Status::Fail, detail);
    }

    fn skip(&mut self, name: &str, detail: impl Into<String>) {
        self.set(name, Status::Skip, detail);
    }

    /// Orders the checks; those never run are skipped with `reason`.
    fn finish(mut self, reason: &str) -> CheckReport {
        let mut by_name: HashMap<String, CheckResult> = self
            .report
            .checks
            .drain(..)
            .map(|c| (c.name.clone(), c))
            .collect();
        self.report.checks = CHECKS
            .iter()
            .map(|name| {
                by_name.remove(*name).unwrap_or_else(|| CheckResult {
                    name: (*name).to_owned(),
                    status: Status::Skip,
                    detail: format!("not run: {reason}"),
                })
            })
            .collect();
        self.report.passed = self.report.checks.iter().all(|c| c.status != Status::Fail);
        self.report
    }
}

/// The plugin to check: its code, and its manifest or why it is unusable.
struct Target {
    wasm: Arc<[u8]>,
    manifest: Result<Manifest, String>,
    origin: String,
}

fn resolve(spec: &str) -> Result<Target, CheckError> {
    let builtin_name = spec
        .strip_prefix("builtin:")
        .or_else(|| (builtin::NAMES.contains(&spec) && !Path::new(spec).exists()).then_some(spec));
    if let Some(name) = builtin_name {
        return match builtin::find(name) {
            Some(Ok(source)) => Ok(Target {
                wasm: source.wasm,
                manifest: Ok(source.manifest),
                origin: source.origin,
            }),
            Some(Err(e)) => Err(CheckError::Internal(e.to_string())),
            None => Err(CheckError::UnknownBuiltin {
                name: name.to_owned(),
                builtins: builtin::NAMES.join(", "),
            }),
        };
    }
    let path = Path::new(spec);
    let wasm = std::fs::read(path).map_err(|e| CheckError::Input {
        path: spec.to_owned(),
        message: e.to_string(),
    })?;
    let manifest_path = path.with_extension("toml");
    let manifest = std::fs::read_to_string(&manifest_path)
        .map_err(|e| {
            format!(
                "{}: {e} (the manifest must sit beside the component, with the same stem)",
                manifest_path.display()
            )
        })
        .and_then(|text| {
            Manifest::parse_unversioned(&text, &manifest_path.display().to_string())
                .map_err(|e| e.to_string())
        });
    Ok(Target {
        wasm: wasm.into(),
        manifest,
        origin: path.display().to_string(),
    })
}

/// Reads a `--settings` file: the keys of a manifest's `[check]` section, in YAML.
pub fn read_settings_file(path: &Path) -> Result<CheckSection, CheckError> {
    let input = |message: String| CheckError::Input {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
    let de = serde_yaml_ng::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        match inner.location() {
            Some(l) => input(format!("{}:{}: {key}: {inner}", l.line(), l.column())),
            None => input(format!("{key}: {inner}")),
        }
    })
}

/// Requests recorded during the check, in submission order.
type Log = Arc<Mutex<Vec<PreparedRequest>>>;

/// Routes requests: emulated endpoints to the embedded emulator, the others to canned
/// answers. Every request is recorded first.
struct CheckTransport {
    log: Log,
    live: Option<LiveTransport>,
    emulated: BTreeSet<String>,
    canned: Vec<CannedResponse>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
}

enum Pending {
    Ready(HttpResponse),
    Live(u64),
}

fn canned_answer(canned: &[CannedResponse], request: &PreparedRequest) -> HttpResponse {
    let matching = canned.iter().find(|c| {
        c.endpoint.as_deref().is_none_or(|e| e == request.endpoint)
            && c.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(request.method.as_str()))
            && c.path
                .as_deref()
                .is_none_or(|p| request.path.starts_with(p))
    });
    let (status, body) = matching.map_or((200, "{}"), |c| (c.status, c.body.as_str()));
    HttpResponse {
        status,
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.as_bytes().to_vec(),
    }
}

impl Transport for CheckTransport {
    fn submit(&mut self, request: PreparedRequest) -> Result<u64, TransportError> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.clone());
        let pending = match &mut self.live {
            Some(live) if self.emulated.contains(&request.endpoint) => {
                Pending::Live(live.submit(request)?)
            }
            _ => Pending::Ready(canned_answer(&self.canned, &request)),
        };
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, pending);
        Ok(id)
    }

    fn wait(&mut self, id: u64) -> Result<HttpResponse, TransportError> {
        match self.pending.remove(&id) {
            Some(Pending::Ready(response)) => Ok(response),
            Some(Pending::Live(inner)) => match &mut self.live {
                Some(live) => live.wait(inner),
                None => Err(TransportError::UnknownRequest(id)),
            },
            None => Err(TransportError::UnknownRequest(id)),
        }
    }
}

/// The check's surroundings: embedded emulators, base URLs, secrets, the request log and the
/// requests the host refused.
struct Env {
    manifest: Manifest,
    overrides: BTreeMap<String, String>,
    emulated: BTreeSet<String>,
    secrets: Secrets,
    canned: Vec<CannedResponse>,
    log: Log,
    denied: Vec<MediationError>,
    _emulators: Vec<EmbeddedEmulator>,
}

impl Env {
    fn start(manifest: &Manifest, canned: Vec<CannedResponse>) -> Result<Env, String> {
        let mut overrides = BTreeMap::new();
        let mut emulated = BTreeSet::new();
        let mut secrets = Secrets::default();
        let mut emulators: Vec<(String, EmbeddedEmulator)> = Vec::new();
        for (name, endpoint) in &manifest.endpoints {
            let Some(kind) = &endpoint.emulator else {
                overrides.insert(name.clone(), CANNED_BASE_URL.to_owned());
                continue;
            };
            if !emulators.iter().any(|(k, _)| k == kind) {
                let emulator =
                    EmbeddedEmulator::start(kind).map_err(|e| format!("endpoint `{name}`: {e}"))?;
                for secret in &manifest.secrets {
                    if let Some(value) = emulator.secrets().get(secret) {
                        secrets.insert(secret, value.clone());
                    }
                }
                emulators.push((kind.clone(), emulator));
            }
            let url = emulators
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, e)| e.base_url())
                .unwrap_or_default();
            overrides.insert(name.clone(), url);
            emulated.insert(name.clone());
        }
        Ok(Env {
            manifest: manifest.clone(),
            overrides,
            emulated,
            secrets,
            canned,
            log: Arc::default(),
            denied: Vec::new(),
            _emulators: emulators.into_iter().map(|(_, e)| e).collect(),
        })
    }

    fn instance(&self, plugin: &LoadedPlugin) -> Result<PluginInstance, String> {
        let mediator =
            Mediator::new(plugin.manifest(), &self.overrides).map_err(|e| e.to_string())?;
        let live = if self.emulated.is_empty() {
            None
        } else {
            let policy = HttpPolicy {
                attempts: 2,
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                timeout: Duration::from_secs(30),
            };
            Some(LiveTransport::new(
                self.manifest.endpoints.clone(),
                self.secrets.clone(),
                policy,
            )?)
        };
        let transport = CheckTransport {
            log: self.log.clone(),
            live,
            emulated: self.emulated.clone(),
            canned: self.canned.clone(),
            pending: HashMap::new(),
            next_id: 1,
        };
        let mut services = Services::new(
            plugin.label().to_owned(),
            mediator,
            Box::new(transport),
            false,
        );
        services.max_sleep_ms = MAX_PAUSE_MS;
        plugin.instantiate(services).map_err(|e| e.to_string())
    }

    /// Calls the plugin on a fresh instance, as the host does for each command, and keeps
    /// the requests it refused.
    fn call<T>(
        &mut self,
        plugin: &LoadedPlugin,
        f: impl FnOnce(&mut PluginInstance) -> Result<T, crate::plugin::PluginError>,
    ) -> Result<T, String> {
        let mut instance = self.instance(plugin)?;
        let result = f(&mut instance).map_err(|e| e.to_string());
        self.denied
            .append(&mut instance.services_mut().record_mut().denied);
        result
    }

    fn requests(&self) -> Vec<PreparedRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The destination settings the plugin gets: the section's, minus the keys the host consumes.
fn plugin_settings(manifest: &Manifest, section: &CheckSection) -> String {
    let host_keys = manifest.host_setting_keys();
    let settings: serde_json::Map<String, serde_json::Value> = section
        .settings
        .iter()
        .filter(|(k, _)| {
            !crate::pipeline::HOST_KEYS.contains(&k.as_str()) && !host_keys.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::Value::Object(settings).to_string()
}

/// Fixture rows: as asked, else 40 % more than the manifest's batch limit (so that each field
/// has more valid values than the limit, about 85 % of the rows, and the limit is exercised),
/// else [`DEFAULT_ROWS`].
fn fixture_rows(options: &CheckOptions, manifest: &Manifest, section: &CheckSection) -> u64 {
    let rows = options.rows.or(section.rows).unwrap_or_else(|| {
        manifest
            .limits
            .max_batch_rows
            .map_or(DEFAULT_ROWS, |limit| {
                DEFAULT_ROWS.max(limit.saturating_mul(7) / 5 + 1)
            })
    });
    rows.clamp(1, MAX_ROWS)
}

/// Runs the conformance suite. `Err` only when the inputs cannot be used at all; a plugin
/// that fails checks gives a report with [`CheckReport::passed`] false.
pub fn check_plugin(runtime: &Runtime, options: &CheckOptions) -> Result<CheckReport, CheckError> {
    let file_section = options
        .settings
        .as_deref()
        .map(read_settings_file)
        .transpose()?;
    let target = resolve(&options.plugin)?;
    let mut r = Results {
        report: CheckReport {
            plugin: options.plugin.clone(),
            origin: target.origin.clone(),
            wit: None,
            fixture_rows: 0,
            requests: 0,
            passed: false,
            checks: Vec::new(),
        },
    };

    // The manifest, and the WIT version of both the manifest and the component.
    let manifest = match target.manifest {
        Ok(m) => m,
        Err(message) => {
            r.fail("manifest", message);
            return Ok(r.finish("the manifest is unusable"));
        }
    };
    r.report.plugin = format!("{}@{}", manifest.name, manifest.version);
    r.pass(
        "manifest",
        format!(
            "{} {}, {} endpoint(s), {} secret(s), limits: {} MiB, {} ms CPU, {}",
            manifest.name,
            manifest.version,
            manifest.endpoints.len(),
            manifest.secrets.len(),
            manifest.limits.memory_mib,
            manifest.limits.cpu_deadline_ms,
            manifest
                .limits
                .max_batch_rows
                .map_or("no batch limit".to_owned(), |n| format!(
                    "{n} rows a request"
                ))
        ),
    );
    let source = PluginSource {
        manifest: manifest.clone(),
        wasm: target.wasm,
        origin: target.origin,
    };
    let component = match runtime.compile(&source.wasm) {
        Ok(c) => c,
        Err(message) => {
            match manifest.check_wit() {
                Err(e) => r.fail("wit-version", e.to_string()),
                Ok(()) => r.skip("wit-version", "not run: the component does not compile"),
            }
            r.fail(
                "load",
                format!("not a valid WebAssembly component: {message}"),
            );
            return Ok(r.finish("the plugin does not load"));
        }
    };
    let mut problems = Vec::new();
    if let Err(e) = manifest.check_wit() {
        problems.push(e.to_string());
    }
    match runtime.component_wit(&source, &component) {
        Ok(version) => r.report.wit = Some(version),
        Err(e) => problems.push(format!(
            "plugin `{}` {}: {e}",
            manifest.name, manifest.version
        )),
    }
    if !problems.is_empty() {
        r.fail("wit-version", problems.join("; "));
        return Ok(r.finish("the WIT version is not supported"));
    }
    r.pass(
        "wit-version",
        format!(
            "the component exports audex:destination/destination@{}, the manifest says wit = \"{}\"; this host supports {}",
            r.report.wit.as_deref().unwrap_or_default(),
            manifest.wit,
            supported_wit_range()
        ),
    );
    let plugin = match runtime.load_compiled(&source, &component) {
        Ok(p) => p,
        Err(e) => {
            r.fail("load", e.to_string());
            return Ok(r.finish("the plugin does not load"));
        }
    };
    r.pass("load", "compiled and linked against the host's imports");

    // The calls.
    let section = file_section
        .or_else(|| manifest.check.clone())
        .unwrap_or_default();
    let settings = plugin_settings(&manifest, &section);
    let mut env = Env::start(&manifest, section.responses.clone()).map_err(CheckError::Internal)?;
    let rows = fixture_rows(options, &manifest, &section);
    r.report.fixture_rows = rows;
    let fixture = Fixture::generate(rows as usize);

    let plan = match env.call(&plugin, |i| i.validate(&settings)) {
        Ok(plan) => {
            let missing: Vec<&str> = plan
                .fields
                .iter()
                .filter(|f| !COLUMNS.contains(&f.as_str()) && !plan.optional_fields.contains(f))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                r.pass(
                    "validate",
                    format!(
                        "account {}; fields {}; audiences {}",
                        plan.account.as_deref().unwrap_or("(none)"),
                        plan.fields.join(", "),
                        plan.audiences.join(", ")
                    ),
                );
                Some(plan)
            } else {
                r.fail(
                    "validate",
                    format!(
                        "the plan needs field(s) {} that the fixture segment lacks (it has {}); give other settings with --settings",
                        missing.join(", "),
                        COLUMNS.join(", ")
                    ),
                );
                None
            }
        }
        Err(e) => {
            r.fail(
                "validate",
                format!("{e} (settings: {settings}; give others with the manifest's [check] section or --settings)"),
            );
            None
        }
    };
    match env.call(&plugin, |i| i.connect(&settings)) {
        Ok(info) => r.pass("connect", format!("{} ({})", info.subject, info.kind)),
        Err(e) => r.fail("connect", e),
    }
    match env.call(&plugin, |i| i.list_accounts(&settings)) {
        Ok(accounts) => {
            let ids: Vec<&str> = accounts.iter().take(5).map(|a| a.id.as_str()).collect();
            r.pass(
                "list-accounts",
                format!(
                    "{} account(s){}",
                    accounts.len(),
                    if ids.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", ids.join(", "))
                    }
                ),
            );
        }
        Err(e) => r.fail("list-accounts", e),
    }
    let exported = match &plan {
        None => None,
        Some(plan) => {
            let outcome = export(&mut env, &plugin, plan, &settings, &fixture)?;
            match &outcome {
                Ok((report, _, _)) => match report.audiences.iter().find(|a| a.error.is_some()) {
                    Some(a) => r.fail(
                        "export-segment",
                        format!(
                            "audience `{}` stopped: {}",
                            a.audience_key,
                            a.error.as_deref().unwrap_or_default()
                        ),
                    ),
                    None => r.pass(
                        "export-segment",
                        report
                            .audiences
                            .iter()
                            .map(|a| format!("{}: {} uploaded", a.audience_key, a.uploaded))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                },
                Err(e) => r.fail("export-segment", e.clone()),
            }
            outcome.ok()
        }
    };

    // What the requests show.
    let requests = env.requests();
    r.report.requests = requests.len() as u64;
    let scan = scan::scan(&requests, &fixture);
    verify_requests(&mut r, &scan, &env, &fixture, requests.len());
    match (&plan, &exported) {
        (Some(plan), Some((report, rows_read, checkpoints))) => {
            verify_digests_present(&mut r, &scan, plan);
            verify_batch_size(&mut r, &scan, &manifest);
            verify_accounting(&mut r, plan, report, *rows_read, rows);
            verify_checkpoints(&mut r, report, checkpoints, rows);
        }
        _ => {
            let why = if plan.is_none() {
                "validate failed"
            } else {
                "export-segment failed"
            };
            if scan.bad_digests.is_empty() {
                r.skip("hashed-identifiers", format!("not run: {why}"));
            } else {
                r.fail("hashed-identifiers", scan.bad_digests.summary());
            }
            match (&scan.largest, manifest.limits.max_batch_rows) {
                (Some((n, label)), Some(limit)) if *n > limit => r.fail(
                    "batch-size",
                    format!("{label} carried {n} fixture rows; the manifest's limits.max_batch_rows is {limit}"),
                ),
                _ => r.skip("batch-size", format!("not run: {why}")),
            }
            r.skip("accounting", format!("not run: {why}"));
            r.skip("checkpoints", format!("not run: {why}"));
        }
    }
    Ok(r.finish("an earlier step failed"))
}

/// `export-segment` on the fixture; the outer error is the host's own failure.
#[allow(clippy::type_complexity)]
fn export(
    env: &mut Env,
    plugin: &LoadedPlugin,
    plan: &wit::Plan,
    settings: &str,
    fixture: &Fixture,
) -> Result<Result<(wit::ExportReport, u64, Vec<Checkpoint>), String>, CheckError> {
    let dir = tempfile::tempdir().map_err(|e| CheckError::Internal(e.to_string()))?;
    let path = dir.path().join("fixture.parquet");
    fixture.write_parquet(&path).map_err(CheckError::Internal)?;
    let mapping: Vec<(String, String)> = plan
        .fields
        .iter()
        .filter(|f| COLUMNS.contains(&f.as_str()))
        .map(|f| (f.clone(), f.clone()))
        .collect();
    let spec = SourceSpec {
        files: vec![path],
        format: Format::Parquet,
        batch_rows: BATCH_ROWS,
        delimiter: b',',
    };
    let stream = SegmentStream::new(spec, ColumnMapping::new(mapping));
    let inputs = ExportInputs {
        fields: stream.fields(),
        estimated_rows: Some(fixture.rows.len() as u64),
        batches: Prefetcher::start(stream),
    };
    let request = wit::ExportRequest {
        pipeline: PIPELINE.to_owned(),
        settings: settings.to_owned(),
        dry_run: false,
        resume: Vec::new(),
    };
    Ok(env.call(plugin, |i| {
        let report = i.export_segment(&request, inputs)?;
        let record = i.services_mut().record_mut();
        let checkpoints = record.checkpoints.values().cloned().collect();
        Ok((report, record.rows_read, checkpoints))
    }))
}

fn verify_requests(r: &mut Results, scan: &Scan, env: &Env, fixture: &Fixture, requests: usize) {
    if scan.raw.is_empty() {
        r.pass(
            "raw-identifiers",
            format!(
                "none of the fixture's {} valid e-mails and {} valid phone numbers appears in the {requests} request(s)",
                fixture.valid.get(&Field::Email).copied().unwrap_or(0),
                fixture.valid.get(&Field::Phone).copied().unwrap_or(0),
            ),
        );
    } else {
        r.fail("raw-identifiers", scan.raw.summary());
    }
    let denied = |pick: fn(&MediationError) -> bool| -> Vec<String> {
        env.denied
            .iter()
            .filter(|e| pick(e))
            .map(ToString::to_string)
            .collect()
    };
    let report = |r: &mut Results, name: &str, found: Vec<String>, ok: String| {
        if found.is_empty() {
            r.pass(name, ok);
        } else {
            let mut unique: Vec<String> = Vec::new();
            for f in &found {
                if !unique.contains(f) {
                    unique.push(f.clone());
                }
            }
            r.fail(
                name,
                format!(
                    "the host refused {} request(s): {}",
                    found.len(),
                    unique.join("; ")
                ),
            );
        }
    };
    report(
        r,
        "forbidden-headers",
        denied(|e| matches!(e, MediationError::ForbiddenHeader(_))),
        "no request tried to set a header the host reserves (Authorization, Cookie, Host...)"
            .to_owned(),
    );
    let endpoints: Vec<&str> = env.manifest.endpoints.keys().map(String::as_str).collect();
    report(
        r,
        "declared-endpoints",
        denied(|e| {
            matches!(
                e,
                MediationError::UnknownEndpoint(_)
                    | MediationError::BadPath(_)
                    | MediationError::HostNotAllowed { .. }
            )
        }),
        format!(
            "every request went to a declared endpoint ({}) with a clean relative path",
            endpoints.join(", ")
        ),
    );
    report(
        r,
        "declared-secrets",
        denied(|e| matches!(e, MediationError::UnknownSecret(_))),
        format!(
            "no request named a secret outside the manifest's ({})",
            if env.manifest.secrets.is_empty() {
                "none".to_owned()
            } else {
                env.manifest.secrets.join(", ")
            }
        ),
    );
}

fn verify_digests_present(r: &mut Results, scan: &Scan, plan: &wit::Plan) {
    if !scan.bad_digests.is_empty() {
        r.fail("hashed-identifiers", scan.bad_digests.summary());
        return;
    }
    let missing: Vec<String> = plan
        .fields
        .iter()
        .filter_map(|f| Field::from_name(f))
        .filter(|f| *f != Field::Madid)
        .filter(|f| scan.digests_seen.get(f).copied().unwrap_or(0) == 0)
        .map(|f| format!("no SHA-256 digest of a normalized fixture {} was sent, though the plan exports `{}`", f.words(), f.as_str()))
        .collect();
    if !missing.is_empty() {
        r.fail("hashed-identifiers", missing.join("; "));
        return;
    }
    let seen: Vec<String> = scan
        .digests_seen
        .iter()
        .map(|(f, n)| format!("{} {n}", f.as_str()))
        .collect();
    r.pass(
        "hashed-identifiers",
        format!(
            "every digest is 64 lowercase hex characters of a normalized fixture value ({}{})",
            if seen.is_empty() {
                "none sent".to_owned()
            } else {
                seen.join(", ")
            },
            if scan.madids_seen > 0 {
                format!("; {} advertiser ids sent as they are", scan.madids_seen)
            } else {
                String::new()
            }
        ),
    );
}

fn verify_batch_size(r: &mut Results, scan: &Scan, manifest: &Manifest) {
    let largest = scan.largest.as_ref();
    match (largest, manifest.limits.max_batch_rows) {
        (Some((n, label)), Some(limit)) if *n > limit => r.fail(
            "batch-size",
            format!("{label} carried {n} fixture rows; the manifest's limits.max_batch_rows is {limit}"),
        ),
        (Some((n, label)), Some(limit)) => r.pass(
            "batch-size",
            format!("at most {n} rows a request ({label}); limit {limit}"),
        ),
        (Some((n, label)), None) => r.pass(
            "batch-size",
            format!("at most {n} rows a request ({label}); the manifest declares no limits.max_batch_rows"),
        ),
        (None, _) => r.pass("batch-size", "no request carried fixture rows"),
    }
}

/// The last checkpoint of each audience (checkpoints are optional: without them an interrupted
/// run starts over) must name an audience of the report with its id, cover no more rows than
/// the segment has, and add up: `uploaded` plus its rejected counts is `rows-done`, and no more
/// is uploaded than the report says.
fn verify_checkpoints(
    r: &mut Results,
    report: &wit::ExportReport,
    checkpoints: &[Checkpoint],
    rows: u64,
) {
    if checkpoints.is_empty() {
        r.pass(
            "checkpoints",
            "none saved: an interrupted run of this plugin starts over",
        );
        return;
    }
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    for c in checkpoints {
        let key = &c.audience_key;
        let Some(a) = report.audiences.iter().find(|a| &a.audience_key == key) else {
            problems.push(format!(
                "a checkpoint names audience `{key}`, which the report lacks"
            ));
            continue;
        };
        let rejected: u64 = c.rejected.iter().map(|n| n.count).sum();
        if c.audience_id != a.audience_id {
            problems.push(format!(
                "`{key}`: the checkpoint names audience id {} but the report {}",
                c.audience_id, a.audience_id
            ));
        }
        if c.uploaded + rejected != c.rows_done {
            problems.push(format!(
                "`{key}`: the checkpoint says {} uploaded + {rejected} rejected but {} rows done",
                c.uploaded, c.rows_done
            ));
        }
        if c.rows_done > rows || c.uploaded > a.uploaded {
            problems.push(format!(
                "`{key}`: the checkpoint claims {} rows done and {} uploaded; the segment has {rows} rows and the report {} uploaded",
                c.rows_done, c.uploaded, a.uploaded
            ));
        }
        lines.push(format!(
            "{key}: {} rows done ({} uploaded + {rejected} rejected)",
            c.rows_done, c.uploaded
        ));
    }
    if problems.is_empty() {
        r.pass("checkpoints", lines.join("; "));
    } else {
        r.fail("checkpoints", problems.join("; "));
    }
}

fn verify_accounting(
    r: &mut Results,
    plan: &wit::Plan,
    report: &wit::ExportReport,
    rows_read: u64,
    rows: u64,
) {
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    if rows_read != rows {
        problems.push(format!(
            "the plugin read {rows_read} of the fixture's {rows} rows"
        ));
    }
    for key in &plan.audiences {
        if !report.audiences.iter().any(|a| &a.audience_key == key) {
            problems.push(format!(
                "the plan's audience `{key}` is missing from the report"
            ));
        }
    }
    for a in &report.audiences {
        let rejected: u64 = a.rejected.iter().map(|c| c.count).sum();
        let total = a.uploaded + rejected;
        if total == rows {
            lines.push(format!(
                "{}: {} uploaded + {rejected} rejected = {rows}",
                a.audience_key, a.uploaded
            ));
        } else {
            problems.push(format!(
                "audience `{}`: {} uploaded + {rejected} rejected = {total}, but the segment has {rows} rows",
                a.audience_key, a.uploaded
            ));
        }
    }
    if problems.is_empty() {
        r.pass("accounting", lines.join("; "));
    } else {
        r.fail("accounting", problems.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(extra: &str) -> Manifest {
        Manifest::parse(
            &format!(
                "name = \"t\"\nversion = \"1.0.0\"\nwit = \"0.1.0\"\n{extra}\n[endpoints.api]\nbase_url = \"https://api.example.com\"\nurl_setting = \"url\"\nallowed_hosts = [\"api.example.com\"]\n"
            ),
            "test",
        )
        .expect("manifest")
    }

    #[test]
    fn the_fixture_exceeds_the_declared_batch_limit() {
        let options = CheckOptions::default();
        let section = CheckSection::default();
        assert_eq!(fixture_rows(&options, &manifest(""), &section), 600);
        let limited = manifest("[limits]\nmax_batch_rows = 10000");
        assert_eq!(fixture_rows(&options, &limited, &section), 14_001);
        let small = manifest("[limits]\nmax_batch_rows = 100");
        assert_eq!(fixture_rows(&options, &small, &section), 600);
        let asked = CheckOptions {
            rows: Some(5_000_000),
            ..CheckOptions::default()
        };
        assert_eq!(fixture_rows(&asked, &small, &section), MAX_ROWS);
    }

    #[test]
    fn host_keys_are_not_passed_to_the_plugin() {
        let section: CheckSection = serde_yaml_ng::from_str(
            "settings: { url: 'http://x', plugin: p, connection: c, fields: [email] }",
        )
        .expect("yaml");
        assert_eq!(
            plugin_settings(&manifest(""), &section),
            r#"{"fields":["email"]}"#
        );
    }

    #[test]
    fn canned_answers_match_endpoint_method_and_path_prefix() {
        let canned: Vec<CannedResponse> = serde_yaml_ng::from_str(
            "[{method: get, path: /v1/me, status: 401, body: '{\"error\":1}'}, {endpoint: other, status: 500}]",
        )
        .expect("yaml");
        let request = |method, path: &str| PreparedRequest {
            method,
            endpoint: "api".into(),
            base_url: CANNED_BASE_URL.into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: None,
            authenticate: true,
            idempotent: true,
        };
        use crate::http::mediator::Method;
        assert_eq!(
            canned_answer(&canned, &request(Method::Get, "/v1/me/x")).status,
            401
        );
        let default = canned_answer(&canned, &request(Method::Post, "/v1/me"));
        assert_eq!((default.status, default.body.as_slice()), (200, &b"{}"[..]));
    }

    #[test]
    fn a_settings_file_with_an_unknown_key_names_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, "settings: {}\nrowz: 5\n").expect("write");
        let e = read_settings_file(&path).expect_err("unknown key");
        assert!(e.to_string().contains("rowz"), "{e}");
        assert_eq!(e.exit_code(), crate::exit::INVALID_CONFIG);
    }
}
