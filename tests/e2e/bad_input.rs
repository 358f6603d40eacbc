//! Bad input. Input the run cannot use at all (a corrupt or truncated file, a column of the
//! wrong type, text that is not UTF-8, a pipeline with unknown keys or wrong types) gets one
//! clear error naming the file (and the column, row or YAML key), a non-zero exit and no
//! report that claims success. Bad values (nulls, empty rows, 1 MB cells) are rows rejected
//! with a reason and accounted for: `rows_read = uploaded + rejected` for every audience, one
//! line per rejected row in `rejects.csv`. Nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, Float64Array, Int64Array, NullArray, RecordBatch, StringArray,
    StructArray,
};
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
    no_panic(&output);
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
    let dir = audex_tests::tempdir();
    let p = pipeline_for(dir.path(), "nowhere.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("nowhere.parquet") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn corrupt_and_truncated_parquet_are_named() {
    let dir = audex_tests::tempdir();
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
    let dir = audex_tests::tempdir();
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
    let dir = audex_tests::tempdir();
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
    let dir = audex_tests::tempdir();
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

/// The process ended on its own terms: no Rust panic (exit 101, "panicked" on stderr).
fn no_panic(output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() != Some(101) && !stderr.contains("panicked"),
        "audex panicked: {}",
        text(output)
    );
}

/// A successful dry run: its report, checked for accounting, and `rejects.csv`.
fn succeeds(dir: &Path, pipeline: &str) -> (serde_json::Value, String) {
    let out = dir.join("out");
    let output = audex!(
        dir,
        &["run", pipeline, "--dry-run", "--out", out.to_str().unwrap()]
    );
    no_panic(&output);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "succeeded");
    let rows_read = report["rows_read"].as_u64().unwrap();
    for audience in report["audiences"].as_array().unwrap() {
        let rejected: u64 = audience["rejected"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(
            audience["uploaded"].as_u64().unwrap() + rejected,
            rows_read,
            "every row accounted for: {audience}"
        );
    }
    let rejects = std::fs::read_to_string(out.join("rejects.csv")).unwrap();
    (report, rejects)
}

fn pipeline_with(dir: &Path, source: &str, fields: &[&str], extra: &str) -> String {
    let columns: Vec<String> = fields.iter().map(|f| format!("{f}: {f}")).collect();
    write_pipeline(
        dir,
        "p.yaml",
        &format!(
            "name: bad\nsource: {{ path: {source} }}\ncolumns: {{ {} }}\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  default_country: US\n  audience: {{ fields: [{}] }}\n{extra}",
            columns.join(", "),
            fields.join(", ")
        ),
    )
    .to_str()
    .unwrap()
    .to_owned()
}

fn audience<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["audiences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .unwrap_or_else(|| panic!("no audience {key} in {report}"))
}

fn batch_of(name: &str, array: ArrayRef) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new(
        name,
        array.data_type().clone(),
        true,
    )]));
    RecordBatch::try_new(schema, vec![array]).unwrap()
}

#[test]
fn binary_list_and_struct_columns_are_named_with_their_type() {
    let dir = audex_tests::tempdir();
    let binary: ArrayRef = Arc::new(BinaryArray::from_vec(vec![b"a@b.co", b"\xff\xfe"]));
    let mut list = ListBuilder::new(StringBuilder::new());
    list.values().append_value("a@b.co");
    list.append(true);
    let list: ArrayRef = Arc::new(list.finish());
    let inner: ArrayRef = Arc::new(StringArray::from(vec!["a@b.co"]));
    let structure: ArrayRef = Arc::new(StructArray::from(vec![(
        Arc::new(Field::new("address", DataType::Utf8, true)),
        inner,
    )]));
    for (file, array, type_name) in [
        ("binary.parquet", binary, "Binary"),
        ("list.parquet", list, "List"),
        ("struct.parquet", structure, "Struct"),
    ] {
        write_parquet(&dir.path().join(file), &batch_of("email", array));
        let p = pipeline_for(dir.path(), file, "email");
        let err = fails(dir.path(), &p);
        assert!(
            err.contains(file) && err.contains("column `email`") && err.contains(type_name),
            "{err}"
        );
    }
}

