//! Segment sources: files in Parquet, CSV or Arrow IPC, read as a stream of Arrow record
//! batches projected to the identifier columns a plugin needs.
//!
//! Nothing reads a whole file into memory: Parquet is decoded page by page, CSV and Arrow IPC
//! record by record, and a bounded prefetch thread keeps at most a few batches ahead of the
//! plugin ([`prefetch`]).

mod arrow_file;
mod csv;
mod error;
mod files;
mod ipc;
mod parquet;
pub mod prefetch;
mod projection;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

pub use error::SourceError;
pub use files::{Format, expand};
pub use ipc::encode_batch;
pub use projection::{ColumnMapping, Projection};

/// Rows per batch unless the pipeline says otherwise: Facebook's upload limit, so one input
/// batch fills at most one request per audience.
pub const DEFAULT_BATCH_ROWS: usize = 10_000;

/// What to read and how.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// The files, already expanded, in reading order.
    pub files: Vec<PathBuf>,
    /// Their format.
    pub format: Format,
    /// Rows per batch.
    pub batch_rows: usize,
    /// CSV field delimiter.
    pub delimiter: u8,
}

/// A stream of projected batches over all the files of a source.
pub struct SegmentStream {
    spec: SourceSpec,
    mapping: ColumnMapping,
    next_file: usize,
    current: Option<Box<dyn FileReader>>,
}

/// One open file.
trait FileReader: Send {
    /// The next projected batch of this file.
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>>;
}

impl SegmentStream {
    /// Opens the stream; the first file is opened (and its columns checked) on first read.
    pub fn new(spec: SourceSpec, mapping: ColumnMapping) -> Self {
        Self {
            spec,
            mapping,
            next_file: 0,
            current: None,
        }
    }

    /// The output field names, in column order.
    pub fn fields(&self) -> Vec<String> {
        self.mapping.output_fields()
    }

    /// Checks that every file opens and has the mapped columns with usable types, without
    /// reading rows. Returns the row count when the format knows it up front.
    pub fn check(&self) -> Result<Option<u64>, SourceError> {
        let mut total = Some(0u64);
        for path in &self.spec.files {
            let rows = match self.spec.format {
                Format::Parquet => Some(parquet::check(path, &self.mapping)?),
                Format::Csv => {
                    csv::check(path, &self.mapping, self.spec.delimiter)?;
                    None
                }
                Format::Arrow => {
                    arrow_file::check(path, &self.mapping)?;
                    None
                }
            };
            total = total.zip(rows).map(|(a, b)| a + b);
        }
        Ok(total)
    }

    /// An estimate of the rows, for `estimated_num_total`: exact for Parquet, a line count
    /// for CSV, none for Arrow streams.
    pub fn estimate_rows(&self) -> Result<Option<u64>, SourceError> {
        match self.spec.format {
            Format::Parquet => self.check(),
            Format::Csv => {
                let mut total = 0;
                for path in &self.spec.files {
                    total += csv::count_records(path)?;
                }
                Ok(Some(total))
            }
            Format::Arrow => Ok(None),
        }
    }

    fn open(&self, path: &Path) -> Result<Box<dyn FileReader>, SourceError> {
        let rows = self.spec.batch_rows;
        Ok(match self.spec.format {
            Format::Parquet => Box::new(parquet::open(path, &self.mapping, rows)?),
            Format::Csv => Box::new(csv::open(path, &self.mapping, rows, self.spec.delimiter)?),
            Format::Arrow => Box::new(arrow_file::open(path, &self.mapping, rows)?),
        })
    }
}

impl Iterator for SegmentStream {
    type Item = Result<RecordBatch, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(reader) = &mut self.current {
                match reader.next_batch() {
                    Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                    Some(result) => return Some(result),
                    None => self.current = None,
                }
            }
            let path = self.spec.files.get(self.next_file)?.clone();
            self.next_file += 1;
            match self.open(&path) {
                Ok(reader) => self.current = Some(reader),
                Err(e) => {
                    self.next_file = self.spec.files.len();
                    return Some(Err(e));
                }
            }
        }
    }
}
