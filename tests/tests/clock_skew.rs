//! Clock skew: devices whose clocks run a day fast or a day slow, one of which jumps back
//! three hours mid-visit, end with the same records as devices with true clocks. Merging does
//! not read the clocks; timeliness counts from the visit times the worker entered; the
//! server's audit log is in its own UTC, whatever the devices think the time is.

use chrono::{DateTime, Duration, TimeZone, Utc};
use doorstep_shared::CaseId;
use doorstep_shared::document::FieldValue;
use doorstep_shared::document::{Edit, Occurrence};
use doorstep_shared::model::{Record, RecordBody, RecordKind};
use doorstep_tests::{Device, ServerProcess};
use serde_json::Value;

/// A device's idea of the time.
#[derive(Clone, Copy)]
struct Clock {
    skew: Duration,
}

impl Clock {
    fn now(self) -> DateTime<Utc> {
        Utc::now() + self.skew
    }
}

/// What a record says, leaving out when each device's clock said things happened and the
/// random ids of list entries: what must not depend on anyone's clock.
fn content(record: &Record) -> Value {
    let RecordBody::HomeVisit(visit) = &record.body else {
        panic!("a home visit was written");
    };
    serde_json::json!({
        "kind": record.kind().as_str(),
        "author": record.author.as_str(),
        "status": record.status.as_str(),
        "visit": [record.occurred_start, record.occurred_end],
        "due_from": record.due_from(),
        "signed_by": record.signoff.as_ref().map(|signoff| signoff.by.as_str()),
        "review": record.review.iter().map(|entry| (entry.by.as_str(), format!("{:?}", entry.action), entry.text.as_str())).collect::<Vec<_>>(),
        "addenda": record.addenda.iter().map(|addendum| (addendum.author.as_str(), addendum.reason.as_str(), addendum.text.as_str())).collect::<Vec<_>>(),
        "observed_client": visit.observed_client,
        "plan": visit.plan,
        "risk": visit.risk,
        "quotes": visit.quotes.iter().map(|quote| (quote.speaker.as_str(), quote.words.as_str())).collect::<Vec<_>>(),
    })
}

/// The visit's times, entered by the worker: the same in every run.
fn visit() -> Occurrence {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    Occurrence {
        start: Some(start),
        end: Some(start + Duration::hours(1)),
    }
}

/// Three workers on one case: a home visit written, edited on two devices at once, quoted,
/// submitted, approved and amended. Returns what every device ends with, after checking
/// they agree, and the server's audit log.
async fn story(
    amara_clock: Clock,
    ben_clocks: [Clock; 2],
    grace_clock: Clock,
) -> (Vec<Value>, String) {
    let server = ServerProcess::start().unwrap();
    server
        .team(
            "north",
            &[
                ("amara", "worker"),
                ("ben", "colleague"),
                ("grace", "supervisor"),
            ],
        )
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    let mut grace = Device::sign_in(&server, "grace").await.unwrap();

    let case: CaseId = amara
        .store
        .create_case("Mrs Skew", amara_clock.now())
        .unwrap();
    let record = amara
        .store
        .create_record(case, RecordKind::HomeVisit, visit(), amara_clock.now())
        .unwrap();
    amara
        .store
        .edit(
            record,
            &Edit::text("observed_client", "Calm."),
            amara_clock.now(),
        )
        .unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();

    // Both edit the same paragraph before either syncs: one before the text, one after.
    amara
        .store
        .edit(
            record,
            &Edit::text("observed_client", "Tired. Calm."),
            amara_clock.now(),
        )
        .unwrap();
    ben.store
        .edit(
            record,
            &Edit::text("observed_client", "Calm. Asked about Friday."),
            ben_clocks[0].now(),
        )
        .unwrap();
    ben.sync().await.unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();

    // Ben's clock jumps back three hours; he adds a quote and a task.
    let (quote, quote_id) = Edit::append("quotes");
    ben.store.edit(record, &quote, ben_clocks[1].now()).unwrap();
    ben.store
        .edit(
            record,
            &Edit::set_in(
                "quotes",
                quote_id,
                "words",
                FieldValue::Text("I manage.".into()),
            ),
            ben_clocks[1].now(),
        )
        .unwrap();
    ben.store
        .edit(
            record,
            &Edit::text("plan", "Call on Friday."),
            ben_clocks[1].now(),
        )
        .unwrap();
    ben.sync().await.unwrap();

    amara.sync().await.unwrap();
    amara.store.submit(record, amara_clock.now()).unwrap();
    amara.sync().await.unwrap();
    grace.sync().await.unwrap();
    grace
        .store
        .comment(record, "Good detail.", grace_clock.now())
        .unwrap();
    grace.store.finalise(record, grace_clock.now()).unwrap();
    grace.sync().await.unwrap();
    amara.sync().await.unwrap();
    amara
        .store
        .add_addendum(
            record,
            "A name was wrong.",
            "Her daughter is Ngozi.",
            amara_clock.now(),
        )
        .unwrap();
    amara.sync().await.unwrap();
    for device in [&mut ben, &mut grace] {
        device.sync().await.unwrap();
    }

    let views: Vec<Value> = [&mut amara, &mut ben, &mut grace]
        .into_iter()
        .map(|device| content(&device.store.record(record).unwrap()))
        .collect();
    assert_eq!(views[0], views[1], "amara and ben disagree");
    assert_eq!(views[0], views[2], "amara and grace disagree");
    let audit = server.admin(&["admin", "audit"], "").unwrap();
    (views, audit)
}

#[tokio::test]
async fn skewed_and_jumping_clocks_end_with_what_true_clocks_end_with() {
    let true_clock = Clock {
        skew: Duration::zero(),
    };
    let started = Utc::now();
    let (expected, _) = story(true_clock, [true_clock; 2], true_clock).await;

    let fast = Clock {
        skew: Duration::hours(24),
    };
    let slow = Clock {
        skew: -Duration::hours(24),
    };
    let jumped_back = Clock {
        skew: Duration::hours(-3),
    };
    let (skewed, audit) = story(fast, [slow, jumped_back], fast).await;
    let finished = Utc::now();

    assert_eq!(skewed, expected);
    let record = &expected[0];
    assert_eq!(
        record["observed_client"],
        "Tired. Calm. Asked about Friday."
    );
    assert_eq!(record["status"], "finalised");
    // Timeliness counts from the visit the worker entered, not from any device's clock.
    assert_eq!(
        record["due_from"],
        serde_json::to_value(visit().end.unwrap()).unwrap()
    );

    // The server's audit is in its own UTC: every entry between the run's start and end.
    let mut entries = 0;
    for line in audit.lines() {
        let at: DateTime<Utc> = line.split('\t').next().unwrap().parse().unwrap();
        assert!(
            at >= started - Duration::seconds(1) && at <= finished + Duration::seconds(1),
            "{line}"
        );
        entries += 1;
    }
    assert!(entries > 10, "{audit}");
}
