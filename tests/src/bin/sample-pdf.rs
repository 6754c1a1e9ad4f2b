//! Writes a sample of a record's PDF: the demo case's home visit, written by amara with a
//! photo, signed by grace, then amended by amara, on a sync server seeded as `scripts/run`
//! seeds it; exported with `admin export record`. `scripts/sample-pdf` runs it to refresh
//! `docs/sample-record.pdf`.
//!
//! Usage: `sample-pdf <repository root> <output file>`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use doorstep_shared::attachments::capture::{Strokes, prepare_photo};
use doorstep_shared::attachments::{AttachmentDraft, AttachmentKind};
use doorstep_shared::document::{Edit, FieldValue, Occurrence};
use doorstep_shared::model::RecordKind;
use doorstep_shared::store::{Passphrase, Store};
use doorstep_shared::sync::http::SyncClient;
use doorstep_tests::{ServerProcess, server_binary};
use tempfile::TempDir;

/// The demo team's password (scripts/seed-demo).
const DEMO_PASSWORD: &str = "doorstep-demo";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sample-pdf: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// A demo worker's device.
struct Demo {
    _dir: TempDir,
    store: Store,
    client: SyncClient,
}

impl Demo {
    async fn sign_in(server: &ServerProcess, user: &str) -> anyhow::Result<Demo> {
        let dir = TempDir::new()?;
        let mut store = Store::open(dir.path().join("device.db"), &Passphrase::new("sample"))?;
        store.sign_in(user.parse()?)?;
        let mut client = SyncClient::new(&server.url())?;
        client.sign_in(user, DEMO_PASSWORD, "sample").await?;
        let mut demo = Demo {
            _dir: dir,
            store,
            client,
        };
        demo.sync().await?;
        Ok(demo)
    }

    async fn sync(&mut self) -> anyhow::Result<()> {
        self.client.sync(&mut self.store).await?;
        self.client.sync_blobs(&mut self.store).await?;
        Ok(())
    }
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(root), Some(out)) = (args.next(), args.next()) else {
        bail!("usage: sample-pdf <repository root> <output file>");
    };
    let (root, out) = (PathBuf::from(root), PathBuf::from(out));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(write_sample(&root, &out))
}

async fn write_sample(root: &Path, out: &Path) -> anyhow::Result<()> {
    let server = ServerProcess::start()?;
    let seeded = Command::new(root.join("scripts/seed-demo"))
        .arg(server_binary())
        .env("DOORSTEP_DATA_DIR", server.data_dir())
        .status()
        .context("running scripts/seed-demo")?;
    if !seeded.success() {
        bail!("scripts/seed-demo failed");
    }

    let mut amara = Demo::sign_in(&server, "amara").await?;
    let now = Utc::now();
    let case = amara
        .store
        .caseload(now)?
        .into_iter()
        .next()
        .context("the demo case did not reach amara's device")?
        .id;
    let visited = Occurrence::between(now - Duration::minutes(95), now - Duration::minutes(40));
    let record = amara.store.create_record(
        case,
        RecordKind::HomeVisit,
        visited,
        now - Duration::minutes(25),
    )?;
    let (add_quote, quote) = Edit::append("quotes");
    let (add_decision, decision) = Edit::append("decisions");
    let text = |field: &str, text: &str| Edit::text(field, text);
    for edit in [
        text("place", "Her flat, 14 Elm Court, second floor"),
        text(
            "people_present",
            "Mrs Okafor; her neighbour Mr Hale for the first ten minutes",
        ),
        text(
            "purpose",
            "Second visit: how she is managing alone, and the heating she mentioned on the phone.",
        ),
        text(
            "observed_home",
            "The living room was cold (the thermostat read 15 °C); the radiator in the bedroom is \
             off. The stair rail at the top of the communal stairs is loose. Food in the fridge; \
             post unopened on the table.",
        ),
        text(
            "observed_client",
            "Dressed, hair done. Spoke slowly and quietly, brightened when talking about her \
             grandson. Walked with a stick and held the wall on the stairs.",
        ),
        text(
            "interventions",
            "Listened; went through the post with her; phoned the housing office with her \
             consent about the radiator.",
        ),
        text(
            "assessment",
            "Low in mood but engaging. The cold flat and the loose rail put her at risk of a fall \
             this winter.",
        ),
        Edit::set("risk", FieldValue::Flag(true)),
        text(
            "risk_details",
            "Fall risk on the communal stairs; cold home.",
        ),
        text(
            "plan",
            "Chase the housing office on Friday; ask the GP about a falls assessment.",
        ),
        Edit::set(
            "next_visit",
            FieldValue::Date((now + Duration::days(7)).date_naive()),
        ),
        add_quote,
        Edit::set_in(
            "quotes",
            quote,
            "speaker",
            FieldValue::Text("Mrs Okafor".into()),
        ),
        Edit::set_in(
            "quotes",
            quote,
            "words",
            FieldValue::Text("I don't go out any more, the stairs frighten me.".into()),
        ),
        add_decision,
        Edit::set_in(
            "decisions",
            decision,
            "decision",
            FieldValue::Text("Refer to the falls prevention team".into()),
        ),
        Edit::set_in(
            "decisions",
            decision,
            "rationale",
            FieldValue::Text(
                "Two near-falls this month, by her account, and the loose rail.".into(),
            ),
        ),
    ] {
        amara
            .store
            .edit(record, &edit, now - Duration::minutes(20))?;
    }
    let drawing = Strokes {
        pad: (400.0, 300.0),
        strokes: vec![
            vec![(40.0, 260.0), (40.0, 60.0), (360.0, 60.0)],
            vec![(40.0, 160.0), (200.0, 160.0), (200.0, 60.0)],
        ],
    };
    let jpeg = prepare_photo(&drawing.to_png(1200)?.bytes, 2048)?;
    amara.store.attach(
        record,
        &jpeg.bytes,
        &AttachmentDraft {
            kind: AttachmentKind::Photo,
            media_type: jpeg.media_type.into(),
            dimensions: Some((jpeg.width, jpeg.height)),
            caption: "Loose stair rail, top of the communal stairs".into(),
            signs: None,
        },
        now - Duration::minutes(18),
    )?;
    amara.store.submit(record, now - Duration::minutes(15))?;
    amara.sync().await?;

    let mut grace = Demo::sign_in(&server, "grace").await?;
    grace.store.finalise(record, now - Duration::minutes(10))?;
    grace.sync().await?;
    amara.sync().await?;
    amara.store.add_addendum(
        record,
        "The housing office rang back after the visit",
        "The radiator will be repaired on Thursday; I will check on the next visit.",
        now - Duration::minutes(5),
    )?;
    amara.sync().await?;

    if out.exists() {
        std::fs::remove_file(out)?;
    }
    let out_text = out.to_str().context("the output path is not text")?;
    server.admin(
        &[
            "admin",
            "export",
            "record",
            &record.to_string(),
            "--to",
            out_text,
        ],
        "",
    )?;
    println!("wrote {} (record {record})", out.display());
    Ok(())
}
