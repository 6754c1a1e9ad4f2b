//! The index rows derived from documents, and the queries the app's lists read.
//!
//! Index rows are rewritten from the document in the same transaction as every change to
//! it, so a list never disagrees with the record it lists.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{Store, StoreError, parse_doc_key};
use crate::document::{Document, IndexedContent};
use crate::ids::{CaseId, DocId, RecordId, UserId};
use crate::model::{CaseState, RecordKind, RecordStatus};

/// A case as the caseload lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    /// The case.
    pub id: CaseId,
    /// The client's name.
    pub client_name: String,
    /// Open, referred, transferred or closed.
    pub state: CaseState,
    /// How many records the case has.
    pub records: u32,
    /// How many of them wait for their author (draft or returned).
    pub awaiting_author: u32,
    /// How many of those are overdue.
    pub overdue: u32,
    /// When the case or one of its records last changed on this device.
    pub updated_at: DateTime<Utc>,
    /// Whether it is a group's rather than a client's.
    pub is_group: bool,
}

/// A record as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSummary {
    /// The record.
    pub id: RecordId,
    /// Its case.
    pub case_id: CaseId,
    /// Its kind.
    pub kind: RecordKind,
    /// Where it is in review.
    pub status: RecordStatus,
    /// Who wrote it.
    pub author: UserId,
    /// When the visit or session began, if recorded.
    pub occurred_start: Option<DateTime<Utc>>,
    /// When it became due: the end of the visit, else its start, else when writing began.
    pub due_from: DateTime<Utc>,
    /// When writing began.
    pub writing_began: DateTime<Utc>,
    /// When it was finalised.
    pub finalised_at: Option<DateTime<Utc>>,
}

/// An active goal whose review date has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalReviewDue {
    /// The goal's case.
    pub case_id: CaseId,
    /// The client's name.
    pub client_name: String,
    /// The goal, as written.
    pub goal: String,
    /// When it was due for review.
    pub review_date: NaiveDate,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The case or record that matched.
    pub doc: DocId,
    /// Its case.
    pub case_id: CaseId,
    /// A few words around the match, with the matched words in `[` `]`.
    pub snippet: String,
}

const RECORD_COLUMNS: &str = "record_id, case_id, kind, status, author, occurred_start, due_from, \
                              writing_began, finalised_at";

