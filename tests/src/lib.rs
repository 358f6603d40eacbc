//! Helpers shared by the end-to-end tests: running the `audex` binary, writing pipelines
//! and inputs, and computing expected digests independently of the plugin.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;

/// Runs the `audex` command line built by this package (`src/bin/audex-cli.rs`) in `dir`:
/// `audex!(dir, &["run", ...])`. A macro, because only integration tests know where cargo
/// put the binary.
#[macro_export]
macro_rules! audex {
    ($dir:expr, $args:expr $(,)?) => {
        $crate::run_cli(
            std::path::Path::new(env!("CARGO_BIN_EXE_audex-cli")),
            $dir,
            $args,
        )
    };
}

/// Runs `bin` with `args` in `dir`, with a private compiled-plugin cache and no RUST_LOG.
/// Its stdout and stderr are kept for the suite's secrets scan ([`record_output`]).
pub fn run_cli(bin: &Path, dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_STATE_DIR", empty_state_dir())
        .env("AUDEX_CONFIG", empty_state_dir().join("config.yaml"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("running audex");
    record_output(&args.join(" "), &output);
    output
}

/// Where the suite keeps what audex printed and wrote (`target/<profile>/test-outputs`), for
/// `scan-test-outputs`, which searches it for the emulator's tokens and app secrets after
/// `cargo test` (see `.ci/run`).
pub fn outputs_dir() -> PathBuf {
    // Test binaries live in `<target>/<profile>/deps`, the scanner in `<target>/<profile>`.
    let exe = std::env::current_exe().expect("executable path");
    let mut dir = exe.parent().expect("executable directory");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("target profile dir");
    }
    dir.join("test-outputs")
}

/// A file name unique within this test run.
fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let test = std::thread::current()
        .name()
        .unwrap_or("main")
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    format!(
        "{prefix}-{}-{}-{test}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Keeps a command's stdout and stderr for the secrets scan.
pub fn record_output(label: &str, output: &Output) {
    let mut text = format!(
        "$ audex {label}\n--- exit {:?}\n--- stdout\n",
        output.status.code()
    );
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    text.push_str("\n--- stderr\n");
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    record_text("cli", &text);
}

/// Keeps a text (a report, an error message) for the secrets scan.
pub fn record_text(kind: &str, text: &str) {
    let dir = outputs_dir();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(unique_name(kind) + ".log"), text);
    }
}

/// Keeps an in-process run's report and error message for the secrets scan.
pub fn record_outcome(outcome: &audex::run::RunOutcome) {
    let mut text = outcome
        .report
        .as_ref()
        .and_then(|r| serde_json::to_string_pretty(r).ok())
        .unwrap_or_default();
    if let Some(e) = &outcome.error {
        text.push_str(&format!("\nerror: {e}\n"));
    }
    record_text("run", &text);
}

/// A temporary directory for one test. When it is dropped, the files audex wrote into it
/// (reports, requests, rejects, logs, the run journal; not inputs, not stored connections)
/// are copied to [`outputs_dir`] for the secrets scan, then it is deleted.
pub struct TestDir(tempfile::TempDir);

/// A new [`TestDir`].
pub fn tempdir() -> TestDir {
    TestDir(tempfile::tempdir().expect("creating a temporary directory"))
}

impl TestDir {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let target = outputs_dir().join(unique_name("dir"));
        keep_outputs(self.0.path(), self.0.path(), &target);
    }
}

/// Copies audex's outputs under `dir` to `target`, keeping relative paths.
fn keep_outputs(root: &Path, dir: &Path, target: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_dir() {
            // Stored connections hold credentials on purpose (0600 files).
            if name != "connections" {
                keep_outputs(root, &path, target);
            }
            continue;
        }
        let is_output = matches!(
            name.as_str(),
            "report.json" | "requests.jsonl" | "rejects.csv"
        ) || name.starts_with("journal.sqlite3")
            || name.ends_with(".log")
            || name.ends_with(".out")
            || name.ends_with(".eml");
        if is_output && meta.len() < 256 << 20 {
            let Ok(relative) = path.strip_prefix(root) else {
                continue;
            };
            let to = target.join(relative);
            if let Some(parent) = to.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::copy(&path, &to);
        }
    }
}

/// A compiled-component cache shared by the tests of one build, so each test does not
/// recompile the plugin.
pub fn cache_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target profile dir")
        .join("audex-test-cache")
}

/// A state directory with no connections in it, so a developer's own `audex connect` never
/// changes what a test sees.
pub fn empty_state_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("audex-test-empty-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the empty state dir");
    dir
}

/// Stdout and stderr of an output, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// SHA-256 lowercase hex, computed here independently of the plugin.
pub fn sha256_hex(value: &str) -> String {
    sha2::Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes a pipeline file `name` into `dir`.
pub fn write_pipeline(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("writing pipeline");
    path
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Reads a JSON-lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("reading jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Runs a Python helper script from `tests/python/`, failing with install advice when Python
/// or its packages are missing (`.ci/run` installs `tests/python/requirements.txt`).
pub fn python(script: &str, args: &[&str]) -> Output {
    let path = repo_root().join("tests/python").join(script);
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 is needed by this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "missing Python packages: pip install -r tests/python/requirements.txt\n{stderr}"
    );
    output
}

/// Writes a CSV of `rows` distinct, valid e-mail addresses (column `email`) and returns the
/// digests Facebook should hold, computed here.
pub fn unique_emails_csv(path: &Path, rows: usize) -> Vec<String> {
    let mut text = String::from("email\n");
    let mut digests = Vec::with_capacity(rows);
    for i in 0..rows {
        let address = format!("customer{i}@example.com");
        text.push_str(&address);
        text.push('\n');
        digests.push(sha256_hex(&address));
    }
    std::fs::write(path, text).expect("writing csv");
    digests.sort();
    digests
}

/// An `audex emulator` process, killed when dropped.
pub struct EmulatorProcess {
    /// Its base URL.
    pub url: String,
    /// Its ready-to-use access token.
    pub token: String,
    /// Its app id.
    pub app_id: String,
    /// Its app secret.
    pub app_secret: String,
    child: std::process::Child,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `BIN emulator ARGS...` and reads the line it prints on start.
pub fn spawn_emulator(bin: &Path, args: &[&str]) -> EmulatorProcess {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(bin)
        .arg("emulator")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting audex emulator");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("reading the emulator's first line");
    let field = |name: &str| -> String {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
            .to_owned()
    };
    EmulatorProcess {
        url: line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned(),
        token: field("access_token"),
        app_id: field("app_id"),
        app_secret: field("app_secret"),
        child,
    }
}
