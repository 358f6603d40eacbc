//! `audex connect`, `accounts`, `status` and `disconnect` against the Graph API emulator: the
//! whole OAuth flow in headless Chromium (driven through chromedriver's W3C WebDriver API),
//! the manual flow, system user tokens, account selection, and every failure a user can meet.
//! Every command's output is kept, and searched at the end for tokens, codes and the app
//! secret: none may appear.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use audex_emulator::{Emulator, EmulatorConfig};
use audex_tests::{EmulatorProcess, cache_dir, spawn_emulator, text, write_pipeline};
use serde_json::{Value, json};

/// Every command's output in one test, to search for secrets at the end.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn keep(&mut self, label: &str, output: &Output) {
        self.0.push(format!("$ {label}\n{}", text(output)));
    }

    /// Fails when any of `secrets` appears in any output.
    fn assert_clean(&self, secrets: &[&str]) {
        assert!(!self.0.is_empty(), "no output was kept");
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            for output in &self.0 {
                assert!(
                    !output.contains(secret),
                    "a secret ({}...) appears in the output of:\n{output}",
                    &secret[..secret.len().min(6)]
                );
            }
        }
    }
}

/// A scratch directory with its own state directory, no config file and no ambient tokens.
struct Sandbox {
    dir: audex_tests::TestDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: audex_tests::tempdir(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }

    fn connection_file(&self, name: &str) -> PathBuf {
        self.state_dir().join(format!("connections/{name}.json"))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex-cli"));
        cmd.args(args)
            .current_dir(self.path())
            .env("AUDEX_CACHE_DIR", cache_dir())
            .env("AUDEX_STATE_DIR", self.state_dir())
            .env("AUDEX_CONFIG", self.path().join("no-config.yaml"))
            .env("AUDEX_NO_BROWSER", "1")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("BROWSER")
            .env_remove("AUDEX_GRAPH_URL")
            .env_remove("AUDEX_SECRET_ACCESS_TOKEN")
            .env_remove("AUDEX_SECRET_APP_SECRET")
            .env_remove("AUDEX_FACEBOOK_TOKEN")
            .env_remove("AUDEX_FACEBOOK_APP_ID")
            .env_remove("AUDEX_FACEBOOK_APP_SECRET")
            .env_remove("AUDEX_FACEBOOK_REDIRECT_URI");
        cmd
    }

    /// Runs audex to completion, keeping its output.
    fn run(&self, log: &mut Transcript, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd.stdin(Stdio::null()).output().unwrap();
        log.keep(&args.join(" "), &output);
        output
    }

    /// Runs audex with `input` on stdin.
    fn run_with_input(
        &self,
        log: &mut Transcript,
        args: &[&str],
        env: &[(&str, &str)],
        input: &str,
    ) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        log.keep(&args.join(" "), &output);
        output
    }

    /// Starts `audex connect facebook` against `graph_url` with a loopback listener on `port`,
    /// the app's credentials in the environment when `app` is given.
    fn start_connect(
        &self,
        graph_url: &str,
        port: u16,
        app: Option<&App>,
        extra: &[&str],
    ) -> Connecting {
        let redirect = format!("http://localhost:{port}/callback");
        let mut args = vec![
            "connect",
            "facebook",
            "--graph-url",
            graph_url,
            "--redirect-uri",
            &redirect,
            "--no-browser",
            "--timeout",
            "90",
        ];
        args.extend_from_slice(extra);
        let label = args.join(" ");
        let mut cmd = self.command(&args);
        if let Some(app) = app {
            cmd.env("AUDEX_FACEBOOK_APP_ID", &app.id)
                .env("AUDEX_FACEBOOK_APP_SECRET", &app.secret);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Connecting {
            child,
            lines,
            seen: Vec::new(),
            label,
        }
    }
}

/// The emulator's app credentials.
struct App {
    id: String,
    secret: String,
}

/// A running `audex connect`.
struct Connecting {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    label: String,
}

