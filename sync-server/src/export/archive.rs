//! A case for a subject access request (GDPR Art. 15): one zip holding the case file and
//! every record, each as a PDF and as JSON against `docs/export-schema.json`, the
//! attachments, the schema itself, a README for whoever opens it, and a manifest with each
//! file's SHA-256.
//!
//! Third parties can be redacted: every name given is replaced in every sheet before it is
//! rendered or written, so the PDFs, the JSON and the file names all lack it. A scanned
//! document attached to a record may name anyone, and its words cannot be redacted: while
//! names are being redacted, such documents are withheld and listed in the manifest for a
//! person to review. The manifest does not list the names redacted.

use std::collections::BTreeMap;
use std::io::{Seek, Write};

use doorstep_shared::attachments::{Attachment, BlobHash, STROKES_MEDIA_TYPE};
use doorstep_shared::export::redact::Redaction;
use doorstep_shared::export::{CaseSheet, case_sheet, record_sheet};
use doorstep_shared::{CaseId, DocId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use super::{CaseDocuments, ExportError, pdf, pictures, render_with_pictures};
use crate::storage::Storage;

/// The schema of the archive's manifest.
pub const ARCHIVE_SCHEMA: &str = "urn:doorstep:export:archive:1";

/// The published schema, copied into every archive.
const SCHEMA_FILE: &str = include_str!("../../../docs/export-schema.json");

/// One file of the archive.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestFile {
    /// Its path in the archive.
    pub path: String,
    /// The SHA-256 of its bytes.
    pub sha256: String,
    /// Its length.
    pub bytes: u64,
}

/// An attachment not in the archive, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Withheld {
    /// The attachment's SHA-256.
    pub sha256: String,
    /// Why it is not here.
    pub reason: String,
}

/// What the archive holds: `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// [`ARCHIVE_SCHEMA`].
    pub schema: &'static str,
    /// The case.
    pub case: String,
    /// How many names were redacted (never which).
    pub names_redacted: usize,
    /// Every other file, with its hash.
    pub files: Vec<ManifestFile>,
    /// Attachments left out.
    pub withheld: Vec<Withheld>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Records in it.
    pub records: usize,
    /// Attachments' files in it (a signature's strokes count apart from its picture).
    pub attachments: usize,
    /// Attachments withheld.
    pub withheld: usize,
}

/// Writes the archive of `case` to `out`, redacting `redaction`'s names.
pub fn case_archive<W: Write + Seek>(
    storage: &dyn Storage,
    case: CaseId,
    redaction: &Redaction,
    out: W,
) -> Result<ArchiveSummary, ExportError> {
    let documents = CaseDocuments::load(storage, case)?;
    let mut case_document = documents
        .document(DocId::Case(case))?
        .ok_or(ExportError::NoSuchCase(case))?;
    let case_file = case_document.case()?;
    let no_other_cases = &mut |_: CaseId| None;
    let mut zip = Archive::new(out);

    // The case file.
    let sheet = case_sheet(&mut case_document, no_other_cases)?;
    let latest = sheet.latest();
    let case_attachments = case_file.attachments.clone();
    let json = redacted_json(&sheet, redaction);
    let case_pictures = pictures(storage, &case_attachments)?;
    let case_pdf = render_with_pictures(
        pdf::Layout::CaseFile,
        &json,
        case_pictures,
        &format!("doorstep:case:{case}"),
        latest,
    )?;
    zip.add("case-file.pdf", &case_pdf)?;
    zip.add("case-file.json", &json)?;
    let mut attachments: BTreeMap<BlobHash, Attachment> = case_attachments
        .into_iter()
        .map(|attachment| (attachment.hash, attachment))
        .collect();

    // Every record, oldest first.
    let mut records = Vec::new();
    for doc in documents.record_ids() {
        let mut document = documents
            .document(DocId::Record(doc))?
            .expect("listed by the case's log");
        let record = document.record()?;
        let sheet = record_sheet(&mut document, &case_file, no_other_cases)?;
        let day = record.occurred_start.unwrap_or(record.writing_began);
        records.push((day, doc, sheet, record.attachments));
    }
    records.sort_by_key(|(day, id, _, _)| (*day, *id));
    for (day, id, sheet, record_attachments) in &records {
        let json = redacted_json(sheet, redaction);
        let name = format!(
            "records/{}-{}-{}",
            day.format("%Y-%m-%d"),
            sheet.kind.replace('_', "-"),
            &id.to_string()[..8]
        );
        let pdf = render_with_pictures(
            pdf::Layout::Record(&sheet.kind),
            &json,
            pictures(storage, record_attachments)?,
            &format!("doorstep:record:{id}"),
            sheet.latest(),
        )?;
        zip.add(&format!("{name}.pdf"), &pdf)?;
        zip.add(&format!("{name}.json"), &json)?;
        for attachment in record_attachments {
            attachments.insert(attachment.hash, attachment.clone());
        }
    }

    // The attachments' bytes, once each, with a signature's strokes beside its picture.
    let mut withheld = Vec::new();
    let mut included = 0;
    let blobs: BTreeMap<BlobHash, (String, &Attachment)> = attachments
        .values()
        .flat_map(|attachment| {
            let strokes = attachment
                .strokes
                .map(|hash| (hash, (STROKES_MEDIA_TYPE.to_owned(), attachment)));
            std::iter::once((attachment.hash, (attachment.media_type.clone(), attachment)))
                .chain(strokes)
        })
        .collect();
    for (hash, (media_type, attachment)) in &blobs {
        if let Some(reason) = withhold(storage, *hash, media_type, attachment, redaction)? {
            withheld.push(Withheld {
                sha256: hash.to_string(),
                reason,
            });
            continue;
        }
        let info = storage.blob_info(hash)?.expect("checked by withhold");
        let bytes = storage.blob_read(hash, 0, info.size)?;
        if BlobHash::of(&bytes) != *hash {
            withheld.push(Withheld {
                sha256: hash.to_string(),
                reason: "the server's copy does not match its hash".into(),
            });
            continue;
        }
        zip.add(
            &format!("attachments/{hash}.{}", extension(media_type)),
            &bytes,
        )?;
        included += 1;
    }

    zip.add("export-schema.json", SCHEMA_FILE.as_bytes())?;
    zip.add(
        "README.txt",
        readme(&sheet, records.len(), !redaction.is_empty()).as_bytes(),
    )?;
    let manifest = Manifest {
        schema: ARCHIVE_SCHEMA,
        case: case.to_string(),
        names_redacted: redaction.names().count(),
        files: zip.files.clone(),
        withheld,
    };
    let summary = ArchiveSummary {
        records: records.len(),
        attachments: included,
        withheld: manifest.withheld.len(),
    };
    let manifest = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
    zip.add("manifest.json", &manifest)?;
    zip.finish()?;
    Ok(summary)
}

