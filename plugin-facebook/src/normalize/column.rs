//! [`NormalizedColumn`]: the output of one kernel over one Arrow array.

use std::fmt;

use audex_plugin_sdk::kernels::phone::RowCountry;

use super::digest::PendingDigests;
use super::phone::Validator;
use super::{KernelError, Reason};

/// One kernel's output over an array of N rows.
///
/// Values are fixed-width ASCII strings packed back to back ([`DIGEST_WIDTH`](super::DIGEST_WIDTH)
/// for digests, [`MADID_WIDTH`](super::MADID_WIDTH) for madids); slot `i` holds a value iff row
/// `i` was accepted. Rejected slots are left zeroed.
///
/// A kernel replaces the whole content (it does not append). Keep one column per field and pass
/// it to the kernel batch after batch: its buffers (and the kernel's scratch space, kept here
/// too) are reused, so steady-state normalization does not allocate.
#[derive(Clone)]
pub struct NormalizedColumn {
    pub(super) width: usize,
    pub(super) values: Vec<u8>,
    pub(super) rejected: Vec<Option<Reason>>,
    pub(super) scratch: Scratch,
}

/// Per-kernel working memory, kept with the output so that it is reused across batches.
#[derive(Clone, Default)]
pub(super) struct Scratch {
    /// The normalized values of a batch, hashed together at the end of the run.
    pub(super) pending: PendingDigests,
    /// The row countries of the phone kernel, resolved once per batch.
    pub(super) countries: Vec<RowCountry>,
    /// The phone kernel's normalizer (its buffer, the regions' compiled rules).
    pub(super) validator: Validator,
}

impl NormalizedColumn {
    /// An empty column whose values are `width` bytes wide.
    pub fn new(width: usize) -> Self {
        Self {
            width,
            values: Vec::new(),
            rejected: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// Removes every row, keeping the allocations for the next batch.
    pub fn clear(&mut self) {
        self.values.clear();
        self.rejected.clear();
    }

    /// The number of rows (accepted and rejected).
    pub fn len(&self) -> usize {
        self.rejected.len()
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.rejected.is_empty()
    }

    /// The width in bytes of every value.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The normalized value of `row`, or why the row was rejected.
    ///
    /// # Panics
    /// If `row >= self.len()`.
    pub fn get(&self, row: usize) -> Result<&str, Reason> {
        let bytes = self.get_bytes(row)?;
        match std::str::from_utf8(bytes) {
            Ok(value) => Ok(value),
            // Kernels only ever write ASCII hex digits and hyphens.
            Err(_) => unreachable!("normalized values are ASCII"),
        }
    }

    /// Like [`get`](Self::get), as bytes (always ASCII): handy to copy into a JSON buffer.
    ///
    /// # Panics
    /// If `row >= self.len()`.
    pub fn get_bytes(&self, row: usize) -> Result<&[u8], Reason> {
        match self.rejected[row] {
            Some(reason) => Err(reason),
            None => Ok(&self.values[row * self.width..(row + 1) * self.width]),
        }
    }

    /// Why `row` was rejected, or `None` if it was accepted.
    ///
    /// # Panics
    /// If `row >= self.len()`.
    pub fn reason(&self, row: usize) -> Option<Reason> {
        self.rejected[row]
    }

    /// The number of accepted rows.
    pub fn accepted(&self) -> usize {
        self.rejected.iter().filter(|r| r.is_none()).count()
    }

    /// Every row in order: its value or why it was rejected.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Result<&str, Reason>> + '_ {
        (0..self.len()).map(|row| self.get(row))
    }

    /// The packed values of all rows, `width` bytes each, zeros for rejected rows.
    pub fn values(&self) -> &[u8] {
        &self.values
    }

    /// Starts a kernel run over `rows` rows: checks the width, then sizes the buffers with every
    /// slot zeroed and accepted. Leaves the column empty on error.
    pub(super) fn begin(
        &mut self,
        kernel: &'static str,
        width: usize,
        rows: usize,
    ) -> Result<(), KernelError> {
        self.clear();
        if self.width != width {
            return Err(KernelError::WidthMismatch {
                kernel,
                expected: width,
                actual: self.width,
            });
        }
        self.values.resize(rows * width, 0);
        self.rejected.resize(rows, None);
        Ok(())
    }
}

impl fmt::Debug for NormalizedColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NormalizedColumn")
            .field("width", &self.width)
            .field("len", &self.len())
            .field("accepted", &self.accepted())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DIGEST_WIDTH, MADID_WIDTH};
    use super::*;

    #[test]
    fn begin_checks_width_and_zeroes() {
        let mut col = NormalizedColumn::new(MADID_WIDTH);
        let err = col.begin("email", DIGEST_WIDTH, 3).expect_err("width");
        assert!(
            matches!(
                err,
                KernelError::WidthMismatch {
                    expected: 64,
                    actual: 36,
                    ..
                }
            ),
            "{err}"
        );

        let mut col = NormalizedColumn::new(4);
        col.begin("test", 4, 2).expect("width 4");
        col.values[..4].copy_from_slice(b"abcd");
        col.rejected[1] = Some(Reason::Empty);
        assert_eq!(col.len(), 2);
        assert_eq!(col.accepted(), 1);
        assert_eq!(col.get(0), Ok("abcd"));
        assert_eq!(col.get(1), Err(Reason::Empty));
        assert_eq!(col.reason(1), Some(Reason::Empty));
        assert_eq!(col.values(), b"abcd\0\0\0\0");
        assert_eq!(
            col.iter().collect::<Vec<_>>(),
            [Ok("abcd"), Err(Reason::Empty)]
        );

        // A second run starts from zeroed, accepted slots and keeps the allocation.
        let capacity = col.values.capacity();
        col.begin("test", 4, 1).expect("width 4");
        assert_eq!(col.values(), b"\0\0\0\0");
        assert_eq!(col.reason(0), None);
        assert_eq!(col.values.capacity(), capacity);

        col.clear();
        assert!(col.is_empty());
        assert_eq!(col.accepted(), 0);
    }
}
