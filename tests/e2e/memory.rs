//! Memory stays flat: a dry run of 1,000,000 Parquet rows peaks no higher than one of
//! 100,000 rows, give or take allocator noise.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use audex::sample::{SampleFormat, SampleSpec, write};
use audex_tests::{audex, text, write_pipeline};

fn peak_rss(dir: &std::path::Path, rows: u64) -> (u64, u64) {
    let data = dir.join(format!("seg{rows}.parquet"));
    write(
        &data,
        SampleFormat::Parquet,
        &SampleSpec {
            rows,
            seed: 1,
            invalid_share: 0.05,
        },
    )
    .unwrap();
    let pipeline = write_pipeline(
        dir,
        &format!("p{rows}.yaml"),
        &format!(
            "name: mem\nsource: {{ path: seg{rows}.parquet }}\ncolumns: {{ email: email_address, phone: phone_number, madid: mobile_ad_id, country: country_code }}\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  default_country: US\n  audience: {{ fields: [email, phone, madid] }}\n"
        ),
    );
    let output = audex!(
        dir,
        &["run", pipeline.to_str().unwrap(), "--dry-run", "--json"]
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["rows_read"], rows);
    (
        report["peak_rss_bytes"]
            .as_u64()
            .expect("peak RSS on Linux"),
        report["rows_read"].as_u64().unwrap(),
    )
}

#[test]
fn peak_memory_does_not_grow_with_input_size() {
    let dir = audex_tests::tempdir();
    // Warm the compiled-plugin cache first: compiling the component has its own peak.
    peak_rss(dir.path(), 1_000);
    let (small, _) = peak_rss(dir.path(), 100_000);
    let (large, rows) = peak_rss(dir.path(), 1_000_000);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "peak RSS: 100k rows {:.1} MiB, {rows} rows {:.1} MiB",
        mib(small),
        mib(large)
    );
    assert!(
        large < small + small / 4 + (16 << 20),
        "peak RSS grew with the input: {:.1} MiB for 100k rows, {:.1} MiB for 1M",
        mib(small),
        mib(large)
    );
}
