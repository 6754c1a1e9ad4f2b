//! Hostile HTTP against the real server binary: oversized bodies, malformed JSON, wrong
//! content types, garbage and corrupt Automerge, another team's case, bad cursors. Each is
//! answered with its documented status and code (README, "HTTP API"), nothing stored changes,
//! and bodies sent all at once stay within the server's memory budget for them.

use chrono::Utc;
use doorstep_shared::DocId;
use doorstep_shared::document::{Document, Edit, Occurrence, Writer};
use doorstep_shared::ids::RecordId;
use doorstep_shared::model::RecordKind;
use doorstep_shared::sync::protocol::{
    self, CONTENT_TYPE, Cursor, DocChanges, Heads, Push, SyncRequest, SyncResponse,
};
use doorstep_tests::{Device, ServerProcess};

const CANARY: &str = "canary-heron-quay-2041";

/// Every row the server keeps of users, devices, teams, cases and their changes: what no
/// refused request may alter. (The audit log is left out: refusals are written to it.)
fn stored(server: &ServerProcess) -> String {
    let path = server.data_dir().join("doorstep-server.db");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut all = String::new();
    for table in [
        "users",
        "devices",
        "teams",
        "team_members",
        "cases",
        "access",
        "access_log",
        "log_clock",
        "changes",
    ] {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let columns = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                (0..columns)
                    .map(|i| row.get::<_, rusqlite::types::Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        for row in rows {
            all.push_str(&format!("{table}: {:?}\n", row.unwrap()));
        }
    }
    all
}

/// Peak resident memory of a process, in KiB.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

struct Answer {
    status: u16,
    /// The error's code, or the code of the one refused document in a sync's answer.
    code: String,
    /// The error's body, or the refusal's message.
    body: String,
}

async fn post(
    server: &ServerProcess,
    path: &str,
    content_type: &str,
    token: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    if let Ok(answer) = protocol::decode::<SyncResponse>(&bytes) {
        // A sync's answer: one document refused, with nothing of another team's record.
        assert_eq!(answer.refused.len(), 1, "{:?}", answer.refused);
        let refusal = &answer.refused[0];
        return Answer {
            status,
            code: refusal.code.clone(),
            body: refusal.message.clone(),
        };
    }
    let body = String::from_utf8_lossy(&bytes).into_owned();
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|json| json["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Answer { status, code, body }
}

async fn sync(server: &ServerProcess, token: &str, request: &SyncRequest) -> Answer {
    post(
        server,
        "/v1/sync",
        CONTENT_TYPE,
        Some(token),
        protocol::encode(request),
    )
    .await
}

#[tokio::test]
async fn hostile_requests_get_their_codes_and_change_nothing_stored() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let (case, record) = amara.case_with_visit("North client", CANARY).unwrap();
    amara.sync().await.unwrap();
    let zed = Device::sign_in(&server, "zed").await.unwrap();
    let amara_token = amara.client.token().unwrap().to_owned();
    let zed_token = zed.client.token().unwrap().to_owned();
    let before = stored(&server);

    let push = |doc: DocId, changes: Vec<u8>| SyncRequest {
        pushes: vec![Push {
            changes: DocChanges {
                doc,
                case_id: case,
                changes,
            },
            heads: Heads::default(),
        }],
        ..SyncRequest::default()
    };
    let own_record = Document::load(&amara.store.export(DocId::Record(record)).unwrap(), &[])
        .unwrap()
        .changes_after(&[]);
    let mut corrupt = own_record.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    let stranger = DocId::Record(RecordId::random());

    let cases: Vec<(&str, Answer, u16, &str)> = vec![
        (
            "a body over the limit",
            post(
                &server,
                "/v1/sync",
                CONTENT_TYPE,
                Some(&amara_token),
                vec![0; 33 * 1024 * 1024],
            )
            .await,
            413,
            "too_large",
        ),
        (
            "malformed JSON at sign-in",
            post(
                &server,
                "/v1/sign-in",
                "application/json",
                None,
                b"{\"user\":".to_vec(),
            )
            .await,
            422,
            "malformed_json",
        ),
        (
            "JSON of the wrong shape at sign-in",
            post(
                &server,
                "/v1/sign-in",
                "application/json",
                None,
                b"[1,2,3]".to_vec(),
            )
            .await,
            422,
            "malformed_json",
        ),
        (
            "a sync body of the wrong content type",
            post(
                &server,
                "/v1/sync",
                "application/json",
                Some(&amara_token),
                b"{}".to_vec(),
            )
            .await,
            415,
            "unsupported_media_type",
        ),
        (
            "a sync body that is not a sync request",
            post(
                &server,
                "/v1/sync",
                CONTENT_TYPE,
                Some(&amara_token),
                b"\x02\xff\xff\xff\xff\xff\xff".to_vec(),
            )
            .await,
            422,
            "malformed_sync_request",
        ),
        (
            "a sync body of another protocol version",
            post(
                &server,
                "/v1/sync",
                CONTENT_TYPE,
                Some(&amara_token),
                b"\x63".to_vec(),
            )
            .await,
            422,
            "unsupported_protocol",
        ),
        (
            "bytes that are not Automerge",
            sync(
                &server,
                &amara_token,
                &push(stranger, b"not automerge".to_vec()),
            )
            .await,
            200,
            "invalid_changes",
        ),
        (
            "corrupt Automerge",
            sync(&server, &amara_token, &push(DocId::Record(record), corrupt)).await,
            200,
            "invalid_changes",
        ),
        (
            "a record of this case pushed under another document's id",
            sync(&server, &amara_token, &push(stranger, own_record.clone())).await,
            200,
            "invalid_changes",
        ),
        (
            "another team's case",
            sync(
                &server,
                &zed_token,
                &push(DocId::Record(record), own_record.clone()),
            )
            .await,
            200,
            "forbidden",
        ),
        (
            "a cursor the server never wrote",
            sync(
                &server,
                &amara_token,
                &SyncRequest {
                    cursor: Cursor(vec![0xff; 11]),
                    ..SyncRequest::default()
                },
            )
            .await,
            422,
            "bad_cursor",
        ),
        (
            "no token",
            post(
                &server,
                "/v1/sync",
                CONTENT_TYPE,
                None,
                protocol::encode(&SyncRequest::default()),
            )
            .await,
            401,
            "unauthenticated",
        ),
        (
            "an endpoint that does not exist",
            post(
                &server,
                "/v1/export",
                "application/json",
                None,
                b"{}".to_vec(),
            )
            .await,
            404,
            "not_found",
        ),
    ];
    for (what, answer, status, code) in &cases {
        assert_eq!(
            (answer.status, answer.code.as_str()),
            (*status, *code),
            "{what}: {}",
            answer.body
        );
        assert!(!answer.body.contains(CANARY), "{what}: {}", answer.body);
    }
    assert_eq!(
        stored(&server),
        before,
        "a refused request changed what is stored"
    );

    // The note is still whole for a new device of its team.
    let mut again = Device::sign_in(&server, "amara").await.unwrap();
    again.sync().await.unwrap();
    assert_eq!(again.plan(record).unwrap(), CANARY);
}

#[tokio::test]
async fn bodies_sent_all_at_once_stay_within_the_servers_memory_budget() {
    // A budget of 64 MiB for bodies in memory (the default is 256 MiB).
    let server = ServerProcess::start_with_settings(
        "bodies_in_memory_bytes = 67108864\nsign_ins_per_minute = 100\n",
    )
    .unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    // Two dozen devices, each from an address of its own: a device sends one body at a
    // time, and an address holds at most its share, so only the whole budget holds them.
    const SENDERS: usize = 24;
    let mut tokens = Vec::new();
    for _ in 0..SENDERS {
        let device = Device::sign_in(&server, "amara").await.unwrap();
        tokens.push(device.client.token().unwrap().to_owned());
    }
    let before = peak_memory_kib(server.pid());

    // 24 bodies of 30 MiB at once, each just under the body limit: 720 MiB if all were held.
    const BODY: usize = 30 * 1024 * 1024;
    let mut senders = tokio::task::JoinSet::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let url = format!("{}/v1/sync", server.url());
        let from = std::net::Ipv4Addr::new(127, 0, 10, n as u8 + 1);
        senders.spawn(async move {
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::V4(from))
                .build()
                .unwrap()
                .post(url)
                .header("content-type", CONTENT_TYPE)
                .bearer_auth(token)
                .body(vec![0x01u8; BODY])
                .send()
                .await
                .map(|response| response.status().as_u16())
        });
    }
    let mut statuses = Vec::new();
    while let Some(sent) = senders.join_next().await {
        statuses.push(sent.unwrap().unwrap());
    }
    assert!(statuses.iter().all(|status| *status == 422), "{statuses:?}");

    let grown_mib = (peak_memory_kib(server.pid()) - before) / 1024;
    println!("peak memory grew by {grown_mib} MiB for {SENDERS} bodies of 30 MiB at once");
    // One body fits the budget at a time, counted twice (its pieces, then one buffer); the
    // server's own buffers and the allocator's slack come on top.
    assert!(grown_mib < 160, "peak memory grew by {grown_mib} MiB");
}

