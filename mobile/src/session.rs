//! The unlocked store and the state every screen shares.
//!
//! The store is owned here, behind `Rc<RefCell<…>>`, and borrowed only inside synchronous
//! calls: never across an `.await`, so the sync engine's requests in flight never block an
//! edit. Screens re-read what they show when [`Session::revision`] moves, after every local
//! write and every sync that brought something.

use std::cell::RefCell;
use std::rc::Rc;

use dioxus::prelude::*;
use doorstep_shared::ids::{CaseId, RecordId, UserId};
use doorstep_shared::store::{Store, StoreError};

use crate::platform;
use crate::presenters::lock::{AutoLock, LOCK_AFTER};
use crate::presenters::save_status::SaveStatus;
use crate::presenters::sync_status::SyncStatus;

/// Settings keys kept in the encrypted store.
pub mod settings {
    /// The sync server's address.
    pub const SERVER: &str = "app.server";
    /// The device token the server issued at sign-in.
    pub const TOKEN: &str = "app.token";
    /// The user whose edits this device writes.
    pub const USER: &str = "app.user";
    /// When the last sync finished (RFC 3339).
    pub const LAST_SYNCED: &str = "app.last_synced";
}

/// Where the worker is in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Enter or choose the passphrase.
    Unlock,
    /// Sign in to a server, or work offline.
    SignIn,
    /// The worker's cases.
    Caseload,
    /// Records overdue across the caseload.
    Overdue,
    /// Opening a new case.
    NewCase,
    /// A case: profile summary, timeline, new records.
    Case(CaseId),
    /// A case's full profile: consents, goals, household, contacts, team, status.
    Profile(CaseId),
    /// A record's editor, review and timeliness.
    Record(RecordId),
    /// Who wrote what in a record, and the record as signed.
    History(RecordId),
    /// Sync status and settings.
    Sync,
}

/// Background sync requests from the screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTrigger {
    /// The worker asked ("Sync now"), or just signed in.
    Now,
    /// Something was written locally; sync soon, once typing pauses.
    Edited,
}

/// The state every screen shares; cheap to copy.
#[derive(Clone, Copy)]
pub struct Session {
    store: Signal<Option<Rc<RefCell<Store>>>>,
    /// Moves after every local write and every sync that changed something.
    pub revision: Signal<u64>,
    /// The sync engine's state.
    pub sync: Signal<SyncStatus>,
    /// What the editor says about the latest edit.
    pub save: Signal<SaveStatus>,
    /// The screens visited, the current one last.
    pub screens: Signal<Vec<Screen>>,
    /// The inactivity lock.
    pub lock: Signal<AutoLock>,
    /// A message for the worker (an error in their words), until dismissed.
    pub notice: Signal<Option<String>>,
    sync_requests: Signal<Option<Coroutine<SyncTrigger>>>,
}

impl Session {
    /// A locked session, on the unlock screen.
    pub fn new() -> Self {
        Session {
            store: Signal::new(None),
            revision: Signal::new(0),
            sync: Signal::new(SyncStatus::default()),
            save: Signal::new(SaveStatus::default()),
            screens: Signal::new(vec![Screen::Unlock]),
            lock: Signal::new(AutoLock::new(LOCK_AFTER, platform::now())),
            notice: Signal::new(None),
            sync_requests: Signal::new(None),
        }
    }

    /// The session of the running app.
    pub fn get() -> Session {
        use_context::<Session>()
    }

    /// Connects the background sync engine.
    pub fn attach_sync(&mut self, engine: Coroutine<SyncTrigger>) {
        self.sync_requests.set(Some(engine));
    }

    /// Asks the sync engine to sync.
    pub fn request_sync(&self, trigger: SyncTrigger) {
        if let Some(engine) = *self.sync_requests.peek() {
            engine.send(trigger);
        }
    }

    /// Whether a store is open.
    pub fn is_unlocked(&self) -> bool {
        self.store.peek().is_some()
    }

    /// Takes the opened store; the worker is signed in on it if they were before.
    pub fn unlock(&mut self, mut store: Store) -> Result<(), StoreError> {
        let user = store.setting(settings::USER)?;
        if let Some(user) = &user
            && let Ok(user) = user.parse::<UserId>()
        {
            store.sign_in(user)?;
        }
        self.store.set(Some(Rc::new(RefCell::new(store))));
        self.lock.set(AutoLock::new(LOCK_AFTER, platform::now()));
        self.screens.set(vec![if user.is_some() {
            Screen::Caseload
        } else {
            Screen::SignIn
        }]);
        self.refresh_pending();
        self.request_sync(SyncTrigger::Now);
        Ok(())
    }

    /// Closes the store and returns to the unlock screen.
    pub fn lock_now(&mut self) {
        self.store.set(None);
        self.save.set(SaveStatus::default());
        self.screens.set(vec![Screen::Unlock]);
    }

    /// Reads from the store; `None` if it is locked.
    pub fn read<T>(
        &self,
        read: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        let store = self.store.peek().clone()?;
        let mut store = store.try_borrow_mut().ok()?;
        Some(read(&mut store))
    }

    /// Runs a user action on the store: the save status follows it, the screens refresh
    /// and a sync is scheduled. A failure is told to the worker and returned.
    pub fn write<T>(
        &mut self,
        action: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Option<T> {
        let Some(result) = self.read(action) else {
            self.notice
                .set(Some("The app is locked: unlock it to write.".into()));
            return None;
        };
        self.save.write().saving();
        match result {
            Ok(value) => {
                self.after_write();
                Some(value)
            }
            Err(error) => {
                self.save.write().stored(Err(&error), platform::now());
                self.notice.set(Some(error.to_string()));
                None
            }
        }
    }

    fn after_write(&mut self) {
        *self.revision.write() += 1;
        self.refresh_pending();
        let mut save = self.save;
        // In a browser the commit reaches IndexedDB a moment later: only then is it saved.
        spawn(async move {
            platform::writes_settled().await;
            let result = match platform::storage_failure() {
                Some(failure) => Err(failure),
                None => Ok(()),
            };
            save.write().stored(result, platform::now());
        });
        self.request_sync(SyncTrigger::Edited);
    }

    /// Recounts what waits to sync.
    pub fn refresh_pending(&mut self) {
        if let Some(Ok(count)) = self.read(|store| store.unacknowledged_count()) {
            self.sync.write().pending = count;
        }
    }

    /// Shows `screen`, remembering the way back.
    pub fn open(&mut self, screen: Screen) {
        self.screens.write().push(screen);
    }

    /// Goes back one screen.
    pub fn back(&mut self) {
        let mut screens = self.screens.write();
        if screens.len() > 1 {
            screens.pop();
        }
    }

    /// Replaces the whole way back with `screen`.
    pub fn reset_to(&mut self, screen: Screen) {
        self.screens.set(vec![screen]);
    }

    /// The screen shown.
    pub fn screen(&self) -> Screen {
        self.screens
            .read()
            .last()
            .copied()
            .unwrap_or(Screen::Unlock)
    }

    /// The signed-in user.
    pub fn user(&self) -> Option<UserId> {
        self.read(|store| Ok(store.user().cloned()))
            .and_then(Result::ok)
            .flatten()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("screens", &*self.screens.peek())
            .field("sync", &*self.sync.peek())
            .finish_non_exhaustive()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}
