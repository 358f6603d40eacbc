//! Arrow IPC files (the random-access "file" format, `.arrow`/`.feather`) and streams.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_ipc::reader::{FileReader as IpcFileReader, StreamReader};

use super::{ColumnMapping, FileReader, Projection, SourceError};

const FILE_MAGIC: &[u8; 6] = b"ARROW1";

type BoxedReader = Box<dyn RecordBatchReader + Send>;

fn reader(path: &Path) -> Result<BoxedReader, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_owned(),
        source,
    };
    let corrupt = |e: arrow_schema::ArrowError| SourceError::Corrupt {
        path: path.to_owned(),
        format: "Arrow IPC",
        message: e.to_string(),
    };
    let mut file = File::open(path).map_err(io)?;
    let mut magic = [0u8; 6];
    let is_file_format = file.read_exact(&mut magic).is_ok() && &magic == FILE_MAGIC;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(if is_file_format {
        Box::new(IpcFileReader::try_new(BufReader::new(file), None).map_err(corrupt)?)
    } else {
        Box::new(StreamReader::try_new(BufReader::new(file), None).map_err(corrupt)?)
    })
}

/// Checks the schema has the mapped columns.
pub(super) fn check(path: &Path, mapping: &ColumnMapping) -> Result<(), SourceError> {
    let r = reader(path)?;
    mapping.project(path, &r.schema())?;
    Ok(())
}

/// An open Arrow IPC file. Its batches are re-sliced to `batch_rows`.
pub(super) struct ArrowFile {
    path: PathBuf,
    reader: BoxedReader,
    projection: Projection,
    batch_rows: usize,
    pending: Option<(RecordBatch, usize)>,
}

/// Opens `path`.
pub(super) fn open(
    path: &Path,
    mapping: &ColumnMapping,
    batch_rows: usize,
) -> Result<ArrowFile, SourceError> {
    let reader = reader(path)?;
    let projection = mapping.project(path, &reader.schema())?;
    Ok(ArrowFile {
        path: path.to_owned(),
        reader,
        projection,
        batch_rows,
        pending: None,
    })
}

impl FileReader for ArrowFile {
    fn next_batch(&mut self) -> Option<Result<RecordBatch, SourceError>> {
        if self.pending.is_none() {
            let batch = match self.reader.next()? {
                Ok(b) => b,
                Err(e) => {
                    return Some(Err(SourceError::Corrupt {
                        path: self.path.clone(),
                        format: "Arrow IPC",
                        message: e.to_string(),
                    }));
                }
            };
            self.pending = Some((batch, 0));
        }
        let (batch, offset) = self.pending.take()?;
        let len = self.batch_rows.min(batch.num_rows() - offset);
        let slice = batch.slice(offset, len);
        if offset + len < batch.num_rows() {
            self.pending = Some((batch, offset + len));
        }
        Some(self.projection.apply(&self.path, &slice))
    }
}
