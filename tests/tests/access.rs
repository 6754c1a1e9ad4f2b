//! The access matrix: every authenticated endpoint refuses a missing, malformed, forged or
//! revoked token, and no one reads or writes a case outside their team. No refusal carries
//! note content, and nothing the server logs does.

use chrono::Utc;
use doorstep_shared::DocId;
use doorstep_shared::document::Document;
use doorstep_shared::sync::http::SyncError;
use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, DocChanges, Heads, Push, SyncRequest, SyncResponse,
};
use doorstep_tests::{Device, ServerProcess};

const CANARY: &str = "canary-pelican-harbour-1984";

async fn post_sync(
    server: &ServerProcess,
    authorization: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/sync", server.url()))
        .header("content-type", CONTENT_TYPE)
        .body(body);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
        bytes.to_vec(),
    )
}

#[tokio::test]
async fn tokens_and_teams_decide_who_reads_and_writes() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let (case, record) = amara.case_with_visit("North client", CANARY).unwrap();
    amara.sync().await.unwrap();

    // Tokens: none, malformed, forged, revoked.
    let empty = protocol::encode(&SyncRequest::default());
    let mut revoked = Device::sign_in(&server, "amara").await.unwrap();
    revoked.sync().await.unwrap();
    assert_eq!(revoked.store.caseload(Utc::now()).unwrap().len(), 1);
    let revoked_token = format!("Bearer {}", revoked.client.token().unwrap());
    server
        .admin(&["admin", "device", "revoke", &revoked.device_id], "")
        .unwrap();
    let listed = server
        .admin(&["admin", "device", "list", "--user", "amara"], "")
        .unwrap();
    let line = |id: &str| {
        listed
            .lines()
            .find(|line| line.starts_with(id))
            .unwrap_or("")
    };
    assert!(line(&revoked.device_id).contains("\trevoked "), "{listed}");
    assert!(line(&amara.device_id).ends_with("\tactive"), "{listed}");
    let forged = format!("Bearer {}", "ab".repeat(32));
    let cases: [(Option<&str>, &str); 5] = [
        (None, "unauthenticated"),
        (Some("Bearer"), "unauthenticated"),
        (Some("Basic YW1hcmE6cGFzc3dvcmQ="), "unauthenticated"),
        (Some(forged.as_str()), "unauthenticated"),
        (Some(revoked_token.as_str()), "device_revoked"),
    ];
    for (authorization, code) in cases {
        let (status, body, _) = post_sync(&server, authorization, empty.clone()).await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["code"], code, "{authorization:?}");
        assert!(!body.contains(CANARY));
    }

    // The revoked device learns it at its next sync and wipes itself.
    let outcome = revoked.client.sync(&mut revoked.store).await;
    assert!(matches!(outcome, Err(SyncError::Revoked)), "{outcome:?}");
    assert!(revoked.store.caseload(Utc::now()).unwrap().is_empty());

    // Another team's worker neither reads the case...
    let mut zed = Device::sign_in(&server, "zed").await.unwrap();
    let report = zed.sync().await.unwrap();
    assert_eq!(report.pulled, 0);
    assert!(zed.store.caseload(Utc::now()).unwrap().is_empty());
    let zed_token = format!("Bearer {}", zed.client.token().unwrap());
    let (status, body, _) = post_sync(&server, Some(&zed_token), empty.clone()).await;
    assert_eq!(status, 200);
    assert!(!body.contains(CANARY));

    // ...nor writes to it: a change to the record, pushed with their token, is refused.
    let stolen = Push {
        changes: DocChanges {
            doc: DocId::Record(record),
            case_id: case,
            changes: Document::load(&amara.store.export(DocId::Record(record)).unwrap(), &[])
                .unwrap()
                .changes_after(&[]),
        },
        heads: Heads::default(),
    };
    let request = SyncRequest {
        pushes: vec![stolen],
        ..SyncRequest::default()
    };
    let (status, body, bytes) =
        post_sync(&server, Some(&zed_token), protocol::encode(&request)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(CANARY));
    let response: SyncResponse = protocol::decode(&bytes).unwrap();
    assert!(response.acks.is_empty());
    assert_eq!(response.refused.len(), 1);
    assert_eq!(response.refused[0].code, "forbidden");
    assert!(
        response.refused[0].server_copy.is_empty(),
        "nothing of the record comes back"
    );

    // Garbage in a sync body is refused whole, with a code.
    let (status, body, _) = post_sync(&server, Some(&zed_token), b"\x02garbage".to_vec()).await;
    assert_eq!(status, 422, "{body}");
    let (status, body, _) = post_sync(&server, Some(&zed_token), b"\x07".to_vec()).await;
    assert_eq!(status, 422);
    assert!(body.contains("unsupported_protocol"), "{body}");

    // The audit log says who wrote and read the case, and who was refused, in UTC.
    let audit = server.admin(&["admin", "audit"], "").unwrap();
    let case_id = case.to_string();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\tamara\t") && l.contains(&case_id) && l.contains("\twrite\t"))
    );
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\tzed\t") && l.contains("push_refused\tforbidden"))
    );
    assert!(audit.lines().any(|l| l.contains("refused\tdevice_revoked")));
    assert!(
        audit
            .lines()
            .all(|l| l.split('\t').next().unwrap().ends_with('Z')),
        "UTC times"
    );
    assert!(!audit.contains(CANARY));

    // Nothing the server logged carries the note's words.
    assert!(!server.log().contains(CANARY));
    assert!(!server.log().contains(revoked.client.token().unwrap()));
}

