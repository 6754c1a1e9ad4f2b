//! Attachments end to end, against the real server: who may send and fetch a blob (the access
//! matrix, as a modified client with a real token would try it), an upload and a download
//! cut part-way that resume where they stopped, an erasure that reaches a second device,
//! garbage collection, and a backup that carries the blobs.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use doorstep_shared::attachments::{AttachmentDraft, AttachmentKind, BlobHash};
use doorstep_shared::store::BlobState;
use doorstep_shared::sync::http::{BLOB_PIECE_BYTES, SyncError};
use doorstep_shared::{CaseId, RecordId};
use doorstep_tests::faults::{FaultProxy, Faults};
use doorstep_tests::{Device, ServerProcess};

fn photo() -> AttachmentDraft {
    AttachmentDraft {
        kind: AttachmentKind::Photo,
        media_type: "image/jpeg".into(),
        dimensions: Some((2048, 1536)),
        caption: "The heater".into(),
        signs: None,
    }
}

/// Bytes no compression shrinks, from a seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut random = doorstep_tests::faults::SplitMix(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&random.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A request to the blob endpoints as any client could make it.
async fn request(
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<(Vec<u8>, &str)>,
) -> (u16, String) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some((bytes, media_type)) = body {
        request = request.header("content-type", media_type).body(bytes);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Amara's case with a draft home visit, a photo attached to it, the record synced.
async fn amara_with_a_photo(
    server: &ServerProcess,
    bytes: &[u8],
) -> (Device, CaseId, RecordId, BlobHash) {
    let mut amara = Device::sign_in(server, "amara").await.unwrap();
    let (case, record) = amara
        .case_with_visit("Mrs Heater", "Chase the landlord")
        .unwrap();
    let attached = amara
        .store
        .attach(record, bytes, &photo(), Utc::now())
        .unwrap();
    amara.sync().await.unwrap();
    (amara, case, record, attached.hash)
}

#[tokio::test]
async fn only_the_cases_team_sends_or_fetches_a_blob_and_only_under_its_hash() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    server.team("south", &[("zed", "worker")]).unwrap();
    let bytes = noise(300_000, 1);

    // The blob waits until the record naming it reaches the server.
    let mut amara = Device::sign_in(&server, "amara").await.unwrap();
    let (_, record) = amara.case_with_visit("Mrs Heater", "Plan").unwrap();
    let hash = amara
        .store
        .attach(record, &bytes, &photo(), Utc::now())
        .unwrap()
        .hash;
    let early = amara.client.sync_blobs(&mut amara.store).await.unwrap();
    assert_eq!((early.sent, early.waiting), (0, 1));
    amara.sync().await.unwrap();
    let sent = amara.client.sync_blobs(&mut amara.store).await.unwrap();
    assert_eq!((sent.sent, sent.bytes_sent), (1, bytes.len() as u64));
    assert!(amara.store.blobs_to_send().unwrap().is_empty());

    let blob_url = format!("{}/v1/blobs/{hash}", server.url());
    let status_url = format!("{blob_url}/status");
    let put_url = |offset: u64| format!("{blob_url}?offset={offset}&size={}", bytes.len());
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;

    // No token: nothing, whatever the endpoint.
    for (method, url) in [
        (get.clone(), blob_url.clone()),
        (get.clone(), status_url.clone()),
        (put.clone(), put_url(0)),
    ] {
        let (status, body) = request(method, url, None, None).await;
        assert_eq!(status, 401, "{body}");
    }

    // Another team's worker: as if the blob did not exist, sending included.
    let zed = Device::sign_in(&server, "zed").await.unwrap();
    let zed_token = zed.client.token().unwrap().to_owned();
    for (method, url, body) in [
        (get.clone(), blob_url.clone(), None),
        (get.clone(), status_url.clone(), None),
        (put.clone(), put_url(0), Some((bytes.clone(), "image/jpeg"))),
    ] {
        let (status, answer) = request(method, url, Some(&zed_token), body).await;
        assert_eq!(status, 404, "{answer}");
        assert!(answer.contains("blob_not_found"), "{answer}");
    }
    let nonsense = format!("{}/v1/blobs/..%2F..%2Fetc%2Fpasswd", server.url());
    assert_eq!(
        request(get.clone(), nonsense, Some(&zed_token), None)
            .await
            .0,
        404
    );

    // A colleague on the case team fetches it, checked against its hash.
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    ben.sync().await.unwrap();
    assert_eq!(
        ben.store.blob_state(hash).unwrap(),
        BlobState::NotDownloaded { received: 0 }
    );
    let fetched = ben.client.sync_blobs(&mut ben.store).await.unwrap();
    assert_eq!(fetched.fetched, 1);
    assert_eq!(ben.store.blob(hash).unwrap().unwrap(), bytes);

    // A revoked device: refused, and told to wipe.
    let ben_token = ben.client.token().unwrap().to_owned();
    let mut revoked = Device::sign_in(&server, "ben").await.unwrap();
    revoked.sync().await.unwrap();
    let revoked_token = revoked.client.token().unwrap().to_owned();
    server
        .admin(&["admin", "device", "revoke", &revoked.device_id], "")
        .unwrap();
    let (status, answer) = request(get.clone(), blob_url.clone(), Some(&revoked_token), None).await;
    assert_eq!(status, 401);
    assert!(answer.contains("device_revoked"), "{answer}");

    // A forged hash: a record names a blob, and other bytes are sent under its name.
    let honest = noise(50_000, 2);
    let named = ben
        .store
        .attach(record, &honest, &photo(), Utc::now())
        .unwrap()
        .hash;
    ben.sync().await.unwrap();
    let forged = noise(50_000, 3);
    let forged_put = format!("{}/v1/blobs/{named}?offset=0&size=50000", server.url());
    let (status, answer) = request(
        put.clone(),
        forged_put.clone(),
        Some(&ben_token),
        Some((forged, "image/jpeg")),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("hash_mismatch"), "{answer}");
    let progress = ben.client.blob_status(named).await.unwrap();
    assert_eq!(
        (progress.received, progress.whole),
        (0, false),
        "nothing of it kept"
    );
    // ...or under another media type than the record gives it.
    let (status, answer) = request(
        put.clone(),
        forged_put,
        Some(&ben_token),
        Some((honest.clone(), "text/html")),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("wrong_media_type"), "{answer}");
    // A blob no record names is not taken, even from the case's team.
    let unnamed = BlobHash::of(b"not named anywhere");
    let error = ben
        .client
        .send_blob_piece(unnamed, "image/jpeg", 18, 0, b"not named anywhere".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SyncError::Server { status: 404, .. }),
        "{error:?}"
    );

    // The honest bytes go; sent twice, stored once.
    assert_eq!(ben.client.sync_blobs(&mut ben.store).await.unwrap().sent, 1);
    let again = ben
        .client
        .send_blob_piece(named, "image/jpeg", 50_000, 0, honest.clone())
        .await
        .unwrap();
    assert!(again.whole);
    let files: Vec<String> = std::fs::read_dir(server.data_dir().join("blobs"))
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
        .filter(|name| name.len() == 64)
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");

    // Leaving the team purges the case, its blobs with it.
    server
        .admin(&["admin", "team", "remove", "north", "ben"], "")
        .unwrap();
    ben.sync().await.unwrap();
    assert!(ben.store.blob(hash).unwrap().is_none());
    assert_eq!(ben.store.attachment_bytes_used().unwrap(), 0);
    let (status, _) = request(get, blob_url, Some(&ben_token), None).await;
    assert_eq!(status, 404);

    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("blob_stored") && audit.contains("blob_read"));
    assert!(audit.contains("blob_refused"));
    drop(amara);
}

