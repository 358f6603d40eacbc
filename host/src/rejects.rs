//! The rejects file, `rejects.csv`: one line per rejected row and field, with the row's
//! position in the segment (0-based), the field and the plugin's reason code.
//!
//! The raw value is personal data, so it is only written when the pipeline opts in with
//! `rejects: { include_values: true }`. Plugins do not send values back (the WIT's
//! `record-rejects` carries positions only): the host keeps a copy of the batch it most
//! recently handed to the plugin and looks the value up there, in the column mapped to the
//! rejected field. A rejection for a row outside that batch gets an empty value.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use audex::pipeline::RejectsSection;
//! use audex::rejects::RejectsWriter;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("rejects.csv");
//! let mut rejects = RejectsWriter::create(&path, &RejectsSection::default())?;
//! rejects.write(7, "email", "malformed_email");
//! rejects.finish()?;
//! assert_eq!(std::fs::read_to_string(&path)?, "row,field,reason\n7,email,malformed_email\n");
//! # Ok(())
//! # }
//! ```

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};

use crate::pipeline::RejectsSection;

/// Longest raw value written, in bytes; longer ones are cut (at a character boundary) and
/// marked with their full length, so one huge cell cannot blow up the file.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Writes `rejects.csv`.
pub struct RejectsWriter {
    writer: csv::Writer<BufWriter<File>>,
    include_values: bool,
    last: Option<LastBatch>,
    error: Option<String>,
}

/// The batch most recently handed to the plugin, decoded on first use.
struct LastBatch {
    first_row: u64,
    num_rows: u64,
    ipc: Vec<u8>,
    decoded: Option<Option<RecordBatch>>,
}

impl RejectsWriter {
    /// Creates (truncates) `path` and writes the header: `row,field,reason`, plus `value`
    /// when `options.include_values`.
    pub fn create(path: &Path, options: &RejectsSection) -> std::io::Result<Self> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(File::create(path)?));
        if options.include_values {
            writer.write_record(["row", "field", "reason", "value"])?;
        } else {
            writer.write_record(["row", "field", "reason"])?;
        }
        Ok(Self {
            writer,
            include_values: options.include_values,
            last: None,
            error: None,
        })
    }

    /// Whether raw values are written, i.e. whether [`remember_batch`](Self::remember_batch)
    /// is worth calling.
    pub fn includes_values(&self) -> bool {
        self.include_values
    }

    /// Keeps a copy of the batch about to be handed to the plugin (Arrow IPC stream bytes,
    /// rows `first_row..first_row + num_rows` of the segment), replacing the previous one.
    /// Does nothing unless values are included.
    pub fn remember_batch(&mut self, first_row: u64, num_rows: u32, ipc: &[u8]) {
        if !self.include_values {
            return;
        }
        // Reuse the previous copy's allocation.
        let mut buffer = self.last.take().map(|b| b.ipc).unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(ipc);
        self.last = Some(LastBatch {
            first_row,
            num_rows: u64::from(num_rows),
            ipc: buffer,
            decoded: None,
        });
    }

    /// Writes one rejected row. A write failure is kept for [`finish`](Self::finish), so
    /// the export is not interrupted by it.
    pub fn write(&mut self, row: u64, field: &str, reason: &str) {
        let row_text = row.to_string();
        let result = if self.include_values {
            let value = self.value(row, field).unwrap_or_default();
            self.writer
                .write_record([row_text.as_str(), field, reason, value.as_str()])
        } else {
            self.writer.write_record([row_text.as_str(), field, reason])
        };
        if let Err(e) = result {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// The raw value of `field` at segment row `row`, if that row is in the last batch.
    fn value(&mut self, row: u64, field: &str) -> Option<String> {
        let last = self.last.as_mut()?;
        let index = row.checked_sub(last.first_row)?;
        if index >= last.num_rows {
            return None;
        }
        let batch = last
            .decoded
            .get_or_insert_with(|| decode(&last.ipc))
            .as_ref()?;
        let column = batch.column_by_name(field)?;
        let index = usize::try_from(index).ok()?;
        if index >= column.len() || column.is_null(index) {
            return None;
        }
        let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()).ok()?;
        Some(clip(formatter.value(index).to_string()))
    }

    /// Flushes the file; reports the first write error, if any.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.writer.flush().map_err(|e| e.to_string())
    }
}

/// The one record batch of an IPC stream, `None` when it cannot be read (the value column
/// then stays empty rather than failing the run).
fn decode(ipc: &[u8]) -> Option<RecordBatch> {
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None).ok()?;
    reader.into_iter().next()?.ok()
}

/// Cuts a value longer than [`MAX_VALUE_BYTES`] and says how long it was.
fn clip(mut value: String) -> String {
    if value.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let total = value.len();
    let mut end = MAX_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.truncate(end);
    value.push_str(&format!("… ({total} bytes)"));
    value
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn batch() -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("email", DataType::Utf8, true),
            Field::new("phone", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("nope"), None, Some("a@b.co")])),
                Arc::new(Int64Array::from(vec![Some(12), Some(34), None])),
            ],
        )
        .expect("batch");
        crate::source::encode_batch(&batch).expect("ipc")
    }

    fn written(options: RejectsSection, f: impl FnOnce(&mut RejectsWriter)) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rejects.csv");
        let mut w = RejectsWriter::create(&path, &options).expect("create");
        f(&mut w);
        w.finish().expect("finish");
        std::fs::read_to_string(&path).expect("read")
    }

    #[test]
    fn values_only_when_opted_in() {
        let ipc = batch();
        let rows = |w: &mut RejectsWriter| {
            w.remember_batch(100, 3, &ipc);
            w.write(100, "email", "malformed_email");
            w.write(101, "email", "missing");
            w.write(101, "phone", "invalid_phone");
            w.write(102, "phone", "missing");
            // Outside the batch: no value.
            w.write(7, "email", "empty");
            w.write(103, "email", "empty");
        };
        let off = written(RejectsSection::default(), rows);
        assert_eq!(
            off,
            "row,field,reason\n100,email,malformed_email\n101,email,missing\n101,phone,invalid_phone\n102,phone,missing\n7,email,empty\n103,email,empty\n"
        );
        let on = written(
            RejectsSection {
                include_values: true,
            },
            rows,
        );
        assert_eq!(
            on,
            "row,field,reason,value\n100,email,malformed_email,nope\n101,email,missing,\n101,phone,invalid_phone,34\n102,phone,missing,\n7,email,empty,\n103,email,empty,\n"
        );
    }

    #[test]
    fn long_values_are_clipped_at_a_character_boundary() {
        let long = "é".repeat(MAX_VALUE_BYTES);
        let clipped = clip(long.clone());
        assert!(clipped.starts_with(&long[..MAX_VALUE_BYTES]), "{clipped}");
        assert!(
            clipped.ends_with(&format!("… ({} bytes)", long.len())),
            "{clipped}"
        );
        assert_eq!(clip("short".to_owned()), "short");
    }

    #[test]
    fn unreadable_batches_leave_the_value_empty() {
        let text = written(
            RejectsSection {
                include_values: true,
            },
            |w| {
                w.remember_batch(0, 2, b"not arrow");
                w.write(1, "email", "empty");
            },
        );
        assert_eq!(text, "row,field,reason,value\n1,email,empty,\n");
    }
}
