//! `audex bench`: how fast the real plugin normalizes and hashes through the real host,
//! against the same kernels run natively, in one process so that the ratios hold on a noisy
//! machine.
//!
//! For each identifier field (email; phone with the default country only, and with a per-row
//! country column; madid), on a generated Parquet segment ([`crate::sample`], 5 % invalid
//! values by default):
//!
//! - **plugin**: a dry run without an output directory of a one-field pipeline, through
//!   [`run_pipeline`] like `audex run --dry-run`. What counts is the CPU time of the thread
//!   that runs the plugin: Arrow IPC batches in, normalization and hashing, upload bodies
//!   out, every host call in between. Reading the Parquet file happens on the prefetch
//!   thread, so it is not counted; the fixed cost of a run (loading the compiled component,
//!   `validate`, pre-flight requests) is measured on a 100-row copy of the segment and
//!   subtracted. The result is rows per second per core.
//! - **native**: the same field's kernel from `plugin_facebook::normalize`, compiled into
//!   this binary, over the same batches (10,000 rows each, read outside the timing).
//!
//! Plus the native SHA-256 digest rate over the normalized emails (SHA-NI where the CPU has
//! it), an end-to-end dry run of the three identifier columns (`audex run --dry-run --json`
//! in a child process: wall clock, reading included, and the peak RSS of that process), and,
//! when Python and `facebook-business` are installed, Meta's Python SDK
//! (`CustomAudience.format_params` with `EMAIL_SHA256`) on the same emails.
//!
//! Every figure is the median of `--runs` runs. Each run measures every figure once, the
//! baselines right after what they are compared with (the native kernel after the plugin's
//! run of the same field, Meta's SDK after the plugin's e-mail run), so that a slow spell of
//! the machine slows both sides of a ratio. The ratios against issue 7's targets are
//! printed for information: the command never fails because something is slow.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use plugin_facebook::normalize::{self, DIGEST_WIDTH, MADID_WIDTH, NormalizedColumn, sha256_hex};
use serde::Serialize;

use crate::error::AudexError;
use crate::plugin::{Runtime, RuntimeOptions};
use crate::report::RunReport;
use crate::run::{RunOptions, run_pipeline};
use crate::sample::{SampleFormat, SampleSpec};

/// Rows per batch, as the host reads them by default (one upload request).
const BATCH_ROWS: usize = crate::source::DEFAULT_BATCH_ROWS;
/// Rows of the small copy whose run measures a run's fixed cost.
const FIXED_COST_ROWS: u64 = 100;
/// Rows and runs of `--quick`.
const QUICK_ROWS: u64 = 5_000;
/// Emails handed to Meta's SDK at most (its figure is per row; more only takes longer).
const SDK_MAX_ROWS: usize = 1_000_000;
/// The ad account of the generated pipelines (dry runs send nothing).
const AD_ACCOUNT: &str = "act_1000000001";

/// The Python side of the SDK measurement: `python3 -c SDK_SCRIPT EMAILS_FILE RUNS` prints
/// the median rows/s of `CustomAudience.format_params(EMAIL_SHA256, emails)`.
pub const SDK_SCRIPT: &str = r#"
import statistics, sys, time
from facebook_business.adobjects.customaudience import CustomAudience
with open(sys.argv[1], encoding="utf-8") as f:
    users = f.read().split("\n")[:-1]
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    CustomAudience.format_params(CustomAudience.Schema.email_hash, users)
    times.append(time.perf_counter() - start)
print(len(users) / statistics.median(times))
"#;

/// `audex bench` arguments.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  audex bench\n  audex bench --rows 10000000 --runs 5 --dir /tmp/bench --json\n  audex bench --quick\n\nBuild it optimized to measure: cargo run --release -- bench"
)]
pub struct BenchArgs {
    /// Rows of the generated segment.
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: u64,
    /// Runs; every figure is the median.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Tiny data and one run: checks the bench works (what CI runs), measures nothing.
    #[arg(long)]
    pub quick: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Random seed of the generated segment.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of invalid values per column.
    #[arg(long, default_value_t = 0.05)]
    pub invalid_share: f64,
    /// Keep the generated files in DIR and reuse them on the next run (default: a temporary
    /// directory, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Skip Meta's Python SDK.
    #[arg(long)]
    pub no_sdk: bool,
    /// Measure this plugin build (`plugin.wasm` with its `plugin.toml` beside it) instead of
    /// the built-in one, e.g. to compare two builds of the Facebook plugin.
    #[arg(long, value_name = "WASM")]
    pub plugin: Option<PathBuf>,
    /// Rows of the live upload measured against the in-process emulator (e-mails, one
    /// audience); 0 skips it.
    #[arg(long, default_value_t = 1_000_000)]
    pub upload_rows: u64,
    /// The emulator's latency per request for the upload measurement.
    #[arg(long, default_value_t = 100)]
    pub latency_ms: u64,
}