#[tokio::test]
async fn an_upload_and_a_download_cut_part_way_resume_where_they_stopped() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let size = 20 * 1024 * 1024;
    let bytes = noise(size, 4);
    let (mut amara, _, _, hash) = amara_with_a_photo(&server, &bytes).await;

    let proxy = Arc::new(
        FaultProxy::start(
            server.address,
            Faults {
                seed: 0,
                max_latency: Duration::ZERO,
                reset_percent: 0,
                truncate_percent: 0,
            },
        )
        .await
        .unwrap(),
    );
    amara.reconnect(&proxy.url()).unwrap();
    // Cut the upload at 60% of the photo.
    let cut_at = size as u64 * 6 / 10;
    proxy.cut_upload_after(cut_at);
    let cut = amara.client.sync_blobs(&mut amara.store).await;
    assert!(matches!(cut, Err(SyncError::Network(_))), "{cut:?}");
    assert_eq!(proxy.cuts_made(), 1);
    let held = amara.client.blob_status(hash).await.unwrap();
    assert!(!held.whole);
    // Requests' headers ride along with the bytes, so the cut falls a little before 60%.
    assert!(
        held.received > cut_at - BLOB_PIECE_BYTES && held.received <= cut_at,
        "the server kept what arrived: {} of {size}",
        held.received
    );
    let resumed = amara.client.sync_blobs(&mut amara.store).await.unwrap();
    assert_eq!(resumed.sent, 1);
    // The cut request's last piece may still have been landing when the status was asked.
    let resumed_from = size as u64 - resumed.bytes_sent;
    assert!(
        resumed_from >= held.received && resumed_from <= cut_at,
        "the upload went on from where it stopped ({resumed_from}), not from the start"
    );
    assert!(amara.client.blob_status(hash).await.unwrap().whole);

    // The colleague's download, cut at 60% too, then resumed from what the device holds.
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    ben.reconnect(&proxy.url()).unwrap();
    ben.sync().await.unwrap();
    proxy.cut_download_after(cut_at);
    let cut = ben.client.sync_blobs(&mut ben.store).await;
    assert!(matches!(cut, Err(SyncError::Network(_))), "{cut:?}");
    assert_eq!(proxy.cuts_made(), 2);
    let BlobState::NotDownloaded { received } = ben.store.blob_state(hash).unwrap() else {
        panic!("the photo is not whole yet");
    };
    assert!(
        received > cut_at - 2 * BLOB_PIECE_BYTES && received <= cut_at,
        "the device kept the ranges that arrived whole: {received}"
    );
    let resumed = ben.client.sync_blobs(&mut ben.store).await.unwrap();
    assert_eq!(resumed.fetched, 1);
    assert_eq!(resumed.bytes_received, size as u64 - received);
    let fetched = ben.store.blob(hash).unwrap().unwrap();
    assert_eq!(
        BlobHash::of(&fetched),
        hash,
        "whole, and checked against its hash"
    );
}

