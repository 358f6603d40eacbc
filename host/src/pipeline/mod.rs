//! Pipeline files: the YAML that declares a run (source, column mapping, destination).
//!
//! Parsing keeps source positions, so every problem is reported as
//! `file:line:col: key.path: message`. String values may use `${VAR}`, `${VAR:-default}` and
//! `${VAR:?message}`; interpolation happens after parsing, on string values only.

mod interpolate;
mod locate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use interpolate::{InterpolationError, interpolate};

use crate::source::Format;

/// A pipeline as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The pipeline's name (reports, audience name templates).
    pub name: String,
    /// Where the segment comes from.
    pub source: SourceSection,
    /// Plugin field -> source column, e.g. `email: email_address`.
    pub columns: BTreeMap<String, String>,
    /// The destination: `plugin`, `connection`, endpoint overrides, and the plugin's own
    /// settings.
    pub destination: serde_json::Map<String, serde_json::Value>,
    /// Completion notifications.
    #[serde(default)]
    pub notify: Option<crate::notify::NotifySection>,
    /// What the rejects file holds.
    #[serde(default)]
    pub rejects: RejectsSection,
}

/// `rejects`: what `rejects.csv` holds besides row, field and reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectsSection {
    /// Adds a `value` column with each rejected row's raw value (cut at
    /// [`MAX_VALUE_BYTES`](crate::rejects::MAX_VALUE_BYTES)). Off by default: the values
    /// are personal data, and the file then holds them in clear.
    #[serde(default)]
    pub include_values: bool,
}

/// `source`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// A file, a glob or a directory, relative to the pipeline file.
    pub path: String,
    /// Format, when the extension does not tell.
    #[serde(default)]
    pub format: Option<Format>,
    /// Rows per batch.
    #[serde(default)]
    pub batch_rows: Option<usize>,
    /// CSV delimiter, one ASCII character.
    #[serde(default)]
    pub delimiter: Option<char>,
    /// How to reach an `s3://` source's bucket (endpoint, region...); the AWS environment
    /// variables otherwise.
    #[serde(default)]
    pub s3: Option<crate::source::S3Options>,
}

/// A pipeline with the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedPipeline {
    /// The pipeline.
    pub pipeline: Pipeline,
    /// Its file.
    pub path: PathBuf,
    /// Its text, to locate keys in later messages.
    pub text: String,
}

