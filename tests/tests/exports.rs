//! A record as a PDF, end to end against the real server: made by `GET
//! /v1/records/{id}/pdf` and by `admin export record`, read back with Debian's poppler tools
//! (`pdftotext`, `pdfinfo`, `pdfdetach`, `pdfimages`, `pdftoppm`) as a court's clerk would
//! open it; and who may have it, as a modified client with a real token would ask.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use doorstep_shared::attachments::capture::{Strokes, prepare_photo};
use doorstep_shared::attachments::{AttachmentDraft, AttachmentKind};
use doorstep_shared::document::Edit;
use doorstep_shared::export::{addendum_sha256, signed_heads_sha256};
use doorstep_shared::{CaseId, RecordId};
use doorstep_tests::{Device, ServerProcess};

/// Runs a poppler tool and returns what it printed; fails the test with its error.
fn poppler(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{tool} is needed (Debian's poppler-utils): {error}"));
    assert!(
        output.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Text with every run of white space as one space: a PDF's lines break where its layout
/// chose.
fn flowing(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where screenshots of pages go, beside the browser tests' own.
fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let folder = target.join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

async fn get_pdf(server: &ServerProcess, record: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let mut request =
        reqwest::Client::new().get(format!("{}/v1/records/{record}/pdf", server.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// A photo, as the app stores one: drawn, then downscaled and re-encoded as a JPEG.
fn photo() -> (Vec<u8>, AttachmentDraft) {
    let drawing = Strokes {
        pad: (400.0, 300.0),
        strokes: vec![
            vec![(20.0, 280.0), (380.0, 20.0)],
            vec![(20.0, 20.0), (380.0, 280.0)],
        ],
    };
    let png = drawing.to_png(800).unwrap();
    let jpeg = prepare_photo(&png.bytes, 2048).unwrap();
    let draft = AttachmentDraft {
        kind: AttachmentKind::Photo,
        media_type: jpeg.media_type.into(),
        dimensions: Some((jpeg.width, jpeg.height)),
        caption: "Loose stair rail".into(),
        signs: None,
    };
    (jpeg.bytes, draft)
}

/// Amara's home visit on Mrs Okafor's case, with a photo, submitted; signed by Grace;
/// then an addendum by Amara. Every device synced.
async fn signed_visit(server: &ServerProcess) -> (Device, Device, CaseId, RecordId) {
    let mut amara = Device::sign_in(server, "amara").await.unwrap();
    let case = amara.store.create_case("Mrs Okafor", Utc::now()).unwrap();
    let record = amara
        .record_with_plan(case, doorstep_shared::model::RecordKind::HomeVisit, "")
        .unwrap();
    for (field, text) in [
        (
            "observed_home",
            "The stair rail at the top is loose; the heater works.",
        ),
        ("assessment", "Coping well; worried about falls at night."),
        ("plan", "Ask the landlord to fix the rail within the week."),
    ] {
        amara
            .store
            .edit(record, &Edit::text(field, text), Utc::now())
            .unwrap();
    }
    let (bytes, draft) = photo();
    amara
        .store
        .attach(record, &bytes, &draft, Utc::now())
        .unwrap();
    amara.sync().await.unwrap();
    amara.client.sync_blobs(&mut amara.store).await.unwrap();

    let (status, draft_pdf) = get_pdf(server, &record.to_string(), amara.client.token()).await;
    assert_eq!(status, 200);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &draft_pdf).unwrap();
    let text = flowing(&poppler("pdftotext", &[file.path().to_str().unwrap(), "-"]));
    assert!(text.contains("This record has not been signed."), "{text}");

    amara.store.submit(record, Utc::now()).unwrap();
    amara.sync().await.unwrap();
    let mut grace = Device::sign_in(server, "grace").await.unwrap();
    grace.sync().await.unwrap();
    grace.store.finalise(record, Utc::now()).unwrap();
    grace.sync().await.unwrap();
    amara.sync().await.unwrap();
    amara
        .store
        .add_addendum(
            record,
            "The next visit's date was left out",
            "Next visit: Monday 9 March, with the landlord.",
            Utc::now(),
        )
        .unwrap();
    amara.sync().await.unwrap();
    grace.sync().await.unwrap();
    (amara, grace, case, record)
}

#[tokio::test]
async fn a_signed_records_pdf_holds_every_field_addendum_and_hash_and_is_the_same_every_time() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("grace", "supervisor")])
        .unwrap();
    let (mut amara, grace, _case, record) = signed_visit(&server).await;
    let id = record.to_string();

    let (status, pdf) = get_pdf(&server, &id, grace.client.token()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&pdf));
    let (_, again) = get_pdf(&server, &id, amara.client.token()).await;
    assert_eq!(pdf, again, "two exports of the same record differ");
    let through_the_client = grace.client.record_pdf(record).await.unwrap();
    assert_eq!(through_the_client, pdf);
    let folder = tempfile::TempDir::new().unwrap();
    let exported = folder.path().join("record.pdf");
    server
        .admin(
            &[
                "admin",
                "export",
                "record",
                &id,
                "--to",
                exported.to_str().unwrap(),
            ],
            "",
        )
        .unwrap();
    assert_eq!(std::fs::read(&exported).unwrap(), pdf);
    assert!(
        server
            .admin(
                &[
                    "admin",
                    "export",
                    "record",
                    &id,
                    "--to",
                    exported.to_str().unwrap()
                ],
                "",
            )
            .is_err(),
        "an export must not overwrite a file"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&exported).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the export is readable by others: {mode:o}"
        );
    }
    let path = exported.to_str().unwrap();

    // Every field, the addendum, and the hashes, as the device computes them on its own copy.
    let text = poppler("pdftotext", &[path, "-"]);
    let flowing_text = flowing(&text);
    let signed = amara.store.record(record).unwrap();
    for expected in [
        "Home visit: Mrs Okafor",
        "The stair rail at the top is loose; the heater works.",
        "Coping well; worried about falls at night.",
        "Ask the landlord to fix the rail within the week.",
        "The record as signed",
        "by grace",
        "The next visit's date was left out",
        "Next visit: Monday 9 March, with the landlord.",
        "Loose stair rail",
        "Approved",
        "Writing began",
        "Signed by grace",
        "Addendum added by amara",
    ] {
        assert!(
            flowing_text.contains(expected),
            "no {expected:?} in:\n{text}"
        );
    }
    let heads: Vec<automerge::ChangeHash> = signed
        .signoff
        .as_ref()
        .expect("signed")
        .heads
        .iter()
        .map(|head| head.parse().unwrap())
        .collect();
    let unbroken: String = text.split_whitespace().collect();
    let heads_hash = signed_heads_sha256(&heads);
    let addendum_hash = addendum_sha256(&signed.addenda[0]);
    assert!(
        unbroken.contains(&heads_hash),
        "no signed heads hash {heads_hash}"
    );
    assert!(
        unbroken.contains(&addendum_hash),
        "no addendum hash {addendum_hash}"
    );
    // In the footer of every page: once per page at least.
    let pages: usize = poppler("pdfinfo", &[path])
        .lines()
        .find_map(|line| line.strip_prefix("Pages:"))
        .and_then(|pages| pages.trim().parse().ok())
        .unwrap();
    assert!(unbroken.matches(&heads_hash).count() >= pages);

    // PDF/A-3b, tagged for screen readers.
    let info = poppler("pdfinfo", &[path]);
    let tagged = info
        .lines()
        .find_map(|line| line.strip_prefix("Tagged:"))
        .map(str::trim);
    assert_eq!(tagged, Some("yes"), "{info}");
    let meta = poppler("pdfinfo", &["-meta", path]);
    assert!(meta.contains("<pdfaid:part>3</pdfaid:part>"), "{meta}");
    assert!(
        meta.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "{meta}"
    );

    // The record as data, attached, valid against the published schema.
    let listed = poppler("pdfdetach", &["-list", path]);
    assert!(listed.contains("record.json"), "{listed}");
    let json_path = folder.path().join("record.json");
    poppler(
        "pdfdetach",
        &["-save", "1", "-o", json_path.to_str().unwrap(), path],
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/export-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["record"], id);
    assert_eq!(json["signed"]["heads_sha256"], heads_hash);
    assert_eq!(json["addenda"][0]["sha256"], addendum_hash);

    // The photo is drawn, not only listed.
    let images = poppler("pdfimages", &["-list", path]);
    assert!(
        images.lines().count() > 2,
        "no picture in the PDF:\n{images}"
    );

    // Each page as a picture, for a reader to look at.
    let prefix = screenshots().join("export-record");
    poppler(
        "pdftoppm",
        &["-r", "70", "-png", path, prefix.to_str().unwrap()],
    );
    let shots = std::fs::read_dir(screenshots())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("export-record")
        })
        .count();
    assert!(shots >= pages, "{shots} screenshots for {pages} pages");

    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("record_exported"), "{audit}");
}

