//! Sign-in, tokens and the audit log against the real server binary, as a hostile web page,
//! a stranger guessing passwords, a departing worker and an administrator meet them.

use std::net::{IpAddr, Ipv4Addr};

use doorstep_tests::{Device, ServerProcess};
use serde_json::{Value, json};

/// A client whose connections come from `from`, a loopback address of its own.
fn client_from(from: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(from))
        .build()
        .unwrap()
}

/// Posts a sign-in; returns the status and the JSON body.
async fn sign_in(
    client: &reqwest::Client,
    server: &ServerProcess,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = client
        .post(format!("{}/v1/sign-in", server.url()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn credentials(user: &str, password: &str, device: &str) -> String {
    json!({"user": user, "password": password, "device_name": device}).to_string()
}

/// The audit log as `admin audit` prints it, one entry a line.
fn audit(server: &ServerProcess) -> Vec<String> {
    server
        .admin(&["admin", "audit"], "")
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn sign_in_takes_only_json_so_no_web_page_can_try_passwords_across_sites() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let client = client_from(Ipv4Addr::new(127, 0, 20, 1));
    // What a page elsewhere may send without asking the server first: text and forms.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, body) = sign_in(
            &client,
            &server,
            content_type,
            credentials("amara", "a wrong guess", "page"),
        )
        .await;
        assert_eq!(status, 415, "{content_type}");
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    // None of them counted as a failed attempt against the account or its address.
    assert!(
        audit(&server)
            .iter()
            .all(|line| !line.contains("bad_credentials")),
        "{:?}",
        audit(&server)
    );
    let (status, _) = sign_in(
        &client,
        &server,
        "application/json; charset=utf-8",
        credentials("amara", "password-amara", "phone"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refused_sign_ins_are_audited_with_the_name_tried_and_the_clients_address() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let client = client_from(Ipv4Addr::new(127, 0, 21, 7));
    let (status, _) = sign_in(
        &client,
        &server,
        "application/json",
        credentials("amara", "a wrong guess", "phone"),
    )
    .await;
    assert_eq!(status, 401);
    // A name no account could have, long and with a terminal's escape sequence in it.
    let hostile = format!("Robert\u{1b}[2J{}", "x".repeat(5000));
    let (status, _) = sign_in(
        &client,
        &server,
        "application/json",
        credentials(&hostile[..200], "a wrong guess", "phone"),
    )
    .await;
    assert_eq!(status, 401);
    // Past the bounded body: refused before anything is read.
    let (status, _) = sign_in(
        &client,
        &server,
        "application/json",
        credentials(&hostile, "a wrong guess", "phone"),
    )
    .await;
    assert_eq!(status, 413);

    let lines = audit(&server);
    let refused: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains("sign_in_refused"))
        .collect();
    assert_eq!(refused.len(), 2, "{lines:?}");
    assert!(
        refused[0].contains("\tamara\t") && refused[0].contains("127.0.21.7"),
        "{}",
        refused[0]
    );
    assert!(refused[1].contains("127.0.21.7"), "{}", refused[1]);
    assert!(
        refused[1].contains(r#"user name "Robert\u{1b}[2Jxxx"#),
        "{}",
        refused[1]
    );
    assert!(
        refused[1].len() < 300,
        "the name is bounded: {}",
        refused[1]
    );
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "no escape reaches the terminal"
    );
}

#[tokio::test]
async fn a_flood_of_refused_sign_ins_costs_the_audit_log_bounded_rows() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    // Two thousand attempts, from a hundred addresses, at a hundred names.
    let mut attempts = tokio::task::JoinSet::new();
    for address in 0..100u8 {
        let url = format!("{}/v1/sign-in", server.url());
        attempts.spawn(async move {
            let client = client_from(Ipv4Addr::new(127, 0, 22, address + 1));
            for attempt in 0..20 {
                let response = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(credentials(
                        &format!("guess{address}x{attempt}"),
                        "a wrong guess",
                        "flood",
                    ))
                    .send()
                    .await
                    .unwrap();
                assert!(matches!(response.status().as_u16(), 401 | 429));
            }
        });
    }
    while let Some(done) = attempts.join_next().await {
        done.unwrap();
    }
    let refused = audit(&server)
        .iter()
        .filter(|line| line.contains("sign_in_refused"))
        .count();
    println!("2000 refused sign-ins wrote {refused} audit entries");
    assert!(
        refused <= 120,
        "{refused} audit entries for one minute's refusals"
    );
    assert!(server.log().contains("counted, not itemised"));
}

#[tokio::test]
async fn the_audit_log_is_exported_and_pruned_by_date_and_kept_for_its_retention() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.case_with_visit("North client", "Plan.").unwrap();
    amara.sync().await.unwrap();
    let entries = audit(&server).len();
    assert!(entries >= 3, "{:?}", audit(&server));

    // Nothing is from before 2020; everything is from before the year 3000.
    let none = server
        .admin(&["admin", "audit", "export", "--before", "2020-01-01"], "")
        .unwrap();
    assert_eq!(none, "");
    let exported = server
        .admin(&["admin", "audit", "export", "--before", "3000-01-01"], "")
        .unwrap();
    let rows: Vec<Value> = exported
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), entries);
    assert!(rows.iter().any(|row| row["action"] == "sign_in"
        && row["user"] == "amara"
        && row["address"] == "127.0.0.1"));
    assert!(
        server
            .admin(&["admin", "audit", "export", "--before", "yesterday"], "")
            .is_err(),
        "a date that is not one is refused"
    );

    let pruned = server
        .admin(&["admin", "audit", "prune", "--before", "3000-01-01"], "")
        .unwrap();
    assert!(pruned.contains(&format!("deleted {entries} audit entries")));
    let left = audit(&server);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].contains("audit_pruned"));

    // Entries past the retention are deleted by the server itself.
    let data = server.kill();
    {
        let conn = rusqlite::Connection::open(data.path().join("doorstep-server.db")).unwrap();
        conn.execute(
            "INSERT INTO audit (at, action, detail) VALUES ('2019-03-01T09:00:00.000Z', 'sync', '')",
            [],
        )
        .unwrap();
    }
    std::fs::write(
        data.path().join("doorstep.toml"),
        "audit_retention_days = 365\n",
    )
    .unwrap();
    let server = ServerProcess::start_in(data).unwrap();
    let mut pruned = false;
    for _ in 0..100 {
        if !audit(&server).iter().any(|line| line.starts_with("2019-")) {
            pruned = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(pruned, "an entry from 2019 outlived a retention of a year");
    assert!(
        audit(&server)
            .iter()
            .any(|line| line.contains("audit_pruned"))
    );
}

/// Posts to `/v1/sign-out` with `token`; returns the status and the JSON error code.
async fn sign_out(server: &ServerProcess, token: Option<&str>) -> (u16, Value) {
    let mut request = reqwest::Client::new().post(format!("{}/v1/sign-out", server.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_device_that_signs_out_revokes_its_own_token_and_no_other() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let mut phone = Device::sign_in(&server, "amara").await.unwrap();
    let mut tablet = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    phone.sync().await.unwrap();

    // Without a token, or with a made-up one, nothing is signed out.
    assert_eq!(sign_out(&server, None).await.0, 401);
    assert_eq!(sign_out(&server, Some(&"0".repeat(64))).await.0, 401);

    let token = phone.client.token().unwrap().to_owned();
    assert_eq!(sign_out(&server, Some(&token)).await.0, 204);
    let refused = phone.sync().await.unwrap_err().to_string();
    assert!(refused.contains("revoked"), "{refused}");
    // Signing out again is refused like any other use of the token.
    assert_eq!(
        sign_out(&server, Some(&token)).await.1["error"]["code"],
        "device_revoked"
    );
    tablet.sync().await.unwrap();
    ben.sync().await.unwrap();
    let devices = server
        .admin(&["admin", "device", "list", "--user", "amara"], "")
        .unwrap();
    assert!(devices.contains(&phone.device_id));
    assert_eq!(devices.matches("\tactive").count(), 1, "{devices}");
    assert!(audit(&server).iter().any(|line| line.contains("sign_out")));
}

#[tokio::test]
async fn a_token_left_unused_past_the_setting_stops_working_and_the_device_keeps_its_notes() {
    let server = ServerProcess::start_with_settings("token_idle_days = 90\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.sync().await.unwrap();
    // The phone was left in a drawer: its last sync was 91 days ago.
    {
        let conn =
            rusqlite::Connection::open(server.data_dir().join("doorstep-server.db")).unwrap();
        let long_ago = (chrono::Utc::now() - chrono::TimeDelta::days(91))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        conn.execute(
            "UPDATE devices SET last_used_at = ?1 WHERE device_id = ?2",
            [long_ago, amara.device_id.clone()],
        )
        .unwrap();
    }
    let (case, record) = amara.case_with_visit("North client", "Plan kept.").unwrap();
    let refused = amara.sync().await.unwrap_err().to_string();
    assert!(refused.contains("token_expired"), "{refused}");
    // Nothing on the device is wiped: after a new sign-in its note goes up.
    assert_eq!(amara.plan(record).unwrap(), "Plan kept.");
    let mut signed_in = doorstep_shared::sync::http::SyncClient::new(&server.url()).unwrap();
    signed_in
        .sign_in("amara", "password-amara", "test device")
        .await
        .unwrap();
    amara.client = signed_in;
    amara.sync().await.unwrap();
    let mut colleague = Device::sign_in(&server, "amara").await.unwrap();
    colleague.sync().await.unwrap();
    assert_eq!(colleague.record_ids(case).unwrap(), vec![record]);
}

#[tokio::test]
async fn a_password_reset_revokes_the_users_devices_unless_told_to_keep_them() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let mut phone = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    // A forgotten password: the phone stays signed in.
    server
        .admin(
            &["admin", "user", "reset-password", "amara", "--keep-devices"],
            "new kettle harbour\n",
        )
        .unwrap();
    phone.sync().await.unwrap();
    // A password someone else may know: every device of hers is revoked.
    let said = server
        .admin(
            &["admin", "user", "reset-password", "amara"],
            "newer kettle harbour\n",
        )
        .unwrap();
    assert!(said.contains(&phone.device_id), "{said}");
    let refused = phone.sync().await.unwrap_err().to_string();
    assert!(refused.contains("revoked"), "{refused}");
    ben.sync().await.unwrap();
}

#[tokio::test]
async fn device_names_are_listed_with_their_control_characters_escaped() {
    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let (status, _) = sign_in(
        &reqwest::Client::new(),
        &server,
        "application/json",
        credentials(
            "amara",
            "password-amara",
            "phone\u{1b}[2J\u{1b}[1;1Hroot\r\n",
        ),
    )
    .await;
    assert_eq!(status, 200);
    let listed = server.admin(&["admin", "device", "list"], "").unwrap();
    assert!(
        !listed.contains('\u{1b}') && !listed.contains('\r'),
        "{listed:?}"
    );
    assert!(
        listed.contains(r"phone\u{1b}[2J\u{1b}[1;1Hroot\r\n"),
        "{listed}"
    );
}
