//! Sync under faults: a response cut off midway, and the server killed with SIGKILL during
//! a burst of syncs. Nothing a device typed is lost, and nothing arrives twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use doorstep_shared::RecordId;
use doorstep_shared::document::Edit;
use doorstep_shared::model::RecordKind;
use doorstep_shared::sync::http::SyncClient;
use doorstep_tests::{Device, ServerProcess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback proxy that passes requests whole and cuts every response after `keep` bytes.
async fn cutting_proxy(upstream: std::net::SocketAddr, keep: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicUsize::new(0));
    let counted = cuts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upload = tokio::io::copy(&mut client_read, &mut server_write);
                let download = async {
                    let mut sent = 0;
                    let mut buffer = [0u8; 4096];
                    while sent < keep {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let n = n.min(keep - sent);
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                };
                tokio::select! {
                    _ = upload => {}
                    () = download => {}
                }
            });
        }
    });
    (format!("http://{address}"), cuts)
}

#[tokio::test]
async fn a_sync_cut_mid_response_resumes_with_nothing_lost_or_doubled() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "worker")])
        .unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    let case = amara.store.create_case("Client", Utc::now()).unwrap();
    let record = amara
        .record_with_plan(case, RecordKind::CaseNote, "first")
        .unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();

    // Ben edits; his sync's response is cut after the headers: the server stored his push,
    // he never heard so.
    ben.store
        .edit(record, &Edit::text("plan", "first, second"), Utc::now())
        .unwrap();
    let (proxy, cuts) = cutting_proxy(server.address, 150).await;
    let cut_client = SyncClient::new(&proxy)
        .unwrap()
        .with_token(ben.client.token().unwrap().to_owned());
    let outcome = cut_client.sync(&mut ben.store).await;
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(cuts.load(Ordering::SeqCst), 1);
    assert_eq!(
        ben.store.pending_pushes().unwrap().len(),
        1,
        "still unacknowledged"
    );

    // Meanwhile Amara writes too; then both sync directly.
    amara
        .store
        .edit(record, &Edit::text("plan", "zero, first"), Utc::now())
        .unwrap();
    ben.sync().await.unwrap();
    amara.sync().await.unwrap();
    ben.sync().await.unwrap();
    assert_eq!(amara.plan(record).unwrap(), "zero, first, second");
    assert_eq!(ben.plan(record).unwrap(), "zero, first, second");
    assert!(ben.store.pending_pushes().unwrap().is_empty());
    assert_eq!(
        amara.store.history(record).unwrap().len(),
        ben.store.history(record).unwrap().len()
    );
}

#[tokio::test]
async fn a_server_killed_during_a_burst_of_syncs_loses_no_acknowledged_change() {
    let server = ServerProcess::start().unwrap();
    let members = [
        ("amara", "worker"),
        ("ben", "worker"),
        ("grace", "supervisor"),
    ];
    server.team("north", &members).unwrap();
    let mut devices = Vec::new();
    for (user, _) in members {
        devices.push(Device::sign_in(&server, user).await.unwrap());
    }
    let case = devices[0].store.create_case("Client", Utc::now()).unwrap();
    devices[0].sync().await.unwrap();
    for device in devices.iter_mut().skip(1) {
        device.sync().await.unwrap();
    }

    // Each device writes its own records and syncs after every one, concurrently; the server
    // is killed partway through.
    let synced = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (n, mut device) in devices.into_iter().enumerate() {
        let (synced, failed) = (synced.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut written = Vec::new();
            for round in 0..40 {
                let words = format!("device {n} round {round}");
                let record = device
                    .record_with_plan(case, RecordKind::CaseNote, &words)
                    .unwrap();
                written.push((record, words));
                // Failures are expected once the server is gone.
                let counter = if device.sync().await.is_ok() {
                    &synced
                } else {
                    &failed
                };
                counter.fetch_add(1, Ordering::SeqCst);
            }
            (device, written)
        }));
    }
    while synced.load(Ordering::SeqCst) < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let data = server.kill();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }

    // Restarted on the same data, every device syncs until all have everything.
    let server = ServerProcess::start_in(data).unwrap();
    for (device, _) in results.iter_mut() {
        device.reconnect(&server.url()).unwrap();
    }
    for _ in 0..2 {
        for (device, _) in results.iter_mut() {
            device.sync().await.unwrap();
        }
    }
    let all_written: Vec<(RecordId, String)> = results
        .iter()
        .flat_map(|(_, written)| written.clone())
        .collect();
    assert_eq!(all_written.len(), 3 * 40);
    for (device, _) in results.iter_mut() {
        assert!(device.store.pending_pushes().unwrap().is_empty());
        for (record, words) in &all_written {
            assert_eq!(&device.plan(*record).unwrap(), words);
        }
    }
    let (synced, failed) = (synced.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert!(
        synced >= 30 && failed > 0,
        "the kill fell mid-burst: {synced} syncs, {failed} failed"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_retried_with_backoff_then_reported() {
    use std::time::Duration;

    use doorstep_shared::sync::client::Backoff;

    let server = ServerProcess::start().unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    amara.store.create_case("Client", Utc::now()).unwrap();
    let token = amara.client.token().unwrap().to_owned();
    let address = server.address;
    drop(server);

    // Nothing listens there now: every attempt fails to connect.
    let offline = SyncClient::new(&format!("http://{address}"))
        .unwrap()
        .with_token(token);
    let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(4));
    let waits = std::sync::Mutex::new(Vec::new());
    let outcome = offline
        .sync_with_retry(
            &mut amara.store,
            &mut backoff,
            4,
            || 3,
            |wait| {
                waits.lock().unwrap().push(wait);
                tokio::time::sleep(wait)
            },
        )
        .await;
    assert!(
        matches!(outcome, Err(ref error) if error.is_transient()),
        "{outcome:?}"
    );
    assert_eq!(
        waits.lock().unwrap().len(),
        3,
        "three waits between four attempts"
    );
    assert_eq!(
        amara.store.pending_pushes().unwrap().len(),
        1,
        "nothing lost meanwhile"
    );
}
