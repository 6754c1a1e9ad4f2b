//! A loopback proxy that stands between devices and the server and makes the network bad:
//! latency, connections reset, responses cut short, and partitions. Its choices come from a
//! seed, so a run's faults replay.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A small, seedable generator: tests replay exactly from their seed.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `bound` (which must not be zero).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed in the environment variable `name`, else a fresh one; printed either way, so a
/// failing run can be replayed with `name=<seed>`.
pub fn seed_from_env(name: &str) -> u64 {
    let seed = match std::env::var(name) {
        Ok(seed) => seed
            .parse()
            .unwrap_or_else(|_| panic!("{name} is a number")),
        Err(_) => {
            let mut bytes = [0; 8];
            getrandom::fill(&mut bytes).expect("randomness");
            u64::from_le_bytes(bytes)
        }
    };
    eprintln!("seed: {seed} (replay with {name}={seed})");
    seed
}

/// The faults a [`FaultProxy`] injects.
#[derive(Debug, Clone)]
pub struct Faults {
    /// Seeds every choice the proxy makes.
    pub seed: u64,
    /// The longest a response waits before it is passed on (each waits a random share).
    pub max_latency: Duration,
    /// Percent of requests whose connection is reset: half before the server sees the
    /// request, half after it answered.
    pub reset_percent: u64,
    /// Percent of responses cut off partway.
    pub truncate_percent: u64,
}

/// What a [`FaultProxy`] did, so a test can tell its faults really happened.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Connections reset before their request reached the server.
    pub reset_before: AtomicUsize,
    /// Connections reset after the server answered, before the answer reached the device.
    pub reset_after: AtomicUsize,
    /// Responses cut off partway.
    pub truncated: AtomicUsize,
    /// Responses held back for a while.
    pub delayed: AtomicUsize,
    /// Connections refused or cut by a partition.
    pub partitioned: AtomicUsize,
}

/// A proxy on loopback between devices and a server.
#[derive(Debug)]
pub struct FaultProxy {
    address: SocketAddr,
    partitioned: Arc<AtomicBool>,
    cuts: Arc<Cuts>,
    /// What it has done so far.
    pub counts: Arc<FaultCounts>,
}

/// One-shot cuts: the connection whose traffic crosses the byte count left in a direction is
/// cut there ([`NO_CUT`] when none is set).
#[derive(Debug)]
struct Cuts {
    upload: AtomicU64,
    download: AtomicU64,
    /// Connections cut this way.
    made: AtomicUsize,
}

const NO_CUT: u64 = u64::MAX;

impl Cuts {
    /// How much of `n` bytes may pass before the cut, if this is where it falls.
    fn take(budget: &AtomicU64, n: usize) -> Option<usize> {
        let left = budget.load(Ordering::SeqCst);
        if left == NO_CUT {
            return None;
        }
        if (n as u64) < left {
            budget.fetch_sub(n as u64, Ordering::SeqCst);
            return None;
        }
        budget.store(NO_CUT, Ordering::SeqCst);
        Some(left as usize)
    }
}

/// A gap in a connection's traffic longer than this starts a new response.
const NEW_RESPONSE_AFTER: Duration = Duration::from_millis(30);

