//! A stranger on the network, or a device with a stolen token, tries to starve the real
//! server binary of what every request needs: the memory budget for bodies, and connections
//! that stay open. Workers' sign-ins and syncs must go on meanwhile.
//!
//! Every attacking connection comes from an address of its own on loopback (127.0.0.2 and
//! up), so the per-address shares are tested as they meet a real network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use doorstep_shared::sync::protocol::CONTENT_TYPE;
use doorstep_tests::{Device, ServerProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A guard against a server that never answers: far past any normal latency, and well short
/// of the 60 s a held budget used to last.
const GUARD: Duration = Duration::from_secs(30);

/// Connects to `server` from `from`, a loopback address.
async fn connect_from(from: Ipv4Addr, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends a request's headers declaring a body of `length` bytes, and none of the body.
async fn declare_body(
    from: Ipv4Addr,
    server: SocketAddr,
    path: &str,
    content_type: &str,
    token: Option<&str>,
    length: usize,
) -> TcpStream {
    let mut stream = connect_from(from, server).await;
    let authorization = token
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: doorstep\r\ncontent-type: {content_type}\r\n\
         {authorization}content-length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// The status line of the answer on `stream`, or `None` if none came within `wait`.
async fn status_within(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut answer = vec![0u8; 512];
    match tokio::time::timeout(wait, stream.read(&mut answer)).await {
        Ok(Ok(n)) if n > 0 => Some(
            String::from_utf8_lossy(&answer[..n])
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
        ),
        Ok(_) => Some("closed".to_owned()),
        Err(_) => None,
    }
}

const THIRTY_TWO_MIB: usize = 32 * 1024 * 1024;

#[tokio::test]
async fn bodies_declared_and_never_sent_starve_no_sign_in_or_sync() {
    // The default limits: a 32 MiB body limit and 256 MiB of bodies in memory.
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("mallory", "worker")])
        .unwrap();
    // Mallory's token is real: a device of hers, stolen or hers to abuse.
    let mallory = Device::sign_in(&server, "mallory").await.unwrap();
    let stolen = mallory.client.token().unwrap().to_owned();

    // The attack: connections that declare 32 MiB and then send nothing, without a token,
    // to sign-in, and with the stolen token, each from an address of its own.
    let mut held = Vec::new();
    for n in 0..6u8 {
        let from = Ipv4Addr::new(127, 0, 1, n + 1);
        let address = server.address;
        held.push((
            "no token",
            declare_body(
                from,
                address,
                "/v1/sync",
                CONTENT_TYPE,
                None,
                THIRTY_TWO_MIB,
            )
            .await,
        ));
        held.push((
            "sign-in",
            declare_body(
                from,
                address,
                "/v1/sign-in",
                "application/json",
                None,
                THIRTY_TWO_MIB,
            )
            .await,
        ));
        held.push((
            "stolen token",
            declare_body(
                Ipv4Addr::new(127, 0, 2, 1),
                address,
                "/v1/sync",
                CONTENT_TYPE,
                Some(&stolen),
                THIRTY_TWO_MIB,
            )
            .await,
        ));
    }

    // Meanwhile a worker signs in and syncs a visit note, from her own address.
    let started = Instant::now();
    let mut amara = tokio::time::timeout(GUARD, Device::sign_in(&server, "amara"))
        .await
        .expect("a sign-in is answered while the attack runs")
        .unwrap();
    let signed_in = started.elapsed();
    amara.case_with_visit("North client", "Plan.").unwrap();
    let started = Instant::now();
    tokio::time::timeout(GUARD, amara.sync())
        .await
        .expect("a sync is answered while the attack runs")
        .unwrap();
    let synced = started.elapsed();
    println!("under attack: sign-in answered in {signed_in:?}, sync in {synced:?}");

    // The requests without a token are answered at once, without reading their bodies;
    // of the stolen token's, one may wait for its body and the rest are turned away.
    let mut answers = Vec::new();
    for (kind, stream) in &mut held {
        let status = status_within(stream, Duration::from_secs(1)).await;
        answers.push((*kind, status));
    }
    for (kind, status) in &answers {
        let status = status.as_deref();
        match *kind {
            "no token" => assert_eq!(status, Some("HTTP/1.1 401 Unauthorized"), "{answers:?}"),
            "sign-in" => assert_eq!(
                status,
                Some("HTTP/1.1 413 Payload Too Large"),
                "{answers:?}"
            ),
            _ => {}
        }
    }
    let busy = answers
        .iter()
        .filter(|(kind, status)| {
            *kind == "stolen token" && status.as_deref() == Some("HTTP/1.1 429 Too Many Requests")
        })
        .count();
    assert!(busy >= 5, "one token holds one body at a time: {answers:?}");
}

#[tokio::test]
async fn one_address_takes_no_more_than_its_share_of_the_body_budget() {
    // Bodies in memory: 128 MiB, so one address may hold a quarter, 32 MiB: one body of
    // 8 MiB (counted twice) at a time beside two more.
    let server = ServerProcess::start_with_settings(
        "bodies_in_memory_bytes = 134217728\nsign_ins_per_minute = 100\n",
    )
    .unwrap();
    server
        .team("north", &[("amara", "worker"), ("mallory", "worker")])
        .unwrap();
    // Mallory has many devices, all on one address.
    let mut tokens = Vec::new();
    for _ in 0..12 {
        let device = Device::sign_in(&server, "mallory").await.unwrap();
        tokens.push(device.client.token().unwrap().to_owned());
    }
    let mut held = Vec::new();
    for token in &tokens {
        held.push(
            declare_body(
                Ipv4Addr::new(127, 0, 3, 1),
                server.address,
                "/v1/sync",
                CONTENT_TYPE,
                Some(token),
                THIRTY_TWO_MIB,
            )
            .await,
        );
    }
    // A worker elsewhere still signs in and syncs a note.
    let mut amara = tokio::time::timeout(GUARD, Device::sign_in(&server, "amara"))
        .await
        .expect("a sign-in is answered while one address holds its share")
        .unwrap();
    amara.case_with_visit("North client", "Plan.").unwrap();
    tokio::time::timeout(GUARD, amara.sync())
        .await
        .expect("a sync is answered while one address holds its share")
        .unwrap();
    drop(held);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let server = ServerProcess::start_with_settings("header_timeout_secs = 1\n").unwrap();
    let mut stream = connect_from(Ipv4Addr::new(127, 0, 4, 1), server.address).await;
    stream
        .write_all(b"POST /v1/sync HTTP/1.1\r\nhost: doorst")
        .await
        .unwrap();
    let answer = status_within(&mut stream, GUARD).await;
    assert!(
        answer.is_some(),
        "the connection is still open after {GUARD:?}"
    );
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_before_the_request_timeout() {
    // The request timeout stays at its 60 s; a body with nothing new for 2 s is given up.
    let server = ServerProcess::start_with_settings("body_idle_timeout_secs = 2\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let amara = Device::sign_in(&server, "amara").await.unwrap();
    let token = amara.client.token().unwrap().to_owned();
    let mut stream = declare_body(
        Ipv4Addr::new(127, 0, 5, 1),
        server.address,
        "/v1/sync",
        CONTENT_TYPE,
        Some(&token),
        1024,
    )
    .await;
    stream.write_all(&[1u8; 10]).await.unwrap();
    let answer = status_within(&mut stream, GUARD).await;
    assert_eq!(answer.as_deref(), Some("HTTP/1.1 408 Request Timeout"));
}

#[tokio::test]
async fn a_client_refused_while_still_sending_its_body_receives_the_answer() {
    let server = ServerProcess::start().unwrap();
    // Refused from their headers (no token; not JSON) while reqwest, the devices' own HTTP
    // client, is still sending 40 MiB: it must get the answer, not a broken pipe.
    for (path, content_type, status) in [
        ("/v1/sync", CONTENT_TYPE, 401),
        ("/v1/sign-in", "text/plain", 415),
    ] {
        let answer = reqwest::Client::new()
            .post(format!("{}{path}", server.url()))
            .header("content-type", content_type)
            .body(vec![0u8; 40 * 1024 * 1024])
            .send()
            .await;
        match answer {
            Ok(answer) => assert_eq!(answer.status().as_u16(), status, "{path}"),
            Err(error) => panic!("{path}: no answer: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_device_idle_past_the_header_timeout_syncs_on_its_open_connection() {
    // A new connection has a second to send its first request; an open one waits longer.
    let server = ServerProcess::start_with_settings("header_timeout_secs = 1\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.case_with_visit("North client", "Plan.").unwrap();
    // The device busy with its own work, its runtime blocked: had the server closed the
    // connection its sign-in left open, the client would not have noticed, and would send
    // its sync on a closed connection.
    std::thread::sleep(Duration::from_secs(3));
    amara
        .sync()
        .await
        .expect("the sync goes out on the connection the sign-in opened");
}
