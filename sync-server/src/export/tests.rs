use chrono::{DateTime, Duration, TimeZone, Utc};
use doorstep_shared::document::{Document, Edit, Occurrence, Writer};
use doorstep_shared::export::record_sheet;
use doorstep_shared::model::RecordKind;
use doorstep_shared::{CaseId, RecordId};

use super::pdf;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap() + Duration::minutes(minute)
}

/// A signed record of `kind` with an addendum, as its sheet's JSON.
fn signed(kind: RecordKind) -> (Vec<u8>, DateTime<Utc>) {
    let (worker, supervisor) = (
        Writer::new_device("amara".parse().unwrap()),
        Writer::new_device("grace".parse().unwrap()),
    );
    let case_id = CaseId::random();
    let case = Document::new_case(&worker, case_id, "Mrs Okafor", at(0))
        .unwrap()
        .case()
        .unwrap();
    let occurred = match kind.occasion() {
        Some(_) => Occurrence::between(at(1), at(30)),
        None => Occurrence::default(),
    };
    let mut document =
        Document::new_record(&worker, RecordId::random(), case_id, kind, occurred, at(40)).unwrap();
    let first_narrative = kind
        .template()
        .fields
        .iter()
        .find(|field| field.kind.is_narrative() && !field.review)
        .unwrap();
    document
        .edit(
            &worker,
            &Edit::text(
                first_narrative.name,
                "Line one #not-markup *nor this*\nLine two",
            ),
            at(41),
        )
        .unwrap();
    document.submit(&worker, at(42)).unwrap();
    document.finalise(&supervisor, at(50)).unwrap();
    document
        .add_addendum(&worker, "A correction", "The date was the 3rd.", at(60))
        .unwrap();
    let sheet = record_sheet(&mut document, &case, &mut |_: CaseId| None).unwrap();
    (serde_json::to_vec(&sheet).unwrap(), sheet.latest())
}

#[test]
fn every_kind_of_record_renders_as_a_pdf_a_with_its_sheet_attached() {
    for kind in RecordKind::ALL {
        let (json, latest) = signed(kind);
        let bytes = pdf::render(
            pdf::Layout::Record(kind.as_str()),
            &json,
            &[],
            "doorstep:record:test",
            latest,
        )
        .unwrap_or_else(|error| panic!("{kind:?}: {error}"));
        assert!(bytes.starts_with(b"%PDF-"), "{kind:?}");
        // The conformance claim and the attachment are in the PDF's uncompressed metadata.
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("<pdfaid:part>3</pdfaid:part>"), "{kind:?}");
        assert!(text.contains("record.json"), "{kind:?}");
    }
    assert_eq!(pdf::kinds().count(), RecordKind::ALL.len());
}

#[test]
fn the_same_sheet_gives_the_same_bytes() {
    let (json, latest) = signed(RecordKind::HomeVisit);
    let first = pdf::render(
        pdf::Layout::Record("home_visit"),
        &json,
        &[],
        "doorstep:record:x",
        latest,
    )
    .unwrap();
    let second = pdf::render(
        pdf::Layout::Record("home_visit"),
        &json,
        &[],
        "doorstep:record:x",
        latest,
    )
    .unwrap();
    assert_eq!(first, second);
}

#[test]
fn a_picture_that_is_not_one_is_an_error_not_a_panic() {
    let (json, latest) = signed(RecordKind::HomeVisit);
    // The sheet has no attachments; a picture in the world that no attachment names is
    // never read. One that is named but broken fails the render with Typst's reason.
    let mut sheet: serde_json::Value = serde_json::from_slice(&json).unwrap();
    sheet["attachments"] = serde_json::json!([{
        "kind": "photo", "caption": "stairs", "media_type": "image/jpeg", "size": 4,
        "sha256": "00", "by": "amara", "at": sheet["writing_began"].clone(),
        "signs": null, "erased": null
    }]);
    let json = serde_json::to_vec(&sheet).unwrap();
    let broken = pdf::Picture {
        index: 0,
        extension: "jpg",
        bytes: b"nope".to_vec(),
    };
    let refused = pdf::render(
        pdf::Layout::Record("home_visit"),
        &json,
        &[broken],
        "doorstep:record:x",
        latest,
    );
    assert!(refused.is_err());
    assert!(
        pdf::render(
            pdf::Layout::Record("home_visit"),
            &json,
            &[],
            "doorstep:record:x",
            latest
        )
        .is_ok()
    );
}
