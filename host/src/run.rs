//! `audex run`: pipeline -> plugin plan -> source -> export -> report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::embedded::EmbeddedEmulator;
use crate::error::AudexError;
use crate::http::dry_run::DryRunTransport;
use crate::http::live::{HttpPolicy, LiveTransport};
use crate::http::{Mediator, Transport};
use crate::journal::{Attempt, AttemptEnd, Journal, RunKey};
use crate::pipeline::LoadedPipeline;
use crate::plugin::bindings::audex::destination::run::Checkpoint;
use crate::plugin::bindings::exports::audex::destination::destination as wit;
use crate::plugin::imports::JournalSink;
use crate::plugin::imports::Services;
use crate::plugin::runtime::LoadedPlugin;
use crate::plugin::{ExportInputs, Manifest, PluginError, PluginSource, Runtime};
use crate::report::{AudienceReport, ErrorReport, LookalikeReport, RunReport, RunStatus};
use crate::secrets::Secrets;
use crate::source::prefetch::Prefetcher;
use crate::source::{ColumnMapping, SegmentStream};

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
    /// Start a new export even when an interrupted run of this pipeline could be resumed
    /// (the interrupted run is marked abandoned in the journal; its audiences stay as they
    /// are).
    pub fresh: bool,
    /// The state directory holding the run journal; `None` takes `$AUDEX_STATE_DIR`, else the
    /// XDG state directory.
    pub state_dir: Option<PathBuf>,
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
        run_id: None,
        attempt: None,
        audiences: Vec::new(),
        warnings: Vec::new(),
        error: None,
        peak_rss_bytes: None,
        console_url: None,
        requests_per_s: None,
        budget_used_percent: None,
        notifications: Vec::new(),
    };
    let mut journal = None;
    let result = execute(runtime, &pipeline, options, &mut report, &mut journal);
    report.duration_s = started.elapsed().as_secs_f64();
    report.peak_rss_bytes = crate::resources::peak_rss_bytes();
    let mut error = result.err();
    if matches!(error, None | Some(AudexError::Partial(_)))
        && let Err(message) = report.check_accounting()
    {
        error = Some(AudexError::Internal(format!(
            "row accounting failed: {message}"
        )));
    }
    match &error {
        None => report.status = RunStatus::Succeeded,
        Some(e) => {
            report.status = if matches!(e, AudexError::Partial(_)) {
                RunStatus::Partial
            } else {
                RunStatus::Failed
            };
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
    if let Some(sink) = journal {
        let code = error
            .as_ref()
            .map_or(crate::exit::SUCCESS, AudexError::exit_code);
        if let Err(e) = finish_attempt(&sink, &report, code) {
            tracing::warn!("{e}");
        }
    }
    RunOutcome {
        report: Some(report),
        error,
    }
}

/// Records how the attempt ended in the run journal.
fn finish_attempt(
    sink: &JournalSink,
    report: &RunReport,
    exit_code: i32,
) -> Result<(), crate::journal::JournalError> {
    let status = match report.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Partial => "partial",
        RunStatus::Failed => "failed",
    };
    let json = serde_json::to_string(report).ok();
    sink.journal.finish_attempt(
        &sink.attempt,
        &AttemptEnd {
            status,
            exit_code,
            rows_read: report.rows_read,
            uploaded: report.audiences.iter().map(|a| a.uploaded).sum(),
            rejected: report.audiences.iter().map(|a| a.rejected_total()).sum(),
            error: report.error.as_ref().map(|e| e.message.as_str()),
            report: json.as_deref(),
        },
    )
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
    /// What identifies the input (files, sizes, modification times): a resumed run must read
    /// the same rows in the same order.
    pub input: String,
    /// The pipeline's `rejects` section (what `rejects.csv` holds).
    pub rejects: crate::pipeline::RejectsSection,
}

/// Validates a pipeline against its plugin and source without sending anything.
pub fn prepare(runtime: &Runtime, pipeline: &LoadedPipeline) -> Result<Prepared, AudexError> {
    prepare_then(runtime, pipeline, &mut |_, _| Ok(()), true)
}

/// [`prepare`] without network access: an object-storage (`s3://`) source is neither listed
/// nor read (`audex validate --offline`).
pub fn prepare_offline(
    runtime: &Runtime,
    pipeline: &LoadedPipeline,
) -> Result<Prepared, AudexError> {
    prepare_then(runtime, pipeline, &mut |_, _| Ok(()), false)
}

/// Called by [`prepare_then`] with the manifest and the endpoint overrides.
type BeforeSource<'a> =
    dyn FnMut(&Manifest, &BTreeMap<String, String>) -> Result<(), AudexError> + 'a;