impl Connecting {
    /// The dialog URL audex printed.
    fn dialog_url(&mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let found = line
                        .contains("/dialog/oauth?")
                        .then(|| line.trim().to_owned());
                    self.seen.push(line);
                    if let Some(url) = found {
                        return url;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let _ = self.child.kill();
        panic!(
            "audex connect printed no dialog URL; stdout so far:\n{}",
            self.seen.join("\n")
        );
    }

    fn write_stdin(&mut self, text: &str) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }

    /// Waits for audex to finish (killing it after a minute) and keeps its output.
    fn finish(mut self, log: &mut Transcript) -> Output {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(self.child.stdin.take());
        let mut output = self.child.wait_with_output().unwrap();
        let mut stdout = self.seen.join("\n");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            stdout.push('\n');
            stdout.push_str(&line);
        }
        output.stdout = stdout.into_bytes();
        log.keep(&self.label, &output);
        output
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// Answers the emulator's consent page like a browser without JavaScript would: loads it,
/// posts its form with `decision`, and returns where the emulator redirects to.
fn answer_dialog(dialog_url: &str, decision: &str) -> String {
    let client = http();
    let page = client.get(dialog_url).send().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().unwrap();
    let dialog_id = html
        .split("name=\"dialog_id\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the consent form has a dialog_id")
        .to_owned();
    let action = dialog_url.split('?').next().unwrap();
    let answer = client
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("dialog_id={dialog_id}&decision={decision}"))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 302);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// The stored token of a connection file (the test may read it; audex never prints it).
fn stored_token(sandbox: &Sandbox, name: &str, kind: &str) -> String {
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(sandbox.connection_file(name)).unwrap())
            .unwrap();
    file[kind]["token"].as_str().unwrap().to_owned()
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
}

