//! Automerge changes no honest device would write, built byte by byte as an attacker would:
//! Automerge's own API would have to hold every operation in memory to write them.
//!
//! The change chunk layout is Automerge's binary format: magic bytes, a checksum (the first
//! four bytes of the SHA-256 of the chunk's type, length and data), the chunk type, the data's
//! length, then the change's header and its operations in columns.

use automerge::{ActorId, ChangeHash};
use sha2::{Digest, Sha256};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHANGE_CHUNK: u8 = 1;

/// One change by `actor` (its `seq`-th, its first operation numbered `start_op`) after
/// `deps`, holding `count` operations that each set the root key `"a"` to null. Run-length
/// encoding makes it a few dozen bytes however large `count` is.
pub fn change_of_operations(
    actor: &ActorId,
    seq: u64,
    start_op: u64,
    deps: &[ChangeHash],
    count: u64,
) -> Vec<u8> {
    let run = |value: &[u8]| {
        let mut column = Vec::new();
        sleb(
            &mut column,
            i64::try_from(count).expect("a count that fits"),
        );
        column.extend_from_slice(value);
        column
    };
    // (column specification, data): the key as a string, never an insert, the action
    // "set" (1), a null value (metadata 0), and no predecessors.
    let columns: [(u64, Vec<u8>); 5] = [
        ((1 << 4) | 5, run(&[1, b'a'])),
        ((3 << 4) | 4, {
            let mut column = Vec::new();
            uleb(&mut column, count);
            column
        }),
        ((4 << 4) | 2, run(&[1])),
        ((5 << 4) | 6, run(&[0])),
        (7 << 4, run(&[0])),
    ];
    let mut data = Vec::new();
    uleb(&mut data, deps.len() as u64);
    for dep in deps {
        data.extend_from_slice(&dep.0);
    }
    let actor = actor.to_bytes();
    uleb(&mut data, actor.len() as u64);
    data.extend_from_slice(actor);
    uleb(&mut data, seq);
    uleb(&mut data, start_op);
    sleb(&mut data, 0); // time
    uleb(&mut data, 0); // message
    uleb(&mut data, 0); // other actors
    uleb(&mut data, columns.len() as u64);
    for (spec, column) in &columns {
        uleb(&mut data, *spec);
        uleb(&mut data, column.len() as u64);
    }
    for (_, column) in &columns {
        data.extend_from_slice(column);
    }
    chunk(CHANGE_CHUNK, &data)
}

/// A chunk of `chunk_type` around `data`, with its checksum.
fn chunk(chunk_type: u8, data: &[u8]) -> Vec<u8> {
    let mut length = Vec::new();
    uleb(&mut length, data.len() as u64);
    let mut hasher = Sha256::new();
    hasher.update([chunk_type]);
    hasher.update(&length);
    hasher.update(data);
    let hash = hasher.finalize();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&hash[..4]);
    out.push(chunk_type);
    out.extend_from_slice(&length);
    out.extend_from_slice(data);
    out
}

fn uleb(out: &mut Vec<u8>, mut value: u64) {
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

fn sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, Change, ROOT, ReadDoc};

    use super::*;

    #[test]
    fn the_forged_change_is_a_real_automerge_change() {
        let actor = ActorId::random();
        let bytes = change_of_operations(&actor, 1, 1, &[], 10);
        let change = Change::try_from(bytes.as_slice()).unwrap();
        assert_eq!(change.len(), 10);
        assert_eq!(change.actor_id(), &actor);
        let mut doc = AutoCommit::new();
        doc.apply_changes([change]).unwrap();
        assert_eq!(doc.get_all(ROOT, "a").unwrap().len(), 10);

        let five_million = change_of_operations(&actor, 1, 1, &[], 5_000_000);
        assert!(five_million.len() < 100, "{} bytes", five_million.len());
    }
}
