//! Bad input: one clear error naming the file (and the column), a non-zero exit, and no
//! report that claims success.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use audex_tests::{audex, text, write_pipeline};

const CONFIG_EXIT: i32 = 3;

fn pipeline_for(dir: &Path, source: &str, email_column: &str) -> String {
    write_pipeline(
        dir,
        "p.yaml",
        &format!(
            "name: bad\nsource: {{ path: {source} }}\ncolumns: {{ email: {email_column} }}\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience: {{ fields: [email] }}\n"
        ),
    )
    .to_str()
    .unwrap()
    .to_owned()
}

/// Runs the pipeline, expects the config/input exit code, and returns stderr.
fn fails(dir: &Path, pipeline: &str) -> String {
    let out = dir.join("out");
    let output = audex!(
        dir,
        &["run", pipeline, "--dry-run", "--out", out.to_str().unwrap()]
    );
    assert_eq!(output.status.code(), Some(CONFIG_EXIT), "{}", text(&output));
    if let Ok(report) = std::fs::read_to_string(out.join("report.json")) {
        let report: serde_json::Value = serde_json::from_str(&report).unwrap();
        assert_eq!(
            report["status"], "failed",
            "a failed run never reports success"
        );
    }
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn emails_batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("email", DataType::Utf8, true)]));
    let values: Vec<String> = (0..5000).map(|i| format!("user{i}@example.com")).collect();
    RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values))]).unwrap()
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline_for(dir.path(), "nowhere.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("nowhere.parquet") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn corrupt_and_truncated_parquet_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("junk.parquet"),
        b"this is not parquet at all",
    )
    .unwrap();
    let p = pipeline_for(dir.path(), "junk.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("junk.parquet") && err.contains("not a readable Parquet file"),
        "{err}"
    );

    let good = dir.path().join("good.parquet");
    write_parquet(&good, &emails_batch());
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.path().join("cut.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    let p = pipeline_for(dir.path(), "cut.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(err.contains("cut.parquet"), "{err}");
}

#[test]
fn missing_and_mistyped_columns_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_parquet(&dir.path().join("s.parquet"), &emails_batch());
    let p = pipeline_for(dir.path(), "s.parquet", "mail_address");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("s.parquet") && err.contains("`mail_address`") && err.contains("email"),
        "{err}"
    );

    let schema = Arc::new(Schema::new(vec![Field::new(
        "email",
        DataType::Float64,
        true,
    )]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![1.5, 2.5]))]).unwrap();
    write_parquet(&dir.path().join("f.parquet"), &batch);
    let p = pipeline_for(dir.path(), "f.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("f.parquet") && err.contains("`email`") && err.contains("Float64"),
        "{err}"
    );
}

#[test]
fn non_utf8_csv_names_file_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"id,email\n1,a@b.co\n2,caf".to_vec();
    bytes.extend_from_slice(&[0xe9, 0xff]);
    bytes.extend_from_slice(b"@x.io\n");
    std::fs::write(dir.path().join("latin1.csv"), bytes).unwrap();
    let p = pipeline_for(dir.path(), "latin1.csv", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("latin1.csv") && err.contains("UTF-8") && err.contains("column `email`"),
        "{err}"
    );
}

#[test]
fn invalid_pipeline_is_positioned() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_pipeline(
        dir.path(),
        "p.yaml",
        "name: x\nsource: { path: a.csv }\ncolumns: { email: e }\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience: { fields: [email, fax] }\n",
    );
    let err = fails(dir.path(), p.to_str().unwrap());
    assert!(
        err.contains("p.yaml:7:") && err.contains("destination.audience.fields"),
        "{err}"
    );
}
