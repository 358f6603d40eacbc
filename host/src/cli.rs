//! The `audex` command line: argument parsing and output. The commands themselves live in
//! the library.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::plugin::{Runtime, RuntimeOptions};
use crate::run::{RunOptions, run_pipeline};
use crate::sample::{SampleFormat, SampleSpec};
use clap::{Parser, Subcommand, ValueEnum};

/// Export warehouse segments to advertising platforms as custom audiences, through sandboxed
/// WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "audex", version, about, long_about = None)]
struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline: read the segment, normalize and hash it in the plugin, upload it.
    #[command(
        after_help = "Examples:\n  audex run pipelines/quickstart.yaml --dry-run --out out/\n  audex run pipelines/vip.yaml --json"
    )]
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Send nothing: write every request to OUT/requests.jsonl with synthetic answers.
        #[arg(long)]
        dry_run: bool,
        /// Directory for report.json, rejects.csv and (dry runs) requests.jsonl.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the report as JSON on stdout instead of a summary.
        #[arg(long)]
        json: bool,
        /// Start a new export even if an interrupted run of this pipeline could be resumed
        /// (by default a run continues the pipeline's last unfinished run from its journal).
        #[arg(long)]
        fresh: bool,
    },
    /// List past runs from the run journal, newest first: each attempt, its outcome and counts.
    #[command(after_help = "Examples:\n  audex runs\n  audex runs --pipeline vip_buyers --json")]
    Runs {
        /// Only the runs of this pipeline (its `name`).
        #[arg(long)]
        pipeline: Option<String>,
        /// At most this many attempts.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Connect audex to a destination account: the OAuth dialog in a browser, or a system
    /// user token (`--token -` reads it from stdin).
    #[command(
        after_help = "Examples:\n  audex connect facebook\n  audex connect facebook --manual\n  audex connect facebook --name prod --token - < token.txt\n\nThe app id and secret come from AUDEX_FACEBOOK_APP_ID / AUDEX_FACEBOOK_APP_SECRET or the\n`connect.facebook` section of ~/.config/audex/config.yaml (app_id, app_secret_env, redirect_uri).\nRegister the redirect URI (default http://localhost:8765/callback) with the app.\nConnections are kept in $AUDEX_STATE_DIR (default ~/.local/state/audex), readable by you only."
    )]
    Connect {
        /// The destination plugin: a built-in name (`facebook`) or a path to a .wasm file.
        plugin: String,
        /// The connection's name, for pipelines' `destination.connection`.
        #[arg(long, default_value = crate::connect::DEFAULT_CONNECTION)]
        name: String,
        /// Paste the address the browser was redirected to (or its code) instead of running a
        /// local listener, e.g. when the app's redirect URI is an https page.
        #[arg(long)]
        manual: bool,
        /// Store a system user token instead of running the OAuth dialog; `-` reads it from
        /// stdin (AUDEX_<PLUGIN>_TOKEN works too).
        #[arg(long, value_name = "TOKEN|-")]
        token: Option<String>,
        /// The app (client) id; AUDEX_<PLUGIN>_APP_ID or the config file otherwise.
        #[arg(long)]
        app_id: Option<String>,
        /// The redirect URI registered with the app (default http://localhost:8765/callback).
        #[arg(long)]
        redirect_uri: Option<String>,
        /// The API's base URL, e.g. an `audex emulator` (the endpoint's variable, such as
        /// AUDEX_GRAPH_URL, otherwise).
        #[arg(long = "api-url", visible_alias = "graph-url", value_name = "URL")]
        api_url: Option<String>,
        /// Print the address only; do not try to open a browser.
        #[arg(long)]
        no_browser: bool,
        /// Seconds to wait for the browser to come back.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// List the ad accounts of a connection (all pages), or select those pipelines may use.
    #[command(
        after_help = "Examples:\n  audex accounts\n  audex accounts --json\n  audex accounts --select act_1000000001 act_1000000004"
    )]
    Accounts {
        /// The connection.
        #[arg(long, default_value = crate::connect::DEFAULT_CONNECTION)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Record these accounts as the only ones pipelines may export to with this connection.
        #[arg(long, num_args = 1.., value_name = "ID")]
        select: Vec<String>,
        /// The API's base URL (default: the one the connection was made against).
        #[arg(long = "api-url", visible_alias = "graph-url", value_name = "URL")]
        api_url: Option<String>,
        /// The plugin, when there is no stored connection (a token in the environment).
        #[arg(long)]
        plugin: Option<String>,
    },
    /// Show the connection's token (kind, expiry, scopes) and the selected accounts' readiness.
    Status {
        /// The connection.
        #[arg(long, default_value = crate::connect::DEFAULT_CONNECTION)]
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The API's base URL (default: the one the connection was made against).
        #[arg(long = "api-url", visible_alias = "graph-url", value_name = "URL")]
        api_url: Option<String>,
        /// The plugin, when there is no stored connection (a token in the environment).
        #[arg(long)]
        plugin: Option<String>,
    },
    /// Remove a stored connection.
    Disconnect {
        /// The connection.
        #[arg(long, default_value = crate::connect::DEFAULT_CONNECTION)]
        name: String,
    },
    /// Check pipelines without sending anything: schema, plugin settings, source columns.
    #[command(
        after_help = "Examples:\n  audex validate pipelines/*.yaml\n  audex validate --offline --json pipelines/vip.yaml\n\nOnline (the default) it also lists and reads the schema of s3:// sources and, when\ncredentials exist, checks them with the destination and the account's readiness (active,\nterms accepted). --offline does no network at all. Exit codes: 0 ok, 3 invalid pipeline or\nsource, 4 credentials refused, 5 account not ready, 7 plugin crashed."
    )]
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
        /// One JSON object per pipeline on stdout: `{file, ok, plugin, account, audiences,
        /// warnings, notes, error: {kind, message}}`.
        #[arg(long)]
        json: bool,
        /// No network: object-storage sources, the connection and the account are not checked.
        #[arg(long)]
        offline: bool,
    },
    /// Serve the Graph API emulator on loopback until Ctrl-C (prints its URL and a token).
    #[command(
        after_help = "Examples:\n  audex emulator --port 8990\n  audex emulator --latency-ms 100 --fault 'status:503@users*3' --fault 'code:17@users'\n\nFault specs: KIND[@SCOPE][*TIMES] with KIND one of status:5xx, code:N[/SUB], slow:DURATION,\ndrop, drop-before, revoke-after:N; SCOPE is [METHOD:]PATH-SUBSTRING; TIMES a count or `always`."
    )]
    Emulator {
        /// Port (0 picks a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Latency added to every Graph API request, milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// A fault to inject (repeatable).
        #[arg(long = "fault", value_name = "SPEC")]
        faults: Vec<String>,
        /// Extra active ad accounts to seed, for pagination.
        #[arg(long, default_value_t = 0)]
        extra_accounts: usize,
        /// Calls per ad account per hour before rate limiting.
        #[arg(long)]
        calls_per_hour: Option<u32>,
    },
    /// Measure normalization and hashing: the plugin through the host, the native kernels,
    /// an end-to-end dry run, peak memory (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Print a shell completion script (`audex completions bash > /etc/bash_completion.d/audex`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write a generated sample segment (messy, realistic rows) to a file.
    Sample {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Rows.
        #[arg(long, default_value_t = 3000)]
        rows: u64,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Share of invalid values per column.
        #[arg(long, default_value_t = 0.05)]
        invalid_share: f64,
        /// File format (default: from the extension).
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
    },
    /// Plugin authors' tools: scaffold a new plugin crate, check a plugin's conformance.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Create a plugin crate on the guest SDK: a small working plugin (hashes an `email`
    /// column, posts batches to a declared endpoint), its manifest, unit tests against the
    /// SDK's fake host, a README. It builds and passes its tests as generated.
    #[command(after_help = "Examples:
  audex plugin new my-dest
  audex plugin new my-dest --dir plugins/my-dest --sdk-path ~/src/audex/plugin-sdk

