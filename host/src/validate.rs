//! `audex validate`: everything a run would check before sending data, without sending any.
//!
//! Always, with no network: the pipeline's schema and interpolation, the plugin (it loads, its
//! WIT version is supported, it accepts the settings), the connection's account selection,
//! the column mapping against the plan, and the schema of every local source file.
//!
//! Online (the default; `--offline` skips all of it):
//! - an object-storage (`s3://`) source is listed and every object's schema checked (offline
//!   this becomes a note, not an error);
//! - when credentials exist (a token in the environment or the pipeline's connection), the
//!   plugin's `connect` runs through the host, as `audex status` does, and the pipeline's
//!   account must be among `list-accounts` and ready (active, terms accepted). Without
//!   credentials, or against the embedded emulator, these checks are skipped with a note.

use std::path::Path;

use crate::error::AudexError;
use crate::http::Mediator;
use crate::http::live::{HttpPolicy, LiveTransport};
use crate::pipeline::LoadedPipeline;
use crate::plugin::bindings::exports::audex::destination::destination as wit;
use crate::plugin::imports::Services;
use crate::plugin::{PluginError, Runtime};
use crate::run::{EMULATOR_URL, Prepared};

/// How to validate.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// No network at all: remote sources, the connection and the account are not checked.
    pub offline: bool,
}

/// What validating one pipeline found.
#[derive(Debug, Clone)]
pub struct Validated {
    /// `name@version` of the plugin.
    pub plugin: String,
    /// The account the export would go to.
    pub account: Option<String>,
    /// The audiences it would fill, by key.
    pub audiences: Vec<String>,
    /// Warnings from the plugin (settings, token).
    pub warnings: Vec<String>,
    /// What was checked online, or skipped and why.
    pub notes: Vec<String>,
}

/// Validates the pipeline file at `path`.
pub fn validate(
    runtime: &Runtime,
    path: &Path,
    options: ValidateOptions,
) -> Result<Validated, AudexError> {
    let pipeline = LoadedPipeline::load(path)?;
    let prepared = if options.offline {
        crate::run::prepare_offline(runtime, &pipeline)?
    } else {
        crate::run::prepare(runtime, &pipeline)?
    };
    let mut validated = Validated {
        plugin: prepared.plugin.label().to_owned(),
        account: prepared.plan.account.clone(),
        audiences: prepared.plan.audiences.clone(),
        warnings: prepared.plan.warnings.clone(),
        notes: Vec::new(),
    };
    if let Some(url) = prepared.stream.remote_url() {
        validated.notes.push(if options.offline {
            format!("source {url}: skipped (--offline): its objects and columns are not checked")
        } else {
            format!("source {url}: objects listed, mapped columns found in each")
        });
    }
    if options.offline {
        validated
            .notes
            .push("destination: skipped (--offline): connection and account not checked".into());
    } else {
        check_destination(&pipeline, &prepared, &mut validated)?;
    }
    Ok(validated)
}

