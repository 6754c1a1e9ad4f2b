//! The server's decisions: what the cursor holds and how a page of changes is cut.

use serde::{Deserialize, Serialize};

use super::protocol::{Cursor, ProtocolError};

/// What the server keeps in a device's cursor: the position in its change log up to which
/// the device has every change of every case it could read at the time, and which history
/// of the server that log is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// The last change-log sequence number the device has.
    pub seq: u64,
    /// The server's epoch when the cursor was written: random, and drawn again when its
    /// database is restored from a backup, so a cursor (and the acknowledgements that came
    /// with it) from before a restore is recognised. Zero in cursors from before epochs.
    pub epoch: u64,
}

/// The cursor's form before it carried the epoch.
#[derive(Deserialize)]
struct PositionWithoutEpoch {
    seq: u64,
}

impl LogPosition {
    /// Reads a cursor; an empty one is the start of the log.
    pub fn from_cursor(cursor: &Cursor) -> Result<LogPosition, ProtocolError> {
        if cursor.0.is_empty() {
            return Ok(LogPosition::default());
        }
        if let Ok((position, [])) = postcard::take_from_bytes::<LogPosition>(&cursor.0) {
            return Ok(position);
        }
        match postcard::take_from_bytes::<PositionWithoutEpoch>(&cursor.0) {
            Ok((old, [])) => Ok(LogPosition {
                seq: old.seq,
                epoch: 0,
            }),
            _ => Err(ProtocolError::Malformed("bad cursor".into())),
        }
    }

    /// Writes the cursor a device stores.
    pub fn to_cursor(self) -> Cursor {
        Cursor(postcard::to_allocvec(&self).expect("encoding into a vector cannot fail"))
    }

    /// Whether this cursor was written by another history of the server than `epoch`: the
    /// server was restored from a backup since, and the device must send everything again.
    pub fn is_from_before_restore(&self, epoch: u64) -> bool {
        self.epoch != 0 && self.epoch != epoch
    }
}

/// How much change data one response carries, unless one change alone is larger.
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// The byte budget of one response page: rows are admitted in log order while they fit,
/// and the first row always, so that one change larger than a page still goes.
#[derive(Debug, Clone)]
pub struct PageBudget {
    max_bytes: usize,
    used: usize,
    rows: usize,
}

impl PageBudget {
    /// A budget of `max_bytes`.
    pub fn new(max_bytes: usize) -> PageBudget {
        PageBudget {
            max_bytes,
            used: 0,
            rows: 0,
        }
    }

    /// Whether a row of `size` bytes goes into this page; if so, it is counted.
    pub fn admit(&mut self, size: usize) -> bool {
        if self.rows > 0 && self.used + size > self.max_bytes {
            return false;
        }
        self.used += size;
        self.rows += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let position = LogPosition {
            seq: 123_456,
            epoch: u64::MAX - 7,
        };
        assert_eq!(
            LogPosition::from_cursor(&position.to_cursor()).unwrap(),
            position
        );
        assert_eq!(
            LogPosition::from_cursor(&Cursor::default()).unwrap(),
            LogPosition::default()
        );
        assert!(LogPosition::from_cursor(&Cursor(vec![0xff; 12])).is_err());
        assert!(position.to_cursor().0.len() <= 20);
    }

    #[test]
    fn a_cursor_from_before_epochs_still_reads_and_matches_any_epoch() {
        let old = Cursor(postcard::to_allocvec(&123_456u64).unwrap());
        let position = LogPosition::from_cursor(&old).unwrap();
        assert_eq!(
            position,
            LogPosition {
                seq: 123_456,
                epoch: 0
            }
        );
        assert!(!position.is_from_before_restore(42));
    }

    #[test]
    fn a_cursor_of_another_epoch_is_from_before_a_restore() {
        let position = LogPosition { seq: 9, epoch: 41 };
        assert!(position.is_from_before_restore(42));
        assert!(!position.is_from_before_restore(41));
    }

    #[test]
    fn pages_fill_up_to_the_limit_but_always_take_one_row() {
        let mut budget = PageBudget::new(100);
        assert!(budget.admit(40));
        assert!(budget.admit(50));
        assert!(!budget.admit(30), "would pass the limit");
        let mut small = PageBudget::new(100);
        assert!(small.admit(5000), "one big change still goes");
        assert!(!small.admit(1));
    }
}