#[cfg(not(unix))]
fn assert_private(_path: &Path) {}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn emulator(extra_accounts: usize) -> (audex_emulator::EmulatorHandle, App) {
    let emulator = Emulator::start(EmulatorConfig {
        extra_accounts,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let app = App {
        id: emulator.app_id().to_owned(),
        secret: emulator.app_secret().to_owned(),
    };
    (emulator, app)
}

/// `audex emulator` as a child process, and what its one line says.
fn emulator_process(args: &[&str]) -> EmulatorProcess {
    spawn_emulator(Path::new(env!("CARGO_BIN_EXE_audex-cli")), args)
}

/// What to do when the browser is missing.
const CHROMIUM_ADVICE: &str = "install chromium chromium-driver (.ci/run does)";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A chromedriver process with one headless Chromium session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::blocking::Client,
    _profile: audex_tests::TestDir,
}

impl Browser {
    fn start() -> Self {
        let chromium = find_program(&["chromium", "chromium-browser"])
            .unwrap_or_else(|| panic!("Chromium is missing: {CHROMIUM_ADVICE}"));
        let chromedriver = find_program(&["chromedriver"])
            .unwrap_or_else(|| panic!("chromedriver is missing: {CHROMIUM_ADVICE}"));
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver does not start ({e}): {CHROMIUM_ADVICE}"));
        let base = format!("http://127.0.0.1:{port}");
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{base}/status"))
                .send()
                .ok()
                .and_then(|r| r.json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = audex_tests::tempdir();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            client,
            _profile: profile,
        };
        let created = browser.call("POST", "/session", &capabilities);
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string()),
        };
        let response = request.timeout(Duration::from_secs(60)).send().unwrap();
        let status = response.status();
        let value: Value = response.json().unwrap();
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: HTTP {status}: {value}"
        );
        value["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, url: &str) {
        self.call("POST", &self.session_path("/url"), &json!({ "url": url }));
    }

    fn click(&self, css: &str) {
        let element = self.call(
            "POST",
            &self.session_path("/element"),
            &json!({"using": "css selector", "value": css}),
        );
        // The W3C web element identifier key.
        let id = element["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_owned();
        self.call(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            &json!({}),
        );
    }

    fn current_url(&self) -> String {
        self.call("GET", &self.session_path("/url"), &Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn page_text(&self) -> String {
        self.call(
            "POST",
            &self.session_path("/execute/sync"),
            &json!({"script": "return document.body.innerText", "args": []}),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .client
                .delete(format!("{}/session/{}", self.base, self.session))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn connect_in_headless_chromium_then_accounts_status_and_a_run() {
    let emulator = emulator_process(&["--extra-accounts", "150"]);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();
    let port = free_port();

    let mut connecting = sandbox.start_connect(
        &emulator.url,
        port,
        Some(&App {
            id: emulator.app_id.clone(),
            secret: emulator.app_secret.clone(),
        }),
        &[],
    );
    let dialog = connecting.dialog_url();
    assert!(
        dialog.starts_with(&format!("{}/v25.0/dialog/oauth?", emulator.url)),
        "the dialog is the emulator's when the Graph URL is overridden: {dialog}"
    );
    assert_eq!(
        query_param(&dialog, "client_id").as_deref(),
        Some(emulator.app_id.as_str())
    );
    assert!(
        query_param(&dialog, "scope")
            .unwrap()
            .contains("ads_management")
    );

    let browser = Browser::start();
    browser.open(&dialog);
    assert!(
        browser.page_text().contains("is requesting access"),
        "the emulator's consent page is shown"
    );
    browser.click("#consent-continue");
    let connected = connecting.finish(&mut log);
    assert!(connected.status.success(), "{}", text(&connected));
    assert!(
        stdout(&connected).contains("Connected `default` to facebook with a user token"),
        "{}",
        text(&connected)
    );
    // The browser landed on audex's listener, which thanked it.
    let landed = browser.current_url();
    assert!(
        landed.starts_with(&format!("http://localhost:{port}/callback?code=")),
        "{landed}"
    );
    assert!(browser.page_text().contains("go back to the terminal"));
    let code = query_param(&landed, "code").unwrap();
    drop(browser);

    let file = sandbox.connection_file("default");
    assert_private(&file);
    let token = stored_token(&sandbox, "default", "user");

    // Every account, over more than one page (the plugin asks for 100 a page).
    let listed = sandbox.run(&mut log, &["accounts", "--json"], &[]);
    assert!(listed.status.success(), "{}", text(&listed));
    let accounts: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let accounts = accounts["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 153, "3 seeded + 150 extra accounts");
    assert_eq!(accounts[0]["id"], "act_1000000001");
    assert_eq!(accounts[0]["details"]["currency"], "USD");
    assert_eq!(accounts[0]["details"]["terms_accepted"], "true");
    assert_eq!(accounts[0]["details"]["tasks"], "MANAGE,ADVERTISE,ANALYZE");
    assert_eq!(accounts[152]["id"], "act_2000000150");
    let requests: Value = http()
        .get(format!("{}/_emulator/requests", emulator.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let pages = requests
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/me/adaccounts")
        })
        .count();
    assert_eq!(pages, 2, "153 accounts take two pages of 100");

    // The human table, with the terms problem and its acceptance URL.
    let table = sandbox.run(&mut log, &["accounts", "-v"], &[]);
    assert!(table.status.success(), "{}", text(&table));
    let shown = stdout(&table);
    assert!(
        shown.contains("153 account(s) of connection `default`"),
        "{shown}"
    );
    assert!(
        shown.contains("act_1000000002: Custom Audience terms not accepted: accept them at https://business.facebook.com/ads/manage/customaudiences/tos/?act=1000000002"),
        "{shown}"
    );

    let selected = sandbox.run(&mut log, &["accounts", "--select", "act_1000000001"], &[]);
    assert!(selected.status.success(), "{}", text(&selected));
    assert_private(&file);

    let status = sandbox.run(&mut log, &["status", "--json"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["credential"]["in_use"], "user token");
    assert_eq!(status["token"]["kind"], "USER");
    assert!(status["token"]["expires_at_s"].as_u64().is_some());
    assert_eq!(status["required_scopes"][0]["scope"], "ads_management");
    assert_eq!(status["required_scopes"][0]["granted"], true);
    assert_eq!(status["selected_accounts"][0]["id"], "act_1000000001");
    assert_eq!(status["selected_accounts"][0]["ready"], true);

    // A pipeline naming another account fails validation; the selected one runs live with
    // the stored credential.
    std::fs::write(sandbox.path().join("u.csv"), "email\nmary@example.com\n").unwrap();
    for account in ["act_1000000003", "act_1000000001"] {
        write_pipeline(
            sandbox.path(),
            &format!("{account}.yaml"),
            &format!(
                "name: connected\nsource: {{ path: u.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  graph_url: {}\n  ad_account: {account}\n  audience: {{ fields: [email] }}\n",
                emulator.url
            ),
        );
    }
    let refused = sandbox.run(&mut log, &["validate", "act_1000000003.yaml"], &[]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused));
    assert!(
        stderr(&refused).contains("destination.ad_account")
            && stderr(&refused)
                .contains("not among the accounts selected for connection `default`"),
        "{}",
        text(&refused)
    );
    let run = sandbox.run(&mut log, &["run", "act_1000000001.yaml", "--json"], &[]);
    assert!(run.status.success(), "{}", text(&run));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["audiences"][0]["uploaded"], 1);

    log.assert_clean(&[&token, &emulator.app_secret, &code, &emulator.token]);
}

#[test]
fn a_state_mismatch_is_rejected_and_nothing_is_stored() {
    let (emulator, app) = emulator(0);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();
    let port = free_port();
    let mut connecting = sandbox.start_connect(&emulator.base_url(), port, Some(&app), &[]);
    let dialog = connecting.dialog_url();
    // A real code, but returned with a state audex never sent (a forged redirect).
    let redirect = answer_dialog(&dialog, "continue");
    let code = query_param(&redirect, "code").unwrap();
    let forged = format!("http://localhost:{port}/callback?code={code}&state=forged");
    let page = http().get(&forged).send().unwrap().text().unwrap();
    assert!(page.contains("audex rejected it"), "{page}");
    let output = connecting.finish(&mut log);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        stderr(&output).contains("`state` does not match"),
        "{}",
        text(&output)
    );
    assert!(!sandbox.connection_file("default").exists());
    log.assert_clean(&[&code, &app.secret]);
}

#[test]
fn a_refused_dialog_and_a_failed_code_exchange_are_explained() {
    let (emulator, app) = emulator(0);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();

    // The user clicks Cancel.
    let port = free_port();
    let mut connecting = sandbox.start_connect(&emulator.base_url(), port, Some(&app), &[]);
    let redirect = answer_dialog(&connecting.dialog_url(), "cancel");
    http().get(&redirect).send().unwrap();
    let output = connecting.finish(&mut log);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(
        stderr(&output).contains("the authorization was refused: access_denied"),
        "{}",
        text(&output)
    );

    // The right state but a code Facebook does not know: its own message is shown.
    let port = free_port();
    let mut connecting = sandbox.start_connect(&emulator.base_url(), port, Some(&app), &[]);
    let state = query_param(&connecting.dialog_url(), "state").unwrap();
    http()
        .get(format!(
            "http://localhost:{port}/callback?code=AQnot-a-real-code&state={state}"
        ))
        .send()
        .unwrap();
    let output = connecting.finish(&mut log);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    let err = stderr(&output);
    assert!(
        err.contains("the code exchange failed: Error validating verification code")
            && err.contains("(code 100, subcode 36008)"),
        "{}",
        text(&output)
    );
    assert!(!sandbox.connection_file("default").exists());

    // Without app credentials nothing starts, and the advice names where they go.
    let missing = sandbox.run(
        &mut log,
        &["connect", "facebook", "--graph-url", &emulator.base_url()],
        &[],
    );
    assert_eq!(missing.status.code(), Some(3), "{}", text(&missing));
    assert!(
        stderr(&missing).contains("AUDEX_FACEBOOK_APP_ID"),
        "{}",
        text(&missing)
    );
    log.assert_clean(&[&app.secret, "AQnot-a-real-code"]);
}

#[test]
fn manual_flow_then_a_system_user_token_that_wins() {
    let (emulator, app) = emulator(0);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();

    // --manual: no listener; the user pastes the address the browser was sent to.
    let port = free_port();
    let mut connecting = sandbox.start_connect(
        &emulator.base_url(),
        port,
        Some(&app),
        &["--manual", "--name", "manual"],
    );
    let redirect = answer_dialog(&connecting.dialog_url(), "continue");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "manual mode runs no listener"
    );
    let code = query_param(&redirect, "code").unwrap();
    connecting.write_stdin(&format!("{redirect}\n"));
    let output = connecting.finish(&mut log);
    assert!(output.status.success(), "{}", text(&output));
    assert_private(&sandbox.connection_file("manual"));
    let user_token = stored_token(&sandbox, "manual", "user");

    let status = sandbox.run(&mut log, &["status", "--name", "manual", "--json"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["credential"]["in_use"], "user token");
    assert_eq!(
        status["base_url"],
        emulator.base_url(),
        "the connection remembers the emulator"
    );

    // A system user token added to the same connection takes precedence.
    let system = emulator.access_token().to_owned();
    let added = sandbox.run_with_input(
        &mut log,
        &[
            "connect",
            "facebook",
            "--name",
            "manual",
            "--token",
            "-",
            "--graph-url",
            &emulator.base_url(),
        ],
        &[],
        &format!("{system}\n"),
    );
    assert!(added.status.success(), "{}", text(&added));
    assert!(
        stdout(&added).contains("with a system user token"),
        "{}",
        text(&added)
    );
    assert_private(&sandbox.connection_file("manual"));
    let status = sandbox.run(&mut log, &["status", "--name", "manual"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    let shown = stdout(&status);
    assert!(
        shown.contains("In use: system user token (stored in connection `manual`)")
            && shown.contains("Not used: user token"),
        "{shown}"
    );

    // The environment's token beats both, and status says so.
    let status = sandbox.run(
        &mut log,
        &["status", "--name", "manual", "--json"],
        &[("AUDEX_SECRET_ACCESS_TOKEN", &user_token)],
    );
    assert!(status.status.success(), "{}", text(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["credential"]["in_use"], "system user token");
    assert_eq!(
        status["credential"]["origin"],
        "from AUDEX_SECRET_ACCESS_TOKEN"
    );
    assert_eq!(status["credential"]["unused"].as_array().unwrap().len(), 2);

    // Reconnecting (a bare code pasted this time) reuses the stored app credentials, renews
    // the user token, and says the system user token still wins.
    let mut again = sandbox.start_connect(
        &emulator.base_url(),
        port,
        None,
        &["--manual", "--name", "manual"],
    );
    let redirect = answer_dialog(&again.dialog_url(), "continue");
    let second_code = query_param(&redirect, "code").unwrap();
    again.write_stdin(&format!("{second_code}\n"));
    let output = again.finish(&mut log);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        stdout(&output).contains("also holds a system user token, which takes precedence"),
        "{}",
        text(&output)
    );
    assert!(
        stderr(&output).contains("a bare code carries no `state` to check"),
        "{}",
        text(&output)
    );
    let renewed = stored_token(&sandbox, "manual", "user");
    assert_ne!(renewed, user_token);
    assert_eq!(stored_token(&sandbox, "manual", "system"), system);

    // A bad system token is refused before anything is stored.
    let refused = sandbox.run_with_input(
        &mut log,
        &[
            "connect",
            "facebook",
            "--name",
            "bad",
            "--token",
            "-",
            "--graph-url",
            &emulator.base_url(),
        ],
        &[],
        "EAAnot-a-token\n",
    );
    assert_eq!(refused.status.code(), Some(4), "{}", text(&refused));
    assert!(!sandbox.connection_file("bad").exists());

    let gone = sandbox.run(&mut log, &["disconnect", "--name", "manual"], &[]);
    assert!(gone.status.success(), "{}", text(&gone));
    assert!(!sandbox.connection_file("manual").exists());
    log.assert_clean(&[
        &user_token,
        &renewed,
        &system,
        &code,
        &second_code,
        &app.secret,
        "EAAnot-a-token",
    ]);
}

#[test]
fn terms_not_accepted_are_explained_with_the_acceptance_url() {
    let (emulator, _app) = emulator(0);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();
    let token = emulator.access_token().to_owned();
    let connected = sandbox.run_with_input(
        &mut log,
        &[
            "connect",
            "facebook",
            "--token",
            "-",
            "--graph-url",
            &emulator.base_url(),
        ],
        &[],
        &format!("{token}\n"),
    );
    assert!(connected.status.success(), "{}", text(&connected));
    let url = "https://business.facebook.com/ads/manage/customaudiences/tos/?act=1000000002";
    let selected = sandbox.run(&mut log, &["accounts", "--select", "act_1000000002"], &[]);
    assert!(selected.status.success(), "{}", text(&selected));
    assert!(
        stdout(&selected).contains(&format!(
            "warning: act_1000000002 is not ready: Custom Audience terms not accepted: accept them at {url}"
        )),
        "{}",
        text(&selected)
    );
    let status = sandbox.run(&mut log, &["status"], &[]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        stdout(&status).contains(&format!(
            "act_1000000002 (Terms Not Accepted): NOT READY: Custom Audience terms not accepted: accept them at {url}"
        )),
        "{}",
        text(&status)
    );
    // An account the token cannot reach cannot be selected.
    let unknown = sandbox.run(&mut log, &["accounts", "--select", "act_42"], &[]);
    assert_eq!(unknown.status.code(), Some(3), "{}", text(&unknown));
    log.assert_clean(&[&token, emulator.app_secret()]);
}

#[test]
fn without_a_connection_commands_and_runs_stop_with_advice() {
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();
    // The source file does not even exist: the run stops before looking at it.
    write_pipeline(
        sandbox.path(),
        "p.yaml",
        "name: nothing\nsource: { path: missing.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  graph_url: http://127.0.0.1:9\n  ad_account: act_1000000001\n  audience: { fields: [email] }\n",
    );
    for args in [
        vec!["accounts"],
        vec!["status"],
        vec!["status", "--name", "other"],
        vec!["run", "p.yaml"],
    ] {
        let output = sandbox.run(&mut log, &args, &[]);
        assert_eq!(output.status.code(), Some(4), "{args:?}: {}", text(&output));
        assert!(
            stderr(&output).contains("audex connect facebook"),
            "{args:?}: {}",
            text(&output)
        );
    }
    // A dry run needs no connection.
    std::fs::write(sandbox.path().join("missing.csv"), "email\na@example.com\n").unwrap();
    let dry = sandbox.run(&mut log, &["run", "p.yaml", "--dry-run"], &[]);
    assert!(dry.status.success(), "{}", text(&dry));
    let gone = sandbox.run(&mut log, &["disconnect"], &[]);
    assert!(gone.status.success(), "{}", text(&gone));
}

#[test]
fn a_revoked_token_stops_accounts_status_and_runs_with_exit_4() {
    let (emulator, _app) = emulator(0);
    let sandbox = Sandbox::new();
    let mut log = Transcript::default();
    let token = emulator.access_token().to_owned();
    let connected = sandbox.run_with_input(
        &mut log,
        &[
            "connect",
            "facebook",
            "--token",
            "-",
            "--graph-url",
            &emulator.base_url(),
        ],
        &[],
        &format!("{token}\n"),
    );
    assert!(connected.status.success(), "{}", text(&connected));
    emulator.revoke_token();
    for args in [vec!["accounts"], vec!["status", "--json"]] {
        let output = sandbox.run(&mut log, &args, &[]);
        assert_eq!(output.status.code(), Some(4), "{args:?}: {}", text(&output));
        let err = stderr(&output);
        assert!(
            err.contains("code 190")
                && err.contains("The connection `default` is no longer valid: run `audex connect facebook` to reconnect."),
            "{args:?}: {}",
            text(&output)
        );
    }
    std::fs::write(sandbox.path().join("u.csv"), "email\na@example.com\n").unwrap();
    write_pipeline(
        sandbox.path(),
        "p.yaml",
        &format!(
            "name: revoked\nsource: {{ path: u.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  graph_url: {}\n  ad_account: act_1000000001\n  audience: {{ fields: [email] }}\n",
            emulator.base_url()
        ),
    );
    let run = sandbox.run(&mut log, &["run", "p.yaml", "--json"], &[]);
    assert_eq!(run.status.code(), Some(4), "{}", text(&run));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["error"]["kind"], "auth");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no longer valid")
    );
    log.assert_clean(&[&token, emulator.app_secret()]);
}
