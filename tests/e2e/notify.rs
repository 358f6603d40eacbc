//! Completion notifications: the e-mail a real SMTP server receives, the webhook's signature,
//! retries, and a failed delivery that leaves a successful run successful.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audex_tests::{cache_dir, repo_root, text, write_pipeline};
use serde_json::Value;

fn pipeline(dir: &std::path::Path, notify: &str) -> String {
    std::fs::write(
        dir.join("n.csv"),
        "email\nmary@example.com\nnot-an-email\nbob@example.org\n",
    )
    .unwrap();
    write_pipeline(
        dir,
        "n.yaml",
        &format!(
            "name: notify-test\nsource: {{ path: n.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  ad_account: act_1000000001\n  audience: {{ fields: [email] }}\nnotify:\n{notify}"
        ),
    )
    .to_str()
    .unwrap()
    .to_owned()
}

fn audex(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex-cli"));
    cmd.args(args)
        .current_dir(dir)
        .env("AUDEX_CACHE_DIR", cache_dir())
        .env("AUDEX_CONFIG", dir.join("no-config.yaml"))
        .env("AUDEX_STATE_DIR", audex_tests::empty_state_dir())
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_smtp_server_receives_the_summary() {
    let dir = audex_tests::tempdir();
    let mail = dir.path().join("mail");
    std::fs::create_dir(&mail).unwrap();
    let mut server = Command::new("python3")
        .arg(repo_root().join("tests/python/smtp_sink.py"))
        .arg(&mail)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with aiosmtpd (pip install -r tests/python/requirements.txt)");
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("ready ")
        .expect("smtp sink ready line")
        .to_owned();

    let p = pipeline(dir.path(), "  email: { to: [growth@example.com] }\n");
    let output = audex(
        dir.path(),
        &[
            "run",
            &p,
            "--dry-run",
            "--out",
            dir.path().join("out").to_str().unwrap(),
        ],
        &[
            ("AUDEX_SMTP__HOST", "127.0.0.1"),
            ("AUDEX_SMTP__PORT", &port),
            ("AUDEX_SMTP__TLS", "none"),
            ("AUDEX_SMTP__FROM", "audex@example.com"),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        if let Ok(text) = std::fs::read_to_string(mail.join("1.eml")) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no e-mail arrived; {}",
            text(&output)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = server.kill();
    let _ = server.wait();
    // The body is quoted-printable: undo soft line breaks and the escaped `=`.
    let message = message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        message.contains("X-Envelope-To: growth@example.com"),
        "{message}"
    );
    assert!(
        message.contains("Subject: [audex] notify-test succeeded: 3 rows read, 2 uploaded"),
        "{message}"
    );
    for line in [
        "Ad account: act_1000000001",
        "uploaded: 2",
        "rejected (malformed_email): 1",
        "adsmanager.facebook.com/adsmanager/audiences?act=1000000001",
    ] {
        assert!(message.contains(line), "missing {line:?} in\n{message}");
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["notifications"][0]["channel"], "email");
    assert_eq!(report["notifications"][0]["delivered"], true);
}

/// Serves `answers.len()` requests on loopback, answering each with the given status, and
/// returns the (headers, body) of each.
/// The head and body of each request a test server received.
type Received = Vec<(String, Vec<u8>)>;

fn webhook_server(answers: Vec<u16>) -> (String, std::thread::JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/audex", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for status in answers {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                head.push_str(&line);
            }
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
            seen.push((head, body));
        }
        seen
    });
    (url, handle)
}

#[test]
fn the_webhook_is_signed_and_retried() {
    let dir = audex_tests::tempdir();
    let (url, server) = webhook_server(vec![503, 200]);
    let p = pipeline(
        dir.path(),
        "  webhook: { url: \"${HOOK_URL}\", secret_env: HOOK_KEY }\n",
    );
    let output = audex(
        dir.path(),
        &["run", &p, "--dry-run", "--json"],
        &[("HOOK_URL", &url), ("HOOK_KEY", "s3cret-key")],
    );
    assert!(output.status.success(), "{}", text(&output));
    let requests = server.join().unwrap();
    assert_eq!(requests.len(), 2, "retried after the 503");
    let (head, body) = &requests[1];
    let signature = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-audex-signature:")
                .map(|v| v.trim().to_owned())
        })
        .expect("signature header");
    // Verified here with the hmac crate, independently of audex's own signing code.
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-key").unwrap();
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        signature,
        format!("sha256={expected}"),
        "the signature verifies"
    );
    let posted: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(posted["pipeline"], "notify-test");
    assert_eq!(posted["rows_read"], 3);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["notifications"][0]["attempts"], 2);
    assert_eq!(report["notifications"][0]["delivered"], true);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cret-key"));
}

#[test]
fn a_failed_delivery_keeps_a_successful_run_successful() {
    let dir = audex_tests::tempdir();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let p = pipeline(
        dir.path(),
        &format!(
            "  webhook: {{ url: \"http://{closed}/x\", attempts: 2 }}\n  email: {{ to: [a@example.com] }}\n"
        ),
    );
    let output = audex(dir.path(), &["run", &p, "--dry-run", "--json"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
    let notes = report["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|n| n["delivered"] == false), "{notes:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("webhook notification") && stderr.contains("not delivered"),
        "{stderr}"
    );
    assert!(stderr.contains("no SMTP server configured"), "{stderr}");
}