#[test]
fn an_integer_email_column_is_refused_naming_the_column() {
    // Integers are a phone number's type (warehouses store them so), never an e-mail's.
    let dir = audex_tests::tempdir();
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![12_025_550_173, 5]));
    write_parquet(&dir.path().join("i.parquet"), &batch_of("email", ints));
    let p = pipeline_for(dir.path(), "i.parquet", "email");
    let err = fails(dir.path(), &p);
    assert!(
        err.contains("column `email`") && err.contains("Int64"),
        "{err}"
    );
}

#[test]
fn integer_phone_columns_are_read() {
    let dir = audex_tests::tempdir();
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(12_025_550_173),
        None,
        Some(-1),
        Some(7),
    ]));
    write_parquet(&dir.path().join("phones.parquet"), &batch_of("phone", ints));
    let p = pipeline_with(dir.path(), "phones.parquet", &["phone"], "");
    let (report, rejects) = succeeds(dir.path(), &p);
    assert_eq!(report["rows_read"], 4);
    let phone = audience(&report, "phone");
    assert_eq!(phone["uploaded"], 1);
    assert_eq!(phone["rejected"]["missing"], 1);
    assert_eq!(phone["rejected"]["invalid_phone"], 2);
    assert_eq!(rejects.lines().count(), 1 + 3, "{rejects}");
}

#[test]
fn all_null_identifier_columns_are_rejected_as_missing() {
    let dir = audex_tests::tempdir();
    // A text column of nulls, and a column of Arrow's Null type (what some writers produce
    // for a column with no value at all).
    let nulls: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>; 1234]));
    write_parquet(&dir.path().join("nulls.parquet"), &batch_of("email", nulls));
    let p = pipeline_with(dir.path(), "nulls.parquet", &["email"], "");
    let (report, rejects) = succeeds(dir.path(), &p);
    assert_eq!(report["rows_read"], 1234);
    assert_eq!(audience(&report, "email")["rejected"]["missing"], 1234);
    assert_eq!(rejects.lines().count(), 1 + 1234);
    assert!(
        rejects
            .lines()
            .skip(1)
            .all(|l| l.ends_with(",email,missing")),
        "{rejects}"
    );

    let typed_null: ArrayRef = Arc::new(NullArray::new(77));
    write_parquet(
        &dir.path().join("null-type.parquet"),
        &batch_of("phone", typed_null),
    );
    let p = pipeline_with(dir.path(), "null-type.parquet", &["phone"], "");
    let (report, _) = succeeds(dir.path(), &p);
    assert_eq!(report["rows_read"], 77);
    assert_eq!(audience(&report, "phone")["rejected"]["missing"], 77);
}

