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
}

impl Default for PushLimits {
    fn default() -> Self {
        PushLimits {
            max_decoded_bytes: 4 * 1024 * 1024,
            max_operations: 100_000,
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
        let change =
            Change::try_from(&out[start..]).map_err(|error| Unfit::Malformed(error.to_string()))?;
        operations = operations.saturating_add(change.len());
        if operations > limits.max_operations {
            return Err(Unfit::TooLarge(format!(
                "more than {} operations",
                limits.max_operations
            )));
        }
        changes.push(change);
        rest = &rest[header.size + header.data_len..];
    }
    Ok(Inflated {
        bytes: out,
        changes,
    })
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