/// Why the bench could not run (a slow result is never an error).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file or directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The sample segment could not be generated or read back.
    #[error("bench data: {0}")]
    Data(String),
    /// A dry run failed.
    #[error("dry run of {case}: {source}")]
    Run {
        /// Which case.
        case: String,
        /// Why.
        source: Box<AudexError>,
    },
    /// A native kernel refused its input.
    #[error("native {case} kernel: {source}")]
    Kernel {
        /// Which case.
        case: String,
        /// Why.
        source: normalize::KernelError,
    },
}

/// One identifier field's case.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// Key in the output.
    key: &'static str,
    /// What it is, for people.
    label: &'static str,
    /// The plugin field.
    field: &'static str,
    /// The source column of the field.
    column: &'static str,
    /// Whether the per-row country column is mapped.
    row_country: bool,
}

const CASES: [Case; 4] = [
    Case {
        key: "email",
        label: "email",
        field: "email",
        column: "email_address",
        row_country: false,
    },
    Case {
        key: "phone",
        label: "phone (default country US)",
        field: "phone",
        column: "phone_number",
        row_country: false,
    },
    Case {
        key: "phone_row_country",
        label: "phone (row country column)",
        field: "phone",
        column: "phone_number",
        row_country: true,
    },
    Case {
        key: "madid",
        label: "madid",
        field: "madid",
        column: "mobile_ad_id",
        row_country: false,
    },
];

/// What the bench measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Rows of the segment.
    pub rows: u64,
    /// Runs behind each median.
    pub runs: usize,
    /// `--quick`: tiny data, figures meaningless.
    pub quick: bool,
    /// Whether the host was built with optimizations (a dev build measures nothing useful).
    pub optimized_build: bool,
    /// The plugin measured: `facebook` (built in) or the path given with `--plugin`.
    pub plugin: String,
    /// The machine.
    pub machine: Machine,
    /// Per identifier field.
    pub fields: Vec<FieldFigures>,
    /// Native SHA-256 + hex of the normalized emails, digests per second (SHA-NI if present):
    /// `sha2`, one message at a time, the baseline of issue 7's e-mail target.
    pub native_sha256_per_s: f64,
    /// The same digests by the host's `digest.sha256` import (two messages at a time through
    /// SHA-NI, [`crate::plugin::digest`]) plus hex encoding: what the plugin's digests cost.
    pub host_digest_sha256_per_s: f64,
    /// The end-to-end dry run of the three identifier columns.
    pub end_to_end: EndToEnd,
    /// Meta's Python SDK on the same emails, rows/s; `None` when it could not run.
    pub meta_sdk_email_rows_per_s: Option<f64>,
    /// Why the SDK figure is missing, if it is.
    pub meta_sdk_note: Option<String>,
    /// A live export against the emulator with a latency per request; `None` when skipped.
    pub upload: Option<UploadFigures>,
    /// The ratios issue 7 sets targets for.
    pub ratios: Ratios,
}

/// A live export of one audience against the in-process emulator, which answers every
/// request after a fixed latency. Uploads are sequential per audience (one request in flight),
/// so the run cannot beat `max(hashing, requests x latency)`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadFigures {
    /// Rows exported.
    pub rows: u64,
    /// The emulator's latency per request, ms.
    pub latency_ms: u64,
    /// Graph requests the live run sent (pre-flight, creation, uploads).
    pub requests: u64,
    /// Upload requests among them.
    pub upload_requests: u64,
    /// Wall-clock seconds of the live run (median).
    pub live_s: f64,
    /// Wall-clock seconds of a dry run of the same export: reading, hashing, building bodies.
    pub dry_s: f64,
    /// `max(dry_s, requests x latency)`: the fastest the live run could be.
    pub bound_s: f64,
    /// `live_s / bound_s` (target <= 1.1).
    pub vs_bound: f64,
    /// Upload requests per second the run achieved (report's `requests_per_s`).
    pub requests_per_s: Option<f64>,
    /// The highest share of the ad account's call budget the emulator reported, percent.
    pub budget_used_percent: Option<u32>,
    /// The emulator's call budget per ad account and hour.
    pub calls_per_hour: u32,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `std::env::consts::ARCH`.
    pub arch: String,
    /// CPUs available to this process.
    pub cpus: usize,
    /// The CPU model, from `/proc/cpuinfo`.
    pub model: Option<String>,
    /// Whether the CPU has the SHA extensions (`sha_ni` on x86, `sha2` on ARM).
    pub sha_extensions: bool,
}

/// One field's figures.
#[derive(Debug, Clone, Serialize)]
pub struct FieldFigures {
    /// `email`, `phone`, `phone_row_country` or `madid`.
    pub key: String,
    /// The plugin path: rows per second of the plugin thread's CPU time, fixed cost removed.
    pub plugin_rows_per_s: f64,
    /// The plugin path by the wall clock, whole run included (reading, fixed cost).
    pub plugin_wall_rows_per_s: f64,
    /// The same kernel natively, rows per second.
    pub native_rows_per_s: f64,
    /// `plugin_rows_per_s / native_rows_per_s`.
    pub plugin_vs_native: f64,
    /// Rows the plugin accepted (the native kernel must agree).
    pub accepted: u64,
    /// Rows the native kernel accepted.
    pub native_accepted: u64,
}

