//! Encoding batches as Arrow IPC stream bytes, the form batches cross into a plugin.

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;

/// One schema message and one record batch, as a plugin's `segment.next-batch` returns them.
pub fn encode_batch(batch: &RecordBatch) -> Result<Vec<u8>, arrow_schema::ArrowError> {
    let size: usize = batch
        .columns()
        .iter()
        .map(|c| c.get_buffer_memory_size())
        .sum();
    let mut writer = StreamWriter::try_new(Vec::with_capacity(size + 1024), &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    writer.into_inner()
}
