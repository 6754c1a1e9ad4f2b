//! Typst as a library: a [`World`] that serves the embedded templates, the embedded fonts and
//! the record's own data, and nothing else: no file from the disk, no package from the
//! network, no clock. The same record gives the same bytes.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The templates every layout imports, by their path in the world.
const LIBRARY_TEMPLATES: [(&str, &str); 3] = [
    ("/common.typ", include_str!("templates/common.typ")),
    ("/record.typ", include_str!("templates/record.typ")),
    ("/case_file.typ", include_str!("templates/case_file.typ")),
];

/// One template per kind of record, by the kind's key.
const KIND_TEMPLATES: [(&str, &str); 6] = [
    ("home_visit", include_str!("templates/home_visit.typ")),
    (
        "process_recording",
        include_str!("templates/process_recording.typ"),
    ),
    ("case_note", include_str!("templates/case_note.typ")),
    ("group_session", include_str!("templates/group_session.typ")),
    (
        "closing_summary",
        include_str!("templates/closing_summary.typ"),
    ),
    (
        "handover_summary",
        include_str!("templates/handover_summary.typ"),
    ),
];

/// The fonts Typst ships (Libertinus Serif for the text, DejaVu Sans Mono for the hashes),
/// read once.
static FONTS: LazyLock<(LazyHash<FontBook>, Vec<Font>)> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    (LazyHash::new(FontBook::from_fonts(&fonts)), fonts)
});

static LIBRARY: LazyLock<LazyHash<Library>> = LazyLock::new(|| LazyHash::new(Library::default()));

/// A picture an attachment shows, by its place among the record's attachments.
pub struct Picture {
    /// Its place in the sheet's attachments.
    pub index: usize,
    /// `jpg` or `png`.
    pub extension: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What is being laid out.
#[derive(Debug, Clone, Copy)]
pub enum Layout<'a> {
    /// A record of this kind (`home_visit`...), its sheet at `/record.json`.
    Record(&'a str),
    /// A case file, its sheet at `/case-file.json`.
    CaseFile,
}

impl std::fmt::Debug for Picture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Picture({}, {} bytes)", self.index, self.bytes.len())
    }
}

/// Why Typst made no PDF, in its own words.
#[derive(Debug, thiserror::Error)]
#[error("the record's template failed: {0}")]
pub struct RenderError(pub String);

/// The world a record is rendered in.
struct RecordWorld {
    main: FileId,
    sources: HashMap<FileId, Source>,
    files: HashMap<FileId, Bytes>,
}

/// The file id of `path` in the project. Paths are fixed (a picture is named by its place),
/// so the ids Typst interns for the life of the process stay few.
fn file_id(path: &str) -> FileId {
    RootedPath::new(
        VirtualRoot::Project,
        VirtualPath::new(path).expect("the export's paths are valid"),
    )
    .intern()
}

impl World for RecordWorld {
    fn library(&self) -> &LazyHash<Library> {
        &LIBRARY
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.0
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.sources
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.vpath().get_with_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        match (self.files.get(&id), self.sources.get(&id)) {
            (Some(bytes), _) => Ok(bytes.clone()),
            (None, Some(source)) => Ok(Bytes::from_string(source.text().to_owned())),
            (None, None) => Err(FileError::NotFound(id.vpath().get_with_slash().into())),
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.1.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // A record's PDF says nothing of the day it was made: the same record, the same bytes.
        None
    }
}

/// The PDF of a sheet's JSON in `layout`: PDF/A-3b, tagged, with the JSON attached. `ident`
/// names the document (its record's or case's id) and `latest` dates it.
pub fn render(
    layout: Layout<'_>,
    sheet_json: &[u8],
    pictures: &[Picture],
    ident: &str,
    latest: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    let (main_path, main_text, sheet_path) = match layout {
        Layout::Record(kind) => {
            let template = KIND_TEMPLATES
                .iter()
                .find(|(key, _)| *key == kind)
                .map(|(_, text)| *text)
                .ok_or_else(|| RenderError(format!("no template for {kind:?}")))?;
            (format!("/{kind}.typ"), template, "/record.json")
        }
        Layout::CaseFile => (
            "/case_file.typ".to_owned(),
            LIBRARY_TEMPLATES[2].1,
            "/case-file.json",
        ),
    };
    let main = file_id(&main_path);
    let mut sources: HashMap<FileId, Source> = LIBRARY_TEMPLATES
        .iter()
        .map(|(path, text)| {
            let id = file_id(path);
            (id, Source::new(id, (*text).to_owned()))
        })
        .collect();
    sources.insert(main, Source::new(main, main_text.to_owned()));
    let mut files = HashMap::from([(file_id(sheet_path), Bytes::new(sheet_json.to_vec()))]);
    let slots = pictures.iter().map(|picture| picture.index + 1).max();
    let mut paths = vec![serde_json::Value::Null; slots.unwrap_or(0)];
    for picture in pictures {
        let path = format!("/pictures/{}.{}", picture.index, picture.extension);
        files.insert(file_id(&path), Bytes::new(picture.bytes.clone()));
        paths[picture.index] = serde_json::Value::String(path);
    }
    let paths = serde_json::to_vec(&paths).expect("paths serialise");
    files.insert(file_id("/pictures.json"), Bytes::new(paths));
    let world = RecordWorld {
        main,
        sources,
        files,
    };
    let document = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(|errors| RenderError(describe(&world, &errors)))?;
    let options = PdfOptions {
        ident: Smart::Custom(ident.to_owned()),
        creator: Smart::Custom(Some("Doorstep".to_owned())),
        timestamp: datetime(latest).map(Timestamp::new_utc),
        page_ranges: None,
        standards: PdfStandards::new(&[PdfStandard::A_3b])
            .map_err(|error| RenderError(error.message().to_string()))?,
        tagged: true,
        pretty: false,
    };
    let pdf = typst_pdf::pdf(&document, &options)
        .map_err(|errors| RenderError(describe(&world, &errors)));
    // Typst keeps what it computed for reuse; a server renders many different records, so
    // what went unused for a few renders goes.
    typst::comemo::evict(10);
    pdf
}

fn datetime(at: DateTime<Utc>) -> Option<Datetime> {
    Datetime::from_ymd_hms(
        at.year(),
        u8::try_from(at.month()).ok()?,
        u8::try_from(at.day()).ok()?,
        u8::try_from(at.hour()).ok()?,
        u8::try_from(at.minute()).ok()?,
        u8::try_from(at.second()).ok()?,
    )
}

/// Typst's errors, each with the template and line it points at.
fn describe(world: &RecordWorld, errors: &[SourceDiagnostic]) -> String {
    errors
        .iter()
        .map(|error| {
            let place = error.span.id().and_then(|id| {
                let source = world.source(id).ok()?;
                let range = world.range(error.span)?;
                let line = source.lines().byte_to_line(range.start)? + 1;
                Some(format!("{}:{line}: ", id.vpath().get_with_slash()))
            });
            format!("{}{}", place.unwrap_or_default(), error.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The kinds a template exists for.
#[cfg(test)]
pub(crate) fn kinds() -> impl Iterator<Item = &'static str> {
    KIND_TEMPLATES.iter().map(|(kind, _)| *kind)
}