/// The end-to-end dry run.
#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    /// Rows per second: `rows_read / duration_s` of the run's report (wall clock, from
    /// loading the pipeline to the report; the process start is not counted).
    pub rows_per_s: f64,
    /// The plugin path's rate for the same three columns, from the per-field figures
    /// (`1 / (1/email + 1/phone_row_country + 1/madid)`).
    pub plugin_combined_rows_per_s: f64,
    /// `rows_per_s / plugin_combined_rows_per_s`.
    pub vs_plugin: f64,
    /// Peak resident memory of the run's process, bytes, the largest over the runs (Linux).
    pub peak_rss_bytes: Option<u64>,
}

/// Issue 7's ratios.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// Email plugin path / native SHA-256 digests (target >= 0.5).
    pub email_plugin_vs_native_sha256: f64,
    /// Email plugin path / Meta's Python SDK (target >= 7).
    pub email_plugin_vs_meta_sdk: Option<f64>,
    /// Phone plugin path, the slower of the two phone cases, rows/s (target >= 1M).
    pub phone_plugin_rows_per_s: f64,
    /// End to end / plugin (target >= 0.7).
    pub end_to_end_vs_plugin: f64,
    /// Peak RSS in MiB (target < 300).
    pub peak_rss_mib: Option<f64>,
    /// Live upload time / the bound set by hashing or request latency (target <= 1.1).
    pub upload_vs_bound: Option<f64>,
}

/// Runs `audex bench` and prints its figures; the exit code is 0 unless the bench itself
/// could not run.
pub fn main(args: &BenchArgs) -> ExitCode {
    match run(args) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(crate::exit::INTERNAL as u8);
                    }
                }
            } else {
                print!("{}", render(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(crate::exit::INTERNAL as u8)
        }
    }
}

