//! Parquet files, decoded page by page with only the mapped columns.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::{FileReader as _, SerializedFileReader};

use super::{ColumnMapping, FileReader, Projection, SourceError};

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, SourceError> {
    let file = File::open(path).map_err(|source| SourceError::Io {
        path: path.to_owned(),
        source,
    })?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| SourceError::Corrupt {
        path: path.to_owned(),
        format: "Parquet",
        message: e.to_string(),
    })
}

/// Checks the footer and the mapped columns; returns the row count.
pub(super) fn check(path: &Path, mapping: &ColumnMapping) -> Result<u64, SourceError> {
    let builder = builder(path)?;
    mapping.project(path, builder.schema())?;
    Ok(builder.metadata().file_metadata().num_rows().max(0) as u64)
}

/// An open Parquet file.
pub(super) struct ParquetFile {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    projection: Projection,
    batch_rows: usize,
    /// Rows returned so far: where the next batch starts in the file.
    rows_read: usize,
}

/// Opens `path` reading only the mapped columns, `batch_rows` rows at a time.
pub(super) fn open(
    path: &Path,
    mapping: &ColumnMapping,
    batch_rows: usize,
) -> Result<ParquetFile, SourceError> {
    let builder = builder(path)?;
    let projection = mapping.project(path, builder.schema())?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), projection.read_indices());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(batch_rows)
        .build()
        .map_err(|e| SourceError::Corrupt {
            path: path.to_owned(),
            format: "Parquet",
            message: e.to_string(),
        })?;
    Ok(ParquetFile {
        path: path.to_owned(),
        reader,
        projection,
        batch_rows,
        rows_read: 0,
    })
}

impl FileReader for ParquetFile {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(e) => return Some(Err(self.locate(&e))),
        };
        self.rows_read += batch.num_rows();
        Some(self.projection.apply(&self.path, &batch))
    }
}

impl ParquetFile {
    /// The error of a batch that failed to decode, with the column and row at fault when a
    /// second look finds them (the decoder names neither, e.g. for text that is not UTF-8).
    fn locate(&self, error: &dyn std::fmt::Display) -> SourceError {
        let located = self.projection.mapped().find_map(|(field, column, index)| {
            self.failure_in(index)
                .map(|rows| format!("column `{column}` (field `{field}`), {rows}: {error}"))
        });
        match located {
            Some(message) => SourceError::Read {
                path: self.path.clone(),
                message,
            },
            None => SourceError::Corrupt {
                path: self.path.clone(),
                format: "Parquet",
                message: error.to_string(),
            },
        }
    }

    /// Whether file column `index`, read alone over the failed batch's rows, fails too; if
    /// so, where: the row of the first value that is not UTF-8 for a text column, else where
    /// the batch starts. Only runs once a read has failed.
    fn failure_in(&self, index: usize) -> Option<String> {
        let start = self.rows_read;
        let mut alone = self.reader_of(index)?;
        if !alone.any(|batch| batch.is_err()) {
            return None;
        }
        Some(match self.first_non_utf8_row(index) {
            Some(row) => format!("row {row} (0-based)"),
            // The decoder reads a page at a time: the fault may lie past the batch's rows.
            None => format!("at or after row {start} (0-based)"),
        })
    }

    /// The first row of file column `index` holding bytes that are not UTF-8, if it is a
    /// column of byte strings: read without Arrow (which would refuse the batch), value by
    /// value, from the file's start.
    fn first_non_utf8_row(&self, index: usize) -> Option<usize> {
        let file = SerializedFileReader::new(File::open(&self.path).ok()?).ok()?;
        let mut row = 0;
        for group in 0..file.metadata().num_row_groups() {
            let group = file.get_row_group(group).ok()?;
            let max_def = group
                .metadata()
                .column(index)
                .column_descr()
                .max_def_level();
            let ColumnReader::ByteArrayColumnReader(mut column) =
                group.get_column_reader(index).ok()?
            else {
                return None;
            };
            loop {
                let (mut defs, mut values) = (Vec::new(), Vec::new());
                let (rows, _, _) = column
                    .read_records(4096, Some(&mut defs), None, &mut values)
                    .ok()?;
                if rows == 0 {
                    break;
                }
                let invalid = |v: &ByteArray| std::str::from_utf8(v.data()).is_err();
                let at = if max_def == 0 {
                    // A required column: one value per row.
                    values.iter().position(invalid)
                } else {
                    // Values are those of the rows defined at the deepest level.
                    let mut values = values.iter();
                    defs.iter()
                        .position(|&d| d == max_def && values.next().is_some_and(invalid))
                };
                if let Some(i) = at {
                    return Some(row + i);
                }
                row += rows;
            }
        }
        None
    }