#[tokio::test]
async fn sign_in_refuses_wrong_passwords_and_slows_down_guessing() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let client = reqwest::Client::new();
    let attempt = |password: &str| {
        let body = serde_json::json!({"user": "amara", "password": password, "device_name": "x"});
        client
            .post(format!("{}/v1/sign-in", server.url()))
            .json(&body)
            .send()
    };
    let wrong = attempt("not the password").await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let json: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(json["error"]["code"], "bad_credentials");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(attempt("still wrong").await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(!server.log().contains("still wrong"));
}

#[test]
fn new_passwords_are_refused_when_short_common_or_the_users_own_name() {
    let server = ServerProcess::start().unwrap();
    let user = "bola.adeyemi";
    let create =
        |password: &str| server.admin(&["admin", "user", "create", user], &format!("{password}\n"));
    for (password, why) in [
        ("seven77", "at least 8 characters"),
        ("password1", "most common"),
        ("iloveyou", "most common"),
        ("Bola.Adeyemi", "user name or the name of the service"),
        ("DOORSTEP", "user name or the name of the service"),
    ] {
        let refused = create(password).unwrap_err().to_string();
        assert!(refused.contains(why), "{password}: {refused}");
        assert!(
            !refused.contains(password),
            "the password is echoed: {refused}"
        );
    }
    let users = server.admin(&["admin", "user", "list"], "").unwrap();
    assert!(!users.contains(user), "nothing was created: {users}");

    // No composition rules, and long passphrases welcome.
    create("twelve quiet kettles").unwrap();
    let long = "a passphrase of well over sixty-four characters, which anyone may choose";
    assert!(long.chars().count() > 64);
    server
        .admin(
            &["admin", "user", "reset-password", user],
            &format!("{long}\n"),
        )
        .unwrap();
    let audit = server.admin(&["admin", "audit"], "").unwrap();
    for action in ["user_created", "password_reset"] {
        assert!(
            audit
                .lines()
                .any(|line| line.contains(user) && line.contains(action)),
            "{action}: {audit}"
        );
    }
    assert!(!audit.contains("quiet kettles") && !audit.contains("sixty-four"));
}

#[tokio::test]
async fn a_case_opened_at_the_office_reaches_the_worker_and_their_team_only() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let said = server
        .admin(
            &[
                "admin",
                "case",
                "open",
                "Intake Client",
                "--for",
                "amara",
                "--presenting-problem",
                "Rent arrears",
            ],
            "",
        )
        .unwrap();
    let case: doorstep_shared::CaseId = said
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no case id in {said:?}"));
    for (user, sees) in [("amara", true), ("ben", true), ("zed", false)] {
        let mut device = Device::sign_in(&server, user).await.unwrap();
        device.sync().await.unwrap();
        let opened = device.store.case(case);
        assert_eq!(opened.is_ok(), sees, "{user}");
        if let Ok(opened) = opened {
            assert_eq!(opened.profile.client_name, "Intake Client");
            assert_eq!(opened.profile.presenting_problem, "Rent arrears");
            assert_eq!(opened.author.as_str(), "amara");
        }
    }
}

#[tokio::test]
async fn a_supervisor_learns_when_each_of_the_teams_devices_last_synced_and_nobody_else_does() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("grace", "supervisor")])
        .unwrap();
    server
        .team("south", &[("zed", "worker"), ("yan", "supervisor")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.sync().await.unwrap();
    let grace = Device::sign_in(&server, "grace").await.unwrap();
    let zed = Device::sign_in(&server, "zed").await.unwrap();
    let revoked = Device::sign_in(&server, "amara").await.unwrap();
    server
        .admin(&["admin", "device", "revoke", &revoked.device_id], "")
        .unwrap();

    let seen = grace.client.team_devices().await.unwrap().devices;
    let mut users: Vec<&str> = seen.iter().map(|device| device.user.as_str()).collect();
    users.sort();
    assert_eq!(users, ["amara", "grace"], "{seen:?}");
    assert!(seen.iter().all(|device| device.last_synced.is_some()));
    // A worker is told of no device, their own team's included.
    assert!(
        amara
            .client
            .team_devices()
            .await
            .unwrap()
            .devices
            .is_empty()
    );
    assert!(zed.client.team_devices().await.unwrap().devices.is_empty());
    let (status, _, _) = {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/team/devices", server.url()))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), (), ())
    };
    assert_eq!(status, 401);
}