impl FaultProxy {
    /// Starts a proxy in front of `upstream`.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let partitioned = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(Cuts {
            upload: AtomicU64::new(NO_CUT),
            download: AtomicU64::new(NO_CUT),
            made: AtomicUsize::new(0),
        });
        let counts = Arc::new(FaultCounts::default());
        let cutting = cuts.clone();
        let connection_number = Arc::new(AtomicU64::new(0));
        let (cut_off, counted) = (partitioned.clone(), counts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                counted.connections.fetch_add(1, Ordering::SeqCst);
                if cut_off.load(Ordering::SeqCst) {
                    counted.partitioned.fetch_add(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                // Each connection draws from its own generator: what happens to the n-th
                // connection depends on the seed and n only.
                let n = connection_number.fetch_add(1, Ordering::SeqCst);
                let random = SplitMix(faults.seed ^ n.wrapping_mul(0xA24B_AED4_963E_E407));
                tokio::spawn(relay(
                    client,
                    upstream,
                    faults.clone(),
                    random,
                    cut_off.clone(),
                    counted.clone(),
                    cutting.clone(),
                ));
            }
        });
        Ok(FaultProxy {
            address,
            partitioned,
            cuts,
            counts,
        })
    }

    /// Cuts the connection that carries the next `bytes` bytes from devices to the server
    /// (requests) at that point, once.
    pub fn cut_upload_after(&self, bytes: u64) {
        self.cuts.upload.store(bytes, Ordering::SeqCst);
    }

    /// Cuts the connection that carries the next `bytes` bytes from the server to devices
    /// (answers) at that point, once.
    pub fn cut_download_after(&self, bytes: u64) {
        self.cuts.download.store(bytes, Ordering::SeqCst);
    }

    /// How many connections a cut set with [`FaultProxy::cut_upload_after`] or
    /// [`FaultProxy::cut_download_after`] ended.
    pub fn cuts_made(&self) -> usize {
        self.cuts.made.load(Ordering::SeqCst)
    }

    /// The URL devices sync through.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Starts or ends a partition: while it lasts, no connection gets through and those
    /// open are cut.
    pub fn partition(&self, on: bool) {
        self.partitioned.store(on, Ordering::SeqCst);
    }
}

/// Passes one connection's bytes both ways, making the faults as it goes.
async fn relay(
    mut client: TcpStream,
    upstream: SocketAddr,
    faults: Faults,
    random: SplitMix,
    partitioned: Arc<AtomicBool>,
    counts: Arc<FaultCounts>,
    cuts: Arc<Cuts>,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let random = Mutex::new(random);
    // Set when the answer to the request just sent must not reach the device.
    let swallow = AtomicBool::new(false);
    let draw = |f: &mut dyn FnMut(&mut SplitMix) -> u64| f(&mut random.lock().unwrap());
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upload = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = client_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 || partitioned.load(Ordering::SeqCst) {
                return;
            }
            let reset = draw(&mut |r| u64::from(r.chance(faults.reset_percent)));
            if reset == 1 && draw(&mut |r| r.below(2)) == 0 {
                counts.reset_before.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if reset == 1 {
                swallow.store(true, Ordering::SeqCst);
            }
            if let Some(pass) = Cuts::take(&cuts.upload, n) {
                let _ = server_write.write_all(&buffer[..pass]).await;
                let _ = server_write.flush().await;
                cuts.made.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if server_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
            if reset == 1 {
                // Let the server answer, then drop the answer with the connection.
                tokio::time::sleep(Duration::from_millis(200)).await;
                counts.reset_after.fetch_add(1, Ordering::SeqCst);
                return;
            }
        }
    };
    let download = async {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut last = Instant::now() - NEW_RESPONSE_AFTER;
        loop {
            let n = server_read.read(&mut buffer).await.unwrap_or(0);
            if n == 0 || partitioned.load(Ordering::SeqCst) {
                if n > 0 {
                    counts.partitioned.fetch_add(1, Ordering::SeqCst);
                }
                return;
            }
            if swallow.load(Ordering::SeqCst) {
                continue;
            }
            if last.elapsed() >= NEW_RESPONSE_AFTER {
                let max = u64::try_from(faults.max_latency.as_millis()).unwrap_or(u64::MAX);
                let wait = draw(&mut |r| r.below(max + 1));
                if wait > 0 {
                    counts.delayed.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
                if draw(&mut |r| u64::from(r.chance(faults.truncate_percent))) == 1 {
                    let keep = draw(&mut |r| r.below(n as u64)) as usize;
                    let _ = client_write.write_all(&buffer[..keep]).await;
                    counts.truncated.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            if let Some(pass) = Cuts::take(&cuts.download, n) {
                let _ = client_write.write_all(&buffer[..pass]).await;
                cuts.made.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
            last = Instant::now();
        }
    };
    tokio::select! {
        () = upload => {}
        () = download => {}
    }
}