/// Measures everything [`BenchReport`] holds.
pub fn run(args: &BenchArgs) -> Result<BenchReport, BenchError> {
    let (rows, runs) = if args.quick {
        (QUICK_ROWS.min(args.rows), 1)
    } else {
        (args.rows, args.runs.max(1))
    };
    let workspace = Workspace::new(args.dir.as_deref())?;
    let dir = workspace.path();
    let spec = SampleSpec {
        rows,
        seed: args.seed,
        invalid_share: args.invalid_share,
    };
    let data = dir.join(format!(
        "segment-{rows}-{}-{}.parquet",
        args.seed, args.invalid_share
    ));
    let small = dir.join(format!(
        "segment-{FIXED_COST_ROWS}-{}-{}.parquet",
        args.seed, args.invalid_share
    ));
    for (path, rows) in [(&data, rows), (&small, FIXED_COST_ROWS)] {
        if !path.is_file() {
            progress(
                args,
                &format!("generating {rows} rows into {}", path.display()),
            );
            let spec = SampleSpec {
                rows,
                ..spec.clone()
            };
            let partial = path.with_extension("partial");
            crate::sample::write(&partial, SampleFormat::Parquet, &spec)
                .map_err(BenchError::Data)?;
            std::fs::rename(&partial, path).map_err(|source| BenchError::Io {
                path: path.clone(),
                source,
            })?;
        }
    }

    let runtime = Runtime::new(RuntimeOptions::default()).map_err(|e| BenchError::Run {
        case: "setup".to_owned(),
        source: Box::new(e.into()),
    })?;
    let mut pipelines = Vec::new();
    let plugin = match &args.plugin {
        Some(path) => std::path::absolute(path)
            .map_err(|source| BenchError::Io {
                path: path.clone(),
                source,
            })?
            .display()
            .to_string(),
        None => "facebook".to_owned(),
    };
    let pipeline =
        |name: &str, data: &Path, cases: &[Case]| write_pipeline(dir, name, &plugin, data, cases);
    for case in CASES {
        let full = pipeline(case.key, &data, &[case])?;
        let fixed = pipeline(&format!("{}-fixed", case.key), &small, &[case])?;
        pipelines.push((case, full, fixed));
    }
    let e2e_cases = [CASES[0], CASES[2], CASES[3]];
    let e2e = pipeline("end-to-end", &data, &e2e_cases)?;
    // The first run compiles the component (or loads it from the cache): not measured.
    run_dry(&runtime, &pipelines[0].2, "warm-up")?;

    let mut plugin_cpu: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
    let mut plugin_wall: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
    let mut native: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
    let mut accepted = vec![(0u64, 0u64); CASES.len()];
    let mut sha = Vec::new();
    let mut host_sha = Vec::new();
    let mut e2e_rates = Vec::new();
    let mut peak_rss: Option<u64> = None;

    // Meta's SDK runs once per run, right after the plugin's e-mail run, so that both see
    // the machine in the same state (a noisy neighbour slows both, not one of them).
    let mut sdk = if args.no_sdk {
        SdkRuns::Skipped("skipped (--no-sdk)".to_owned())
    } else {
        SdkRuns::prepare(dir, &data)
    };
    for run_index in 0..runs {
        progress(args, &format!("run {}/{runs}", run_index + 1));
        // End to end: `audex run --dry-run --json` in a process of its own, so that its
        // peak RSS is the run's, as a user sees it in report.json.
        let report = run_dry_process(&e2e)?;
        e2e_rates.push(report.rows_read as f64 / report.duration_s.max(1e-9));
        if let Some(peak) = report.peak_rss_bytes {
            peak_rss = Some(peak_rss.map_or(peak, |p| p.max(peak)));
        }

        for (i, (case, full, fixed)) in pipelines.iter().enumerate() {
            let cpu_fixed = {
                let cpu = ThreadCpu::start();
                run_dry(&runtime, fixed, case.key)?;
                cpu.seconds()
            };
            let cpu = ThreadCpu::start();
            let started = Instant::now();
            let report = run_dry(&runtime, full, case.key)?;
            let wall = started.elapsed().as_secs_f64();
            // On tiny data (--quick) the fixed cost can be most of the run, and the clock's
            // granularity makes the difference meaningless: then keep the whole run's time.
            let total = cpu.seconds().max(1e-9);
            let cpu = if total - cpu_fixed > total / 10.0 {
                total - cpu_fixed
            } else {
                total
            };
            plugin_cpu[i].push(report.rows_read as f64 / cpu);
            plugin_wall[i].push(report.rows_read as f64 / wall);
            accepted[i].0 = report.audiences.iter().map(|a| a.uploaded).sum();

            let batches = read_columns(&data, case)?;
            let (seconds, ok) = native_kernel(case, &batches)?;
            native[i].push(rows as f64 / seconds);
            accepted[i].1 = ok;
            if case.field == "email" {
                sha.push(native_digests(&batches));
                host_sha.push(host_digests(&batches));
                sdk.run_once();
            }
        }
    }

    let fields: Vec<FieldFigures> = CASES
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let plugin = median(&plugin_cpu[i]);
            let native = median(&native[i]);
            FieldFigures {
                key: case.key.to_owned(),
                plugin_rows_per_s: plugin,
                plugin_wall_rows_per_s: median(&plugin_wall[i]),
                native_rows_per_s: native,
                plugin_vs_native: plugin / native,
                accepted: accepted[i].0,
                native_accepted: accepted[i].1,
            }
        })
        .collect();
    let rate = |key: &str| {
        fields
            .iter()
            .find(|f| f.key == key)
            .map_or(f64::NAN, |f| f.plugin_rows_per_s)
    };
    let combined =
        1.0 / (1.0 / rate("email") + 1.0 / rate("phone_row_country") + 1.0 / rate("madid"));
    let e2e_rate = median(&e2e_rates);
    let native_sha256_per_s = median(&sha);
    let host_digest_sha256_per_s = median(&host_sha);

    let (sdk, sdk_note) = sdk.finish();

    let upload = if args.upload_rows == 0 {
        None
    } else {
        let upload_rows = if args.quick {
            QUICK_ROWS.min(args.upload_rows)
        } else {
            args.upload_rows
        };
        progress(
            args,
            &format!(
                "live upload of {upload_rows} rows, {} ms per request",
                args.latency_ms
            ),
        );
        Some(measure_upload(
            &runtime,
            dir,
            &plugin,
            &spec,
            upload_rows,
            args.latency_ms,
            runs,
        )?)
    };

    let ratios = Ratios {
        email_plugin_vs_native_sha256: rate("email") / native_sha256_per_s,
        email_plugin_vs_meta_sdk: sdk.map(|s| rate("email") / s),
        phone_plugin_rows_per_s: rate("phone").min(rate("phone_row_country")),
        end_to_end_vs_plugin: e2e_rate / combined,
        peak_rss_mib: peak_rss.map(|b| b as f64 / f64::from(1 << 20)),
        upload_vs_bound: upload.as_ref().map(|u| u.vs_bound),
    };
    Ok(BenchReport {
        rows,
        runs,
        quick: args.quick,
        optimized_build: !cfg!(debug_assertions),
        plugin,
        machine: Machine::probe(),
        fields,
        native_sha256_per_s,
        host_digest_sha256_per_s,
        end_to_end: EndToEnd {
            rows_per_s: e2e_rate,
            plugin_combined_rows_per_s: combined,
            vs_plugin: e2e_rate / combined,
            peak_rss_bytes: peak_rss,
        },
        meta_sdk_email_rows_per_s: sdk,
        meta_sdk_note: sdk_note,
        upload,
        ratios,
    })
}

