//! The server's decisions: what the cursor holds and how a page of changes is cut.

use serde::{Deserialize, Serialize};

use super::protocol::{Cursor, ProtocolError};

/// What the server keeps in a device's cursor: the position in its change log up to which
/// the device has every change of every case it could read at the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    /// The last change-log sequence number the device has.
    pub seq: u64,
}

impl LogPosition {
    /// Reads a cursor; an empty one is the start of the log.
    pub fn from_cursor(cursor: &Cursor) -> Result<LogPosition, ProtocolError> {
        if cursor.0.is_empty() {
            return Ok(LogPosition::default());
        }
        postcard::from_bytes(&cursor.0).map_err(|_| ProtocolError::Malformed("bad cursor".into()))
    }

    /// Writes the cursor a device stores.
    pub fn to_cursor(self) -> Cursor {
        Cursor(postcard::to_allocvec(&self).expect("encoding into a vector cannot fail"))
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
        let position = LogPosition { seq: 123_456 };
        assert_eq!(
            LogPosition::from_cursor(&position.to_cursor()).unwrap(),
            position
        );
        assert_eq!(LogPosition::from_cursor(&Cursor::default()).unwrap().seq, 0);
        assert!(LogPosition::from_cursor(&Cursor(vec![0xff; 12])).is_err());
        assert!(position.to_cursor().0.len() <= 10);
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