    /// A reader of file column `index` alone over the rows of the batch that failed.
    fn reader_of(&self, index: usize) -> Option<ParquetRecordBatchReader> {
        let builder = builder(&self.path).ok()?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        builder
            .with_projection(mask)
            .with_offset(self.rows_read)
            .with_limit(self.batch_rows)
            .with_batch_size(self.batch_rows)
            .build()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parquet::basic::{Compression, LogicalType, Repetition, Type as PhysicalType};
    use parquet::data_type::ByteArrayType;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    use super::*;

    /// Two optional text columns, `name` and `mail`, in row groups of `group_rows` rows;
    /// `mail` holds one value that is not UTF-8, at `bad_row`, and a null every third row.
    fn write(path: &Path, rows: usize, group_rows: usize, bad_row: usize) {
        let text = |name: &str| {
            Arc::new(
                Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY)
                    .with_repetition(Repetition::OPTIONAL)
                    .with_logical_type(Some(LogicalType::String))
                    .build()
                    .expect("column type"),
            )
        };
        let schema = Type::group_type_builder("segment")
            .with_fields(vec![text("name"), text("mail")])
            .build()
            .expect("schema");
        let properties = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build();
        let file = File::create(path).expect("file");
        let mut writer = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(properties))
            .expect("writer");
        for first in (0..rows).step_by(group_rows) {
            let rows = first..(first + group_rows).min(rows);
            let mut group = writer.next_row_group().expect("row group");
            let mut index = 0;
            while let Some(mut column) = group.next_column().expect("column") {
                let defined = |row: usize| index == 0 || row % 3 != 2;
                let defs: Vec<i16> = rows.clone().map(|r| i16::from(defined(r))).collect();
                let values: Vec<ByteArray> = rows
                    .clone()
                    .filter(|&r| defined(r))
                    .map(|r| match (index, r == bad_row) {
                        (1, true) => ByteArray::from(vec![b'c', b'a', b'f', 0xe9, b'@', b'x']),
                        _ => ByteArray::from(format!("row{r}@example.com").as_str()),
                    })
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)
                    .expect("values");
                column.close().expect("column closed");
                index += 1;
            }
            group.close().expect("row group closed");
        }
        writer.close().expect("file closed");
    }

    fn mapping() -> ColumnMapping {
        ColumnMapping::new(vec![
            ("name".into(), "name".into()),
            ("email".into(), "mail".into()),
        ])
    }

    #[test]
    fn a_failed_batch_names_the_column_and_the_row() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("segment.parquet");
        // Row 13: the fourth batch of four rows, the third row group of five rows.
        write(&path, 20, 5, 13);
        let mut file = open(&path, &mapping(), 4).expect("open");
        let mut rows = 0;
        let error = loop {
            match file.next_batch().expect("a batch or the error") {
                Ok(batch) => rows += batch.num_rows(),
                Err(e) => break e.to_string(),
            }
        };
        // The decoder checks a page at a time: the batch that fails may start before row 13.
        assert!(rows <= 12 && rows % 4 == 0, "{rows} rows before the error");
        assert!(
            error.contains("segment.parquet: column `mail` (field `email`), row 13 (0-based): ")
                && error.contains("UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn a_readable_file_reads_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("segment.parquet");
        write(&path, 10, 4, usize::MAX);
        let mut file = open(&path, &mapping(), 3).expect("open");
        let mut rows = 0;
        while let Some(batch) = file.next_batch() {
            rows += batch.expect("readable").num_rows();
        }
        assert_eq!(rows, 10);
    }
}
