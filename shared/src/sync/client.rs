//! The device's decisions.

use std::time::Duration;

use super::protocol::{Push, SyncResponse};

/// How much change data one request carries at most. A device with more to push syncs again
/// at once; the limit keeps every request well under the server's body limit.
pub const MAX_PUSH_BYTES: usize = 4 * 1024 * 1024;

/// Takes pushes for one request, in order, up to `max_bytes` of changes, and always at
/// least one so that a document larger than the limit still goes. Returns what remains.
pub fn take_pushes(pending: &mut Vec<Push>, max_bytes: usize) -> Vec<Push> {
    let mut total = 0;
    let count = pending
        .iter()
        .take_while(|push| {
            let first = total == 0;
            total += push.changes.changes.len().max(1);
            first || total <= max_bytes
        })
        .count();
    pending.drain(..count).collect()
}

/// Whether the device must sync again at once: the server has more to send, or the device
/// has more to push.
pub fn sync_again(response: &SyncResponse, pushes_left: usize) -> bool {
    response.more || pushes_left > 0
}

/// Waiting between failed attempts: exponential, capped, with full jitter, so a thousand
/// devices that lost the server together do not return together.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first wait's ceiling.
    pub base: Duration,
    /// The largest wait.
    pub max: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never waiting more than `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// The wait before the next attempt, given a random number; each call doubles the
    /// ceiling up to `max`.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt).unwrap_or(u32::MAX))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }

    /// A success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many attempts failed in a row.
    pub fn failures(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CaseId, DocId};
    use crate::sync::protocol::{DocChanges, Heads};

    fn push(bytes: usize) -> Push {
        let case = CaseId::random();
        Push {
            changes: DocChanges {
                doc: DocId::Case(case),
                case_id: case,
                changes: vec![0; bytes],
            },
            heads: Heads::default(),
        }
    }

    #[test]
    fn pushes_are_batched_under_the_limit_but_never_stall() {
        let mut pending = vec![push(40), push(50), push(30)];
        let first = take_pushes(&mut pending, 100);
        assert_eq!(first.len(), 2);
        assert_eq!(pending.len(), 1);
        let mut huge = vec![push(500), push(1)];
        assert_eq!(
            take_pushes(&mut huge, 100).len(),
            1,
            "one oversized document still goes"
        );
        assert_eq!(take_pushes(&mut huge, 100).len(), 1);
        assert!(take_pushes(&mut huge, 100).is_empty());
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let ceilings: Vec<Duration> = (0..8).map(|_| backoff.next_delay(u64::MAX)).collect();
        let expected_ms = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
        for (delay, ms) in ceilings.iter().zip(expected_ms) {
            // u64::MAX modulo (ceiling + 1) lands within the ceiling.
            assert!(*delay <= Duration::from_millis(ms), "{delay:?} > {ms} ms");
        }
        assert_eq!(
            backoff.next_delay(0),
            Duration::ZERO,
            "jitter reaches down to zero"
        );
        assert_eq!(backoff.failures(), 9);
        backoff.reset();
        assert!(backoff.next_delay(u64::MAX) <= Duration::from_millis(100));
        let mut far = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for _ in 0..100 {
            far.next_delay(7);
        }
        assert!(
            far.next_delay(u64::MAX) <= Duration::from_secs(5),
            "no overflow"
        );
    }
}
