//! What the app says about sync: whether it is online, what waits to go up, when it last
//! synced, and what went wrong.

use chrono::{DateTime, Utc};

use super::timeliness::ago;

/// The sync engine's state, as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncStatus {
    /// Whether the device has a network connection.
    pub online: bool,
    /// Whether the device has a server and a device token.
    pub signed_in: bool,
    /// Whether a sync is under way.
    pub running: bool,
    /// Cases and records with changes the server has not acknowledged.
    pub pending: usize,
    /// When the last sync finished.
    pub last_synced: Option<DateTime<Utc>>,
    /// Why the last attempt failed, in the worker's words, until one succeeds.
    pub problem: Option<String>,
    /// Whether the server refused this device's token (signed out or revoked).
    pub needs_sign_in: bool,
}

impl SyncStatus {
    /// The banner across the top of every screen, if there is something to say.
    pub fn banner(&self) -> Option<String> {
        if !self.online {
            return Some(
                "Offline. Your notes are saved on this device and will sync when you are back \
                 online."
                    .to_owned(),
            );
        }
        if self.needs_sign_in {
            return Some("Sign in again to sync your notes.".to_owned());
        }
        if !self.signed_in {
            return Some("Working offline: sign in to a server to share your notes.".to_owned());
        }
        self.problem
            .as_ref()
            .map(|problem| format!("Not synced: {problem}. Retrying."))
    }

    /// One line for the sync panel: pending changes and the last sync.
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        let pending = match self.pending {
            0 => "Everything is synced".to_owned(),
            1 => "1 item waiting to sync".to_owned(),
            n => format!("{n} items waiting to sync"),
        };
        let last = match (self.running, self.last_synced) {
            (true, _) => "syncing now…".to_owned(),
            (false, Some(at)) => format!("last synced {}", ago(at, now)),
            (false, None) => "never synced".to_owned(),
        };
        format!("{pending} · {last}")
    }

    /// Whether every local change has reached the server.
    pub fn all_synced(&self) -> bool {
        self.signed_in && self.pending == 0 && self.last_synced.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn offline_says_the_notes_are_safe() {
        let status = SyncStatus::default();
        assert!(status.banner().unwrap().starts_with("Offline."));
    }

    #[test]
    fn online_and_synced_needs_no_banner() {
        let now = Utc::now();
        let status = SyncStatus {
            online: true,
            signed_in: true,
            last_synced: Some(now - Duration::minutes(5)),
            ..SyncStatus::default()
        };
        assert_eq!(status.banner(), None);
        assert_eq!(
            status.summary(now),
            "Everything is synced · last synced 5 min ago"
        );
        assert!(status.all_synced());
    }

    #[test]
    fn a_failure_is_shown_until_a_sync_succeeds() {
        let status = SyncStatus {
            online: true,
            signed_in: true,
            pending: 3,
            problem: Some("the server did not answer".into()),
            ..SyncStatus::default()
        };
        assert_eq!(
            status.banner().as_deref(),
            Some("Not synced: the server did not answer. Retrying.")
        );
        assert_eq!(
            status.summary(Utc::now()),
            "3 items waiting to sync · never synced"
        );
        assert!(!status.all_synced());
    }

    #[test]
    fn a_refused_token_asks_for_sign_in() {
        let status = SyncStatus {
            online: true,
            signed_in: true,
            needs_sign_in: true,
            ..SyncStatus::default()
        };
        assert_eq!(
            status.banner().as_deref(),
            Some("Sign in again to sync your notes.")
        );
    }
}