/// Exports `rows` generated e-mails live to an in-process emulator answering each request
/// after `latency_ms`, and compares the wall time with a dry run of the same export and with
/// the requests' latency (one request in flight per audience).
fn measure_upload(
    runtime: &Runtime,
    dir: &Path,
    plugin: &str,
    spec: &SampleSpec,
    rows: u64,
    latency_ms: u64,
    runs: usize,
) -> Result<UploadFigures, BenchError> {
    let data = dir.join(format!("upload-{rows}-{}.parquet", spec.seed));
    if !data.is_file() {
        let spec = SampleSpec {
            rows,
            ..spec.clone()
        };
        crate::sample::write(&data, SampleFormat::Parquet, &spec).map_err(BenchError::Data)?;
    }
    let config = audex_emulator::EmulatorConfig {
        latency: std::time::Duration::from_millis(latency_ms),
        ..audex_emulator::EmulatorConfig::default()
    };
    let calls_per_hour = config.calls_per_hour;
    let setup = |e: String| BenchError::Run {
        case: "upload".to_owned(),
        source: Box::new(AudexError::Internal(e)),
    };
    let emulator = audex_emulator::Emulator::start(config).map_err(|e| setup(e.to_string()))?;
    let email = [CASES[0]];
    let dry = write_pipeline(dir, "upload-dry", plugin, &data, &email)?;
    let live_yaml = std::fs::read_to_string(&dry)
        .map_err(|source| BenchError::Io {
            path: dry.clone(),
            source,
        })?
        .replace(
            "\ndestination:\n",
            &format!("\ndestination:\n  graph_url: {}\n", emulator.base_url()),
        );
    let live = dir.join("bench-upload-live.yaml");
    std::fs::write(&live, live_yaml).map_err(|source| BenchError::Io {
        path: live.clone(),
        source,
    })?;

    let mut dry_times = Vec::new();
    let mut live_times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        run_dry(runtime, &dry, "upload (dry)")?;
        dry_times.push(started.elapsed().as_secs_f64());

        let mut secrets = crate::secrets::Secrets::default();
        secrets.insert(
            "access-token",
            crate::secrets::Secret::new(emulator.access_token()),
        );
        let options = RunOptions {
            secrets: Some(secrets),
            // A fresh export every time, journaled apart from the user's runs.
            state_dir: Some(dir.join("upload-state")),
            fresh: true,
            ..RunOptions::default()
        };
        let before = emulator.request_log().len();
        let started = Instant::now();
        let outcome = run_pipeline(runtime, &live, &options);
        live_times.push(started.elapsed().as_secs_f64());
        let log = emulator.request_log();
        let sent = &log[before.min(log.len())..];
        let uploads = sent.iter().filter(|r| r.batch_seq.is_some()).count() as u64;
        match (outcome.report, outcome.error) {
            (Some(report), None) => last = Some((report, sent.len() as u64, uploads)),
            (_, Some(source)) => {
                return Err(BenchError::Run {
                    case: "upload (live)".to_owned(),
                    source: Box::new(source),
                });
            }
            (None, None) => return Err(setup("the live run made no report".to_owned())),
        }
    }
    let (report, requests, upload_requests) =
        last.ok_or_else(|| setup("no live run".to_owned()))?;
    let live_s = median(&live_times);
    let dry_s = median(&dry_times);
    let bound_s = dry_s.max(requests as f64 * latency_ms as f64 / 1000.0);
    Ok(UploadFigures {
        rows,
        latency_ms,
        requests,
        upload_requests,
        live_s,
        dry_s,
        bound_s,
        vs_bound: live_s / bound_s.max(1e-9),
        requests_per_s: report.requests_per_s,
        budget_used_percent: report.budget_used_percent,
        calls_per_hour,
    })
}

/// Progress on stderr (not with `--json`, whose callers want only the figures).
fn progress(args: &BenchArgs, message: &str) {
    if !args.json {
        eprintln!("audex bench: {message}");
    }
}

/// Where the bench writes its files.
enum Workspace {
    Kept(PathBuf),
    Temporary(PathBuf),
}

impl Workspace {
    fn new(dir: Option<&Path>) -> Result<Self, BenchError> {
        let (path, kept) = match dir {
            Some(dir) => (dir.to_owned(), true),
            None => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                let name = format!("audex-bench-{}-{nanos}", std::process::id());
                (std::env::temp_dir().join(name), false)
            }
        };
        std::fs::create_dir_all(&path).map_err(|source| BenchError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(if kept {
            Self::Kept(path)
        } else {
            Self::Temporary(path)
        })
    }

