//! What a request must be granted before the server reads its body: the server's memory for
//! bodies is shared out so that nobody can hold all of it.
//!
//! A sync's body is read only once its token is known (a stranger's request is answered 401
//! before any of it is read), and then only within three shares of the budget for bodies in
//! memory ([`Limits::bodies_in_memory_bytes`]):
//! - a device sends one body at a time: a second request while one is in flight is answered
//!   429 `busy` at once, so a stolen token opens no more than one;
//! - one client address holds at most a quarter of the budget (or one largest body, if that
//!   is more), and its other requests wait their turn, so one address cannot take what every
//!   other worker needs;
//! - everything together holds at most the budget.
//!
//! A body must keep arriving: nothing new for [`Limits::body_idle_timeout`] and the request is
//! answered 408. Sign-in takes none of the budget: its body is a few KiB at most
//! ([`SIGN_IN_MAX_BYTES`]), refused 413 from its declared length.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::api::{ApiError, Limits};

/// The largest sign-in body: a user name, a password of at most 256 characters and a device
/// name, as JSON.
pub const SIGN_IN_MAX_BYTES: usize = 4 * 1024;

/// The budget for bodies in memory, counted in KiB so that any budget fits a semaphore.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    inner: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    total: Arc<Semaphore>,
    per_address_kib: u32,
    addresses: Mutex<HashMap<AddressKey, Arc<Semaphore>>>,
    devices_sending: Mutex<HashSet<String>>,
    max_body_bytes: usize,
}

/// Who an address share belongs to: an IPv4 address, or an IPv6 /64 (what one subscriber is
/// given, so that one network cannot pose as many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressKey(IpAddr);

impl AddressKey {
    /// The key of a client address.
    pub fn of(address: IpAddr) -> AddressKey {
        match address {
            IpAddr::V4(_) => AddressKey(address),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    AddressKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for AddressKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// A request's share of the budget, given back when it is dropped.
#[derive(Debug)]
pub struct Share {
    budget: Arc<Budget>,
    device: String,
    address: AddressKey,
    address_share: Option<(Arc<Semaphore>, OwnedSemaphorePermit)>,
    _total: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    /// The budget of `limits`.
    pub fn new(limits: &Limits) -> BodyBudget {
        let one_body_kib = Self::kib_for(limits.max_body_bytes);
        let total_kib = u32::try_from(limits.bodies_in_memory_bytes / 1024)
            .unwrap_or(u32::MAX)
            .max(one_body_kib);
        BodyBudget {
            inner: Arc::new(Budget {
                total: Arc::new(Semaphore::new(total_kib as usize)),
                per_address_kib: (total_kib / 4).max(one_body_kib),
                addresses: Mutex::new(HashMap::new()),
                devices_sending: Mutex::new(HashSet::new()),
                max_body_bytes: limits.max_body_bytes,
            }),
        }
    }

    /// What a body of `bytes` holds of the budget: twice its size, for a moment, in the
    /// pieces it arrived in and gathered into one buffer.
    fn kib_for(bytes: usize) -> u32 {
        u32::try_from(2 * bytes.div_ceil(1024)).unwrap_or(u32::MAX)
    }

    /// Grants `device`, at `address`, the share for a body of `declared` bytes (the largest
    /// body if it declares no length). Answers 429 `busy` if the device is sending another;
    /// waits while its address or the whole budget is fully held (the request's timeout
    /// bounds the wait).
    pub async fn admit(
        &self,
        device: &str,
        address: IpAddr,
        declared: Option<usize>,
    ) -> Result<Share, ApiError> {
        let budget = &self.inner;
        let bytes = declared.map_or(budget.max_body_bytes, |length| {
            length.min(budget.max_body_bytes)
        });
        let kib = Self::kib_for(bytes);
        if !lock(&budget.devices_sending).insert(device.to_owned()) {
            return Err(ApiError::Busy);
        }
        let key = AddressKey::of(address);
        let mut share = Share {
            budget: budget.clone(),
            device: device.to_owned(),
            address: key,
            address_share: None,
            _total: None,
        };
        let semaphore = lock(&budget.addresses)
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(budget.per_address_kib as usize)))
            .clone();
        let permit = semaphore
            .clone()
            .acquire_many_owned(kib.min(budget.per_address_kib))
            .await
            .map_err(|_| ApiError::Internal)?;
        share.address_share = Some((semaphore, permit));
        share._total = Some(
            budget
                .total
                .clone()
                .acquire_many_owned(kib)
                .await
                .map_err(|_| ApiError::Internal)?,
        );
        Ok(share)
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        lock(&self.budget.devices_sending).remove(&self.device);
        let mut addresses = lock(&self.budget.addresses);
        if let Some((semaphore, permit)) = self.address_share.take() {
            drop(permit);
            // Clones are made only under this lock: two references (the map's and this one)
            // mean no other request holds or awaits this address's share.
            if Arc::strong_count(&semaphore) == 2 {
                addresses.remove(&self.address);
            }
        } else if addresses
            .get(&self.address)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
        {
            addresses.remove(&self.address);
        }
    }
}

/// The length a request declares, if it declares one.
pub fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
}

