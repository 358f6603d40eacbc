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

/// The schema of an Arrow IPC file or stream from its first bytes: the schema message opens
/// the stream format, and follows the file format's magic and its padding (to 8 bytes in the
/// specification, to 64 by arrow-rs's default). Fails when `prefix` is too short to hold it.
pub(super) fn schema_from_prefix(
    prefix: &[u8],
) -> Result<arrow_schema::SchemaRef, arrow_schema::ArrowError> {
    const CONTINUATION: [u8; 4] = [0xff; 4];
    let body = if prefix.starts_with(FILE_MAGIC) {
        let start = (8..prefix.len().min(1024))
            .step_by(8)
            .find(|&i| prefix.get(i..i + 4) == Some(&CONTINUATION[..]))
            .unwrap_or(8);
        prefix.get(start..).unwrap_or_default()
    } else {
        prefix
    };
    Ok(StreamReader::try_new(std::io::Cursor::new(body), None)?.schema())
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::StringArray;
    use arrow_ipc::writer::{FileWriter, StreamWriter};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("mail", DataType::Utf8, true)]));
        let values: Vec<String> = (0..2_000).map(|i| format!("user{i}@example.com")).collect();
        RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(values))]).expect("batch")
    }

    #[test]
    fn the_schema_comes_from_the_first_bytes_of_either_format() {
        let b = batch();
        let mut file = FileWriter::try_new(Vec::new(), &b.schema()).expect("file writer");
        file.write(&b).expect("write");
        file.finish().expect("finish");
        let file = file.into_inner().expect("bytes");
        let mut stream = StreamWriter::try_new(Vec::new(), &b.schema()).expect("stream writer");
        stream.write(&b).expect("write");
        stream.finish().expect("finish");
        let stream = stream.into_inner().expect("bytes");

        for bytes in [&file, &stream] {
            let schema = schema_from_prefix(&bytes[..1024]).expect("a prefix is enough");
            assert_eq!(schema.field(0).name(), "mail");
            assert!(
                schema_from_prefix(&bytes[..12]).is_err(),
                "too short a prefix is an error, not a wrong schema"
            );
        }
    }
}