impl Store {
    /// Every case on this device with its record counts, by client name.
    pub fn caseload(&self, now: DateTime<Utc>) -> Result<Vec<CaseSummary>, StoreError> {
        let overdue_before = (now - self.overdue_after()?).timestamp_millis();
        let mut statement = self.conn.prepare_cached(
            "SELECT c.case_id, c.client_name, c.state,
                    count(r.record_id),
                    count(r.record_id) FILTER (WHERE r.status IN ('draft', 'returned')),
                    count(r.record_id) FILTER (WHERE r.status IN ('draft', 'returned')
                                               AND r.due_from < ?1),
                    max(c.updated_at, coalesce(max(r.updated_at), 0)),
                    c.kind = 'group'
             FROM cases c LEFT JOIN records r ON r.case_id = c.case_id
             GROUP BY c.case_id
             ORDER BY c.client_name COLLATE NOCASE, c.case_id",
        )?;
        let rows = statement.query_map([overdue_before], |row| {
            Ok(CaseSummary {
                id: parse(row, 0)?,
                client_name: row.get(1)?,
                state: parse_json_enum(row, 2)?,
                records: row.get(3)?,
                awaiting_author: row.get(4)?,
                overdue: row.get(5)?,
                updated_at: time(row.get(6)?),
                is_group: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The records of a case in the order they happened.
    pub fn records_of_case(&self, case: CaseId) -> Result<Vec<RecordSummary>, StoreError> {
        self.records_where(
            "case_id = ?1 ORDER BY due_from, record_id",
            params![case.to_string()],
        )
    }

    /// Records in `status`, oldest first.
    pub fn records_with_status(
        &self,
        status: RecordStatus,
    ) -> Result<Vec<RecordSummary>, StoreError> {
        self.records_where(
            "status = ?1 ORDER BY due_from, record_id",
            params![status.as_str()],
        )
    }

    /// Records still waiting for their author longer than the overdue threshold after the
    /// visit, most overdue first.
    pub fn overdue_records(&self, now: DateTime<Utc>) -> Result<Vec<RecordSummary>, StoreError> {
        let before = (now - self.overdue_after()?).timestamp_millis();
        self.records_where(
            "status IN ('draft', 'returned') AND due_from < ?1 ORDER BY due_from, record_id",
            params![before],
        )
    }

    /// Active goals of open cases whose review date is before `today`, longest overdue first:
    /// a closed, referred or transferred case's goals are no longer reviewed here.
    pub fn overdue_goal_reviews(&self, today: NaiveDate) -> Result<Vec<GoalReviewDue>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT g.case_id, c.client_name, g.goal, g.review_date
             FROM goal_reviews g JOIN cases c ON c.case_id = g.case_id
             WHERE g.review_date < ?1 AND c.state = 'open'
             ORDER BY g.review_date, c.client_name COLLATE NOCASE, g.goal_id",
        )?;
        let rows = statement.query_map([today.to_string()], |row| {
            Ok(GoalReviewDue {
                case_id: parse(row, 0)?,
                client_name: row.get(1)?,
                goal: row.get(2)?,
                review_date: parse(row, 3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Full-text search over every case and record on this device, best matches first.
    /// Each word of `query` matches words that start with it; case and accents are ignored.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let Some(query) = fts_query(query) else {
            return Ok(Vec::new());
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT doc_key, case_id, snippet(search, 2, '[', ']', '…', 12)
             FROM search WHERE search MATCH ?1 ORDER BY rank LIMIT ?2",
        )?;
        let rows = statement.query_map(params![query, limit as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get(2)?,
            ))
        })?;
        let mut hits = Vec::new();
        for row in rows {
            let (doc, case_id, snippet) = row?;
            hits.push(SearchHit {
                doc: parse_doc_key(&doc)?,
                case_id: case_id
                    .parse()
                    .map_err(|_| StoreError::Corrupt("bad case id in the search index".into()))?,
                snippet,
            });
        }
        Ok(hits)
    }

    fn records_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<RecordSummary>, StoreError> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE {condition}");
        let mut statement = self.conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params, record_summary)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Rewrites the index rows of one document from its current content.
pub(super) fn reindex(
    tx: &Transaction<'_>,
    doc: DocId,
    document: &Document,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = now.timestamp_millis();
    let view = document.index_view()?;
    let case_id = match view.content {
        IndexedContent::Case(case) => {
            tx.execute(
                "INSERT INTO cases (case_id, client_name, state, updated_at, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (case_id) DO UPDATE SET client_name = excluded.client_name,
                     state = excluded.state, updated_at = excluded.updated_at,
                     kind = excluded.kind",
                params![
                    case.id.to_string(),
                    case.profile.client_name,
                    case.status.state.as_str(),
                    now,
                    match case.kind {
                        crate::model::CaseKind::Client => "client",
                        crate::model::CaseKind::Group => "group",
                    }
                ],
            )?;
            tx.execute(
                "DELETE FROM goal_reviews WHERE case_id = ?1",
                [case.id.to_string()],
            )?;
            for goal in &case.profile.goals {
                if let (crate::model::GoalState::Active, Some(review)) =
                    (goal.state, goal.review_date)
                {
                    tx.execute(
                        "INSERT INTO goal_reviews (case_id, goal_id, goal, review_date)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![
                            case.id.to_string(),
                            goal.id.to_string(),
                            goal.goal,
                            review.to_string()
                        ],
                    )?;
                }
            }
            case.id
        }
        IndexedContent::Record(record) => {
            tx.execute(
                "INSERT INTO records (record_id, case_id, kind, status, author, occurred_start,
                                      due_from, writing_began, finalised_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (record_id) DO UPDATE SET status = excluded.status,
                     occurred_start = excluded.occurred_start, due_from = excluded.due_from,
                     finalised_at = excluded.finalised_at, updated_at = excluded.updated_at",
                params![
                    record.id.to_string(),
                    record.case_id.to_string(),
                    record.kind().as_str(),
                    record.status.as_str(),
                    record.author.as_str(),
                    record.occurred_start.map(|t| t.timestamp_millis()),
                    record.due_from().timestamp_millis(),
                    record.writing_began.timestamp_millis(),
                    record.finalised_at.map(|t| t.timestamp_millis()),
                    now,
                ],
            )?;
            record.case_id
        }
    };
    super::blobs::reindex_refs(tx, doc, case_id, document)?;
    let row_id: Option<i64> = tx
        .query_row(
            "SELECT row_id FROM search_rows WHERE doc_key = ?1",
            [doc.key()],
            |row| row.get(0),
        )
        .optional()?;
    match row_id {
        Some(row_id) => {
            tx.execute("DELETE FROM search WHERE rowid = ?1", [row_id])?;
            tx.execute(
                "INSERT INTO search (rowid, doc_key, case_id, body) VALUES (?1, ?2, ?3, ?4)",
                params![row_id, doc.key(), case_id.to_string(), view.text],
            )?;
        }
        None => {
            tx.execute(
                "INSERT INTO search (doc_key, case_id, body) VALUES (?1, ?2, ?3)",
                params![doc.key(), case_id.to_string(), view.text],
            )?;
            tx.execute(
                "INSERT INTO search_rows (doc_key, row_id) VALUES (?1, ?2)",
                params![doc.key(), tx.last_insert_rowid()],
            )?;
        }
    }
    Ok(())
}

/// Turns what a worker typed into an FTS5 query: every word must match the start of a word.
/// Quoting each word keeps FTS5's operators (`AND`, `NEAR`, `"`...) from being interpreted.
fn fts_query(typed: &str) -> Option<String> {
    let words: Vec<String> = typed
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{word}\"*"))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

fn record_summary(row: &Row<'_>) -> rusqlite::Result<RecordSummary> {
    Ok(RecordSummary {
        id: parse(row, 0)?,
        case_id: parse(row, 1)?,
        kind: parse(row, 2)?,
        status: parse(row, 3)?,
        author: parse(row, 4)?,
        occurred_start: row.get::<_, Option<i64>>(5)?.map(time),
        due_from: time(row.get(6)?),
        writing_began: time(row.get(7)?),
        finalised_at: row.get::<_, Option<i64>>(8)?.map(time),
    })
}

fn parse<T: std::str::FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

fn parse_json_enum<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_value(serde_json::Value::String(text)).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

fn time(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn typed_words_become_quoted_prefix_queries() {
        assert_eq!(fts_query("food bank").unwrap(), "\"food\"* \"bank\"*");
        assert_eq!(
            fts_query("\"NEAR(a b)\" OR x-").unwrap(),
            "\"NEAR\"* \"a\"* \"b\"* \"OR\"* \"x\"*"
        );
        assert_eq!(fts_query("  -- "), None);
    }
}
