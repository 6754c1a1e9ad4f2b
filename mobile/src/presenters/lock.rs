//! Locking the app: the passphrase that opens the store, the lock after inactivity, and the
//! lock when the phone is put down.

use chrono::{DateTime, Duration, Utc};
use doorstep_shared::password_rules;

/// How long the app stays unlocked without a touch or a keystroke.
pub const LOCK_AFTER: Duration = Duration::minutes(5);

/// How long the app may be hidden (the phone put down, another app in front) before it
/// locks, unless the worker chose otherwise.
pub const LOCK_WHEN_HIDDEN_AFTER: Duration = Duration::minutes(2);

/// The choices the worker has for [`LOCK_WHEN_HIDDEN_AFTER`], in seconds, with their words.
pub const LOCK_WHEN_HIDDEN_CHOICES: [(i64, &str); 5] = [
    (0, "At once"),
    (60, "After 1 minute"),
    (120, "After 2 minutes"),
    (300, "After 5 minutes"),
    (900, "After 15 minutes"),
];

/// Shortest passphrase accepted: it is all that stands between a lost phone and the notes.
pub const MIN_PASSPHRASE_CHARS: usize = password_rules::MIN_CHARS;

/// Checks a new passphrase and its confirmation, by the rules the server keeps for passwords:
/// long enough, and not one of the most common (which guessing tries first).
pub fn check_new_passphrase(passphrase: &str, confirmation: &str) -> Result<(), &'static str> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err("Use at least 8 characters. A few unrelated words are easy to remember.");
    }
    if password_rules::is_common(passphrase) {
        return Err(
            "That is one of the most common passwords, which are guessed first: \
                    choose another. A few unrelated words are easy to remember.",
        );
    }
    if passphrase != confirmation {
        return Err("The two passphrases differ.");
    }
    Ok(())
}

/// Locks the app after [`LOCK_AFTER`] without activity, or once it has been hidden for
/// longer than the worker's choice ([`LOCK_WHEN_HIDDEN_AFTER`] unless they chose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoLock {
    after: Duration,
    last_activity: DateTime<Utc>,
    hidden_after: Duration,
    hidden_since: Option<DateTime<Utc>>,
}

impl AutoLock {
    /// Unlocked `now`, locking after `after` of inactivity.
    pub fn new(after: Duration, now: DateTime<Utc>) -> Self {
        AutoLock {
            after,
            last_activity: now,
            hidden_after: LOCK_WHEN_HIDDEN_AFTER,
            hidden_since: None,
        }
    }

    /// The same lock, locking after `after` hidden.
    pub fn hidden_for(self, after: Duration) -> Self {
        AutoLock {
            hidden_after: after,
            ..self
        }
    }

    /// How long the app may be hidden.
    pub fn hidden_after(&self) -> Duration {
        self.hidden_after
    }

    /// The page was hidden.
    pub fn hide(&mut self, now: DateTime<Utc>) {
        self.hidden_since.get_or_insert(now);
    }

    /// The page is shown again; whether it locks is for [`AutoLock::due`], asked first.
    pub fn show(&mut self, now: DateTime<Utc>) {
        self.hidden_since = None;
        self.touch(now);
    }

    /// The worker touched or typed.
    pub fn touch(&mut self, now: DateTime<Utc>) {
        self.last_activity = self.last_activity.max(now);
    }

    /// Whether it is time to lock.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        let hidden_too_long = self
            .hidden_since
            .is_some_and(|since| now - since >= self.hidden_after);
        hidden_too_long || now - self.last_activity >= self.after
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
    fn the_most_common_passwords_are_refused_as_on_the_server() {
        for common in ["password1", "Iloveyou", "qwertyuiop", "12345678"] {
            let refused = check_new_passphrase(common, common).unwrap_err();
            assert!(refused.contains("most common"), "{common}: {refused}");
        }
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
    fn hidden_for_longer_than_the_choice_locks_and_a_glance_away_does_not() {
        let start = Utc::now();
        let mut lock = AutoLock::new(LOCK_AFTER, start);
        assert_eq!(lock.hidden_after(), Duration::minutes(2), "the default");
        lock.hide(start);
        assert!(!lock.due(start + Duration::seconds(90)));
        lock.show(start + Duration::seconds(90));
        assert!(
            !lock.due(start + Duration::seconds(200)),
            "shown again in time"
        );
        lock.hide(start + Duration::seconds(200));
        // A second `hidden` event does not restart the clock.
        lock.hide(start + Duration::seconds(280));
        assert!(lock.due(start + Duration::seconds(321)));
    }

    #[test]
    fn the_worker_may_lock_it_as_soon_as_it_is_hidden() {
        let start = Utc::now();
        let mut lock = AutoLock::new(LOCK_AFTER, start).hidden_for(Duration::zero());
        assert!(!lock.due(start));
        lock.hide(start);
        assert!(lock.due(start));
        assert!(
            LOCK_WHEN_HIDDEN_CHOICES
                .iter()
                .any(|(secs, _)| Duration::seconds(*secs) == LOCK_WHEN_HIDDEN_AFTER)
        );
    }

    #[test]
    fn a_clock_going_backwards_does_not_postpone_the_lock_forever() {
        let start = Utc::now();
        let mut lock = AutoLock::new(LOCK_AFTER, start);
        lock.touch(start - Duration::hours(1));
        assert!(lock.due(start + LOCK_AFTER));
    }
}
