//! Bounds on what one push may make the server decode and apply, checked before Automerge
//! applies anything.
//!
//! Automerge inflates a compressed change whole, however large it grows, and applying a
//! change costs time and memory in proportion to its operations, which run-length encoding
//! lets a few bytes declare by the million. So the push's chunks are walked here first: a
//! compressed change is inflated only up to the budget, and the operations are counted
//! while the changes are parsed, before any is applied to a document.

use std::io::Read;

use automerge::Change;

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// A change chunk.
const CHANGE: u8 = 1;
/// A change chunk compressed with DEFLATE.
const COMPRESSED_CHANGE: u8 = 2;

/// How much one document's push may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushLimits {
    /// The changes' size once inflated, in bytes.
    pub max_decoded_bytes: usize,
    /// The operations in all of the changes.
    pub max_operations: usize,
    /// The changes: Automerge's cost of applying them grows with their number, however few
    /// operations each holds.
    pub max_changes: usize,
    /// The actors writing them: each one new to a document makes every later read of it
    /// dearer.
    pub max_actors: usize,
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            max_decoded_bytes: 4 * 1024 * 1024,
            max_operations: 100_000,
            max_changes: 20_000,
            max_actors: 256,
        }
    }
}

/// Why the bytes were not taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Unfit {
    /// They are not Automerge change chunks.
    Malformed(String),
    /// They are over a limit.
    TooLarge(String),
}

/// A push's changes, inflated and parsed.
#[derive(Debug)]
pub struct Inflated {
    /// The changes as uncompressed change chunks, concatenated.
    pub bytes: Vec<u8>,
    /// The changes, in the order they came.
    pub changes: Vec<Change>,
}

/// Walks the chunks of `bytes`, inflating compressed changes within the budget, and parses
/// each change, counting its operations against the limit.
pub fn inflate_within(bytes: &[u8], limits: &PushLimits) -> Result<Inflated, Unfit> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changes = Vec::new();
    let mut operations = 0usize;
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = Header::parse(rest)?;
        let data = &rest[header.size..header.size + header.data_len];
        let start = out.len();
        match header.chunk_type {
            CHANGE => {
                spend(&mut out, data.len(), limits)?;
                out.extend_from_slice(&rest[..header.size + header.data_len]);
            }
            COMPRESSED_CHANGE => {
                let budget = limits.max_decoded_bytes.saturating_sub(out.len());
                let mut inflated = Vec::new();
                flate2::read::DeflateDecoder::new(data)
                    .take(budget as u64 + 1)
                    .read_to_end(&mut inflated)
                    .map_err(|error| Unfit::Malformed(format!("a compressed change: {error}")))?;
                spend(&mut out, inflated.len(), limits)?;
                // The same change uncompressed: the checksum is the uncompressed change's.
                out.extend_from_slice(&MAGIC);
                out.extend_from_slice(&header.checksum);
                out.push(CHANGE);
                write_uleb(&mut out, inflated.len() as u64);
                out.extend_from_slice(&inflated);
            }
            other => {
                return Err(Unfit::Malformed(format!(
                    "chunk type {other}: a push carries changes, not whole documents"
                )));
            }
        }
        // Counted from the change's columns before Automerge reads its operations one by one:
        // a few bytes of run-length encoding can declare millions of them.
        operations = operations.saturating_add(count_operations(&out[start..])?);
        if operations > limits.max_operations {
            return Err(Unfit::TooLarge(format!(
                "more than {} operations",
                limits.max_operations
            )));
        }
        let change =
            Change::try_from(&out[start..]).map_err(|error| Unfit::Malformed(error.to_string()))?;
        changes.push(change);
        if changes.len() > limits.max_changes {
            return Err(Unfit::TooLarge(format!(
                "more than {} changes",
                limits.max_changes
            )));
        }
        rest = &rest[header.size + header.data_len..];
    }
    let actors: std::collections::HashSet<&automerge::ActorId> =
        changes.iter().map(Change::actor_id).collect();
    if actors.len() > limits.max_actors {
        return Err(Unfit::TooLarge(format!(
            "changes by more than {} writers",
            limits.max_actors
        )));
    }
    Ok(Inflated {
        bytes: out,
        changes,
    })
}