/// A pipeline problem, positioned.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {key}: {message}")]
pub struct PipelineError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted key path.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl LoadedPipeline {
    /// Reads, parses and interpolates a pipeline file.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            key: "(file)".to_owned(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses pipeline text; `path` names it and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PipelineError> {
        let file = path.display().to_string();
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let mut pipeline: Pipeline = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = inner
                .location()
                .map(|l| (l.line(), l.column()))
                .or_else(|| locate::key(text, &key))
                .unwrap_or((1, 1));
            PipelineError {
                file: file.clone(),
                line,
                column,
                // `.` is the document itself; an empty path, an empty (or null) top-level key.
                key: if key == "." || key.is_empty() {
                    "(top)".to_owned()
                } else {
                    key
                },
                message: strip_location(&inner.to_string()),
            }
        })?;
        let env = |name: &str| std::env::var(name).ok();
        let fail = |key: String, e: InterpolationError| {
            let (line, column) = locate::text(text, e.placeholder())
                .or_else(|| locate::key(text, &key))
                .unwrap_or((1, 1));
            PipelineError {
                file: file.clone(),
                line,
                column,
                key,
                message: e.to_string(),
            }
        };
        pipeline.name = interpolate(&pipeline.name, &env).map_err(|e| fail("name".into(), e))?;
        pipeline.source.path =
            interpolate(&pipeline.source.path, &env).map_err(|e| fail("source.path".into(), e))?;
        if let Some(s3) = &mut pipeline.source.s3 {
            for (key, value) in [("endpoint", &mut s3.endpoint), ("region", &mut s3.region)] {
                if let Some(v) = value {
                    *v = interpolate(v, &env).map_err(|e| fail(format!("source.s3.{key}"), e))?;
                }
            }
        }
        for (field, column) in &mut pipeline.columns {
            *column = interpolate(column, &env).map_err(|e| fail(format!("columns.{field}"), e))?;
        }
        if let Some(notify) = &mut pipeline.notify {
            if let Some(email) = &mut notify.email {
                for (i, to) in email.to.iter_mut().enumerate() {
                    *to = interpolate(to, &env)
                        .map_err(|e| fail(format!("notify.email.to[{i}]"), e))?;
                }
            }
            if let Some(hook) = &mut notify.webhook {
                hook.url = interpolate(&hook.url, &env)
                    .map_err(|e| fail("notify.webhook.url".into(), e))?;
            }
        }
        for (key, value) in &mut pipeline.destination {
            interpolate_value(value, &format!("destination.{key}"), &env, &fail)?;
        }
        let loaded = Self {
            pipeline,
            path: path.to_owned(),
            text: text.to_owned(),
        };
        loaded.check()?;
        Ok(loaded)
    }

    fn check(&self) -> Result<(), PipelineError> {
        let p = &self.pipeline;
        if p.name.trim().is_empty() {
            return Err(self.error_at("name", "expected a non-empty pipeline name"));
        }
        match p.destination.get("plugin") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(self.error_at(
                    "destination.plugin",
                    "expected a plugin name or a path to a .wasm file",
                ));
            }
            None => {
                return Err(self.error_at(
                    "destination",
                    "missing key `plugin` (e.g. `plugin: facebook`)",
                ));
            }
        }
        if let Some(d) = p.source.delimiter
            && !d.is_ascii()
        {
            return Err(self.error_at("source.delimiter", "expected one ASCII character"));
        }
        if crate::source::remote::is_remote(&p.source.path) {
            if let Err(message) = crate::source::remote::check_url(&p.source.path) {
                return Err(self.error_at("source.path", message));
            }
        } else if p.source.s3.is_some() {
            return Err(self.error_at(
                "source.s3",
                "only applies to an object-storage source (`path: s3://bucket/...`)",
            ));
        }
        if p.source.batch_rows == Some(0) {
            return Err(self.error_at("source.batch_rows", "expected a positive number of rows"));
        }
        Ok(())
    }

    /// An error positioned at `key` (dotted path) in this pipeline's text.
    pub fn error_at(&self, key: &str, message: impl Into<String>) -> PipelineError {
        let (line, column) = locate::key(&self.text, key).unwrap_or((1, 1));
        PipelineError {
            file: self.path.display().to_string(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// The directory relative paths start from.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// `destination.plugin`.
    pub fn plugin(&self) -> &str {
        self.pipeline
            .destination
            .get("plugin")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    }

    /// A string key of `destination`, if set.
    pub fn destination_str(&self, key: &str) -> Option<&str> {
        self.pipeline.destination.get(key).and_then(|v| v.as_str())
    }

    /// The destination settings for the plugin: everything but the host's keys.
    pub fn plugin_settings(&self, host_keys: &[&str]) -> serde_json::Value {
        let settings: serde_json::Map<String, serde_json::Value> = self
            .pipeline
            .destination
            .iter()
            .filter(|(k, _)| !HOST_KEYS.contains(&k.as_str()) && !host_keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::Value::Object(settings)
    }
}

/// `destination` keys the host itself consumes, whatever the plugin.
pub const HOST_KEYS: &[&str] = &["plugin", "connection"];

fn interpolate_value(
    value: &mut serde_json::Value,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
    fail: &dyn Fn(String, InterpolationError) -> PipelineError,
) -> Result<(), PipelineError> {
    match value {
        serde_json::Value::String(s) => {
            *s = interpolate(s, env).map_err(|e| fail(key.to_owned(), e))?;
        }
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_value(item, &format!("{key}[{i}]"), env, fail)?;
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                interpolate_value(v, &format!("{key}.{k}"), env, fail)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// serde_yaml_ng appends " at line L column C"; the position is printed separately.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
