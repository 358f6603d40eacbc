//! `audex plugin new`: the generated crate passes its own tests as generated, builds for
//! `wasm32-wasip2` into a `.wasm` + manifest pair, and that plugin passes `audex plugin check`.
//!
//! The nested cargo commands share this test's target directory, so the dependencies the
//! workspace already compiled are reused.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audex_tests::{audex, repo_root, tempdir, text};
use serde_json::Value;

/// Environment the outer cargo sets that must not leak into the nested builds (flags for the
/// host, wrappers, the outer package's identity).
const CLEARED_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_LLVM_COV",
    "LLVM_PROFILE_FILE",
];

/// This test's target directory: `<target>/<profile>/deps/plugin_new-HASH` is the test.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.ancestors()
        .nth(3)
        .expect("the target directory above <profile>/deps")
        .to_path_buf()
}

/// Runs cargo with `args` in `dir`, on this test's target directory.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never");
    for var in CLEARED_VARS {
        command.env_remove(var);
    }
    command.output().expect("running cargo")
}

#[test]
fn generated_plugin_tests_builds_and_passes_the_check() {
    let temp = tempdir();
    let crate_dir = temp.path().join("acme-audiences");
    let sdk = repo_root().join("plugin-sdk");
    let out = audex!(
        temp.path(),
        &[
            "plugin",
            "new",
            "acme-audiences",
            "--dir",
            crate_dir.to_str().unwrap(),
            "--sdk-path",
            sdk.to_str().unwrap(),
        ]
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("acme_audiences.wasm"), "{stdout}");
    for file in [
        "Cargo.toml",
        "acme_audiences.toml",
        "src/lib.rs",
        "build.rs",
        "README.md",
        ".cargo/config.toml",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} missing");
    }

    // Its own tests, as generated, natively.
    let tests = cargo(&crate_dir, &["test"]);
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&tests.stdout),
        String::from_utf8_lossy(&tests.stderr)
    );
    assert!(tests.status.success(), "cargo test failed:\n{log}");
    let passed: u32 = log
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<u32>().ok())
        .sum();
    assert!(passed >= 4, "only {passed} tests passed:\n{log}");

    // The component, with its manifest copied beside it by the build script.
    let build = cargo(&crate_dir, &["build", "--target", "wasm32-wasip2"]);
    assert!(
        build.status.success(),
        "cargo build --target wasm32-wasip2 failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target_dir().join("wasm32-wasip2/debug/acme_audiences.wasm");
    assert!(wasm.is_file(), "{} missing", wasm.display());
    let manifest = wasm.with_extension("toml");
    assert_eq!(
        std::fs::read_to_string(&manifest).expect("the manifest beside the component"),
        std::fs::read_to_string(crate_dir.join("acme_audiences.toml")).unwrap()
    );

    // And the conformance suite passes on it.
    let check = audex!(
        temp.path(),
        &["plugin", "check", wasm.to_str().unwrap(), "--json"]
    );
    let report: Value = serde_json::from_slice(&check.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&check)));
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(failed.is_empty(), "failed checks: {failed:#?}\n{report:#}");
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

#[test]
fn refuses_bad_names_and_existing_directories() {
    let temp = tempdir();
    let out = audex!(temp.path(), &["plugin", "new", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid plugin name `Bad_Name`"),
        "{}",
        text(&out)
    );
    assert!(!temp.path().join("Bad_Name").exists());

    std::fs::create_dir_all(temp.path().join("taken")).unwrap();
    std::fs::write(temp.path().join("taken/keep.txt"), "mine").unwrap();
    let out = audex!(temp.path(), &["plugin", "new", "taken"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already exists and is not empty"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(temp.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );

    let out = audex!(
        temp.path(),
        &[
            "plugin",
            "new",
            "ok-name",
            "--sdk-path",
            temp.path().to_str().unwrap()
        ]
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not the audex plugin SDK"),
        "{}",
        text(&out)
    );
}
