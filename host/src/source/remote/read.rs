//! Reading objects: Parquet with range requests, CSV and Arrow IPC through a temporary file,
//! and the schemas `check` needs from footers and first bytes.

use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, StreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{
    AsyncFileReader, ParquetRecordBatchStream, ParquetRecordBatchStreamBuilder,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::super::{ColumnMapping, FileReader, Format, Projection, SourceError, arrow_file, csv};
use super::RemoteSource;

/// Bytes per ranged request when downloading an object to a temporary file: the most a
/// download holds in memory.
const DOWNLOAD_CHUNK: u64 = 8 << 20;

/// First bytes fetched to find a CSV header or an Arrow IPC schema; doubled until enough.
const HEAD_BYTES: u64 = 64 << 10;

/// A Parquet error: a failed request in words, anything else as a corrupt file.
fn parquet_error(source: &RemoteSource, url: &str, e: ParquetError) -> SourceError {
    if let ParquetError::External(inner) = &e
        && let Some(store_error) = inner.downcast_ref::<object_store::Error>()
    {
        return source.store_error(url, store_error);
    }
    SourceError::Corrupt {
        path: PathBuf::from(url),
        format: "Parquet",
        message: super::scrub(&e.to_string(), &source.redact),
    }
}

/// A Parquet object as parquet's async reader sees it: ranged reads of a known-size object.
struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    location: ObjectPath,
    size: u64,
    /// Bytes fetched so far, for the log line that shows only part of the object travelled.
    fetched: Arc<AtomicU64>,
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.fetched
            .fetch_add(range.end.saturating_sub(range.start), Ordering::Relaxed);
        async move {
            self.store
                .get_range(&self.location, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        let bytes: u64 = ranges.iter().map(|r| r.end.saturating_sub(r.start)).sum();
        self.fetched.fetch_add(bytes, Ordering::Relaxed);
        // object_store coalesces nearby ranges into fewer requests.
        async move {
            self.store
                .get_ranges(&self.location, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

fn parquet_reader(source: &RemoteSource, meta: &ObjectMeta) -> ObjectReader {
    ObjectReader {
        store: source.store.clone(),
        location: meta.location.clone(),
        size: meta.size,
        fetched: Arc::new(AtomicU64::new(0)),
    }
}

/// The schema and row count from the footer (two range requests at most).
pub(super) async fn parquet_schema(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
) -> Result<(SchemaRef, u64), SourceError> {
    let builder = ParquetRecordBatchStreamBuilder::new(parquet_reader(source, meta))
        .await
        .map_err(|e| parquet_error(source, url, e))?;
    let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
    Ok((builder.schema().clone(), rows))
}

/// A Parquet object being read: one row group's mapped columns fetched at a time, decoded
/// `batch_rows` rows at a time.
pub(super) struct RemoteParquet {
    url: PathBuf,
    runtime: Arc<tokio::runtime::Runtime>,
    stream: ParquetRecordBatchStream<ObjectReader>,
    projection: Projection,
    source_redact: Vec<String>,
    fetched: Arc<AtomicU64>,
    size: u64,
}

/// Opens a Parquet object reading only the mapped columns.
pub(super) fn open_parquet(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
    mapping: &ColumnMapping,
) -> Result<RemoteParquet, SourceError> {
    let reader = parquet_reader(source, meta);
    let fetched = reader.fetched.clone();
    let opened = async {
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(|e| parquet_error(source, url, e))?;
        let projection = mapping.project(Path::new(url), builder.schema())?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), projection.read_indices());
        let stream = builder
            .with_projection(mask)
            .with_batch_size(source.batch_rows)
            .build()
            .map_err(|e| parquet_error(source, url, e))?;
        Ok::<_, SourceError>((stream, projection))
    };
    let (stream, projection) = source.runtime.block_on(opened)?;
    Ok(RemoteParquet {
        url: PathBuf::from(url),
        runtime: source.runtime.clone(),
        stream,
        projection,
        source_redact: source.redact.clone(),
        fetched,
        size: meta.size,
    })
}

impl FileReader for RemoteParquet {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        let Some(batch) = self.runtime.block_on(self.stream.next()) else {
            tracing::debug!(
                "{}: {} of {} bytes fetched (footer and mapped columns)",
                self.url.display(),
                self.fetched.load(Ordering::Relaxed),
                self.size
            );
            return None;
        };
        Some(match batch {
            Ok(b) => self.projection.apply(&self.url, &b),
            Err(e) => {
                let message = match &e {
                    ParquetError::External(inner) => match inner.downcast_ref() {
                        Some(store_error) => super::describe(store_error, ""),
                        None => e.to_string(),
                    },
                    _ => e.to_string(),
                };
                Err(SourceError::Read {
                    path: self.url.clone(),
                    message: super::scrub(&message, &self.source_redact),
                })
            }
        })
    }
}

/// The first bytes of an object: at least `want`, all of it when it is shorter.
async fn head_bytes(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
    want: u64,
) -> Result<Vec<u8>, SourceError> {
    let end = want.min(meta.size);
    if end == 0 {
        return Ok(Vec::new());
    }
    source
        .store
        .get_range(&meta.location, 0..end)
        .await
        .map(|bytes| bytes.to_vec())
        .map_err(|e| source.store_error(url, &e))
}

/// The header of a CSV object, from its first bytes.
pub(super) async fn csv_schema(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
) -> Result<SchemaRef, SourceError> {
    let mut want = HEAD_BYTES;
    loop {
        let head = head_bytes(source, meta, url, want).await?;
        let whole = head.len() as u64 >= meta.size;
        if whole || head.contains(&b'\n') {
            let schema: Schema =
                csv::header_schema_from(head.as_slice(), Path::new(url), source.delimiter)?;
            return Ok(Arc::new(schema));
        }
        want *= 4;
    }
}

/// The schema of an Arrow IPC object, from its first bytes.
pub(super) async fn arrow_schema(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
) -> Result<SchemaRef, SourceError> {
    let mut want = HEAD_BYTES;
    loop {
        let head = head_bytes(source, meta, url, want).await?;
        match arrow_file::schema_from_prefix(&head) {
            Ok(schema) => return Ok(schema),
            Err(_) if (head.len() as u64) < meta.size => want *= 4,
            Err(e) => {
                return Err(SourceError::Corrupt {
                    path: PathBuf::from(url),
                    format: "Arrow IPC",
                    message: e.to_string(),
                });
            }
        }
    }
}

/// A CSV or Arrow IPC object downloaded to a temporary file, read like a local file. The file
/// is deleted when the reader is dropped.
pub(super) struct Downloaded {
    inner: Box<dyn FileReader>,
    url: PathBuf,
    _file: tempfile::NamedTempFile,
}

/// Downloads the object in ranged chunks to a temporary file and opens it.
pub(super) fn open_downloaded(
    source: &RemoteSource,
    meta: &ObjectMeta,
    url: &str,
    mapping: &ColumnMapping,
    format: Format,
) -> Result<Downloaded, SourceError> {
    let url_path = PathBuf::from(url);
    let io = |e: std::io::Error| SourceError::Io {
        path: url_path.clone(),
        source: std::io::Error::new(e.kind(), format!("temporary copy: {e}")),
    };
    let mut file = tempfile::Builder::new()
        .prefix("audex-object-")
        .tempfile()
        .map_err(io)?;
    let download = async {
        let mut offset = 0;
        while offset < meta.size {
            let end = (offset + DOWNLOAD_CHUNK).min(meta.size);
            let chunk = source
                .store
                .get_range(&meta.location, offset..end)
                .await
                .map_err(|e| source.store_error(url, &e))?;
            file.write_all(&chunk).map_err(io)?;
            offset = end;
        }
        file.flush().map_err(io)
    };
    source.runtime.block_on(download)?;
    tracing::debug!("{url}: {} bytes downloaded to a temporary file", meta.size);
    let path = file.path();
    let rows = source.batch_rows;
    let inner: Result<Box<dyn FileReader>, SourceError> = match format {
        Format::Csv => csv::open(path, mapping, rows, source.delimiter)
            .map(|r| Box::new(r) as Box<dyn FileReader>),
        Format::Arrow | Format::Parquet => {
            arrow_file::open(path, mapping, rows).map(|r| Box::new(r) as Box<dyn FileReader>)
        }
    };
    Ok(Downloaded {
        inner: inner.map_err(|e| e.relabel(&url_path))?,
        url: url_path,
        _file: file,
    })
}

impl FileReader for Downloaded {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        Some(self.inner.next_batch()?.map_err(|e| e.relabel(&self.url)))
    }
}