/// Why a blob of `attachment` stays out, if it does.
fn withhold(
    storage: &dyn Storage,
    hash: BlobHash,
    media_type: &str,
    attachment: &Attachment,
    redaction: &Redaction,
) -> Result<Option<String>, ExportError> {
    if let Some(erasure) = &attachment.erased {
        return Ok(Some(format!("erased: {}", erasure.describe())));
    }
    if !redaction.is_empty() && media_type == "application/pdf" {
        return Ok(Some(
            "a document may name the people being redacted, and its words cannot be: review \
             it by hand"
                .into(),
        ));
    }
    Ok(match storage.blob_info(&hash)? {
        Some(info) if info.is_whole() => None,
        Some(info) if info.erased.is_some() => Some("erased".into()),
        _ => Some("its bytes have not reached the server from the device that attached it".into()),
    })
}

fn extension(media_type: &str) -> &'static str {
    match media_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/pdf" => "pdf",
        STROKES_MEDIA_TYPE => "strokes.json",
        _ => "bin",
    }
}

/// A sheet as JSON, with the names redacted from its words.
fn redacted_json(sheet: &impl Serialize, redaction: &Redaction) -> Vec<u8> {
    let mut value = serde_json::to_value(sheet).expect("a sheet serialises");
    redaction.json(&mut value);
    serde_json::to_vec_pretty(&value).expect("a sheet serialises")
}

/// What the person opening the archive reads first.
fn readme(case: &CaseSheet, records: usize, redacted: bool) -> String {
    let redaction = if redacted {
        "\nThe names of other people have been replaced by [redacted] in every file. Documents \
         attached to the records (letters, scans) are not included while names are redacted: \
         manifest.json lists them.\n"
    } else {
        ""
    };
    format!(
        "This archive holds the case file of case {case_id} and its {records} records, as \
         the agency's Doorstep server holds them.\n\
         \n\
         case-file.pdf, case-file.json   the case file\n\
         records/                        each record as a PDF and as JSON, named by its date\n\
         attachments/                    photos, signatures and documents, named by SHA-256\n\
         export-schema.json              the schema the JSON files follow\n\
         manifest.json                   every file with its SHA-256\n\
         {redaction}\n\
         Each record's PDF shows the record as signed, then its addenda, attachments, review,\n\
         timeliness and history. The footer of every page carries the SHA-256 of what was\n\
         signed and of each addendum, so a copy can be checked against the agency's record.\n",
        case_id = case.case,
    )
}

/// A zip being written, remembering each file's hash for the manifest.
struct Archive<W: Write + Seek> {
    zip: zip::ZipWriter<W>,
    files: Vec<ManifestFile>,
}

impl<W: Write + Seek> Archive<W> {
    fn new(out: W) -> Self {
        Archive {
            zip: zip::ZipWriter::new(out),
            files: Vec::new(),
        }
    }

    /// Adds a file. Every entry has the same time and permissions, so the same case gives
    /// the same archive.
    fn add(&mut self, path: &str, bytes: &[u8]) -> Result<(), ExportError> {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::DEFAULT)
            .unix_permissions(0o600);
        self.zip.start_file(path, options).map_err(zip_error)?;
        self.zip.write_all(bytes)?;
        if path != "manifest.json" {
            self.files.push(ManifestFile {
                path: path.to_owned(),
                sha256: hex::encode(Sha256::digest(bytes)),
                bytes: bytes.len() as u64,
            });
        }
        Ok(())
    }

    fn finish(self) -> Result<W, ExportError> {
        self.zip.finish().map_err(zip_error)
    }
}

fn zip_error(error: zip::result::ZipError) -> ExportError {
    ExportError::Archive(error.to_string())
}
