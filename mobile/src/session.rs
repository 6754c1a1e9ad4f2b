//! The unlocked store and the state every screen shares.
//!
//! The store is owned here, behind `Rc<RefCell<…>>`, and borrowed only inside synchronous
//! calls: never across an `.await`, so the sync engine's requests in flight never block an
//! edit. Screens re-read what they show when [`Session::revision`] moves, after every local
//! write and every sync that brought something.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::Duration;
use dioxus::prelude::*;
use doorstep_shared::ids::UserId;
use doorstep_shared::store::{Store, StoreError};

use crate::platform;
use crate::presenters::lock::{AutoLock, LOCK_AFTER, LOCK_WHEN_HIDDEN_AFTER};
use crate::presenters::save_status::SaveStatus;
use crate::presenters::sync_status::SyncStatus;
use crate::presenters::update::UpdateState;
use crate::ui::Route;

/// Settings keys kept in the encrypted store.
pub mod settings {
    /// The sync server's address.
    pub const SERVER: &str = "app.server";
    /// The device token the server issued at sign-in.
    pub const TOKEN: &str = "app.token";
    /// The user whose edits this device writes.
    pub const USER: &str = "app.user";
    /// The devices of the teams the user supervises, as the server last told them: JSON of
    /// [`crate::sync_engine::TeamDevicesSeen`].
    pub const TEAM_DEVICES: &str = "app.team_devices";
    /// When the last sync finished (RFC 3339).
    pub const LAST_SYNCED: &str = "app.last_synced";
    /// How long the app may be hidden before it locks, in seconds.
    pub const LOCK_WHEN_HIDDEN: &str = "app.lock_when_hidden_secs";
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
    /// Screens opened in the app since it was opened or unlocked, which "Back" can return
    /// through; none, and "Back" goes to the screen's parent instead.
    depth: Signal<usize>,
    /// The inactivity lock, and the lock when hidden.
    pub lock: Signal<AutoLock>,
    /// Whether a new version of the app is ready.
    pub update: Signal<UpdateState>,
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
            depth: Signal::new(0),
            lock: Signal::new(AutoLock::new(LOCK_AFTER, platform::now())),
            update: Signal::new(UpdateState::default()),
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

    /// Whether a store is open, for a screen that shows something else while locked.
    pub fn unlocked(&self) -> bool {
        self.store.read().is_some()
    }

    /// Takes the opened store; the worker is signed in on it if they were before, and stays
    /// on the screen they were on (the address they opened, or the one they were locked on).
    pub fn unlock(&mut self, mut store: Store) -> Result<(), StoreError> {
        let user = store.setting(settings::USER)?;
        if let Some(user) = &user
            && let Ok(user) = user.parse::<UserId>()
        {
            store.sign_in(user)?;
        }
        let hidden_after = store
            .setting(settings::LOCK_WHEN_HIDDEN)?
            .and_then(|secs| secs.parse().ok())
            .map_or(LOCK_WHEN_HIDDEN_AFTER, Duration::seconds);
        self.store.set(Some(Rc::new(RefCell::new(store))));
        self.lock
            .set(AutoLock::new(LOCK_AFTER, platform::now()).hidden_for(hidden_after));
        self.depth.set(0);
        // Unlocking took a tap: the browser now lets the app keep the back gesture inside it.
        platform::keep_back_inside_app(self.depth);
        self.refresh_pending();
        self.request_sync(SyncTrigger::Now);
        Ok(())
    }

    /// Locks the app: the field being typed into is written first and its write let settle,
    /// then the store is closed and every screen shows the unlock screen.
    pub fn lock_now(&mut self) {
        platform::save_focused_field();
        let mut session = *self;
        spawn(async move {
            platform::writes_settled().await;
            session.store.set(None);
            session.save.set(SaveStatus::default());
            platform::uncover();
        });
    }

    /// The page was hidden (`true`: the phone was put down, or another app came up) or shown
    /// again. Hidden for longer than the worker's setting, the app locks.
    pub fn page_hidden(&mut self, hidden: bool) {
        let now = platform::now();
        if hidden {
            self.lock.write().hide(now);
            let wait = self.lock.peek().hidden_after();
            let mut session = *self;
            spawn(async move {
                platform::sleep(wait.to_std().unwrap_or_default()).await;
                if session.is_unlocked() && session.lock.peek().due(platform::now()) {
                    session.lock_now();
                }
            });
        } else {
            let due = self.lock.peek().due(now);
            self.lock.write().show(now);
            // The page stays covered until this is settled, so a locked app never shows a
            // frame of what it held.
            if due && self.is_unlocked() {
                self.lock_now();
            } else {
                platform::uncover();
            }
            platform::app_shell::check_for_update();
        }
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
        // The wait belongs to the app, not to the screen that wrote: a screen that closes
        // once its write is done (a signature saved) must not leave the line at "Saving".
        dioxus::dioxus_core::spawn_forever(async move {
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

    /// Shows `route`, remembering the way back.
    pub fn open(&mut self, route: Route) {
        navigator().push(route);
        *self.depth.write() += 1;
    }

    /// Goes back from `from`: to the screen before it, or, if the app was opened on it, to
    /// its parent.
    pub fn back(&mut self, from: &Route) {
        if *self.depth.peek() > 0 {
            // In a browser, the `popstate` that going back fires counts the step down, as it
            // does for the browser's own back button and the back gesture.
            if !platform::BROWSER_HISTORY {
                *self.depth.write() -= 1;
            }
            navigator().go_back();
            return;
        }
        let case = match from {
            Route::RecordView { id } => self
                .read(|store| store.record(*id))
                .and_then(Result::ok)
                .map(|record| record.case_id),
            _ => None,
        };
        if let Some(parent) = from.parent(case) {
            navigator().replace(parent);
        }
    }

    /// Shows `route` in place of the screen shown, with no way back to it.
    pub fn replace_with(&mut self, route: Route) {
        navigator().replace(route);
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
            .field("depth", &*self.depth.peek())
            .field("sync", &*self.sync.peek())
            .finish_non_exhaustive()
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}
