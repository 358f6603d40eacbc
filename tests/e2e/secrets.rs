//! Transport security of credentials: certificate verification is on for https endpoints
//! (a self-signed server on loopback is refused before any request is sent), and a plain
//! `http://` endpoint on another machine is refused outright. The suite-wide search of every
//! output for tokens and app secrets is `scan-test-outputs` (run by `.ci/run` after the tests).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use audex_tests::{audex, text, write_pipeline};

const FAKE_TOKEN: &str = "EAAJfaketokenfaketokenfaketokenfaketokenfaketokenfake";

/// A Python https server with a self-signed certificate on 127.0.0.1; it answers `{}` to
/// anything and prints one line per request it receives.
struct TlsServer {
    port: u16,
    child: std::process::Child,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print("REQUEST", self.command, flush=True)
        self.send_response(200); self.send_header("content-type", "application/json"); self.end_headers(); self.wfile.write(b"{}")
    do_POST = do_GET
    def log_message(self, *a): pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("PORT", srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn tls_server(dir: &std::path::Path) -> TlsServer {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed by this test");
    assert!(status.success(), "openssl could not make a certificate");
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(&cert)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 is needed by this test");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let port = line
        .strip_prefix("PORT ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("the TLS server did not start: {line:?}"));
    child.stdout = Some(stdout.into_inner());
    TlsServer { port, child }
}

#[test]
fn a_self_signed_https_endpoint_is_refused_before_any_request() {
    let dir = audex_tests::tempdir();
    let mut server = tls_server(dir.path());
    std::fs::write(dir.path().join("s.csv"), "email\na@example.com\n").unwrap();
    write_pipeline(
        dir.path(),
        "p.yaml",
        &format!(
            "name: tls\nsource: {{ path: s.csv }}\ncolumns: {{ email: email }}\ndestination:\n  plugin: facebook\n  graph_url: https://localhost:{}\n  ad_account: act_1000000001\n  audience: {{ fields: [email] }}\n",
            server.port
        ),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_audex-cli"))
        .args(["run", "p.yaml", "--out", "out"])
        .current_dir(dir.path())
        .env("AUDEX_CACHE_DIR", audex_tests::cache_dir())
        .env("AUDEX_STATE_DIR", dir.path().join("state"))
        .env("AUDEX_CONFIG", dir.path().join("config.yaml"))
        .env("AUDEX_SECRET_ACCESS_TOKEN", FAKE_TOKEN)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    audex_tests::record_output("run (self-signed https)", &output);
    let all = text(&output);
    assert_ne!(output.status.code(), Some(0), "{all}");
    assert!(all.to_lowercase().contains("certificate"), "{all}");
    assert!(!all.contains(FAKE_TOKEN), "{all}");
    // The handshake failed, so no request (and no token) reached the server.
    let _ = server.child.kill();
    let mut seen = String::new();
    server
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    assert!(
        !seen.contains("REQUEST"),
        "the server got a request: {seen}"
    );
}

#[test]
fn plain_http_to_another_machine_is_refused() {
    let dir = audex_tests::tempdir();
    std::fs::write(dir.path().join("s.csv"), "email\na@example.com\n").unwrap();
    write_pipeline(
        dir.path(),
        "p.yaml",
        "name: cleartext\nsource: { path: s.csv }\ncolumns: { email: email }\ndestination:\n  plugin: facebook\n  graph_url: http://graph.example.com\n  ad_account: act_1000000001\n  audience: { fields: [email] }\n",
    );
    for args in [
        &["validate", "p.yaml"][..],
        &["run", "p.yaml", "--dry-run"][..],
    ] {
        let output = audex!(dir.path(), args);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {all}");
        assert!(
            all.contains("plain http://") && all.contains("graph.example.com"),
            "{args:?}: {all}"
        );
    }
}
