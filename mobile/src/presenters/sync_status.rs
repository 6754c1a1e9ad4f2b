//! What the app says about sync: whether it is online, what waits to go up, when it last
//! synced, and what went wrong.

use chrono::{DateTime, Utc};

use super::timeliness::ago;

/// Whether the browser keeps what the app stores (DESIGN §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoragePersistence {
    /// The browser has promised to keep it.
    Persistent,
    /// The browser may clear it when space runs low, or (Safari) after seven days unused.
    MayBeCleared,
    /// The browser does not say (WebKit), and the app is not installed.
    Unknown,
    /// Not a browser, or an app installed to the home screen: the storage is the app's own.
    #[default]
    AppOwn,
}

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
    /// Whether the browser keeps the app's storage.
    pub storage: StoragePersistence,
}

impl SyncStatus {
    /// The banner across the top of every screen, if there is something to say. When records
    /// cannot sync now and the browser may clear its storage, it says that too; not while
    /// syncing works, where what waits is gone in a moment (a banner that came and went with
    /// every save would move the screen under the worker's finger).
    pub fn banner(&self) -> Option<String> {
        let why = if !self.online {
            "Offline. Your notes are saved on this device and will sync when you are back online."
                .to_owned()
        } else if self.needs_sign_in {
            "Sign in again to sync your notes.".to_owned()
        } else if !self.signed_in {
            "Working offline: sign in to a server to share your notes.".to_owned()
        } else if let Some(problem) = &self.problem {
            format!("Not synced: {problem}. Retrying.")
        } else {
            return None;
        };
        Some(match self.storage_warning() {
            Some(warning) => format!("{why} {warning}"),
            None => why,
        })
    }

    /// What the sync panel says of the device's storage, in a browser.
    pub fn storage_line(&self) -> Option<&'static str> {
        match self.storage {
            StoragePersistence::Persistent => {
                Some("Storage on this device is persistent: the browser keeps it.")
            }
            StoragePersistence::MayBeCleared => {
                Some("Storage on this device is not persistent: the browser may clear it.")
            }
            StoragePersistence::Unknown => Some(
                "This browser does not say whether it keeps the app's storage; Safari clears it \
                 after seven days unused unless the app is on the home screen.",
            ),
            StoragePersistence::AppOwn => None,
        }
    }

    /// Records wait to sync in storage the browser may clear: say so, and what avoids it.
    pub fn storage_warning(&self) -> Option<String> {
        let at_risk = matches!(
            self.storage,
            StoragePersistence::MayBeCleared | StoragePersistence::Unknown
        );
        if !at_risk || self.pending == 0 {
            return None;
        }
        let waiting = match self.pending {
            1 => "1 item waits".to_owned(),
            n => format!("{n} items wait"),
        };
        Some(format!(
            "{waiting} to sync, and this browser may clear its storage. Install the app to your \
             home screen, or sync, to keep them safe."
        ))
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
    fn unsynced_records_in_storage_the_browser_may_clear_are_warned_of() {
        let mut status = SyncStatus {
            online: true,
            signed_in: true,
            pending: 2,
            storage: StoragePersistence::MayBeCleared,
            ..SyncStatus::default()
        };
        let warning = status.storage_warning().expect("a warning");
        assert!(warning.starts_with("2 items wait to sync"), "{warning}");
        assert!(warning.contains("Install the app"), "{warning}");
        // While sync works, what waits is gone in a moment: no banner.
        assert_eq!(status.banner(), None);
        status.online = false;
        assert!(status.banner().unwrap().ends_with(&warning));
        status.online = true;
        status.problem = Some("the server could not be reached".into());
        assert!(status.banner().unwrap().ends_with(&warning));
        // Nothing waiting, or storage the browser keeps: nothing to warn of.
        status.pending = 0;
        assert_eq!(status.storage_warning(), None);
        status.pending = 2;
        status.storage = StoragePersistence::Persistent;
        assert_eq!(status.storage_warning(), None);
        assert!(status.storage_line().unwrap().contains("persistent"));
        status.storage = StoragePersistence::AppOwn;
        assert_eq!(
            (status.storage_warning(), status.storage_line()),
            (None, None)
        );
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
