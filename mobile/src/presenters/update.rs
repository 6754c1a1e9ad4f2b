//! A new version of the app, deployed while it is open (DESIGN §9): the app says so, and
//! switches only when the worker agrees, or at the next cold start.

/// Where the app is with a new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateState {
    /// This is the newest version the app knows of.
    #[default]
    Current,
    /// A new version is downloaded and waits for the worker.
    Ready,
    /// The worker agreed: the field being typed into is being saved, then the app reloads.
    Applying,
}

impl UpdateState {
    /// What the app says, if anything.
    pub fn message(self) -> Option<&'static str> {
        match self {
            UpdateState::Current => None,
            UpdateState::Ready => Some("A new version is ready."),
            UpdateState::Applying => Some("Saving, then updating…"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_waiting_version_is_mentioned() {
        assert_eq!(UpdateState::default().message(), None);
        assert_eq!(
            UpdateState::Ready.message(),
            Some("A new version is ready.")
        );
        assert!(UpdateState::Applying.message().is_some());
    }
}