#[tokio::test]
async fn only_the_cases_team_has_a_records_pdf_and_others_cannot_tell_it_exists() {
    let server = ServerProcess::start().unwrap();
    server
        .team(
            "north",
            &[
                ("amara", "worker"),
                ("grace", "supervisor"),
                ("ben", "colleague"),
            ],
        )
        .unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let (_amara, _grace, _case, record) = signed_visit(&server).await;
    let id = record.to_string();

    let ben = Device::sign_in(&server, "ben").await.unwrap();
    let (status, _) = get_pdf(&server, &id, ben.client.token()).await;
    assert_eq!(status, 200, "a colleague on the case's team may have it");

    let (status, _) = get_pdf(&server, &id, None).await;
    assert_eq!(status, 401);
    let (status, _) = get_pdf(&server, &id, Some("not-a-token")).await;
    assert_eq!(status, 401);

    // Another team's worker, with a real token: answered as for a record that does not
    // exist, body and all.
    let zed = Device::sign_in(&server, "zed").await.unwrap();
    let (status, refused) = get_pdf(&server, &id, zed.client.token()).await;
    assert_eq!(status, 404);
    let (status, unknown) =
        get_pdf(&server, &RecordId::random().to_string(), zed.client.token()).await;
    assert_eq!(status, 404);
    assert_eq!(refused, unknown);
    assert!(String::from_utf8_lossy(&refused).contains("record_not_found"));
    let (status, _) = get_pdf(&server, "../../etc/passwd", zed.client.token()).await;
    assert_eq!(status, 404);

    // A device signed out by the administrator has nothing more.
    server
        .admin(&["admin", "device", "revoke", &ben.device_id], "")
        .unwrap();
    let (status, _) = get_pdf(&server, &id, ben.client.token()).await;
    assert_eq!(status, 401);

    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("export_refused"), "{audit}");
}

