//! One settings file for everything: `audex connect` reads its `connect.<plugin>` section
//! through the same loader as the SMTP settings, with `AUDEX_*` environment layering.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

use audex_tests::{cache_dir, text};

/// `audex connect facebook --manual`: prints the dialog address, then fails reading the
/// pasted redirect from a closed stdin. Nothing goes over the network before that.
fn connect(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_audex-cli"));
    cmd.args([
        "connect",
        "facebook",
        "--manual",
        "--no-browser",
        "--graph-url",
        "http://127.0.0.1:9",
    ])
    .current_dir(dir)
    .stdin(Stdio::null())
    .env("AUDEX_CACHE_DIR", cache_dir())
    .env("AUDEX_STATE_DIR", dir.join("state"))
    .env("AUDEX_CONFIG", dir.join("config.yaml"))
    .env("AUDEX_NO_BROWSER", "1")
    .env("NO_COLOR", "1")
    .env_remove("RUST_LOG");
    for var in [
        "AUDEX_FACEBOOK_APP_ID",
        "AUDEX_FACEBOOK_APP_SECRET",
        "AUDEX_FACEBOOK_REDIRECT_URI",
        "AUDEX_FACEBOOK_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn connect_reads_its_section_of_the_shared_settings_file() {
    let dir = audex_tests::tempdir();
    let dir = dir.path();
    std::fs::write(
        dir.join("config.yaml"),
        "smtp:\n  host: mail.example.com\n  from: audex@example.com\nconnect:\n  facebook:\n    app_id: 4242\n    app_secret_env: AUDEX_TEST_FB_SECRET\n    redirect_uri: http://localhost:8799/cb\n",
    )
    .unwrap();
    let secret = [("AUDEX_TEST_FB_SECRET", "app-secret-value")];

    let output = connect(dir, &secret);
    let out = stdout(&output);
    assert!(
        out.contains("client_id=4242") && out.contains("localhost%3A8799%2Fcb"),
        "the file's app id and redirect URI: {}",
        text(&output)
    );

    // The config crate's environment layer, then the plugin's own variable, win.
    let mut env = secret.to_vec();
    env.push(("AUDEX_CONNECT__FACEBOOK__APP_ID", "5151"));
    assert!(stdout(&connect(dir, &env)).contains("client_id=5151"));
    env.push(("AUDEX_FACEBOOK_APP_ID", "6161"));
    assert!(stdout(&connect(dir, &env)).contains("client_id=6161"));

    // The secret's variable unset: the message names the key and the file.
    let output = connect(dir, &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connect.facebook.app_secret_env") && stderr.contains("config.yaml"),
        "{stderr}"
    );

    // An invalid section: exit 3, the key named, the value not.
    std::fs::write(
        dir.join("config.yaml"),
        "connect:\n  facebook:\n    app_secrt: hunter2-secret\n",
    )
    .unwrap();
    let output = connect(dir, &secret);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("config.yaml") && stderr.contains("app_secrt"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}