/// Reads a body of at most `limit` bytes, answering 413 past it and 408 if nothing new
/// arrives for `idle`.
pub async fn read_body(body: Body, limit: usize, idle: Duration) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut gathered = Vec::new();
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => return Err(ApiError::TimedOut),
            Ok(None) => return Ok(Bytes::from(gathered)),
            Ok(Some(Ok(piece))) => {
                if gathered.len() + piece.len() > limit {
                    linger(stream, idle);
                    return Err(ApiError::TooLarge);
                }
                gathered.extend_from_slice(&piece);
            }
            Ok(Some(Err(_))) => {
                return Err(ApiError::Invalid {
                    code: "unreadable_body",
                    message: "the request body could not be read".into(),
                });
            }
        }
    }
}

/// The most of a refused body the server reads and throws away so that its client, still
/// sending, receives the answer (see [`refuse_unread`]).
const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// `error`, for a request refused before its body was read. The body is read on and thrown
/// away, without being kept, up to [`LINGER_BYTES`] and while it keeps arriving: a client
/// still sending would otherwise have its connection closed under it and see a broken pipe
/// rather than the answer (what nginx calls a lingering close).
pub fn refuse_unread(body: Body, error: ApiError, idle: Duration) -> ApiError {
    linger(body.into_data_stream(), idle);
    error
}

fn linger(mut stream: axum::body::BodyDataStream, idle: Duration) {
    tokio::spawn(async move {
        let mut thrown = 0;
        while thrown < LINGER_BYTES {
            match tokio::time::timeout(idle, stream.next()).await {
                Ok(Some(Ok(piece))) => thrown += piece.len(),
                _ => break,
            }
        }
    });
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn limits(max_body_bytes: usize, bodies_in_memory_bytes: usize) -> Limits {
        Limits {
            max_body_bytes,
            bodies_in_memory_bytes,
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn a_device_sends_one_body_at_a_time() {
        let budget = BodyBudget::new(&limits(1 << 20, 64 << 20));
        let address = IpAddr::from([192, 0, 2, 1]);
        let first = budget.admit("phone", address, Some(100)).await.unwrap();
        assert!(matches!(
            budget.admit("phone", address, Some(100)).await,
            Err(ApiError::Busy)
        ));
        assert!(budget.admit("tablet", address, Some(100)).await.is_ok());
        drop(first);
        assert!(budget.admit("phone", address, Some(100)).await.is_ok());
    }

    #[tokio::test]
    async fn an_address_holds_a_quarter_and_its_next_request_waits_while_others_go_on() {
        // 4 MiB in all: 1 MiB an address, one largest body (512 KiB, counted twice).
        let budget = BodyBudget::new(&limits(512 << 10, 4 << 20));
        let busy = IpAddr::from([192, 0, 2, 1]);
        let held = budget.admit("one", busy, None).await.unwrap();
        let waiting = budget.admit("two", busy, None);
        tokio::pin!(waiting);
        assert!(
            futures_util::poll!(waiting.as_mut()).is_pending(),
            "its address's share is held"
        );
        let elsewhere = budget
            .admit("three", IpAddr::from([198, 51, 100, 7]), None)
            .now_or_never_ok();
        assert!(elsewhere, "another address is not held up");
        drop(held);
        assert!(waiting.await.is_ok());
        assert!(
            lock(&budget.inner.addresses).len() <= 1,
            "shares given back are forgotten"
        );
    }

    trait NowOrNever {
        fn now_or_never_ok(self) -> bool;
    }

    impl<F: std::future::Future<Output = Result<Share, ApiError>>> NowOrNever for F {
        fn now_or_never_ok(self) -> bool {
            matches!(
                futures_util::FutureExt::now_or_never(self),
                Some(Ok(_share))
            )
        }
    }

    #[test]
    fn an_ipv6_network_shares_one_key() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(AddressKey::of(a.into()), AddressKey::of(b.into()));
        assert_ne!(AddressKey::of(a.into()), AddressKey::of(other.into()));
        let mapped: Ipv6Addr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            AddressKey::of(mapped.into()),
            AddressKey::of(IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(AddressKey::of(a.into()).to_string(), "2001:db8:1:2::/64");
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_times_out_and_one_too_long_is_refused() {
        let never = futures_util::stream::pending::<Result<Bytes, std::io::Error>>();
        let read = read_body(Body::from_stream(never), 1024, Duration::from_millis(50)).await;
        assert!(matches!(read, Err(ApiError::TimedOut)));
        let long = read_body(Body::from(vec![0u8; 2048]), 1024, Duration::from_secs(5)).await;
        assert!(matches!(long, Err(ApiError::TooLarge)));
        let fine = read_body(Body::from(vec![7u8; 1024]), 1024, Duration::from_secs(5)).await;
        assert_eq!(fine.unwrap().len(), 1024);
    }
}
