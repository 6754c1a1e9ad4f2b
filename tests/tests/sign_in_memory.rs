//! Sign-ins do not leave memory behind. Each checks an Argon2id hash with 19 MiB of working
//! memory. They used to run all at once, each allocating its own, and glibc kept the freed
//! buffers in its heaps: a server held 960 MB after 48 sign-ins at once, 1.4 GB after 1,000.

use doorstep_shared::sync::http::SyncClient;
use doorstep_tests::ServerProcess;
use doorstep_tests::bench::ProcessStats;

#[tokio::test]
async fn many_sign_ins_at_once_leave_no_memory_behind() {
    let server = ServerProcess::start_with_settings("sign_ins_per_minute = 1000\n").unwrap();
    server.team("north", &[("amara", "worker")]).unwrap();
    let stats = ProcessStats::of(server.pid());
    let before = stats.resident_bytes().unwrap();
    stats.reset_peak();
    let sign_ins: Vec<_> = (0..48)
        .map(|_| {
            let url = server.url();
            tokio::spawn(async move {
                let mut client = SyncClient::new(&url).unwrap();
                client
                    .sign_in("amara", "password-amara", "phone")
                    .await
                    .unwrap();
            })
        })
        .collect();
    for sign_in in sign_ins {
        sign_in.await.unwrap();
    }
    let after = stats.resident_bytes().unwrap();
    let peak = stats.peak_bytes().unwrap();
    let kept = after.saturating_sub(before) / 1_000_000;
    let rose = peak.saturating_sub(before) / 1_000_000;
    eprintln!("48 sign-ins at once: memory rose by {rose} MB at most and kept {kept} MB");
    // Password checks run one per core at once, each in a 19 MiB buffer the server keeps
    // for the next; nothing more.
    let cores = std::thread::available_parallelism().map_or(2, usize::from) as u64;
    let buffers = cores * 21;
    assert!(rose < buffers + 30, "48 sign-ins at once took {rose} MB");
    assert!(
        kept < buffers + 10,
        "the server kept {kept} MB after 48 sign-ins"
    );
}