/// [`prepare`], calling `before_source` with the manifest and the endpoint overrides once the
/// plan is checked, before the source is touched (a live run finds its credentials there).
/// `read_remote` false leaves an object-storage source unread.
fn prepare_then(
    runtime: &Runtime,
    pipeline: &LoadedPipeline,
    before_source: &mut BeforeSource<'_>,
    read_remote: bool,
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
    let mapping = ColumnMapping::new(mapping);
    let stream = crate::source::open(&pipeline.pipeline.source, &base, mapping)?;
    let (input, estimated_rows) = match stream.local_files() {
        Some(files) => {
            let input = input_fingerprint(files);
            stream.check()?;
            (input, stream.estimate_rows()?)
        }
        None if read_remote => {
            stream.check()?;
            (stream.remote_fingerprint()?, stream.estimate_rows()?)
        }
        // Object storage, offline: neither listed nor read.
        None => (String::new(), None),
    };
    Ok(Prepared {
        plugin,
        settings,
        plan,
        stream,
        estimated_rows,
        overrides,
        input,
        rejects: pipeline.pipeline.rejects.clone(),
    })
}

/// The input's identity for resuming: each file's path, size and modification time.
fn input_fingerprint(files: &[PathBuf]) -> String {
    let mut text = String::new();
    for file in files {
        let (len, modified) = std::fs::metadata(file).map_or((0, 0), |m| {
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            (m.len(), modified)
        });
        text.push_str(&format!("{}\t{len}\t{modified}\n", file.display()));
    }
    text
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
    journal: &mut Option<JournalSink>,
) -> Result<(), AudexError> {
    // A live run finds its credentials before the source is touched.
    let mut live_secrets = None;
    let prepared = prepare_then(
        runtime,
        pipeline,
        &mut |manifest, overrides| {
            if !options.dry_run {
                live_secrets = Some(match &options.secrets {
                    Some(secrets) => secrets.clone(),
                    None => crate::connect::credentials::for_run(pipeline, manifest, overrides)?,
                });
            }
            Ok(())
        },
        true,
    )?;
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
        return run_export(prepared, Box::new(transport), options, report, journal);
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

    // The journal: resume an interrupted run of this pipeline, or start a new one. Runs
    // against an embedded emulator are journaled but never resumed (its audiences end with
    // the process).
    let key = RunKey {
        pipeline: report.pipeline.clone(),
        ad_account: prepared.plan.account.clone().unwrap_or_default(),
        destination: destination_key(&manifest, &prepared.overrides),
    };
    *journal = Some(start_attempt(
        &key,
        pipeline,
        &prepared.input,
        emulators.is_empty(),
        options,
    )?);
    if let Some(sink) = journal.as_ref() {
        report.run_id = Some(sink.attempt.logical_run);
        report.attempt = Some(sink.attempt.number);
    }
    let result = run_export(prepared, Box::new(transport), options, report, journal);
    drop(emulators);
    result
}

/// The plugin and the URLs of its endpoints: a run against another destination never
/// resumes a run of this one.
fn destination_key(manifest: &Manifest, overrides: &BTreeMap<String, String>) -> String {
    let mut key = manifest.name.clone();
    for (name, endpoint) in &manifest.endpoints {
        let url = overrides.get(name).unwrap_or(&endpoint.base_url);
        key.push_str(&format!("|{name}={}", url.trim_end_matches('/')));
    }
    key
}

/// Opens the journal and begins this attempt: resuming the pipeline's interrupted run when
/// there is one over the same input, else a new logical run.
fn start_attempt(
    key: &RunKey,
    pipeline: &LoadedPipeline,
    input: &str,
    resumable: bool,
    options: &RunOptions,
) -> Result<JournalSink, AudexError> {
    let journal_error = |e: crate::journal::JournalError| AudexError::Journal(e.to_string());
    let mut journal = match &options.state_dir {
        Some(dir) => Journal::open_in(dir),
        None => Journal::open_default(),
    }
    .map_err(journal_error)?;
    let mut resume = None;
    if let Some(open) = journal.open_run(key).map_err(journal_error)? {
        if open.status == "running"
            && !options.fresh
            && i64::from(std::process::id()) != open.pid
            && crate::journal::process_alive(open.pid)
        {
            return Err(AudexError::Resume(format!(
                "pipeline `{}` is already being exported to {} by process {} (started {}); wait for it to end (if no audex is running any more, `--fresh` starts a new export)",
                key.pipeline, key.ad_account, open.pid, open.started_at
            )));
        }
        if options.fresh {
            journal.abandon(&open).map_err(journal_error)?;
            tracing::info!(
                "--fresh: run {} of `{}` is abandoned; its audiences stay as they are",
                open.logical_run,
                key.pipeline
            );
        } else if !open.checkpoints.is_empty() {
            if open.input != input {
                return Err(AudexError::Resume(format!(
                    "pipeline `{}` has an interrupted run (run {}, {} attempt(s), last started {}) over different input files: restore the input to resume it, or run with --fresh to start a new export (the interrupted run's audiences stay as they are)",
                    key.pipeline, open.logical_run, open.attempt, open.started_at
                )));
            }
            tracing::info!(
                "resuming run {} of `{}` (attempt {}): {}",
                open.logical_run,
                key.pipeline,
                open.attempt + 1,
                describe_resume(&open.checkpoints)
            );
            resume = Some(open);
        }
    }
    let attempt: Attempt = journal
        .begin_attempt(key, &pipeline.path, input, resumable, resume.as_ref())
        .map_err(journal_error)?;
    Ok(JournalSink {
        journal,
        attempt,
        resume: resume.map(|r| r.checkpoints).unwrap_or_default(),
        error: None,
    })
}