Then, in the new directory: `cargo test`, `cargo build --target wasm32-wasip2 --release`,
`audex plugin check target/wasm32-wasip2/release/my_dest.wasm`. The SDK dependency is a path:
--sdk-path, else the plugin-sdk/ of the checkout audex was built from, else the published
crate.")]
    New {
        /// The plugin's name: lower-case letters, digits and `-` (the package and manifest name).
        name: String,
        /// Where to create the crate (default: ./NAME); it must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The audex-plugin-sdk crate to depend on, by path (an audex checkout's plugin-sdk/).
        #[arg(long, value_name = "PATH")]
        sdk_path: Option<PathBuf>,
    },
    /// Run the conformance suite against a plugin: WIT version, its four exports on a fixture
    /// segment, and what its requests carry (no raw identifiers, 64 lowercase hex digests, no
    /// reserved header, declared endpoints and secrets only, batch limits, row accounting).
    #[command(after_help = "Examples:
  audex plugin check target/wasm32-wasip2/release/my_plugin.wasm
  audex plugin check builtin:facebook --json
  audex plugin check my_plugin.wasm --settings check.yaml

The manifest (my_plugin.toml) sits beside the component. Settings come from its [check]
section, or from --settings: a YAML file with `settings` (the pipeline's destination
section), optional `rows` and `responses` (canned answers: endpoint, method, path prefix,
status, body). Endpoints with `emulator = \"graph-api\"` are served by the embedded emulator;
other requests are recorded and answered 200 `{}`. Nothing leaves the machine.