#[tokio::test]
async fn an_erasure_reaches_every_device_and_leaves_its_tombstone() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let bytes = noise(100_000, 5);
    let (mut amara, _, record, hash) = amara_with_a_photo(&server, &bytes).await;
    amara.client.sync_blobs(&mut amara.store).await.unwrap();
    let mut ben = Device::sign_in(&server, "ben").await.unwrap();
    ben.sync().await.unwrap();
    ben.client.sync_blobs(&mut ben.store).await.unwrap();
    assert_eq!(ben.store.blob_state(hash).unwrap(), BlobState::Here);

    let said = server
        .admin(
            &[
                "admin",
                "attachment",
                "erase",
                &hash.to_string(),
                "--reason",
                "The client's neighbour is in the photo",
                "--by",
                "omar",
            ],
            "",
        )
        .unwrap();
    assert!(said.contains("1 records"), "{said}");
    let files = std::fs::read_dir(server.data_dir().join("blobs")).unwrap();
    assert!(
        files
            .filter_map(|entry| entry.ok())
            .all(|entry| entry.file_name() != hash.to_string().as_str()),
        "the server's bytes are gone"
    );

    for device in [&mut amara, &mut ben] {
        device.sync().await.unwrap();
        assert_eq!(device.store.blob_state(hash).unwrap(), BlobState::Erased);
        assert!(device.store.blob(hash).unwrap().is_none());
        let attachment = device.store.record(record).unwrap().attachments.remove(0);
        let tombstone = attachment.erased.expect("the record keeps the tombstone");
        assert!(
            tombstone
                .describe()
                .ends_with("by omar: The client's neighbour is in the photo"),
            "{}",
            tombstone.describe()
        );
        let report = device.client.sync_blobs(&mut device.store).await.unwrap();
        assert_eq!((report.sent, report.fetched), (0, 0));
    }
    let token = ben.client.token().unwrap().to_owned();
    let (status, answer) = request(
        reqwest::Method::GET,
        format!("{}/v1/blobs/{hash}", server.url()),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 410, "{answer}");
    // Nobody sends it back.
    let error = ben
        .client
        .send_blob_piece(hash, "image/jpeg", bytes.len() as u64, 0, bytes.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::Server { status: 410, .. }),
        "{error:?}"
    );
    let audit = server.admin(&["admin", "audit"], "").unwrap();
    assert!(audit.contains("blob_erased") && audit.contains("by omar"));
    assert!(
        !audit.contains("neighbour"),
        "the reason stays with the record"
    );
}