fn describe_resume(checkpoints: &[Checkpoint]) -> String {
    checkpoints
        .iter()
        .map(|c| {
            format!(
                "{} {} at row {} ({} uploaded)",
                c.audience_key, c.audience_id, c.rows_done, c.uploaded
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn run_export(
    prepared: Prepared,
    transport: Box<dyn Transport>,
    options: &RunOptions,
    report: &mut RunReport,
    journal: &mut Option<JournalSink>,
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
            .write_rejects_to(&path, &prepared.rejects)
            .map_err(|e| AudexError::Output {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
    }
    services.progress = progress_bar(prepared.estimated_rows, options.progress);
    let announced_rows = prepared.estimated_rows;
    let resume = journal
        .as_mut()
        .map(|sink| std::mem::take(&mut sink.resume))
        .unwrap_or_default();
    let earlier_requests: u64 = resume.iter().map(|c| u64::from(c.requests)).sum();
    let export_started = Instant::now();
    services.record_mut().journal = journal.take();
    let mut instance = prepared.plugin.instantiate(services)?;
    let request = wit::ExportRequest {
        pipeline: report.pipeline.clone(),
        settings: prepared.settings.clone(),
        dry_run: options.dry_run,
        resume,
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
    if let Some(announced) = announced_rows
        && announced > record.rows_read
    {
        // CSV estimates count lines; the reader skips blank ones, so a one-column file whose
        // empty values were written as blank lines would lose rows without a word.
        report.warnings.push(format!(
            "the source announced {announced} rows but {} were read: a CSV reader skips blank lines (a one-column file writes an empty value as a blank line; write it as \"\" to keep the row) and a quoted field may span lines",
            record.rows_read
        ));
    }
    let source_error = record.source_error.take();
    let rejects = record.finish();
    *journal = record.journal.take();
    if let Some(message) = journal.as_mut().and_then(|sink| sink.error.take()) {
        return Err(AudexError::Journal(message));
    }
    let exported = match (result, source_error) {
        (Ok(exported), _) => exported,
        // A source failure reaches the plugin as a host error; show the source's own message.
        (Err(_), Some(source_error)) => return Err(source_error.into()),
        (Err(e), None) => return Err(e.into()),
    };
    report.warnings.extend(exported.warnings);
    report.console_url = exported.console_url;
    report.budget_used_percent = exported.budget_used_percent;
    let rows_read = report.rows_read;
    report.audiences = exported
        .audiences
        .into_iter()
        .map(|a| audience_report(a, rows_read))
        .collect();
    let requests: u64 = report.audiences.iter().map(|a| u64::from(a.requests)).sum();
    report.requests_per_s = Some(
        requests.saturating_sub(earlier_requests) as f64
            / export_started.elapsed().as_secs_f64().max(1e-9),
    );
    flushed.map_err(|message| AudexError::Output {
        path: "requests.jsonl".into(),
        message,
    })?;
    rejects.map_err(|message| AudexError::Output {
        path: "rejects.csv".into(),
        message,
    })?;
    let stopped: Vec<String> = report
        .audiences
        .iter()
        .filter_map(|a| {
            a.error
                .as_ref()
                .map(|e| format!("`{}` ({}): {e}", a.key, a.audience_id))
        })
        .collect();
    if stopped.is_empty() {
        Ok(())
    } else {
        Err(AudexError::Partial(format!(
            "{} of {} audiences stopped early, the others were filled: {}. Run the pipeline again to resume the unfinished ones",
            stopped.len(),
            report.audiences.len(),
            stopped.join("; ")
        )))
    }
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

fn audience_report(a: wit::AudienceReport, rows_read: u64) -> AudienceReport {
    let rejected: u64 = a.rejected.iter().map(|r| r.count).sum();
    let pending = if a.error.is_some() {
        rows_read.saturating_sub(a.uploaded + rejected)
    } else {
        0
    };
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
        error: a.error,
        pending,
    }
}