Exit codes: 0 every check passed, 8 a check failed, 3 unusable input, 1 internal error.")]
    Check {
        /// The plugin: a path to its .wasm component (manifest beside it), or `builtin:NAME`.
        plugin: String,
        /// Check settings (YAML: settings, rows, responses) instead of the manifest's [check].
        #[arg(long, value_name = "FILE.yaml")]
        settings: Option<PathBuf>,
        /// Rows of the fixture segment (default 600, or 40 % more than limits.max_batch_rows).
        #[arg(long)]
        rows: Option<u64>,
        /// Print the result as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Csv,
    Parquet,
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,audex=info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn runtime() -> Result<Runtime, ExitCode> {
    Runtime::new(RuntimeOptions::default()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(crate::exit::INTERNAL as u8)
    })
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match cli.command {
        Command::Runs {
            pipeline,
            limit,
            json,
        } => crate::runs::print(pipeline.as_deref(), limit, json),
        Command::Run {
            pipeline,
            dry_run,
            out,
            json,
            fresh,
        } => {
            let runtime = match runtime() {
                Ok(r) => r,
                Err(code) => return code,
            };
            let options = RunOptions {
                dry_run,
                out_dir: out,
                max_pause: std::env::var("AUDEX_MAX_PAUSE_MS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .map(std::time::Duration::from_millis),
                progress: !json && !cli.quiet,
                fresh,
                ..RunOptions::default()
            };
            let outcome = run_pipeline(&runtime, &pipeline, &options);
            if let Some(report) = &outcome.report {
                if json {
                    match serde_json::to_string_pretty(report) {
                        Ok(text) => println!("{text}"),
                        Err(e) => eprintln!("error: {e}"),
                    }
                } else {
                    print!("{}", report.summary());
                }
            }
            if let Some(e) = &outcome.error {
                eprintln!("error: {e}");
            }
            ExitCode::from(outcome.exit_code() as u8)
        }
        Command::Connect {
            plugin,
            name,
            manual,
            token,
            app_id,
            redirect_uri,
            api_url,
            no_browser,
            timeout,
        } => {
            let options = crate::connect::commands::ConnectOptions {
                plugin,
                name,
                manual,
                token,
                app_id,
                redirect_uri,
                api_url,
                no_browser,
                timeout: std::time::Duration::from_secs(timeout),
            };
            connection_command(|runtime| crate::connect::commands::connect(runtime, &options))
        }
        Command::Accounts {
            name,
            json,
            select,
            api_url,
            plugin,
        } => {
            let options = crate::connect::commands::AccountOptions {
                name,
                json,
                select,
                api_url,
                plugin,
            };
            connection_command(|runtime| crate::connect::commands::accounts(runtime, &options))
        }
        Command::Status {
            name,
            json,
            api_url,
            plugin,
        } => {
            let options = crate::connect::commands::AccountOptions {
                name,
                json,
                api_url,
                plugin,
                select: Vec::new(),
            };
            connection_command(|runtime| crate::connect::commands::status(runtime, &options))
        }
        Command::Disconnect { name } => match crate::connect::commands::disconnect(&name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(e.exit_code() as u8)
            }
        },
        Command::Validate {
            pipelines,
            json,
            offline,
        } => {
            let runtime = match runtime() {
                Ok(r) => r,
                Err(code) => return code,
            };
            let options = crate::validate::ValidateOptions { offline };
            let mut code = crate::exit::SUCCESS;
            for path in pipelines {
                let result = crate::validate::validate(&runtime, &path, options);
                code = code.max(crate::validate::print_outcome(&path, &result, json));
            }
            ExitCode::from(code as u8)
        }
        Command::Emulator {
            port,
            latency_ms,
            faults,
            extra_accounts,
            calls_per_hour,
        } => serve_emulator(port, latency_ms, &faults, extra_accounts, calls_per_hour),
        Command::Bench(args) => crate::bench::main(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "audex", &mut script);
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(&script);
            ExitCode::SUCCESS
        }
        Command::Sample {
            out,
            rows,
            seed,
            invalid_share,
            format,
        } => {
            let format = match format {
                Some(FormatArg::Csv) => SampleFormat::Csv,
                Some(FormatArg::Parquet) => SampleFormat::Parquet,
                None if out.extension().is_some_and(|e| e == "parquet") => SampleFormat::Parquet,
                None => SampleFormat::Csv,
            };
            let spec = SampleSpec {
                rows,
                seed,
                invalid_share,
            };
            match crate::sample::write(&out, format, &spec) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(crate::exit::INTERNAL as u8)
                }
            }
        }
        Command::Plugin(command) => plugin_command(command),
    }
}