    fn path(&self) -> &Path {
        match self {
            Self::Kept(p) | Self::Temporary(p) => p,
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Self::Temporary(path) = self {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Writes a dry-run pipeline over `data` exporting the cases' fields.
fn write_pipeline(
    dir: &Path,
    name: &str,
    plugin: &str,
    data: &Path,
    cases: &[Case],
) -> Result<PathBuf, BenchError> {
    let mut columns: Vec<(&str, &str)> = cases.iter().map(|c| (c.field, c.column)).collect();
    if cases.iter().any(|c| c.row_country) {
        columns.push(("country", "country_code"));
    }
    let columns = columns
        .iter()
        .map(|(f, c)| format!("{f}: {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fields = cases.iter().map(|c| c.field).collect::<Vec<_>>().join(", ");
    let file_name = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let yaml = format!(
        "name: bench-{name}\nsource: {{ path: \"{file_name}\" }}\ncolumns: {{ {columns} }}\ndestination:\n  plugin: \"{plugin}\"\n  ad_account: {AD_ACCOUNT}\n  default_country: US\n  audience: {{ name: \"audex bench {{field}}\", fields: [{fields}] }}\n"
    );
    let path = dir.join(format!("bench-{name}.yaml"));
    std::fs::write(&path, yaml).map_err(|source| BenchError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// A dry run without an output directory, as `audex run PIPELINE --dry-run`.
fn run_dry(runtime: &Runtime, pipeline: &Path, case: &str) -> Result<RunReport, BenchError> {
    let options = RunOptions {
        dry_run: true,
        ..RunOptions::default()
    };
    let outcome = run_pipeline(runtime, pipeline, &options);
    match (outcome.report, outcome.error) {
        (Some(report), None) => Ok(report),
        (_, Some(source)) => Err(BenchError::Run {
            case: case.to_owned(),
            source: Box::new(source),
        }),
        (None, None) => Err(BenchError::Data(format!("{case}: the run made no report"))),
    }
}

/// The case's columns of the segment, in 10,000-row batches, as the plugin gets them.
fn read_columns(data: &Path, case: &Case) -> Result<Vec<RecordBatch>, BenchError> {
    let file = File::open(data).map_err(|source| BenchError::Io {
        path: data.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| BenchError::Data(e.to_string()))?;
    let mut wanted = vec![case.column];
    if case.row_country {
        wanted.push("country_code");
    }
    let mask = ProjectionMask::columns(builder.parquet_schema(), wanted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| BenchError::Data(e.to_string()))?;
    reader
        .map(|b| b.map_err(|e| BenchError::Data(e.to_string())))
        .collect()
}

/// Runs the case's kernel natively over `batches`: seconds spent in the kernel, rows accepted.
fn native_kernel(case: &Case, batches: &[RecordBatch]) -> Result<(f64, u64), BenchError> {
    let width = if case.field == "madid" {
        MADID_WIDTH
    } else {
        DIGEST_WIDTH
    };
    let mut out = NormalizedColumn::new(width);
    let mut seconds = 0.0;
    let mut accepted = 0u64;
    for batch in batches {
        let column = batch
            .column_by_name(case.column)
            .ok_or_else(|| BenchError::Data(format!("no column {}", case.column)))?;
        let country = case
            .row_country
            .then(|| batch.column_by_name("country_code"))
            .flatten();
        let started = Instant::now();
        let result = match case.field {
            "email" => normalize::emails(column.as_ref(), &mut out),
            "phone" => normalize::phones(
                column.as_ref(),
                country.map(|c| c.as_ref() as &dyn Array),
                Some("US"),
                &mut out,
            ),
            _ => normalize::madids(column.as_ref(), &mut out),
        };
        seconds += started.elapsed().as_secs_f64();
        result.map_err(|source| BenchError::Kernel {
            case: case.key.to_owned(),
            source,
        })?;
        accepted += out.accepted() as u64;
    }
    Ok((seconds.max(1e-9), accepted))
}

/// The normalized (trimmed, lower-cased, non-empty) emails of the batches.
fn normalized_emails(batches: &[RecordBatch]) -> Vec<Vec<u8>> {
    batches
        .iter()
        .filter_map(|b| b.column_by_name("email_address"))
        .flat_map(|c| {
            let strings: StringArray = c.as_string::<i32>().clone();
            strings
                .iter()
                .flatten()
                .map(|s| s.trim().to_lowercase().into_bytes())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Native SHA-256 + hex digests per second over the normalized emails, `sha2` one at a time.
fn native_digests(batches: &[RecordBatch]) -> f64 {
    let inputs = normalized_emails(batches);
    let mut hex = [0u8; 64];
    let started = Instant::now();
    for input in &inputs {
        sha256_hex(std::hint::black_box(input), &mut hex);
        std::hint::black_box(&hex);
    }
    inputs.len() as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// The same digests per second through the host's `digest.sha256` (as the plugin calls it:
/// one call per batch of messages back to back), hex encoding included.
fn host_digests(batches: &[RecordBatch]) -> f64 {
    let inputs = normalized_emails(batches);
    let calls: Vec<(Vec<u8>, Vec<u32>)> = inputs
        .chunks(BATCH_ROWS)
        .map(|chunk| {
            let mut messages = Vec::new();
            let mut ends = Vec::with_capacity(chunk.len());
            for input in chunk {
                messages.extend_from_slice(input);
                ends.push(u32::try_from(messages.len()).unwrap_or(u32::MAX));
            }
            (messages, ends)
        })
        .collect();
    let mut hex = [0u8; 64];
    let started = Instant::now();
    for (messages, ends) in &calls {
        let Ok(digests) = crate::plugin::digest::sha256_many(std::hint::black_box(messages), ends)
        else {
            return 0.0;
        };
        for digest in digests.as_chunks::<32>().0 {
            audex_plugin_sdk::kernels::digest::hex_encode_32(digest, &mut hex);
            std::hint::black_box(&hex);
        }
    }
    inputs.len() as f64 / started.elapsed().as_secs_f64().max(1e-9)
}

/// Meta's Python SDK on the segment's (non-null) e-mails, one run at a time.
enum SdkRuns {
    /// Ready: the e-mails are in this file; the rates of the runs so far.
    Ready(PathBuf, Vec<f64>),
    /// Not measured, and why.
    Skipped(String),
}

impl SdkRuns {
    /// Writes the e-mails (at most [`SDK_MAX_ROWS`]) to a file in `dir`.
    fn prepare(dir: &Path, data: &Path) -> Self {
        let case = CASES[0];
        let batches = match read_columns(data, &case) {
            Ok(batches) => batches,
            Err(e) => return Self::Skipped(e.to_string()),
        };
        let mut text = String::new();
        let mut count = 0;
        'outer: for batch in &batches {
            let Some(column) = batch.column_by_name(case.column) else {
                continue;
            };
            for value in column.as_string::<i32>().iter().flatten() {
                if count == SDK_MAX_ROWS {
                    break 'outer;
                }
                if value.contains('\n') {
                    continue;
                }
                let _ = writeln!(text, "{value}");
                count += 1;
            }
        }
        let path = dir.join("emails.txt");
        match std::fs::write(&path, text) {
            Ok(()) => Self::Ready(path, Vec::new()),
            Err(e) => Self::Skipped(format!("{}: {e}", path.display())),
        }
    }

    /// Measures one run; the first failure ends the measurement with its reason.
    fn run_once(&mut self) {
        let Self::Ready(path, rates) = self else {
            return;
        };
        match sdk_run(path) {
            Ok(rate) => rates.push(rate),
            Err(note) => {
                let _ = std::fs::remove_file(&*path);
                *self = Self::Skipped(note);
            }
        }
    }

    /// The median rate, or why there is none.
    fn finish(self) -> (Option<f64>, Option<String>) {
        match self {
            Self::Ready(path, rates) => {
                let _ = std::fs::remove_file(&path);
                match rates.is_empty() {
                    true => (None, Some("no run".to_owned())),
                    false => (Some(median(&rates)), None),
                }
            }
            Self::Skipped(note) => (None, Some(note)),
        }
    }
}

/// One run of `SDK_SCRIPT` over the e-mails in `path`: rows/s.
fn sdk_run(path: &Path) -> Result<f64, String> {
    let output = Command::new("python3")
        .args(["-c", SDK_SCRIPT])
        .arg(path)
        .arg("1")
        .output()
        .map_err(|e| format!("python3 not available ({e}); pip install facebook-business"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim().to_owned();
        return Err(format!(
            "Meta's SDK did not run ({last}); pip install facebook-business"
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("unexpected SDK output: {e}"))
}

/// The median of `values` (NaN when empty).
fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// `audex run PIPELINE --dry-run --json` with this executable: the run's report.
fn run_dry_process(pipeline: &Path) -> Result<RunReport, BenchError> {
    let failed = |message: String| BenchError::Run {
        case: "end-to-end".to_owned(),
        source: Box::new(AudexError::Internal(message)),
    };
    let exe = std::env::current_exe().map_err(|e| failed(e.to_string()))?;
    let output = Command::new(exe)
        .args(["-q", "run"])
        .arg(pipeline)
        .args(["--dry-run", "--json"])
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(format!(
            "audex run exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| failed(format!("unreadable report: {e}")))
}

/// CPU time of the calling thread (Linux `schedstat`), falling back to the wall clock.
struct ThreadCpu {
    cpu: Option<u64>,
    wall: Instant,
}

impl ThreadCpu {
    fn start() -> Self {
        Self {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn seconds(&self) -> f64 {
        match (self.cpu, thread_cpu_ns()) {
            (Some(start), Some(end)) => end.saturating_sub(start) as f64 / 1e9,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }
}

/// Nanoseconds this thread has run on a CPU.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

impl Machine {
    fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned());
        let sha_extensions = cpuinfo
            .lines()
            .filter(|l| l.starts_with("flags") || l.starts_with("Features"))
            .any(|l| l.split_whitespace().any(|f| f == "sha_ni" || f == "sha2"));
        Self {
            arch: std::env::consts::ARCH.to_owned(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            model,
            sha_extensions,
        }
    }
}

/// `1234567.8` as `1,234,568`.
fn grouped(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The human-readable table.
fn render(r: &BenchReport) -> String {
    let mut s = String::new();
    let m = &r.machine;
    let _ = writeln!(
        s,
        "audex bench: {} rows, median of {} run(s); {} with {} CPU(s), {}, SHA extensions: {}{}",
        grouped(r.rows as f64),
        r.runs,
        m.arch,
        m.cpus,
        m.model.as_deref().unwrap_or("unknown CPU"),
        if m.sha_extensions { "yes" } else { "no" },
        if r.optimized_build {
            ""
        } else {
            "\n  (a debug build: figures are meaningless; measure with `cargo run --release -- bench`)"
        }
    );
    if r.plugin != "facebook" {
        let _ = writeln!(s, "  plugin: {}", r.plugin);
    }
    if r.quick {
        let _ = writeln!(
            s,
            "  (--quick: tiny data, one run; this checks the bench, it measures nothing)"
        );
    }
    let _ = writeln!(
        s,
        "\n{:<30} {:>16} {:>16} {:>16} {:>9}",
        "rows/s", "plugin per core", "plugin wall", "native kernel", "plugin/native"
    );
    for f in &r.fields {
        let label = CASES
            .iter()
            .find(|c| c.key == f.key)
            .map_or(f.key.as_str(), |c| c.label);
        let _ = writeln!(
            s,
            "{:<30} {:>16} {:>16} {:>16} {:>9.2}",
            label,
            grouped(f.plugin_rows_per_s),
            grouped(f.plugin_wall_rows_per_s),
            grouped(f.native_rows_per_s),
            f.plugin_vs_native
        );
    }
    let _ = writeln!(
        s,
        "{:<30} {:>16} {:>16} {:>16}",
        "SHA-256 hex of emails",
        "",
        "",
        grouped(r.native_sha256_per_s)
    );
    let _ = writeln!(
        s,
        "{:<30} {:>16} {:>16} {:>16}",
        "  by the host's digest import",
        "",
        "",
        grouped(r.host_digest_sha256_per_s)
    );
    let e = &r.end_to_end;
    let _ = writeln!(
        s,
        "\nend to end, 3 identifier columns (dry run, wall clock): {} rows/s; plugin path for the same columns: {} rows/s",
        grouped(e.rows_per_s),
        grouped(e.plugin_combined_rows_per_s)
    );
    let _ = writeln!(
        s,
        "peak RSS of the end-to-end run's process: {}",
        e.peak_rss_bytes.map_or("n/a".to_owned(), |b| format!(
            "{:.1} MiB",
            b as f64 / f64::from(1 << 20)
        ))
    );
    match (r.meta_sdk_email_rows_per_s, &r.meta_sdk_note) {
        (Some(rate), _) => {
            let _ = writeln!(
                s,
                "Meta's Python SDK, CustomAudience.format_params(EMAIL_SHA256): {} rows/s",
                grouped(rate)
            );
        }
        (None, note) => {
            let _ = writeln!(
                s,
                "Meta's Python SDK: not measured: {}",
                note.as_deref().unwrap_or("unknown")
            );
        }
    }
    if let Some(u) = &r.upload {
        let _ = writeln!(
            s,
            "live upload of {} rows to the emulator at {} ms per request: {:.2} s for {} requests ({} uploads); dry run {:.2} s; bound max(dry, requests x latency) {:.2} s; {} upload requests/s, peak call budget used {} of {} calls/hour",
            grouped(u.rows as f64),
            u.latency_ms,
            u.live_s,
            u.requests,
            u.upload_requests,
            u.dry_s,
            u.bound_s,
            u.requests_per_s
                .map_or("n/a".to_owned(), |v| format!("{v:.2}")),
            u.budget_used_percent
                .map_or("n/a".to_owned(), |p| format!("{p} %")),
            grouped(f64::from(u.calls_per_hour))
        );
    }
    let q = &r.ratios;
    let _ = writeln!(
        s,
        "\nratios (issue 7's targets; informative, never a failure):"
    );
    let _ = writeln!(
        s,
        "  email plugin / native SHA-256 digests  {:>8.2}   target >= 0.50",
        q.email_plugin_vs_native_sha256
    );
    let _ = writeln!(
        s,
        "  email plugin / Meta's Python SDK       {:>8}   target >= 7",
        q.email_plugin_vs_meta_sdk
            .map_or("n/a".to_owned(), |v| format!("{v:.2}"))
    );
    let _ = writeln!(
        s,
        "  phone plugin, rows/s per core     {:>13}   target >= 1,000,000",
        grouped(q.phone_plugin_rows_per_s)
    );
    let _ = writeln!(
        s,
        "  end to end / plugin path               {:>8.2}   target >= 0.70",
        q.end_to_end_vs_plugin
    );
    let _ = writeln!(
        s,
        "  peak RSS, MiB                          {:>8}   target < 300",
        q.peak_rss_mib
            .map_or("n/a".to_owned(), |v| format!("{v:.1}"))
    );
    let _ = writeln!(
        s,
        "  live upload / its bound                {:>8}   target <= 1.10",
        q.upload_vs_bound
            .map_or("n/a".to_owned(), |v| format!("{v:.2}"))
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_grouping() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(grouped(1_234_567.6), "1,234,568");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(f64::NAN), "n/a");
    }

    #[test]
    fn thread_cpu_advances() {
        let cpu = ThreadCpu::start();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i * i));
        }
        assert!(cpu.seconds() >= 0.0, "{x}");
    }
}
