//! `audex bench --quick --json` runs (in the dev profile, on tiny data) and reports every
//! figure, so the bench code never rots. Speed is never asserted here: the full bench
//! (`audex bench`, optimized build) measures it, see BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use audex_tests::{audex, text};

fn positive(value: &serde_json::Value, what: &str) -> f64 {
    let number = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(
        number.is_finite() && number > 0.0,
        "{what} is not a positive rate: {number}"
    );
    number
}

#[test]
fn quick_bench_reports_every_figure() {
    let dir = audex_tests::tempdir();
    let output = audex!(
        dir.path(),
        &[
            "bench",
            "--quick",
            "--json",
            "--dir",
            dir.path().to_str().unwrap()
        ]
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));

    assert_eq!(report["quick"], true);
    assert_eq!(report["runs"], 1);
    let rows = report["rows"].as_u64().expect("rows");
    assert!(rows > 0);
    assert!(report["machine"]["cpus"].as_u64().expect("cpus") >= 1);
    assert!(report["machine"]["sha_extensions"].is_boolean());

    let fields = report["fields"].as_array().expect("fields");
    let keys: Vec<&str> = fields.iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["email", "phone", "phone_row_country", "madid"]);
    for field in fields {
        let key = field["key"].as_str().unwrap();
        for figure in [
            "plugin_rows_per_s",
            "plugin_wall_rows_per_s",
            "native_rows_per_s",
            "plugin_vs_native",
        ] {
            positive(&field[figure], &format!("{key}.{figure}"));
        }
        // The plugin and the same kernel run natively accept the same rows.
        let accepted = field["accepted"].as_u64().expect("accepted");
        assert_eq!(field["native_accepted"].as_u64(), Some(accepted), "{key}");
        assert!(
            accepted > 0 && accepted < rows,
            "{key}: {accepted} of {rows}"
        );
    }
    positive(&report["native_sha256_per_s"], "native_sha256_per_s");
    positive(
        &report["host_digest_sha256_per_s"],
        "host_digest_sha256_per_s",
    );
    let e2e = &report["end_to_end"];
    for figure in ["rows_per_s", "plugin_combined_rows_per_s", "vs_plugin"] {
        positive(&e2e[figure], &format!("end_to_end.{figure}"));
    }
    positive(&e2e["peak_rss_bytes"], "peak RSS");

    // Meta's SDK figure: measured when Python and facebook-business are installed (CI
    // installs tests/python/requirements.txt), else a note says why not.
    match report["meta_sdk_email_rows_per_s"].as_f64() {
        Some(rate) => {
            assert!(rate > 0.0);
            positive(
                &report["ratios"]["email_plugin_vs_meta_sdk"],
                "email_plugin_vs_meta_sdk",
            );
        }
        None => assert!(
            report["meta_sdk_note"].is_string(),
            "no SDK figure and no note: {report}"
        ),
    }
    // The live upload against the emulator: every request waited for its latency, so the run
    // took at least requests x latency, and the figures say how close it came.
    let upload = &report["upload"];
    let requests = upload["requests"].as_u64().expect("upload.requests");
    assert!(upload["upload_requests"].as_u64().expect("uploads") >= 1);
    let latency_s = upload["latency_ms"].as_f64().expect("latency") / 1000.0;
    let live_s = upload["live_s"].as_f64().expect("live_s");
    assert!(live_s >= requests as f64 * latency_s, "{upload}");
    for figure in ["dry_s", "bound_s", "vs_bound", "requests_per_s"] {
        positive(&upload[figure], &format!("upload.{figure}"));
    }
    assert!(upload["budget_used_percent"].is_u64(), "{upload}");
    let ratios = &report["ratios"];
    for figure in [
        "email_plugin_vs_native_sha256",
        "phone_plugin_rows_per_s",
        "end_to_end_vs_plugin",
        "peak_rss_mib",
        "upload_vs_bound",
    ] {
        positive(&ratios[figure], &format!("ratios.{figure}"));
    }
}

#[test]
fn quick_bench_prints_the_ratios() {
    let dir = audex_tests::tempdir();
    let output = audex!(
        dir.path(),
        &[
            "bench",
            "--quick",
            "--no-sdk",
            "--dir",
            dir.path().to_str().unwrap()
        ]
    );
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "plugin per core",
        "native kernel",
        "end to end",
        "peak RSS",
        "email plugin / native SHA-256 digests",
        "target >= 0.70",
        "skipped (--no-sdk)",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
}
