//! CSV files with a header row. Every column is read as text; only mapped columns are kept.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_csv::reader::{Reader, ReaderBuilder};
use arrow_schema::{DataType, Field, Schema};

use super::{ColumnMapping, FileReader, Projection, SourceError};

fn open_file(path: &Path) -> Result<File, SourceError> {
    File::open(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })
}

/// The header's column names, all typed as text.
fn header_schema(path: &Path, delimiter: u8) -> Result<Schema, SourceError> {
    header_schema_from(open_file(path)?, path, delimiter)
}

/// The header's column names read from `input` (the start of `path`), all typed as text.
pub(super) fn header_schema_from(
    input: impl Read,
    path: &Path,
    delimiter: u8,
) -> Result<Schema, SourceError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(input);
    let headers = reader.headers().map_err(|e| SourceError::Corrupt {
        path: path.to_owned(),
        format: "CSV",
        message: format!("header row: {e}"),
    })?;
    if headers.is_empty() {
        return Err(SourceError::Corrupt {
            path: path.to_owned(),
            format: "CSV",
            message: "the file is empty; a header row is expected".to_owned(),
        });
    }
    Ok(Schema::new(
        headers
            .iter()
            .map(|name| Field::new(name.trim(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// Checks the header has the mapped columns.
pub(super) fn check(
    path: &Path,
    mapping: &ColumnMapping,
    delimiter: u8,
) -> Result<(), SourceError> {
    let schema = header_schema(path, delimiter)?;
    mapping.project(path, &schema)?;
    Ok(())
}

/// Data lines in the file (newlines minus the header), an estimate when fields hold newlines.
pub(super) fn count_records(path: &Path) -> Result<u64, SourceError> {
    let mut file = open_file(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = file.read(&mut buf).map_err(|source| SourceError::Io {
            path: path.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines.saturating_sub(1))
}

/// An open CSV file.
pub(super) struct CsvFile {
    path: PathBuf,
    schema: Arc<Schema>,
    reader: Reader<BufReader<File>>,
    projection: Projection,
}

/// Opens `path`.
pub(super) fn open(
    path: &Path,
    mapping: &ColumnMapping,
    batch_rows: usize,
    delimiter: u8,
) -> Result<CsvFile, SourceError> {
    let schema = Arc::new(header_schema(path, delimiter)?);
    let projection = mapping.project(path, &schema)?;
    let reader = ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_delimiter(delimiter)
        .with_batch_size(batch_rows)
        .with_projection(projection.read_indices())
        .build(BufReader::with_capacity(1 << 20, open_file(path)?))
        .map_err(|e| SourceError::Corrupt {
            path: path.to_owned(),
            format: "CSV",
            message: e.to_string(),
        })?;
    Ok(CsvFile {
        path: path.to_owned(),
        schema,
        reader,
        projection,
    })
}

impl CsvFile {
    /// arrow-csv reports "line L and field F" with F 1-based; name the column too.
    fn explain(&self, message: String) -> String {
        let field = message
            .split("and field ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        match field.and_then(|f| self.schema.fields().get(f.checked_sub(1)?)) {
            Some(column) => format!("{message} (column `{}`)", column.name()),
            None => message,
        }
    }
}

impl FileReader for CsvFile {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        let batch = self.reader.next()?;
        Some(match batch {
            Ok(b) => self.projection.apply(&self.path, &b),
            Err(e) => Err(SourceError::Read {
                path: self.path.clone(),
                message: self.explain(e.to_string()),
            }),
        })
    }
}