/// The plugin's `connect` and the account's readiness, live, when credentials exist.
fn check_destination(
    pipeline: &LoadedPipeline,
    prepared: &Prepared,
    validated: &mut Validated,
) -> Result<(), AudexError> {
    let manifest = prepared.plugin.manifest();
    if prepared.overrides.values().any(|url| url == EMULATOR_URL) {
        validated
            .notes
            .push("destination: the embedded emulator; connection and account not checked".into());
        return Ok(());
    }
    let secrets = match crate::connect::credentials::for_run(
        pipeline,
        manifest,
        &prepared.overrides,
    ) {
        Ok(secrets) => secrets,
        Err(AudexError::MissingCredentials(why)) => {
            tracing::debug!("{why}");
            validated.notes.push(format!(
                    "destination: no credentials (run `audex connect {}` or set a token); connection and account not checked",
                    manifest.name
                ));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mediator = Mediator::new(manifest, &prepared.overrides)
        .map_err(|e| AudexError::Unsupported(e.to_string()))?;
    let transport = LiveTransport::new(manifest.endpoints.clone(), secrets, HttpPolicy::default())
        .map_err(AudexError::Internal)?;
    let services = Services::new(
        prepared.plugin.label().to_owned(),
        mediator,
        Box::new(transport),
        false,
    );
    let mut instance = prepared.plugin.instantiate(services)?;
    let reconnect = |e: PluginError| {
        let error = AudexError::from(e);
        if error.exit_code() == crate::exit::AUTH {
            AudexError::MissingCredentials(format!(
                "{error}\nReconnect with `audex connect {}` (or set a new token).",
                manifest.name
            ))
        } else {
            error
        }
    };
    let info = instance.connect(&prepared.settings).map_err(reconnect)?;
    validated.warnings.extend(info.warnings.iter().cloned());
    let mut note = format!("destination: credentials accepted ({})", info.kind);
    if let Some(account) = &prepared.plan.account {
        let accounts = instance
            .list_accounts(&prepared.settings)
            .map_err(reconnect)?;
        check_account(pipeline, &validated.plugin, account, &accounts)?;
        note.push_str(&format!("; account {account} is ready"));
    }
    validated.notes.push(note);
    Ok(())
}

/// The pipeline's account must be one the credentials reach, and ready.
fn check_account(
    pipeline: &LoadedPipeline,
    plugin: &str,
    account: &str,
    accounts: &[wit::Account],
) -> Result<(), AudexError> {
    let Some(found) = accounts.iter().find(|a| a.id == account) else {
        let key = if pipeline.pipeline.destination.contains_key("ad_account") {
            "destination.ad_account"
        } else {
            "destination"
        };
        return Err(pipeline
            .error_at(
                key,
                format!(
                    "account `{account}` is not among the {} account(s) these credentials can use; `audex accounts` lists them",
                    accounts.len()
                ),
            )
            .into());
    };
    if found.ready {
        return Ok(());
    }
    let problems = if found.problems.is_empty() {
        format!("its status is {}", found.status)
    } else {
        found.problems.join("; ")
    };
    Err(PluginError::Returned {
        plugin: plugin.to_owned(),
        error: Box::new(wit::PluginError::NotReady(format!(
            "account {account} is not ready: {problems}"
        ))),
    }
    .into())
}

/// Prints the outcome of validating `path`: a line (or a JSON object) on stdout, errors on
/// stderr. Returns the exit code.
pub fn print_outcome(path: &Path, result: &Result<Validated, AudexError>, json: bool) -> i32 {
    let code = result
        .as_ref()
        .map_or_else(AudexError::exit_code, |_| crate::exit::SUCCESS);
    if json {
        let line = match result {
            Ok(v) => serde_json::json!({
                "file": path, "ok": true, "plugin": v.plugin,
                "account": v.account, "audiences": v.audiences,
                "warnings": v.warnings, "notes": v.notes, "error": null,
            }),
            Err(e) => serde_json::json!({
                "file": path, "ok": false,
                "error": {"kind": e.kind(), "message": e.to_string()},
            }),
        };
        println!("{line}");
        return code;
    }
    match result {
        Ok(v) => {
            println!(
                "{}: ok ({} to {}, audiences: {})",
                path.display(),
                v.plugin,
                v.account.as_deref().unwrap_or("?"),
                v.audiences.join(", ")
            );
            for w in &v.warnings {
                println!("{}: warning: {w}", path.display());
            }
            for n in &v.notes {
                println!("{}: note: {n}", path.display());
            }
        }
        Err(e) => eprintln!("{e}"),
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, ready: bool, problems: &[&str]) -> wit::Account {
        wit::Account {
            id: id.to_owned(),
            name: "n".to_owned(),
            status: if ready { "active" } else { "disabled" }.to_owned(),
            ready,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
            details: Vec::new(),
        }
    }

    #[test]
    fn the_account_must_be_listed_and_ready() {
        let pipeline = LoadedPipeline::parse(
            "name: p\nsource: { path: a.csv }\ncolumns: { email: e }\ndestination:\n  plugin: facebook\n  ad_account: act_2\n",
            Path::new("p.yaml"),
        )
        .expect("pipeline");
        let accounts = [
            account("act_1", true, &[]),
            account(
                "act_2",
                false,
                &["Custom Audience terms not accepted: accept them at https://x/act_2"],
            ),
        ];
        assert!(check_account(&pipeline, "f@1", "act_1", &accounts).is_ok());
        let e = check_account(&pipeline, "f@1", "act_2", &accounts).expect_err("not ready");
        assert_eq!(e.exit_code(), crate::exit::DESTINATION);
        assert!(e.to_string().contains("terms not accepted"), "{e}");
        let e = check_account(&pipeline, "f@1", "act_3", &accounts).expect_err("unknown");
        assert_eq!(e.exit_code(), crate::exit::INVALID_CONFIG);
        assert!(
            e.to_string().starts_with("p.yaml:6:") && e.to_string().contains("act_3"),
            "{e}"
        );
    }
}
