//! Every pipeline shipped in `pipelines/` validates, so the documented examples never rot.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use audex_tests::{audex, repo_root, text};

#[test]
fn every_shipped_pipeline_validates() {
    let root = repo_root().join("pipelines");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .chain(std::fs::read_dir(root.join("examples")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        // Offline: the object-storage examples name buckets that do not exist here.
        let output = audex!(&root, &["validate", "--offline", file.to_str().unwrap()]);
        assert!(
            output.status.success(),
            "{}: {}",
            file.display(),
            text(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stdout).contains(": ok ("),
            "{}",
            text(&output)
        );
    }
}

#[test]
fn validate_reports_each_error_class_with_its_position() {
    let dir = audex_tests::tempdir();
    std::fs::write(dir.path().join("a.csv"), "mail\nx@y.z\n").unwrap();
    let base = "name: v\nsource: { path: a.csv }\ncolumns: { email: mail }\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience: { fields: [email] }\n";
    let cases = [
        // unknown key at the top
        (
            base.replace("name: v\n", "name: v\nschedule: daily\n"),
            "p.yaml:2:1: schedule",
            "unknown field `schedule`",
        ),
        // wrong type
        (
            base.replace("name: v", "name: [v]"),
            "p.yaml:1:7: name",
            "expected a string",
        ),
        // plugin settings problem, positioned by key path
        (
            base.replace("fields: [email]", "fields: [email, fax]"),
            "p.yaml:7:",
            "destination.audience.fields",
        ),
        // missing mapping for an exported field
        (
            base.replace("fields: [email]", "fields: [email, phone]"),
            "p.yaml:3:",
            "`columns.phone` is not set",
        ),
        // missing variable
        (
            base.replace("act_1", "${AUDEX_TEST_NOT_SET_ANYWHERE}"),
            "p.yaml:6:15: destination.ad_account",
            "AUDEX_TEST_NOT_SET_ANYWHERE",
        ),
        // source column absent from the file
        (
            base.replace("email: mail", "email: e_mail"),
            "a.csv",
            "`e_mail`",
        ),
    ];
    for (yaml, position, message) in cases {
        std::fs::write(dir.path().join("p.yaml"), &yaml).unwrap();
        let output = audex!(dir.path(), &["validate", "p.yaml"]);
        assert_eq!(output.status.code(), Some(3), "{yaml}\n{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(position) && stderr.contains(message),
            "want {position} / {message}:\n{stderr}"
        );
    }
}

#[test]
fn completions_and_usage_errors() {
    let dir = audex_tests::tempdir();
    let output = audex!(dir.path(), &["completions", "bash"]);
    assert!(output.status.success(), "{}", text(&output));
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(
        script.contains("_audex()") && script.contains("validate"),
        "{script}"
    );

    let output = audex!(dir.path(), &["run"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing argument is a usage error"
    );
    let output = audex!(dir.path(), &["validate", "missing.yaml"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let valid = repo_root().join("pipelines/quickstart.yaml");
    let output = audex!(
        dir.path(),
        &[
            "validate",
            "--json",
            valid.to_str().unwrap(),
            "missing.yaml"
        ]
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(
        lines[0]["audiences"],
        serde_json::json!(["email", "phone", "madid"])
    );
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["error"]["kind"], "config");
}