#[tokio::test]
async fn a_blob_no_record_names_is_collected_after_its_grace_and_a_backup_carries_the_rest() {
    let server = ServerProcess::start().unwrap();
    server
        .team("north", &[("amara", "worker"), ("ben", "colleague")])
        .unwrap();
    let kept_bytes = noise(40_000, 6);
    let (mut amara, case, record, kept) = amara_with_a_photo(&server, &kept_bytes).await;
    let dropped = amara
        .store
        .attach(record, &noise(30_000, 7), &photo(), Utc::now())
        .unwrap();
    amara.sync().await.unwrap();
    amara.client.sync_blobs(&mut amara.store).await.unwrap();
    amara.store.detach(record, dropped.id, Utc::now()).unwrap();
    amara.sync().await.unwrap();

    let blob_files = || -> Vec<String> {
        std::fs::read_dir(server.data_dir().join("blobs"))
            .unwrap()
            .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
            .filter(|name| name.len() == 64)
            .collect()
    };
    assert_eq!(blob_files().len(), 2);
    // The first pass finds it named by no record; within its grace, it stays.
    let collect = ["admin", "attachment", "collect", "--grace-days", "1"];
    let said = server.admin(&collect, "").unwrap();
    assert!(said.contains("deleted 0"), "{said}");
    assert_eq!(blob_files().len(), 2, "within its grace, nothing goes");
    let collect_now = ["admin", "attachment", "collect", "--grace-days", "0"];
    let said = server.admin(&collect_now, "").unwrap();
    assert!(said.contains("deleted 1"), "{said}");
    assert_eq!(blob_files(), vec![kept.to_string()]);

    // A backup holds the blobs; a server restored from it serves them.
    let backups = tempfile::TempDir::new().unwrap();
    let backup = backups.path().join("doorstep.backup");
    server
        .admin(&["admin", "backup", backup.to_str().unwrap()], "")
        .unwrap();
    let restored_dir = tempfile::TempDir::new().unwrap();
    let said = doorstep_tests::admin(
        restored_dir.path(),
        None,
        &["admin", "restore", backup.to_str().unwrap()],
        "",
    )
    .unwrap();
    assert!(said.contains("restored 1 attachments"), "{said}");
    drop(server);
    let restored = ServerProcess::start_in(restored_dir).unwrap();
    let mut ben = Device::sign_in(&restored, "ben").await.unwrap();
    ben.sync().await.unwrap();
    assert_eq!(
        ben.store.case(case).unwrap().profile.client_name,
        "Mrs Heater"
    );
    let fetched = ben.client.sync_blobs(&mut ben.store).await.unwrap();
    assert_eq!(fetched.fetched, 1);
    assert_eq!(ben.store.blob(kept).unwrap().unwrap(), kept_bytes);
}
