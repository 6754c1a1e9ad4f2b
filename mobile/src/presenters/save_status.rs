//! What the editor tells the worker about their words: there is no save button, so this line
//! is the only reassurance they get that the note is safe.

use chrono::{DateTime, Utc};

/// Where the worker's latest edit is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SaveStatus {
    /// Nothing typed yet in this editor.
    #[default]
    Idle,
    /// An edit is being written to the device.
    Saving,
    /// Every edit is durable on this device; the server does not have them all yet.
    SavedOnDevice {
        /// When the last edit became durable.
        at: DateTime<Utc>,
    },
    /// The server has acknowledged every edit.
    Synced {
        /// When the server acknowledged.
        at: DateTime<Utc>,
    },
    /// The last edit could not be stored: the worker must know at once.
    Failed {
        /// What went wrong, in words for the worker (never the note's text).
        reason: String,
    },
}

impl SaveStatus {
    /// An edit was handed to the store.
    pub fn saving(&mut self) {
        *self = SaveStatus::Saving;
    }

    /// The store reported the result of writing the edit.
    pub fn stored<E: std::fmt::Display>(&mut self, result: Result<(), E>, now: DateTime<Utc>) {
        *self = match result {
            Ok(()) => SaveStatus::SavedOnDevice { at: now },
            Err(error) => SaveStatus::Failed {
                reason: error.to_string(),
            },
        };
    }

    /// A sync finished with the server holding every edit. An edit typed while the sync was
    /// under way is not covered by it, so only a settled state becomes "Synced".
    pub fn synced(&mut self, now: DateTime<Utc>) {
        if matches!(self, SaveStatus::SavedOnDevice { .. } | SaveStatus::Idle) {
            *self = SaveStatus::Synced { at: now };
        }
    }

    /// The words shown under the editor.
    pub fn label(&self) -> String {
        match self {
            SaveStatus::Idle => String::new(),
            SaveStatus::Saving => "Saving…".into(),
            SaveStatus::SavedOnDevice { .. } => "Saved on this device".into(),
            SaveStatus::Synced { .. } => "Synced".into(),
            SaveStatus::Failed { reason } => format!("Not saved: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_goes_from_saving_to_saved_to_synced() {
        let now = Utc::now();
        let mut status = SaveStatus::default();
        status.saving();
        assert_eq!(status.label(), "Saving…");
        status.stored(Ok::<(), String>(()), now);
        assert_eq!(status.label(), "Saved on this device");
        status.synced(now);
        assert_eq!(status.label(), "Synced");
    }

    #[test]
    fn a_sync_does_not_cover_an_edit_still_being_saved() {
        let mut status = SaveStatus::Saving;
        status.synced(Utc::now());
        assert_eq!(status, SaveStatus::Saving);
    }

    #[test]
    fn a_failed_save_says_so_and_a_sync_does_not_hide_it() {
        let mut status = SaveStatus::Saving;
        status.stored(Err("disk full"), Utc::now());
        assert_eq!(status.label(), "Not saved: disk full");
        status.synced(Utc::now());
        assert_eq!(status.label(), "Not saved: disk full");
    }
}