/// Every entry of a zip, by name.
fn entries(zip_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            (entry.name().to_owned(), bytes)
        })
        .collect()
}

async fn post_archive(
    server: &ServerProcess,
    case: &str,
    token: Option<&str>,
    redact: &[&str],
) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/cases/{case}/archive", server.url()))
        .json(&serde_json::json!({ "redact": redact }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_case_leaves_for_a_subject_access_request_with_third_parties_redacted_from_every_file() {
    let server = ServerProcess::start().unwrap();
    server
        .team(
            "north",
            &[
                ("amara", "worker"),
                ("grace", "supervisor"),
                ("ben", "colleague"),
            ],
        )
        .unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let (mut amara, grace, case, _record) = signed_visit(&server).await;
    // A neighbour, named on the case file and in the notes, in every case and broken over
    // a line; and a letter attached that may name anyone.
    let (add, neighbour) = Edit::append("contacts");
    amara
        .store
        .edit_all(
            case,
            &[
                add,
                Edit::set_in(
                    "contacts",
                    neighbour,
                    "name",
                    doorstep_shared::document::FieldValue::Text("Mr Hale".into()),
                ),
                Edit::set_in(
                    "contacts",
                    neighbour,
                    "notes",
                    doorstep_shared::document::FieldValue::Text(
                        "Neighbour; HALE has a key.".into(),
                    ),
                ),
            ],
            Utc::now(),
        )
        .unwrap();
    let note = amara
        .record_with_plan(
            case,
            doorstep_shared::model::RecordKind::CaseNote,
            "Ask Mr\nHale to check on her at night.",
        )
        .unwrap();
    let letter = b"%PDF-1.4\n% a letter from Mr Hale about the stairs\n%%EOF\n";
    amara
        .store
        .attach(
            note,
            letter,
            &AttachmentDraft {
                kind: AttachmentKind::Document,
                media_type: "application/pdf".into(),
                dimensions: None,
                caption: "Letter from Mr Hale".into(),
                signs: None,
            },
            Utc::now(),
        )
        .unwrap();
    amara.sync().await.unwrap();
    amara.client.sync_blobs(&mut amara.store).await.unwrap();
    let case_id = case.to_string();

    let (status, zipped) = post_archive(
        &server,
        &case_id,
        grace.client.token(),
        &["Mr Hale", "Hale"],
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zipped));
    let through_the_client = grace
        .client
        .case_archive(case, &["Mr Hale".to_owned(), "Hale".to_owned()])
        .await
        .unwrap();
    assert_eq!(
        through_the_client, zipped,
        "the same case gave another archive"
    );
    let folder = tempfile::TempDir::new().unwrap();
    let by_admin = folder.path().join("case.zip");
    server
        .admin(
            &[
                "admin",
                "export",
                "case",
                &case_id,
                "--to",
                by_admin.to_str().unwrap(),
                "--redact",
                "Mr Hale",
                "--redact",
                "Hale",
            ],
            "",
        )
        .unwrap();
    assert_eq!(std::fs::read(&by_admin).unwrap(), zipped);

    let files = entries(&zipped);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "case-file.pdf",
        "case-file.json",
        "manifest.json",
        "export-schema.json",
        "README.txt",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    assert_eq!(
        names
            .iter()
            .filter(|name| name.starts_with("records/") && name.ends_with(".pdf"))
            .count(),
        2
    );
    let manifest_text = String::from_utf8_lossy(
        &files
            .iter()
            .find(|(name, _)| name == "manifest.json")
            .unwrap()
            .1,
    )
    .into_owned();
    assert_eq!(
        names
            .iter()
            .filter(|name| name.starts_with("attachments/")
                && (name.ends_with(".jpg") || name.ends_with(".png")))
            .count(),
        1,
        "{names:?}\n{manifest_text}"
    );

    // The byte scan: no file, nor any PDF's text or attached data, holds the name.
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/export-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &files
            .iter()
            .find(|(name, _)| name == "manifest.json")
            .unwrap()
            .1,
    )
    .unwrap();
    for (name, bytes) in &files {
        let lower = String::from_utf8_lossy(bytes).to_lowercase();
        assert!(!name.to_lowercase().contains("hale"), "{name}");
        assert!(!lower.contains("hale"), "{name} holds the redacted name");
        if name.ends_with(".json") && name != "export-schema.json" {
            let json: serde_json::Value = serde_json::from_slice(bytes).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&json)
                .map(|error| format!("{error} at {}", error.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
        if name.ends_with(".pdf") && name.starts_with("records/") || name == "case-file.pdf" {
            let path = folder.path().join("page.pdf");
            std::fs::write(&path, bytes).unwrap();
            let text = poppler("pdftotext", &[path.to_str().unwrap(), "-"]).to_lowercase();
            assert!(
                !text.contains("hale"),
                "{name}'s text holds the redacted name"
            );
            assert!(
                text.contains("[redacted]") || !name.starts_with("case"),
                "{name}"
            );
            let attached = folder.path().join("attached.json");
            let _ = std::fs::remove_file(&attached);
            poppler(
                "pdfdetach",
                &[
                    "-save",
                    "1",
                    "-o",
                    attached.to_str().unwrap(),
                    path.to_str().unwrap(),
                ],
            );
            let data = std::fs::read_to_string(&attached).unwrap().to_lowercase();
            assert!(
                !data.contains("hale"),
                "{name}'s attached data holds the redacted name"
            );
        }
        if name != "manifest.json" {
            let listed = manifest["files"]
                .as_array()
                .unwrap()
                .iter()
                .find(|file| file["path"] == name.as_str())
                .unwrap_or_else(|| panic!("{name} is not in the manifest"));
            let hash = hex_sha256(bytes);
            assert_eq!(listed["sha256"], hash, "{name}");
        }
    }
    // The letter is held back while names are redacted, and the manifest says why.
    let withheld = manifest["withheld"].as_array().unwrap();
    assert_eq!(withheld.len(), 1, "{manifest:#}");
    assert_eq!(withheld[0]["sha256"], hex_sha256(letter));
    assert_eq!(manifest["names_redacted"], 2);
    // The names themselves are nowhere, the manifest included (checked above).

    // Without redaction the letter is there.
    let (status, whole) = post_archive(&server, &case_id, grace.client.token(), &[]).await;
    assert_eq!(status, 200);
    assert!(
        entries(&whole)
            .iter()
            .any(|(name, bytes)| name.ends_with(".pdf")
                && name.starts_with("attachments/")
                && bytes == letter)
    );

    // Who may have it: a supervisor of the case's team only.
    let ben = Device::sign_in(&server, "ben").await.unwrap();
    let (status, body) = post_archive(&server, &case_id, ben.client.token(), &[]).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let zed = Device::sign_in(&server, "zed").await.unwrap();
    let (status, refused) = post_archive(&server, &case_id, zed.client.token(), &[]).await;
    assert_eq!(status, 404);
    let (status, unknown) = post_archive(
        &server,
        &CaseId::random().to_string(),
        zed.client.token(),
        &[],
    )
    .await;
    assert_eq!((status, &refused), (404, &unknown));
    let (status, _) = post_archive(&server, &case_id, None, &[]).await;
    assert_eq!(status, 401);
    let (status, _) = post_archive(&server, &case_id, grace.client.token(), &["J"]).await;
    assert_eq!(status, 422, "a one-letter name would redact ordinary words");

    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("case_exported"), "{audit}");
    assert!(
        !audit.to_lowercase().contains("hale"),
        "the audit log names the redacted"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn agency_reports_come_as_csv_escaped_against_formulas_and_the_research_extract_names_nobody()
{
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("grace", "supervisor")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let hostile = "=HYPERLINK(\"http://attacker.example\",\"Open\")";
    let case = amara.store.create_case(hostile, Utc::now()).unwrap();
    let three_days_ago = Utc::now() - chrono::Duration::days(3);
    let late = amara
        .store
        .create_record(
            case,
            doorstep_shared::model::RecordKind::HomeVisit,
            doorstep_shared::document::Occurrence::between(
                three_days_ago - chrono::Duration::hours(1),
                three_days_ago,
            ),
            Utc::now(),
        )
        .unwrap();
    amara
        .store
        .edit(
            late,
            &Edit::text("assessment", "Secret words of the note."),
            Utc::now(),
        )
        .unwrap();
    amara
        .record_with_plan(
            case,
            doorstep_shared::model::RecordKind::CaseNote,
            "Call back",
        )
        .unwrap();
    amara.sync().await.unwrap();

    let report = |name: &str| {
        server
            .admin(
                &[
                    "admin",
                    "report",
                    name,
                    "--team",
                    "north",
                    "--since",
                    "2020-01-01",
                ],
                "",
            )
            .unwrap()
    };
    let overdue = report("overdue");
    assert!(
        overdue.starts_with("worker,client,case,record,kind,status,due_from_utc,hours_waiting\r\n"),
        "{overdue}"
    );
    assert!(
        overdue.contains("\"'=HYPERLINK(\"\"http://attacker.example\"\",\"\"Open\"\")\""),
        "{overdue}"
    );
    assert!(!overdue.contains(",=HYPERLINK"), "{overdue}");
    assert!(overdue.contains(&late.to_string()), "{overdue}");
    assert_eq!(
        overdue.lines().count(),
        2,
        "only the late visit is overdue: {overdue}"
    );

    let visits = report("visits");
    let (home_visits, contacts): (i64, i64) = visits
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|cells| cells[1] == "amara")
        .fold((0, 0), |(visits, contacts), cells| {
            (
                visits + cells[2].parse::<i64>().unwrap(),
                contacts + cells[4].parse::<i64>().unwrap(),
            )
        });
    assert_eq!((home_visits, contacts), (1, 1), "{visits}");
    let timeliness = report("timeliness");
    assert!(timeliness.contains("north,(whole team),"), "{timeliness}");

    let research = report("research");
    assert_eq!(research.lines().count(), 3, "{research}");
    for private in [
        "HYPERLINK",
        "amara",
        "Secret words",
        "Call back",
        &case.to_string(),
        &late.to_string(),
    ] {
        assert!(
            !research.contains(private),
            "the extract holds {private:?}:\n{research}"
        );
    }
    let month = Utc::now().format("%Y-%m").to_string();
    let three_days_month = three_days_ago.format("%Y-%m").to_string();
    assert!(
        research.contains(&month) || research.contains(&three_days_month),
        "{research}"
    );

    assert!(
        server
            .admin(
                &[
                    "admin",
                    "report",
                    "everything",
                    "--team",
                    "north",
                    "--since",
                    "2020-01-01"
                ],
                ""
            )
            .is_err()
    );
    assert!(
        server
            .admin(
                &[
                    "admin",
                    "report",
                    "visits",
                    "--team",
                    "nobody",
                    "--since",
                    "2020-01-01"
                ],
                ""
            )
            .is_err()
    );
}