#[tokio::test]
async fn slow_clients_are_answered_408_at_the_timeout_and_hold_no_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = ServerProcess::start_with_settings("request_timeout_secs = 2\n").unwrap();
    let before = peak_memory_kib(server.pid());
    // Each announces a sign-in of 1 KiB, sends ten bytes of it, and then nothing.
    const CLIENTS: usize = 100;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let address = server.address;
        clients.spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            let head = "POST /v1/sign-in HTTP/1.1\r\nhost: doorstep\r\n\
                 content-type: application/json\r\ncontent-length: 1024\r\n\r\n0123456789";
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = vec![0u8; 64];
            // A guard against a server that never answers, not a measure of its speed.
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut answer))
                    .await;
            match read {
                Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n]).into_owned(),
                other => format!("no answer: {other:?}"),
            }
        });
    }
    while let Some(answer) = clients.join_next().await {
        let answer = answer.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    let grown_mib = (peak_memory_kib(server.pid()) - before) / 1024;
    println!("peak memory grew by {grown_mib} MiB for {CLIENTS} stalled clients");
    assert!(grown_mib < 64, "peak memory grew by {grown_mib} MiB");
}

#[tokio::test]
async fn a_sync_past_its_deadline_stops_its_work_and_stores_nothing() {
    let server = ServerProcess::start_with_settings("request_timeout_secs = 1\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let (case, _) = amara.case_with_visit("North client", "Visit.").unwrap();
    amara.sync().await.unwrap();
    // Thousands of new records in one request: more work than a second holds.
    let writer = Writer::new_device("amara".parse().unwrap());
    let pushes: Vec<Push> = (0..3000)
        .map(|_| {
            let id = RecordId::random();
            let mut record = Document::new_record(
                &writer,
                id,
                case,
                RecordKind::CaseNote,
                Occurrence::default(),
                Utc::now(),
            )
            .unwrap();
            Push {
                changes: DocChanges {
                    doc: DocId::Record(id),
                    case_id: case,
                    changes: record.changes_after(&[]),
                },
                heads: Heads::from_hashes(&record.heads()),
            }
        })
        .collect();
    let request = SyncRequest {
        pushes,
        ..SyncRequest::default()
    };
    let token = amara.client.token().unwrap().to_owned();
    let answer = sync(&server, &token, &request).await;
    assert_eq!(answer.status, 408, "{}", answer.body);

    // The server stops the work rather than finishing it after the answer. (A guard against
    // a server that never stops, not a measure of its speed.)
    let stopped = "ran past its deadline and was stopped";
    for _ in 0..600 {
        if server.log().contains(stopped) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(server.log().contains(stopped), "{}", server.log());
    let mut tablet = Device::sign_in(&server, "amara").await.unwrap();
    tablet.sync().await.unwrap();
    assert_eq!(
        tablet.record_ids(case).unwrap().len(),
        1,
        "nothing of it stored"
    );
    // And the writer is free: the next sync goes through.
    let visit = tablet.record_ids(case).unwrap()[0];
    amara
        .store
        .edit(visit, &Edit::text("plan", "Visit. Call."), Utc::now())
        .unwrap();
    assert_eq!(amara.sync().await.unwrap().refused, 0);
}