/// A Parquet file whose `email` column is declared UTF-8 but holds other bytes, written with
/// the low-level writer (Arrow's would refuse).
fn write_parquet_with_invalid_utf8(path: &Path) {
    use parquet::data_type::{ByteArray, ByteArrayType};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;

    let schema =
        Arc::new(parse_message_type("message segment { optional binary email (UTF8); }").unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut writer =
        SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build()))
            .unwrap();
    let mut group = writer.next_row_group().unwrap();
    while let Some(mut column) = group.next_column().unwrap() {
        let values = [
            ByteArray::from("a@b.co"),
            ByteArray::from(vec![b'c', b'a', b'f', 0xe9, b'@', b'x', b'.', b'i', b'o']),
        ];
        column
            .typed::<ByteArrayType>()
            .write_batch(&values, Some(&[1, 1]), None)
            .unwrap();
        column.close().unwrap();
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn non_utf8_text_in_parquet_names_the_file_column_and_row() {
    let dir = audex_tests::tempdir();
    write_parquet_with_invalid_utf8(&dir.path().join("latin1.parquet"));
    let p = pipeline_for(dir.path(), "latin1.parquet", "email");
    let err = fails(dir.path(), &p);
    // The second value is Latin-1: the error names the file, the column and the row.
    assert!(
        err.contains("latin1.parquet")
            && err.contains("UTF-8")
            && err.contains("column `email`")
            && err.contains("row 1 "),
        "{err}"
    );
}

#[test]
fn one_megabyte_values_are_rejected_and_accounted_for() {
    let dir = audex_tests::tempdir();
    let big = "a".repeat(1 << 20);
    let digits = "1".repeat(1 << 20);
    let csv = format!(
        "email,phone,madid\n{big},{digits},{big}\n{big}@example.com,+1 202 555 0173,{big}\nok@example.com,+1 202 555 0174,6d92078a-8246-4ba4-ae5b-76104861e7dc\n"
    );
    std::fs::write(dir.path().join("big.csv"), csv).unwrap();
    let p = pipeline_with(dir.path(), "big.csv", &["email", "phone", "madid"], "");
    let (report, rejects) = succeeds(dir.path(), &p);
    assert_eq!(report["rows_read"], 3);
    let email = audience(&report, "email");
    assert_eq!(
        email["uploaded"], 1,
        "a 1 MB address is no address: {email}"
    );
    assert_eq!(email["rejected"]["malformed_email"], 2);
    let phone = audience(&report, "phone");
    assert_eq!(phone["uploaded"], 2);
    assert_eq!(phone["rejected"]["invalid_phone"], 1);
    assert_eq!(audience(&report, "madid")["rejected"]["invalid_madid"], 2);
    assert_eq!(rejects.lines().count(), 1 + 5, "{rejects}");
    assert!(rejects.len() < 1024, "no raw values by default");

    // Opted in, the values are there, cut to a readable length.
    let p = pipeline_with(
        dir.path(),
        "big.csv",
        &["email", "phone", "madid"],
        "rejects: { include_values: true }\n",
    );
    let (_, rejects) = succeeds(dir.path(), &p);
    assert_eq!(rejects.lines().count(), 1 + 5, "{}", &rejects[..200]);
    assert!(rejects.contains(&format!("… ({} bytes)", 1 << 20)));
    assert!(
        rejects.contains(&format!("… ({} bytes)", (1 << 20) + "@example.com".len())),
        "the shaped address is reported with its length"
    );
    assert!(rejects.len() < 16 * 1024, "values are clipped");
}

#[test]
fn a_million_empty_rows_are_accounted_for() {
    let dir = audex_tests::tempdir();
    let rows = 1_000_000;
    // Two columns, both fields empty on every line.
    std::fs::write(
        dir.path().join("empty.csv"),
        format!("email,phone\n{}", ",\n".repeat(rows)),
    )
    .unwrap();
    let p = pipeline_with(dir.path(), "empty.csv", &["email", "phone"], "");
    let (report, rejects) = succeeds(dir.path(), &p);
    assert_eq!(report["rows_read"], rows);
    for key in ["email", "phone"] {
        let a = audience(&report, key);
        assert_eq!(a["uploaded"], 0);
        assert_eq!(a["requests"], 0, "nothing to send");
        assert_eq!(a["rejected"]["missing"], rows, "{a}");
    }
    assert_eq!(rejects.lines().count(), 1 + 2 * rows);

    // Quoted empty strings, in one multi-key audience: rows with no usable identifier.
    std::fs::write(
        dir.path().join("quoted.csv"),
        format!("email,madid\n{}", "\"\",\"\"\n".repeat(rows)),
    )
    .unwrap();
    let p = write_pipeline(
        dir.path(),
        "multi.yaml",
        "name: bad\nsource: { path: quoted.csv }\ncolumns: { email: email, madid: madid }\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience: { fields: [email, madid], multi_key: true }\n",
    );
    let (report, rejects) = succeeds(dir.path(), p.to_str().unwrap());
    assert_eq!(report["rows_read"], rows);
    let multi = audience(&report, "multi");
    assert_eq!(multi["uploaded"], 0);
    assert_eq!(multi["rejected"]["no_valid_identifier"], rows, "{multi}");
    assert_eq!(rejects.lines().count(), 1 + 2 * rows, "one line per field");
}

#[test]
fn rejects_file_has_raw_values_only_when_opted_in() {
    let dir = audex_tests::tempdir();
    // Two rows per batch, so values are looked up across batches.
    std::fs::write(
        dir.path().join("s.csv"),
        "email,phone\nok@example.com,+1 202 555 0173\nNOT-AN-EMAIL-QX7,+1 202 555 0174\n,PHONE-QX8\nalso@ok.io,\ntwo@@ats-QX9,12\n",
    )
    .unwrap();
    let source = "s.csv, batch_rows: 2";
    let p = pipeline_with(dir.path(), source, &["email", "phone"], "");
    let (_, rejects) = succeeds(dir.path(), &p);
    assert_eq!(
        rejects,
        "row,field,reason\n1,email,malformed_email\n2,email,missing\n2,phone,invalid_phone\n3,phone,missing\n4,email,malformed_email\n4,phone,invalid_phone\n"
    );
    assert!(
        !rejects.contains("QX"),
        "no raw value by default: {rejects}"
    );

    let p = pipeline_with(
        dir.path(),
        source,
        &["email", "phone"],
        "rejects:\n  include_values: true\n",
    );
    let (_, rejects) = succeeds(dir.path(), &p);
    assert_eq!(
        rejects,
        "row,field,reason,value\n1,email,malformed_email,NOT-AN-EMAIL-QX7\n2,email,missing,\n2,phone,invalid_phone,PHONE-QX8\n3,phone,missing,\n4,email,malformed_email,two@@ats-QX9\n4,phone,invalid_phone,12\n"
    );
}

/// Runs `audex validate` on `yaml` and checks the one error line is
/// `p.yaml:LINE:COL: KEY: ...` with the given line and key, and mentions `needle`.
fn positioned(yaml: &str, line: usize, key: &str, needle: &str) {
    let dir = audex_tests::tempdir();
    std::fs::write(dir.path().join("a.csv"), "email\na@b.co\n").unwrap();
    let p = write_pipeline(dir.path(), "p.yaml", yaml);
    for args in [
        vec!["validate", "--offline", p.to_str().unwrap()],
        vec!["run", p.to_str().unwrap(), "--dry-run"],
    ] {
        let output = audex!(dir.path(), &args);
        no_panic(&output);
        assert_eq!(output.status.code(), Some(CONFIG_EXIT), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let all = format!("{stdout}{stderr}");
        let prefix = format!("p.yaml:{line}:");
        let hit = all
            .lines()
            .find(|l| l.contains(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {all}"));
        let rest = &hit[hit.find(&prefix).unwrap() + prefix.len()..];
        let (column, rest) = rest.split_once(": ").unwrap();
        assert!(column.parse::<usize>().unwrap() >= 1, "{hit}");
        assert!(rest.starts_with(&format!("{key}: ")), "{hit}");
        assert!(rest.contains(needle), "{hit}");
    }
}

const YAML_OK: &str = "name: x\nsource:\n  path: a.csv\n  batch_rows: 100\ncolumns:\n  email: email\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience:\n    fields: [email]\n";

#[test]
fn yaml_with_unknown_keys_is_positioned() {
    positioned(
        &YAML_OK.replace("name: x\n", "name: x\nsourse: b.csv\n"),
        2,
        "sourse",
        "unknown field `sourse`, expected one of",
    );
    positioned(
        &YAML_OK.replace("  batch_rows: 100\n", "  batch_rows: 100\n  colour: red\n"),
        5,
        "source.colour",
        "unknown field `colour`",
    );
    positioned(
        &format!("{YAML_OK}rejects:\n  include_value: true\n"),
        13,
        "rejects.include_value",
        "unknown field `include_value`",
    );
    positioned(
        &YAML_OK.replace(
            "    fields: [email]\n",
            "    fields: [email]\n    colour: red\n",
        ),
        12,
        "destination.audience.colour",
        "colour",
    );
}

#[test]
fn yaml_with_wrong_types_is_positioned() {
    positioned(
        &YAML_OK.replace("batch_rows: 100", "batch_rows: many"),
        4,
        "source.batch_rows",
        "invalid",
    );
    positioned(
        &YAML_OK.replace("  email: email\n", "  email: [a, b]\n"),
        6,
        "columns.email",
        "invalid type",
    );
    positioned(
        &format!("{YAML_OK}rejects: {{ include_values: sometimes }}\n"),
        12,
        "rejects.include_values",
        "invalid",
    );
    positioned(
        &YAML_OK.replace("fields: [email]", "fields: email"),
        11,
        "destination.audience.fields",
        "",
    );
    positioned(
        &YAML_OK.replace("ad_account: act_1", "ad_account: [1]"),
        9,
        "destination.ad_account",
        "",
    );
}

/// A one-column CSV writes an empty value as a blank line, which the CSV reader skips: the run
/// says so instead of losing those rows silently.
#[test]
fn blank_csv_lines_are_reported_not_silently_lost() {
    let dir = audex_tests::tempdir();
    std::fs::write(
        dir.path().join("one.csv"),
        "email\na@example.com\n\nb@example.com\n\n\"\"\n",
    )
    .unwrap();
    let p = pipeline_with(dir.path(), "one.csv", &["email"], "");
    let (report, _) = succeeds(dir.path(), &p);
    // Five data lines; the quoted empty value is a row, the two blank lines are not.
    assert_eq!(report["rows_read"], 3, "{report}");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("announced 5 rows but 3 were read") && warnings.contains("blank lines"),
        "{warnings}"
    );
}
