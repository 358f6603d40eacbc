//! `audex run`: pipeline -> plugin plan -> source -> export -> report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::embedded::EmbeddedEmulator;
use crate::error::AudexError;
use crate::http::dry_run::DryRunTransport;
use crate::http::live::{HttpPolicy, LiveTransport};
use crate::http::{Mediator, Transport};
use crate::pipeline::LoadedPipeline;
use crate::plugin::bindings::exports::audex::destination::destination as wit;
use crate::plugin::imports::Services;
use crate::plugin::runtime::LoadedPlugin;
use crate::plugin::{ExportInputs, Manifest, PluginError, PluginSource, Runtime};
use crate::report::{AudienceReport, ErrorReport, LookalikeReport, RunReport, RunStatus};
use crate::secrets::Secrets;
use crate::source::prefetch::Prefetcher;
use crate::source::{ColumnMapping, DEFAULT_BATCH_ROWS, SegmentStream, SourceSpec, expand};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Send nothing: record requests and answer them synthetically.
    pub dry_run: bool,
    /// Where to write `report.json`, `requests.jsonl` (dry runs) and `rejects.csv`.
    pub out_dir: Option<PathBuf>,
    /// Credentials for live runs; `None` takes the token in the environment
    /// (`AUDEX_SECRET_*`), else the pipeline's connection (`destination.connection`).
    pub secrets: Option<Secrets>,
    /// Transport retries and timeouts.
    pub http: HttpPolicy,
    /// Longest pause a plugin may ask for (rate limits); `None` is 15 minutes.
    pub max_pause: Option<Duration>,
    /// Show a progress bar on stderr (it stays hidden when stderr is not a terminal).
    pub progress: bool,
}

/// The embedded emulator's value for an endpoint URL setting.
pub const EMULATOR_URL: &str = "emulator";

/// The result of a run: the report when the run got far enough to have one, and the error
/// when it failed.
#[derive(Debug)]
pub struct RunOutcome {
    /// The report (status `failed` when `error` is set).
    pub report: Option<RunReport>,
    /// The failure.
    pub error: Option<AudexError>,
}

impl RunOutcome {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        self.error
            .as_ref()
            .map_or(crate::exit::SUCCESS, AudexError::exit_code)
    }
}

/// Runs a pipeline file.
pub fn run_pipeline(runtime: &Runtime, path: &Path, options: &RunOptions) -> RunOutcome {
    let started = Instant::now();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let pipeline = match LoadedPipeline::load(path) {
        Ok(p) => p,
        Err(e) => {
            return RunOutcome {
                report: None,
                error: Some(e.into()),
            };
        }
    };
    let mut report = RunReport {
        pipeline: pipeline.pipeline.name.clone(),
        plugin: pipeline.plugin().to_owned(),
        ad_account: None,
        status: RunStatus::Failed,
        dry_run: options.dry_run,
        started_at,
        duration_s: 0.0,
        rows_read: 0,
        audiences: Vec::new(),
        warnings: Vec::new(),
        error: None,
        peak_rss_bytes: None,
        console_url: None,
        notifications: Vec::new(),
    };
    let result = execute(runtime, &pipeline, options, &mut report);
    report.duration_s = started.elapsed().as_secs_f64();
    report.peak_rss_bytes = crate::resources::peak_rss_bytes();
    let mut error = result.err();
    if error.is_none()
        && let Err(message) = report.check_accounting()
    {
        error = Some(AudexError::Internal(format!(
            "row accounting failed: {message}"
        )));
    }
    match &error {
        None => report.status = RunStatus::Succeeded,
        Some(e) => {
            report.status = RunStatus::Failed;
            report.error = Some(ErrorReport {
                kind: e.kind().to_owned(),
                message: e.to_string(),
            });
        }
    }
    if let Some(section) = &pipeline.pipeline.notify {
        report.notifications = notify_run(&report, section);
    }
    if let Some(dir) = &options.out_dir
        && let Err(e) = write_report(dir, &report)
    {
        error.get_or_insert(e);
        report.status = RunStatus::Failed;
    }
    RunOutcome {
        report: Some(report),
        error,
    }
}