/// How many operations an uncompressed change chunk declares, read from the run lengths of
/// its columns (Automerge's binary format: the change's header, its column directory, then
/// the columns): the longest column, so that no column can hide operations the others do
/// not declare.
fn count_operations(chunk: &[u8]) -> Result<usize, Unfit> {
    let malformed = || Unfit::Malformed("a change that does not parse".into());
    let header = Header::parse(chunk)?;
    let mut input = Reader(&chunk[header.size..header.size + header.data_len]);
    let deps = input.uleb().ok_or_else(malformed)?;
    for _ in 0..deps {
        input.take(32).ok_or_else(malformed)?;
    }
    let actor = input.uleb().ok_or_else(malformed)?;
    input.take(actor).ok_or_else(malformed)?;
    input.uleb().ok_or_else(malformed)?; // seq
    input.uleb().ok_or_else(malformed)?; // start_op
    input.uleb().ok_or_else(malformed)?; // time (its sign does not matter here)
    let message = input.uleb().ok_or_else(malformed)?;
    input.take(message).ok_or_else(malformed)?;
    let others = input.uleb().ok_or_else(malformed)?;
    for _ in 0..others {
        let actor = input.uleb().ok_or_else(malformed)?;
        input.take(actor).ok_or_else(malformed)?;
    }
    let columns = input.uleb().ok_or_else(malformed)?;
    let mut directory = Vec::new();
    for _ in 0..columns {
        let spec = input.uleb().ok_or_else(malformed)?;
        let len = input.uleb().ok_or_else(malformed)?;
        directory.push((spec, len));
    }
    let mut count = 0usize;
    for (spec, len) in directory {
        let column = input.take(len).ok_or_else(malformed)?;
        let values = match ColumnType::of(spec) {
            // Raw values are read as the value metadata says, never on their own.
            ColumnType::Value => 0,
            kind => values_in(column, kind).ok_or_else(malformed)?,
        };
        count = count.max(values);
    }
    Ok(count)
}

/// How a column is encoded: the low three bits of its specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    /// Run-length encoded unsigned integers (group counts, actors, integers, value
    /// metadata).
    Unsigned,
    /// Run-length encoded signed integers (delta-encoded counters).
    Signed,
    /// Alternating run lengths of false and true.
    Boolean,
    /// Run-length encoded strings.
    String,
    /// Raw value bytes.
    Value,
}

impl ColumnType {
    fn of(spec: usize) -> ColumnType {
        match spec & 0b111 {
            3 => ColumnType::Signed,
            4 => ColumnType::Boolean,
            5 => ColumnType::String,
            7 => ColumnType::Value,
            _ => ColumnType::Unsigned,
        }
    }
}

/// The number of values in a column. Run-length encoding has runs of one repeated value (a
/// positive count), literal runs (a negative count), and runs of nulls (a zero, then their
/// count); a boolean column is only run lengths.
fn values_in(column: &[u8], kind: ColumnType) -> Option<usize> {
    let mut input = Reader(column);
    let mut total = 0usize;
    let skip_value = |input: &mut Reader<'_>| -> Option<()> {
        match kind {
            ColumnType::Signed => input.sleb().map(drop),
            ColumnType::String => {
                let len = input.uleb()?;
                input.take(len).map(drop)
            }
            _ => input.uleb().map(drop),
        }
    };
    while !input.0.is_empty() {
        if kind == ColumnType::Boolean {
            total = total.checked_add(input.uleb()?)?;
            continue;
        }
        let values = match input.sleb()? {
            0 => input.uleb()?,
            run if run > 0 => {
                skip_value(&mut input)?;
                usize::try_from(run).ok()?
            }
            run => {
                let literals = usize::try_from(run.unsigned_abs()).ok()?;
                for _ in 0..literals {
                    skip_value(&mut input)?;
                }
                literals
            }
        };
        total = total.checked_add(values)?;
    }
    Some(total)
}

/// Reads LEB128 numbers and byte strings off the front of a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken)
    }

    fn uleb(&mut self) -> Option<usize> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return usize::try_from(value).ok();
            }
        }
        None
    }

    fn sleb(&mut self) -> Option<i64> {
        let mut value: i64 = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= i64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift + 7 < 64 && byte & 0x40 != 0 {
                    value |= -1 << (shift + 7);
                }
                return Some(value);
            }
        }
        None
    }
}

/// Checks that `more` bytes fit beside what is already in `out`.
fn spend(out: &mut Vec<u8>, more: usize, limits: &PushLimits) -> Result<(), Unfit> {
    if out.len().saturating_add(more) > limits.max_decoded_bytes {
        return Err(Unfit::TooLarge(format!(
            "more than {} bytes once decoded",
            limits.max_decoded_bytes
        )));
    }
    out.reserve(more);
    Ok(())
}

/// A chunk's header: magic, checksum, type, then the data's length as unsigned LEB128.
struct Header {
    checksum: [u8; 4],
    chunk_type: u8,
    /// The header's own length.
    size: usize,
    data_len: usize,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Header, Unfit> {
        let malformed = |what: &str| Unfit::Malformed(what.to_owned());
        if bytes.len() < 10 || bytes[..4] != MAGIC {
            return Err(malformed("not an Automerge chunk"));
        }
        let checksum = [bytes[4], bytes[5], bytes[6], bytes[7]];
        let chunk_type = bytes[8];
        let mut data_len: u64 = 0;
        for (size, shift) in (10..).zip((0..64).step_by(7)) {
            let byte = *bytes
                .get(size - 1)
                .ok_or_else(|| malformed("a cut chunk header"))?;
            data_len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                let data_len = usize::try_from(data_len)
                    .ok()
                    .filter(|len| bytes.len() - size >= *len)
                    .ok_or_else(|| malformed("a chunk longer than the push"))?;
                return Ok(Header {
                    checksum,
                    chunk_type,
                    size,
                    data_len,
                });
            }
        }
        Err(malformed("a chunk length that does not end"))
    }
}

fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    use super::*;

    fn text_change(text: &str) -> Change {
        let mut doc = AutoCommit::new();
        let obj = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.splice_text(&obj, 0, 0, text).unwrap();
        doc.commit();
        doc.get_changes(&[]).pop().unwrap()
    }

    #[test]
    fn plain_and_compressed_changes_come_out_as_the_same_plain_changes() {
        let mut change = text_change(&"home visit ".repeat(100));
        let plain = change.raw_bytes().to_vec();
        let compressed = change.bytes().into_owned();
        assert!(compressed.len() < plain.len(), "the change is compressed");
        let limits = PushLimits::default();
        let from_plain = inflate_within(&plain, &limits).unwrap();
        let from_compressed = inflate_within(&compressed, &limits).unwrap();
        assert_eq!(from_plain.bytes, plain);
        assert_eq!(from_compressed.bytes, plain);
        assert_eq!(from_compressed.changes[0].hash(), change.hash());
        assert_eq!(from_compressed.changes[0].len(), 1 + 1100);
    }

    #[test]
    fn a_compressed_change_is_inflated_only_up_to_the_budget() {
        let mut change = text_change(&"a".repeat(64 * 1024));
        let compressed = change.bytes().into_owned();
        let limits = PushLimits {
            max_decoded_bytes: 4 * 1024,
            ..PushLimits::default()
        };
        assert!(compressed.len() < limits.max_decoded_bytes);
        assert!(matches!(
            inflate_within(&compressed, &limits),
            Err(Unfit::TooLarge(_))
        ));
    }

    #[test]
    fn operations_are_counted_across_changes() {
        let mut bytes = text_change("abc").raw_bytes().to_vec();
        bytes.extend_from_slice(text_change("def").raw_bytes());
        let limits = PushLimits {
            max_operations: 7,
            ..PushLimits::default()
        };
        assert!(matches!(
            inflate_within(&bytes, &limits),
            Err(Unfit::TooLarge(_))
        ));
        let limits = PushLimits {
            max_operations: 8,
            ..PushLimits::default()
        };
        assert_eq!(inflate_within(&bytes, &limits).unwrap().changes.len(), 2);
    }

    #[test]
    fn operations_are_counted_from_the_columns_as_automerge_counts_them() {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "abcdef").unwrap();
        doc.put(ROOT, "n", 1).unwrap();
        doc.commit();
        doc.splice_text(&text, 2, 3, "XY").unwrap();
        let list = doc.put_object(ROOT, "list", ObjType::List).unwrap();
        for index in 0..300 {
            doc.insert(&list, index, index as i64).unwrap();
        }
        doc.delete(ROOT, "n").unwrap();
        doc.commit();
        for change in doc.get_changes(&[]) {
            assert_eq!(count_operations(change.raw_bytes()), Ok(change.len()));
        }
    }

    #[test]
    fn changes_and_their_writers_are_counted() {
        let bytes: Vec<u8> = (0..5)
            .flat_map(|_| text_change("a").raw_bytes().to_vec())
            .collect();
        let limits = PushLimits {
            max_changes: 4,
            ..PushLimits::default()
        };
        assert!(matches!(
            inflate_within(&bytes, &limits),
            Err(Unfit::TooLarge(_))
        ));
        let limits = PushLimits {
            max_actors: 4,
            ..PushLimits::default()
        };
        assert!(matches!(
            inflate_within(&bytes, &limits),
            Err(Unfit::TooLarge(_))
        ));
        assert_eq!(
            inflate_within(&bytes, &PushLimits::default())
                .unwrap()
                .changes
                .len(),
            5
        );
    }

    #[test]
    fn whole_documents_and_garbage_are_malformed() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "x", 1).unwrap();
        let limits = PushLimits::default();
        assert!(matches!(
            inflate_within(&doc.save(), &limits),
            Err(Unfit::Malformed(_))
        ));
        assert!(matches!(
            inflate_within(b"garbage that is long", &limits),
            Err(Unfit::Malformed(_))
        ));
        let mut cut = text_change("abc").raw_bytes().to_vec();
        cut.truncate(cut.len() - 2);
        assert!(matches!(
            inflate_within(&cut, &limits),
            Err(Unfit::Malformed(_))
        ));
    }
}
