//! Records as they leave the server: a record as a PDF for a court or a client
//! ([`record_pdf`]), read from the server's own copy of the case, which every device's
//! accepted changes reach.
//!
//! The sheet the PDF shows is `doorstep_shared::export`'s: the same record gives the same
//! sheet on any copy of the document, and [`pdf::render`] gives the same bytes for the same
//! sheet.

pub mod archive;
pub mod pdf;
pub mod reports;

use std::collections::BTreeMap;

use doorstep_shared::attachments::Attachment;
use doorstep_shared::document::{Document, DocumentError};
use doorstep_shared::export::{RecordSheet, record_sheet};
use doorstep_shared::{CaseId, DocId, RecordId};

use crate::storage::{Storage, StorageError};

/// The largest picture drawn into a PDF: larger ones are listed, as a document is.
const MAX_PICTURE_BYTES: u64 = 32 * 1024 * 1024;

/// Why an export was not made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The server holds no record of that id.
    #[error("no record {0} on this server")]
    NoSuchRecord(RecordId),
    /// The server holds no case of that id.
    #[error("no case {0} on this server")]
    NoSuchCase(CaseId),
    /// The server has no team of that name.
    #[error("no team {0:?} on this server")]
    NoSuchTeam(String),
    /// The record's case file is not on the server.
    #[error("the case file of record {0} is not on this server")]
    NoCaseFile(RecordId),
    /// A document the server holds does not read.
    #[error("a document does not read: {0}")]
    Document(#[from] DocumentError),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The archive could not be written.
    #[error("the archive could not be written: {0}")]
    Archive(String),
    /// A file could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Typst made no PDF.
    #[error(transparent)]
    Render(#[from] pdf::RenderError),
}

/// A case's documents as the server holds them, loaded from its log.
#[derive(Debug)]
pub struct CaseDocuments {
    /// The case.
    pub case: CaseId,
    /// Each document's changes, in the order they were written, by document key.
    logs: BTreeMap<String, Vec<Vec<u8>>>,
}

impl CaseDocuments {
    /// Reads `case`'s log.
    pub fn load(storage: &dyn Storage, case: CaseId) -> Result<CaseDocuments, StorageError> {
        let mut logs: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for (doc_key, bytes) in storage.case_log(case)? {
            logs.entry(doc_key).or_default().push(bytes);
        }
        Ok(CaseDocuments { case, logs })
    }

    /// The records the case holds.
    pub fn record_ids(&self) -> Vec<RecordId> {
        self.logs
            .keys()
            .filter_map(|key| match key.parse() {
                Ok(DocId::Record(record)) => Some(record),
                _ => None,
            })
            .collect()
    }

    /// The document `doc`, if the case holds it.
    pub fn document(&self, doc: DocId) -> Result<Option<Document>, DocumentError> {
        let Some(log) = self.logs.get(&doc.key()) else {
            return Ok(None);
        };
        let parts: Vec<&[u8]> = log.iter().map(Vec::as_slice).collect();
        Document::load(&[], &parts).map(Some)
    }
}

/// The sheet of `record`, and the record's attachments, from the server's copy.
pub fn sheet(
    storage: &dyn Storage,
    record: RecordId,
) -> Result<(RecordSheet, Vec<Attachment>), ExportError> {
    let doc = DocId::Record(record);
    let case = storage
        .document_case(&doc)?
        .ok_or(ExportError::NoSuchRecord(record))?;
    let documents = CaseDocuments::load(storage, case)?;
    let mut document = documents
        .document(doc)?
        .ok_or(ExportError::NoSuchRecord(record))?;
    let case_file = documents
        .document(DocId::Case(case))?
        .ok_or(ExportError::NoCaseFile(record))?
        .case()?;
    // A record names no other case than its own: its fields name goals and group members,
    // which its case file holds.
    let sheet = record_sheet(&mut document, &case_file, &mut |_: CaseId| None)?;
    Ok((sheet, document.record()?.attachments))
}

/// `record` as a PDF: PDF/A-3b, tagged, with its sheet attached as JSON. Pictures whose
/// bytes the server holds are drawn; if one cannot be drawn in a PDF/A (a CMYK JPEG from a
/// scanner), the PDF is made again listing every attachment rather than failing.
pub fn record_pdf(storage: &dyn Storage, record: RecordId) -> Result<Vec<u8>, ExportError> {
    let (sheet, attachments) = sheet(storage, record)?;
    let json = serde_json::to_vec_pretty(&sheet).expect("a sheet serialises");
    let pictures = pictures(storage, &attachments)?;
    let latest = sheet.latest();
    let ident = format!("doorstep:record:{record}");
    render_with_pictures(
        pdf::Layout::Record(&sheet.kind),
        &json,
        pictures,
        &ident,
        latest,
    )
}

/// Renders, and if a picture cannot be drawn in a PDF/A (a CMYK JPEG from a scanner), renders
/// again listing every attachment rather than failing.
fn render_with_pictures(
    layout: pdf::Layout<'_>,
    json: &[u8],
    pictures: Vec<pdf::Picture>,
    ident: &str,
    latest: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, ExportError> {
    match pdf::render(layout, json, &pictures, ident, latest) {
        Ok(bytes) => Ok(bytes),
        Err(error) if !pictures.is_empty() => {
            tracing::warn!(%ident, %error, "a picture could not be drawn; listing them instead");
            Ok(pdf::render(layout, json, &[], ident, latest)?)
        }
        Err(error) => Err(error.into()),
    }
}

/// The pictures among `attachments` whose bytes the server holds whole.
fn pictures(
    storage: &dyn Storage,
    attachments: &[Attachment],
) -> Result<Vec<pdf::Picture>, StorageError> {
    let mut pictures = Vec::new();
    for (index, attachment) in attachments.iter().enumerate() {
        if !doorstep_shared::export::AttachmentSheet::is_picture(attachment)
            || attachment.size > MAX_PICTURE_BYTES
        {
            continue;
        }
        let extension = match attachment.media_type.as_str() {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            _ => continue,
        };
        let Some(info) = storage.blob_info(&attachment.hash)? else {
            continue;
        };
        if !info.is_whole() || info.erased.is_some() {
            continue;
        }
        let bytes = storage.blob_read(&attachment.hash, 0, info.size)?;
        // The server stored it against its hash; a picture is drawn only as the record names it.
        if doorstep_shared::attachments::BlobHash::of(&bytes) == attachment.hash {
            pictures.push(pdf::Picture {
                index,
                extension,
                bytes,
            });
        }
    }
    Ok(pictures)
}

#[cfg(test)]
mod tests;