/// Sends the pipeline's notifications. Failures are warnings, never the run's outcome.
fn notify_run(
    report: &RunReport,
    section: &crate::notify::NotifySection,
) -> Vec<crate::report::NotificationReport> {
    let smtp = match crate::settings::load() {
        Ok(settings) => settings.smtp,
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    };
    let outcomes = crate::notify::send_all(report, section, smtp.as_ref());
    for n in outcomes.iter().filter(|n| !n.delivered) {
        tracing::warn!(
            "{} notification to {} not delivered: {}",
            n.channel,
            n.target,
            n.error.as_deref().unwrap_or("unknown error")
        );
    }
    outcomes
}

fn write_report(dir: &Path, report: &RunReport) -> Result<(), AudexError> {
    let path = dir.join("report.json");
    let text =
        serde_json::to_string_pretty(report).map_err(|e| AudexError::Internal(e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| AudexError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// The plugin, its plan and the source, checked, before anything is sent.
pub struct Prepared {
    /// The loaded plugin.
    pub plugin: LoadedPlugin,
    /// Settings JSON passed to the plugin.
    pub settings: String,
    /// The plan.
    pub plan: wit::Plan,
    /// The segment stream.
    pub stream: SegmentStream,
    /// Rows, if known up front.
    pub estimated_rows: Option<u64>,
    /// Endpoint base-URL overrides from the pipeline or environment.
    pub overrides: BTreeMap<String, String>,
}

/// Validates a pipeline against its plugin and source without sending anything.
pub fn prepare(runtime: &Runtime, pipeline: &LoadedPipeline) -> Result<Prepared, AudexError> {
    prepare_then(runtime, pipeline, &mut |_, _| Ok(()))
}

/// Called by [`prepare_then`] with the manifest and the endpoint overrides.
type BeforeSource<'a> =
    dyn FnMut(&Manifest, &BTreeMap<String, String>) -> Result<(), AudexError> + 'a;

/// [`prepare`], calling `before_source` with the manifest and the endpoint overrides once the
/// plan is checked, before the source is touched (a live run finds its credentials there).
fn prepare_then(
    runtime: &Runtime,
    pipeline: &LoadedPipeline,
    before_source: &mut BeforeSource<'_>,
) -> Result<Prepared, AudexError> {
    let base = pipeline.base_dir();
    let source = PluginSource::resolve(pipeline.plugin(), &base)
        .map_err(|e| pipeline.error_at("destination.plugin", e.to_string()))?;
    let plugin = runtime.load(&source)?;
    let host_keys = plugin.manifest().host_setting_keys();
    let settings = pipeline.plugin_settings(&host_keys).to_string();
    let overrides = endpoint_overrides(pipeline, &plugin);

    // `validate` does no I/O: a throw-away instance with a dry-run transport is enough.
    let mediator = Mediator::new(plugin.manifest(), &overrides)
        .map_err(|e| AudexError::Unsupported(e.to_string()))?;
    let services = Services::new(
        plugin.label().to_owned(),
        mediator,
        Box::new(DryRunTransport::new(None).map_err(|e| AudexError::Internal(e.to_string()))?),
        true,
    );
    let mut instance = plugin.instantiate(services)?;
    let plan = match instance.validate(&settings) {
        Ok(plan) => plan,
        Err(PluginError::Returned { error, .. })
            if matches!(error.as_ref(), wit::PluginError::InvalidSettings(_)) =>
        {
            let wit::PluginError::InvalidSettings(problem) = *error else {
                unreachable!("matched above")
            };
            let key = format!("destination.{}", problem.key);
            return Err(pipeline.error_at(&key, problem.message).into());
        }
        Err(e) => return Err(e.into()),
    };
    // The connection's account selection (`audex accounts --select`); the embedded emulator
    // brings its own credentials, so no connection applies to it.
    if !overrides.values().any(|url| url == EMULATOR_URL)
        && let Some(account) = &plan.account
    {
        crate::connect::credentials::check_selection(pipeline, account)?;
    }
    before_source(plugin.manifest(), &overrides)?;

    let columns = &pipeline.pipeline.columns;
    let mut mapping = Vec::new();
    for field in &plan.fields {
        match columns.get(field) {
            Some(column) => mapping.push((field.clone(), column.clone())),
            None if plan.optional_fields.contains(field) => {}
            None => {
                return Err(pipeline
                    .error_at(
                        "columns",
                        format!("the destination exports `{field}` but `columns.{field}` is not set; map it to a source column"),
                    )
                    .into());
            }
        }
    }
    let spec_section = &pipeline.pipeline.source;
    let (files, format) = expand(&spec_section.path, &base, spec_section.format)?;
    let spec = SourceSpec {
        files,
        format,
        batch_rows: spec_section.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS),
        delimiter: spec_section.delimiter.map_or(b',', |c| c as u8),
    };
    let stream = SegmentStream::new(spec, ColumnMapping::new(mapping));
    stream.check()?;
    let estimated_rows = stream.estimate_rows()?;
    Ok(Prepared {
        plugin,
        settings,
        plan,
        stream,
        estimated_rows,
        overrides,
    })
}

/// Base-URL overrides: the environment variable wins over the pipeline key.
fn endpoint_overrides(
    pipeline: &LoadedPipeline,
    plugin: &LoadedPlugin,
) -> BTreeMap<String, String> {
    let mut overrides = BTreeMap::new();
    for (name, endpoint) in &plugin.manifest().endpoints {
        let from_env = endpoint
            .url_env
            .as_deref()
            .and_then(|var| std::env::var(var).ok())
            .filter(|v| !v.is_empty());
        let from_pipeline = endpoint
            .url_setting
            .as_deref()
            .and_then(|key| pipeline.destination_str(key))
            .map(str::to_owned);
        if let Some(url) = from_env.or(from_pipeline) {
            overrides.insert(name.clone(), url);
        }
    }
    overrides
}

fn execute(
    runtime: &Runtime,
    pipeline: &LoadedPipeline,
    options: &RunOptions,
    report: &mut RunReport,
) -> Result<(), AudexError> {
    // A live run finds its credentials before the source is touched.
    let mut live_secrets = None;
    let prepared = prepare_then(runtime, pipeline, &mut |manifest, overrides| {
        if !options.dry_run {
            live_secrets = Some(match &options.secrets {
                Some(secrets) => secrets.clone(),
                None => crate::connect::credentials::for_run(pipeline, manifest, overrides)?,
            });
        }
        Ok(())
    })?;
    report.plugin = prepared.plugin.label().to_owned();
    report.ad_account = prepared.plan.account.clone();
    report
        .warnings
        .extend(prepared.plan.warnings.iter().cloned());

    if let Some(dir) = &options.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| AudexError::Output {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
    }
    if options.dry_run {
        let requests_path = options.out_dir.as_ref().map(|d| d.join("requests.jsonl"));
        let transport =
            DryRunTransport::new(requests_path.as_deref()).map_err(|e| AudexError::Output {
                path: requests_path
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string()),
                message: e.to_string(),
            })?;
        return run_export(prepared, Box::new(transport), options, report);
    }

    // Live: start embedded emulators where the pipeline asks for one, then check that the
    // credentials every endpoint needs are there before reading any data.
    let manifest = prepared.plugin.manifest().clone();
    let mut secrets = live_secrets.unwrap_or_default();
    let mut prepared = prepared;
    let mut emulators = Vec::new();
    for (name, url) in prepared.overrides.iter_mut() {
        if url != EMULATOR_URL {
            continue;
        }
        let kind = manifest.endpoints[name].emulator.clone().ok_or_else(|| {
            AudexError::Unsupported(format!(
                "endpoint `{name}` of plugin `{}` has no embedded emulator",
                manifest.name
            ))
        })?;
        let emulator = EmbeddedEmulator::start(&kind).map_err(AudexError::Internal)?;
        tracing::info!(
            "started the embedded {kind} emulator at {}",
            emulator.base_url()
        );
        *url = emulator.base_url();
        for name in &manifest.secrets {
            if let Some(value) = emulator.secrets().get(name) {
                secrets.insert(name, value.clone());
            }
        }
        emulators.push(emulator);
    }
    for (name, endpoint) in &manifest.endpoints {
        let needs_secret = endpoint.auth != crate::plugin::manifest::AuthScheme::None;
        if needs_secret && !secrets.contains(&endpoint.auth_secret) {
            return Err(AudexError::MissingCredentials(format!(
                "no credentials for endpoint `{name}` of plugin `{}`: run `audex connect {}` first, or set {} (a system user token); `--dry-run` needs none",
                manifest.name,
                manifest.name,
                crate::secrets::env_var(&endpoint.auth_secret)
            )));
        }
    }
    let transport = LiveTransport::new(manifest.endpoints.clone(), secrets, options.http)
        .map_err(AudexError::Internal)?;
    let result = run_export(prepared, Box::new(transport), options, report);
    drop(emulators);
    result
}

fn run_export(
    prepared: Prepared,
    transport: Box<dyn Transport>,
    options: &RunOptions,
    report: &mut RunReport,
) -> Result<(), AudexError> {
    let mediator = Mediator::new(prepared.plugin.manifest(), &prepared.overrides)
        .map_err(|e| AudexError::Unsupported(e.to_string()))?;
    let mut services = Services::new(
        prepared.plugin.label().to_owned(),
        mediator,
        transport,
        options.dry_run,
    );
    if let Some(max) = options.max_pause {
        services.max_sleep_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    }
    if let Some(dir) = &options.out_dir {
        let path = dir.join("rejects.csv");
        services
            .record_mut()
            .write_rejects_to(&path)
            .map_err(|e| AudexError::Output {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
    }
    services.progress = progress_bar(prepared.estimated_rows, options.progress);
    let mut instance = prepared.plugin.instantiate(services)?;
    let request = wit::ExportRequest {
        pipeline: report.pipeline.clone(),
        settings: prepared.settings.clone(),
        dry_run: options.dry_run,
        resume: Vec::new(),
    };
    let inputs = ExportInputs {
        fields: prepared.stream.fields(),
        estimated_rows: prepared.estimated_rows,
        batches: Prefetcher::start(prepared.stream),
    };
    let result = instance.export_segment(&request, inputs);
    let services = instance.services_mut();
    if let Some(bar) = services.progress.take() {
        bar.finish_and_clear();
    }
    let flushed = services.transport.finish();
    let record = services.record_mut();
    report.rows_read = record.rows_read;
    let source_error = record.source_error.take();
    let rejects = record.finish();
    let exported = match (result, source_error) {
        (Ok(exported), _) => exported,
        // A source failure reaches the plugin as a host error; show the source's own message.
        (Err(_), Some(source_error)) => return Err(source_error.into()),
        (Err(e), None) => return Err(e.into()),
    };
    report.warnings.extend(exported.warnings);
    report.console_url = exported.console_url;
    report.audiences = exported
        .audiences
        .into_iter()
        .map(audience_report)
        .collect();
    flushed.map_err(|message| AudexError::Output {
        path: "requests.jsonl".into(),
        message,
    })?;
    rejects.map_err(|message| AudexError::Output {
        path: "rejects.csv".into(),
        message,
    })
}

/// A progress bar on stderr for rows read and hashed, with uploads in its message. Hidden
/// when stderr is not a terminal, or when `enabled` is false.
fn progress_bar(total: Option<u64>, enabled: bool) -> Option<indicatif::ProgressBar> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !enabled {
        return None;
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let template = if total.is_some() {
        "{spinner} {pos}/{len} rows [{bar:30}] {per_sec} ETA {eta} {msg}"
    } else {
        "{spinner} {pos} rows {per_sec} {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

fn audience_report(a: wit::AudienceReport) -> AudienceReport {
    AudienceReport {
        key: a.audience_key,
        fields: a.fields,
        name: a.name,
        audience_id: a.audience_id,
        created: a.created,
        uploaded: a.uploaded,
        rejected: a
            .rejected
            .into_iter()
            .map(|r| (r.reason, r.count))
            .collect(),
        requests: a.requests,
        num_received: a.num_received,
        num_invalid_entries: a.num_invalid_entries,
        invalid_entry_samples: a.invalid_entry_samples,
        lookalikes: a
            .lookalikes
            .into_iter()
            .map(|l| LookalikeReport {
                audience_id: l.audience_id,
                name: l.name,
                spec: l.spec,
            })
            .collect(),
    }
}
