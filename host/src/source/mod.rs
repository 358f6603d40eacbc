//! Segment sources: files or object-storage objects (`s3://`, [`remote`]) in Parquet, CSV or
//! Arrow IPC, read as a stream of Arrow record batches projected to the identifier columns a
//! plugin needs.
//!
//! Nothing reads a whole file into memory: Parquet is decoded page by page (from object
//! storage, with range requests for the footer and the mapped columns only), CSV and Arrow IPC
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
pub mod remote;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

pub use error::SourceError;
pub use files::{Format, expand};
pub use ipc::encode_batch;
pub use projection::{ColumnMapping, Projection};
pub use remote::{RemoteSource, S3Options};

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

/// Opens the source a pipeline's `source` section names, with `base` for relative paths:
/// local files (a file, a glob or a directory, expanded now) or an `s3://` URL (nothing is
/// fetched until [`SegmentStream::check`] or the first read).
pub fn open(
    section: &crate::pipeline::SourceSection,
    base: &Path,
    mapping: ColumnMapping,
) -> Result<SegmentStream, SourceError> {
    let batch_rows = section.batch_rows.unwrap_or(DEFAULT_BATCH_ROWS);
    let delimiter = section.delimiter.map_or(b',', |c| c as u8);
    if remote::is_remote(&section.path) {
        let source = RemoteSource::new(
            &section.path,
            section.s3.as_ref(),
            section.format,
            batch_rows,
            delimiter,
        )?;
        return Ok(SegmentStream::remote(source, mapping));
    }
    let (files, format) = expand(&section.path, base, section.format)?;
    let spec = SourceSpec {
        files,
        format,
        batch_rows,
        delimiter,
    };
    Ok(SegmentStream::new(spec, mapping))
}

/// A stream of projected batches over all the files (or objects) of a source.
pub struct SegmentStream {
    inputs: Inputs,
    mapping: ColumnMapping,
    next_file: usize,
    current: Option<Box<dyn FileReader>>,
}

/// Where a stream's data is.
enum Inputs {
    /// Local files.
    Files(SourceSpec),
    /// Objects in object storage, listed on first use.
    Remote(Box<RemoteSource>),
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
            inputs: Inputs::Files(spec),
            mapping,
            next_file: 0,
            current: None,
        }
    }

    /// A stream over the objects of an object-storage source.
    pub fn remote(source: RemoteSource, mapping: ColumnMapping) -> Self {
        Self {
            inputs: Inputs::Remote(Box::new(source)),
            mapping,
            next_file: 0,
            current: None,
        }
    }

    /// The object-storage URL, when the source is remote (reading it needs the network).
    pub fn remote_url(&self) -> Option<&str> {
        match &self.inputs {
            Inputs::Files(_) => None,
            Inputs::Remote(source) => Some(source.url()),
        }
    }

    /// The local files, in reading order; `None` for an object-storage source.
    pub fn local_files(&self) -> Option<&[PathBuf]> {
        match &self.inputs {
            Inputs::Files(spec) => Some(&spec.files),
            Inputs::Remote(_) => None,
        }
    }

    /// What identifies an object-storage source's input, for resuming: each object's URL,
    /// size, modification time and entity tag (listing the objects if needed). Empty for
    /// local files (see [`SegmentStream::local_files`]).
    pub fn remote_fingerprint(&self) -> Result<String, SourceError> {
        match &self.inputs {
            Inputs::Files(_) => Ok(String::new()),
            Inputs::Remote(source) => source.fingerprint(),
        }
    }

    /// The output field names, in column order.
    pub fn fields(&self) -> Vec<String> {
        self.mapping.output_fields()
    }

    /// Checks that every file opens and has the mapped columns with usable types, without
    /// reading rows. Returns the row count when the format knows it up front.
    pub fn check(&self) -> Result<Option<u64>, SourceError> {
        let spec = match &self.inputs {
            Inputs::Files(spec) => spec,
            Inputs::Remote(source) => return source.check(&self.mapping),
        };
        let mut total = Some(0u64);
        for path in &spec.files {
            let rows = match spec.format {
                Format::Parquet => Some(parquet::check(path, &self.mapping)?),
                Format::Csv => {
                    csv::check(path, &self.mapping, spec.delimiter)?;
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
    /// for CSV files, none for Arrow streams and CSV objects.
    pub fn estimate_rows(&self) -> Result<Option<u64>, SourceError> {
        let spec = match &self.inputs {
            Inputs::Files(spec) => spec,
            Inputs::Remote(source) => return source.estimate_rows(&self.mapping),
        };
        match spec.format {
            Format::Parquet => self.check(),
            Format::Csv => {
                let mut total = 0;
                for path in &spec.files {
                    total += csv::count_records(path)?;
                }
                Ok(Some(total))
            }
            Format::Arrow => Ok(None),
        }
    }

    /// Opens input `index`, `None` past the last one.
    fn open(&self, index: usize) -> Option<Result<Box<dyn FileReader>, SourceError>> {
        let spec = match &self.inputs {
            Inputs::Files(spec) => spec,
            Inputs::Remote(source) => return source.open(index, &self.mapping),
        };
        let path = spec.files.get(index)?;
        Some(open_file(spec, path, &self.mapping))
    }
}

/// Opens one local file of `spec`.
fn open_file(
    spec: &SourceSpec,
    path: &Path,
    mapping: &ColumnMapping,
) -> Result<Box<dyn FileReader>, SourceError> {
    let rows = spec.batch_rows;
    Ok(match spec.format {
        Format::Parquet => Box::new(parquet::open(path, mapping, rows)?),
        Format::Csv => Box::new(csv::open(path, mapping, rows, spec.delimiter)?),
        Format::Arrow => Box::new(arrow_file::open(path, mapping, rows)?),
    })
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
            let opened = self.open(self.next_file)?;
            self.next_file += 1;
            match opened {
                Ok(reader) => self.current = Some(reader),
                Err(e) => {
                    self.next_file = usize::MAX;
                    return Some(Err(e));
                }
            }
        }
    }
}
