//! The store's tables. Migrations are append-only: a store written by any earlier version
//! opens by running the ones it has not seen, in order, each in its own transaction.

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: documents, their change logs, and the indexes the lists and the search read.
    r#"
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- This device's Automerge actor id for each user who has written on it.
    CREATE TABLE actors (
        user_id TEXT PRIMARY KEY,
        actor   BLOB NOT NULL UNIQUE
    );

    -- One row per Automerge document. The document is its snapshot followed by its
    -- changes, in id order.
    CREATE TABLE documents (
        doc_key      TEXT PRIMARY KEY,      -- case:<uuid> or record:<uuid>
        case_id      TEXT NOT NULL,
        snapshot     BLOB,                  -- NULL until the first compaction
        heads        TEXT NOT NULL,         -- current heads, sorted hex, comma-separated
        acked_heads  TEXT NOT NULL DEFAULT '', -- heads the server has acknowledged
        change_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX documents_by_case ON documents (case_id);

    CREATE TABLE changes (
        id      INTEGER PRIMARY KEY,
        doc_key TEXT NOT NULL REFERENCES documents (doc_key) ON DELETE CASCADE,
        bytes   BLOB NOT NULL
    );
    CREATE INDEX changes_by_doc ON changes (doc_key, id);

    CREATE TABLE cases (
        case_id     TEXT PRIMARY KEY,
        client_name TEXT NOT NULL,
        state       TEXT NOT NULL,
        updated_at  INTEGER NOT NULL        -- ms since the epoch, device clock
    );

    CREATE TABLE records (
        record_id      TEXT PRIMARY KEY,
        case_id        TEXT NOT NULL,
        kind           TEXT NOT NULL,
        status         TEXT NOT NULL,
        author         TEXT NOT NULL,
        occurred_start INTEGER,
        due_from       INTEGER NOT NULL,    -- the end of the visit, else its start, else writing began
        writing_began  INTEGER NOT NULL,
        finalised_at   INTEGER,
        updated_at     INTEGER NOT NULL
    );
    CREATE INDEX records_by_case ON records (case_id, due_from);
    CREATE INDEX records_by_status ON records (status, due_from);

    CREATE VIRTUAL TABLE search USING fts5 (
        doc_key UNINDEXED,
        case_id UNINDEXED,
        body,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    "#,
    // 2: the search index's row of each document. FTS5 finds a row fast only by its rowid;
    // looking one up by the unindexed doc_key column scanned the whole index on every edit.
    r#"
    CREATE TABLE search_rows (
        doc_key TEXT PRIMARY KEY,
        row_id  INTEGER NOT NULL UNIQUE
    );
    INSERT INTO search_rows (doc_key, row_id) SELECT doc_key, rowid FROM search;
    "#,
    // 3: the documents waiting to be pushed, found without reading the others. Every sync
    // asks for them; scanning for them read every row, snapshot and all, and a no-op sync
    // on a device holding 100,000 records took 74 ms.
    r#"
    CREATE INDEX documents_unacknowledged ON documents (doc_key) WHERE heads != acked_heads;
    "#,
    // 4: pushes the server refused, with the words the worker wrote that it did not take
    // (JSON: [{"field": label, "text": words}]), kept for the worker to see and reuse;
    // `set_back` when the document was set back to the server's copy.
    r#"
    CREATE TABLE refusals (
        id         INTEGER PRIMARY KEY,
        doc_key    TEXT NOT NULL,
        case_id    TEXT NOT NULL,
        code       TEXT NOT NULL,
        message    TEXT NOT NULL,
        refused_at TEXT NOT NULL,
        set_back   INTEGER NOT NULL,
        texts      TEXT NOT NULL
    );
    CREATE INDEX refusals_by_doc ON refusals (doc_key);
    "#,
    // 5: the search index removes a deleted document's words from its own pages, rather than
    // marking them deleted and keeping them until a merge: a purged case leaves no word. The
    // index is rebuilt once, so that words deleted before this are gone too.
    r#"
    INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
    INSERT INTO search (search) VALUES ('rebuild');
    "#,
    // 6: the review dates of each case's active goals, for the overdue list; whether a case
    // is a client's or a group's, for the caseload. Cases indexed before this are clients':
    // a group is new with this version.
    r#"
    ALTER TABLE cases ADD COLUMN kind TEXT NOT NULL DEFAULT 'client';
    CREATE TABLE goal_reviews (
        case_id     TEXT NOT NULL,
        goal_id     TEXT NOT NULL,
        goal        TEXT NOT NULL,
        review_date TEXT NOT NULL,
        PRIMARY KEY (case_id, goal_id)
    ) WITHOUT ROWID;
    CREATE INDEX goal_reviews_by_date ON goal_reviews (review_date);
    "#,
    // 7: attachments' blobs, in the encrypted store with the notes. A blob's bytes are kept in
    // pieces (`blob_chunks`, by offset), so that a download cut half-way resumes where it
    // stopped; `received` counts what is held, and a blob is whole once that is its size and
    // its hash was checked. `uploaded` once the server holds it whole. `blob_refs`, derived
    // from the documents with the other index rows, says which document refers to which blob
    // (and with which tombstone): what to fetch, what to send, what to let go.
    r#"
    CREATE TABLE blobs (
        hash       TEXT PRIMARY KEY,
        media_type TEXT NOT NULL,
        size       INTEGER NOT NULL,
        received   INTEGER NOT NULL,
        uploaded   INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE blob_chunks (
        hash   TEXT NOT NULL,
        offset INTEGER NOT NULL,
        bytes  BLOB NOT NULL,
        PRIMARY KEY (hash, offset)
    );
    CREATE TABLE blob_refs (
        doc_key    TEXT NOT NULL,
        hash       TEXT NOT NULL,
        case_id    TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size       INTEGER,
        erased     INTEGER NOT NULL,
        PRIMARY KEY (doc_key, hash)
    ) WITHOUT ROWID;
    CREATE INDEX blob_refs_by_hash ON blob_refs (hash);
    "#,
];

/// Brings the schema up to date.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::TooNew {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
