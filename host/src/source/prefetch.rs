//! Reading ahead on a separate thread: while the plugin hashes batch N, batch N+1 is being
//! decoded and encoded. The channel is bounded, so memory stays at a few batches.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use super::{SegmentStream, SourceError, encode_batch};

/// A batch ready to hand to a plugin.
#[derive(Debug)]
pub struct EncodedBatch {
    /// Position of the first row in the segment.
    pub first_row: u64,
    /// Rows in the batch.
    pub num_rows: u32,
    /// Arrow IPC stream bytes.
    pub ipc: Vec<u8>,
}

/// Batches read ahead of the consumer.
pub struct Prefetcher {
    receiver: Receiver<Result<EncodedBatch, SourceError>>,
    thread: Option<JoinHandle<()>>,
}

/// Batches kept ready ahead of the plugin.
const DEPTH: usize = 2;

impl Prefetcher {
    /// Starts reading `stream` on a new thread.
    pub fn start(stream: SegmentStream) -> Self {
        let (sender, receiver) = sync_channel(DEPTH);
        let thread = std::thread::Builder::new()
            .name("audex-source".to_owned())
            .spawn(move || {
                let mut first_row = 0u64;
                for batch in stream {
                    let item = batch.and_then(|b| {
                        let rows = b.num_rows();
                        let ipc = encode_batch(&b).map_err(|e| SourceError::Read {
                            path: "<batch>".into(),
                            message: format!("encoding a batch as Arrow IPC: {e}"),
                        })?;
                        let encoded = EncodedBatch {
                            first_row,
                            num_rows: rows as u32,
                            ipc,
                        };
                        first_row += rows as u64;
                        Ok(encoded)
                    });
                    let failed = item.is_err();
                    if sender.send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning the source thread");
        Self {
            receiver,
            thread: Some(thread),
        }
    }

    /// The next batch, `None` at the end.
    pub fn next_batch(&mut self) -> Option<Result<EncodedBatch, SourceError>> {
        self.receiver.recv().ok()
    }
}

impl Drop for Prefetcher {
    fn drop(&mut self) {
        // Dropping the receiver makes the reader thread's next send fail, so it ends.
        let (_, dead) = sync_channel(0);
        drop(std::mem::replace(&mut self.receiver, dead));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
