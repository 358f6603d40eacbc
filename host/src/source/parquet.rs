//! Parquet files, decoded page by page with only the mapped columns.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

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
    })
}

impl FileReader for ParquetFile {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        let batch = self.reader.next()?;
        Some(
            batch
                .map_err(|e| SourceError::Corrupt {
                    path: self.path.clone(),
                    format: "Parquet",
                    message: e.to_string(),
                })
                .and_then(|b| self.projection.apply(&self.path, &b)),
        )
    }
}
