//! Locking the app: the passphrase that opens the store, and the lock after inactivity.

use chrono::{DateTime, Duration, Utc};

/// How long the app stays unlocked without a touch or a keystroke.
pub const LOCK_AFTER: Duration = Duration::minutes(5);

/// Shortest passphrase accepted: it is all that stands between a lost phone and the notes.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Checks a new passphrase and its confirmation.
pub fn check_new_passphrase(passphrase: &str, confirmation: &str) -> Result<(), &'static str> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err("Use at least 8 characters. A few unrelated words are easy to remember.");
    }
    if passphrase != confirmation {
        return Err("The two passphrases differ.");
    }
    Ok(())
}

/// Locks the app after [`LOCK_AFTER`] without activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoLock {
    after: Duration,
    last_activity: DateTime<Utc>,
}

impl AutoLock {
    /// Unlocked `now`, locking after `after` of inactivity.
    pub fn new(after: Duration, now: DateTime<Utc>) -> Self {
        AutoLock {
            after,
            last_activity: now,
        }
    }

    /// The worker touched or typed.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.last_activity = self.last_activity.max(now);
    }

    /// Whether it is time to lock.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        now - self.last_activity >= self.after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_or_mismatched_passphrases_are_refused() {
        assert!(check_new_passphrase("short", "short").is_err());
        assert!(check_new_passphrase("kettle harbour", "kettle harbor").is_err());
        assert_eq!(
            check_new_passphrase("kettle harbour", "kettle harbour"),
            Ok(())
        );
        // Characters, not bytes: eight accented letters are eight.
        assert_eq!(check_new_passphrase("éééééééé", "éééééééé"), Ok(()));
    }

    #[test]
    fn activity_postpones_the_lock() {
        let start = Utc::now();
        let mut lock = AutoLock::new(LOCK_AFTER, start);
        assert!(!lock.due(start + Duration::minutes(4)));
        lock.touch(start + Duration::minutes(4));
        assert!(!lock.due(start + Duration::minutes(8)));
        assert!(lock.due(start + Duration::minutes(9)));
    }

    #[test]
    fn a_clock_going_backwards_does_not_postpone_the_lock_forever() {
        let start = Utc::now();
        let mut lock = AutoLock::new(LOCK_AFTER, start);
        lock.touch(start - Duration::hours(1));
        assert!(lock.due(start + LOCK_AFTER));
    }
}