/// `audex plugin ...`.
fn plugin_command(command: PluginCommand) -> ExitCode {
    match command {
        PluginCommand::New {
            name,
            dir,
            sdk_path,
        } => {
            use crate::plugin_kit::scaffold;
            let options = scaffold::ScaffoldOptions {
                dir: dir.unwrap_or_else(|| PathBuf::from(&name)),
                name,
                sdk: sdk_path.map(scaffold::SdkSource::Path),
            };
            match scaffold::generate(&options) {
                Ok(generated) => {
                    print!("{}", generated.next_steps());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        PluginCommand::Check {
            plugin,
            settings,
            rows,
            json,
        } => {
            let runtime = match runtime() {
                Ok(r) => r,
                Err(code) => return code,
            };
            let options = crate::plugin_kit::check::CheckOptions {
                plugin,
                settings,
                rows,
            };
            match crate::plugin_kit::check::check_plugin(&runtime, &options) {
                Ok(report) => {
                    if json {
                        match serde_json::to_string_pretty(&report) {
                            Ok(text) => println!("{text}"),
                            Err(e) => eprintln!("error: {e}"),
                        }
                    } else {
                        print!("{}", report.table());
                    }
                    ExitCode::from(report.exit_code() as u8)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
    }
}

/// Runs a connection command with a runtime, printing its error.
fn connection_command(
    command: impl FnOnce(&Runtime) -> Result<(), crate::connect::ConnectError>,
) -> ExitCode {
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match command(&runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn serve_emulator(
    port: u16,
    latency_ms: u64,
    faults: &[String],
    extra_accounts: usize,
    calls_per_hour: Option<u32>,
) -> ExitCode {
    let mut config = audex_emulator::EmulatorConfig {
        port,
        latency: std::time::Duration::from_millis(latency_ms),
        extra_accounts,
        ..Default::default()
    };
    if let Some(calls) = calls_per_hour {
        config.calls_per_hour = calls;
    }
    for spec in faults {
        match spec.parse() {
            Ok(fault) => config.faults.push(fault),
            Err(e) => {
                eprintln!("error: --fault {spec}: {e}");
                return ExitCode::from(crate::exit::USAGE as u8);
            }
        }
    }
    match audex_emulator::Emulator::start(config) {
        Ok(handle) => {
            // The one line scripts parse: the base URL and a ready-to-use (emulator-only) token.
            println!(
                "audex emulator listening on {} access_token={} app_id={} app_secret={}",
                handle.base_url(),
                handle.access_token(),
                handle.app_id(),
                handle.app_secret()
            );
            use std::io::Write as _;
            let _ = std::io::stdout().flush();
            handle.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(crate::exit::INTERNAL as u8)
        }
    }
}
