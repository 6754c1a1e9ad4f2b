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

/// Cuts a page from log rows `(seq, size)` in sequence order: as many as fit in
/// `max_bytes`, at least one. Returns how many rows to send and whether more remain.
pub fn cut_page(sizes: &[(u64, usize)], max_bytes: usize, rows_available: bool) -> (usize, bool) {
    let mut total = 0;
    let mut count = 0;
    for (_, size) in sizes {
        if count > 0 && total + size > max_bytes {
            return (count, true);
        }
        total += size;
        count += 1;
    }
    (count, rows_available)
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
    fn pages_fill_up_to_the_limit_and_say_when_more_remain() {
        let rows = [(1, 40), (2, 50), (3, 30)];
        assert_eq!(cut_page(&rows, 100, false), (2, true));
        assert_eq!(cut_page(&rows, 1000, false), (3, false));
        assert_eq!(
            cut_page(&rows, 1000, true),
            (3, true),
            "the query itself was cut short"
        );
        assert_eq!(
            cut_page(&[(1, 5000)], 100, false),
            (1, false),
            "one big change still goes"
        );
        assert_eq!(cut_page(&[], 100, false), (0, false));
    }
}
