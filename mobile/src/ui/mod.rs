//! The screens. Each reads what it shows from the store through [`Session`], re-reading
//! when [`Session::revision`] moves, and writes through [`Session::write`].
//!
//! # Typed text
//!
//! What the worker types stays in the page's inputs: no input is bound to a `value` the app
//! renders. On desktop and phones the page and the app are two processes, so a keystroke
//! reaches the app a moment after it lands in the input, and Dioxus writes a bound `value`
//! back on every render: a render between two keystrokes would put the older text back and
//! drop the newer keystroke. Inputs are prefilled with `initial_value`, report each change
//! through `oninput`, and are emptied after a submit by rendering a fresh input (a keyed
//! element whose key moves). A record's fields work the same way ([`form`]).

mod attachments;
mod case;
mod caseload;
mod closing;
mod consent;
mod dashboard;
mod form;
mod goals;
mod groups;
mod history;
mod record;
mod sign_in;
mod sync_panel;
mod unlock;
mod update;
mod visit_times;

use std::time::Duration;

use dioxus::prelude::*;
use doorstep_shared::ids::{CaseId, ItemId, RecordId};

use crate::platform;
use crate::session::Session;
use crate::sync_engine;

use attachments::{AttachmentView, SignConsent};
use case::{CaseView, NewCase, Profile};
use caseload::{Caseload, Overdue};
use closing::{CloseCase, TransferCase};
use dashboard::Dashboard;
use history::{CaseHistory, History};
use record::RecordView;
use sign_in::SignIn;
use sync_panel::SyncPanel;

/// How often the inactivity lock is checked.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(10);

/// Every screen has an address (DESIGN §9): the back gesture moves between screens, and a
/// reload or a link lands on the screen it names, once the app is unlocked. While the app
/// is locked every address shows the unlock screen.
#[derive(Routable, Clone, Debug, PartialEq)]
#[rustfmt::skip]
pub enum Route {
    #[layout(Shell)]
        /// The worker's cases.
        #[route("/")]
        Caseload {},
        /// Sign in to a server, or work offline.
        #[route("/sign-in")]
        SignIn {},
        /// Records overdue across the caseload.
        #[route("/overdue")]
        Overdue {},
        /// Caseload per worker, what waits for review, what is overdue, how long notes take.
        #[route("/dashboard")]
        Dashboard {},
        /// Opening a new case.
        #[route("/new-case")]
        NewCase {},
        /// A case: profile summary, timeline, new records.
        #[route("/cases/:id")]
        CaseView { id: CaseId },
        /// A case's full profile: consents, goals, household, contacts, team, status.
        #[route("/cases/:id/profile")]
        Profile { id: CaseId },
        /// Closing a case: its summary, what is still open, the closure.
        #[route("/cases/:id/close")]
        CloseCase { id: CaseId },
        /// Transferring a case: its handover summary, the receiving team.
        #[route("/cases/:id/transfer")]
        TransferCase { id: CaseId },
        /// A record's editor, review and timeliness.
        #[route("/records/:id")]
        RecordView { id: RecordId },
        /// Who wrote what in a record, and the record as signed.
        #[route("/records/:id/history")]
        History { id: RecordId },
        /// Who changed what in a case file (profile, consents, goals, team), and when.
        #[route("/cases/:id/history")]
        CaseHistory { id: CaseId },
        /// The client signs a consent with a finger.
        #[route("/cases/:id/consents/:consent/sign")]
        SignConsent { id: CaseId, consent: ItemId },
        /// A photo or document at full size.
        #[route("/attachments/:hash")]
        AttachmentView { hash: String },
        /// Sync status and settings.
        #[route("/sync")]
        SyncPanel {},
        /// An address the app does not know: the caseload.
        #[route("/:..segments")]
        Unknown { segments: Vec<String> },
}

impl Route {
    /// The screen's title in the top bar.
    fn title(&self) -> &'static str {
        match self {
            Route::Caseload {} | Route::Unknown { .. } => "Caseload",
            Route::SignIn {} => "Sign in",
            Route::Overdue {} => "Overdue notes",
            Route::Dashboard {} => "Dashboard",
            Route::NewCase {} => "New case",
            Route::CaseView { .. } => "Case",
            Route::Profile { .. } => "Case profile",
            Route::CloseCase { .. } => "Close the case",
            Route::TransferCase { .. } => "Transfer the case",
            Route::RecordView { .. } => "Record",
            Route::History { .. } | Route::CaseHistory { .. } => "History",
            Route::SignConsent { .. } => "Signature",
            Route::AttachmentView { .. } => "Attachment",
            Route::SyncPanel {} => "Sync",
        }
    }

    /// Where "Back" goes when the app was opened on this screen (by a link or a reload) and
    /// there is no screen of this visit to go back to. A record's parent is its case, which
    /// only the store knows: `case` says it.
    pub fn parent(&self, case: Option<CaseId>) -> Option<Route> {
        match self {
            Route::Caseload {} => None,
            Route::Profile { id } | Route::CloseCase { id } | Route::TransferCase { id } => {
                Some(Route::CaseView { id: *id })
            }
            Route::SignConsent { id, .. } => Some(Route::Profile { id: *id }),
            Route::RecordView { .. } => {
                Some(case.map_or(Route::Caseload {}, |id| Route::CaseView { id }))
            }
            Route::History { id } => Some(Route::RecordView { id: *id }),
            Route::CaseHistory { id } => Some(Route::Profile { id: *id }),
            _ => Some(Route::Caseload {}),
        }
    }
}

/// The app's root.
#[component]
pub fn App() -> Element {
    let mut session = use_context_provider(Session::new);
    let engine = use_coroutine(move |requests| sync_engine::run(requests, session));
    use_hook(move || session.attach_sync(engine));
    use_hook(move || platform::app_shell::start(session.update));
    use_future(move || async move {
        let storage = platform::app_shell::persist_storage().await;
        session.sync.write().storage = storage;
    });
    use_hook(move || platform::on_visibility(move |hidden| session.page_hidden(hidden)));
    use_future(move || async move {
        loop {
            platform::sleep(LOCK_CHECK_EVERY).await;
            if session.is_unlocked() && session.lock.peek().due(platform::now()) {
                session.lock_now();
            }
        }
    });
    rsx! {
        {style_sheet()}
        Router::<Route> {}
    }
}

/// The style sheet: a `<style>` element in the page, off the web. The web build links it as a
/// file from `index.html` instead: the page's Content-Security-Policy allows no inline style.
#[cfg(not(feature = "web"))]
fn style_sheet() -> Element {
    rsx! {
        style { {include_str!("../../public/style.css")} }
    }
}

#[cfg(feature = "web")]
fn style_sheet() -> Element {
    rsx! {}
}

/// What every screen sits in: the unlock screen while locked, and the sign-in screen until
/// the worker has said who they are; else the top bar, the sync banner, the screen, and any
/// notice.
#[component]
fn Shell() -> Element {
    let mut session = Session::get();
    let address = use_route::<Route>();
    let unlocked = session.unlocked();
    // Signing in, or choosing to work offline, ends on the caseload: an address change that
    // draws this anew.
    let needs_user = unlocked && session.user().is_none();
    let route = if needs_user {
        Route::SignIn {}
    } else {
        address
    };
    rsx! {
        div {
            class: "app",
            onpointerdown: move |_| session.lock.write().touch(platform::now()),
            onkeydown: move |_| session.lock.write().touch(platform::now()),
            if unlocked {
                TopBar { route }
                sync_panel::Banner {}
            }
            update::UpdateReady {}
            main {
                if !unlocked {
                    unlock::Unlock {}
                } else if needs_user {
                    SignIn {}
                } else {
                    Outlet::<Route> {}
                }
            }
            Notice {}
        }
        // Drawn over everything while the page is hidden, so that the app switcher's picture
        // of the app shows no client's name (see `platform::on_visibility`).
        div { class: "privacy-cover", "aria-hidden": "true",
            span { class: "brand", "Doorstep" }
        }
    }
}

/// An address the app does not know shows the caseload.
#[component]
fn Unknown(segments: Vec<String>) -> Element {
    let _ = segments;
    rsx! { Caseload {} }
}

#[component]
fn TopBar(route: Route) -> Element {
    let mut session = Session::get();
    let title = route.title();
    let has_parent = route.parent(None).is_some() && session.user().is_some();
    let sync = session.sync.read();
    let (dot, sync_label) = if !sync.online {
        ("dot offline", "Offline")
    } else if sync.running {
        ("dot running", "Syncing")
    } else if sync.pending > 0 || !sync.signed_in {
        ("dot pending", "Not synced")
    } else {
        ("dot ok", "Synced")
    };
    let on_sync = matches!(route, Route::SyncPanel {});
    rsx! {
        header { class: "topbar",
            if has_parent {
                button {
                    class: "icon",
                    "aria-label": "Back",
                    onclick: move |_| session.back(&route),
                    "‹"
                }
            }
            h1 { "{title}" }
            button {
                class: "sync-chip",
                "aria-label": "Sync status",
                onclick: move |_| {
                    if !on_sync {
                        session.open(Route::SyncPanel {})
                    }
                },
                span { class: "{dot}" }
                "{sync_label}"
            }
        }
    }
}

#[component]
fn Notice() -> Element {
    let mut session = Session::get();
    let notice = session.notice.read().clone();
    rsx! {
        if let Some(text) = notice {
            div { class: "notice", role: "alert",
                p { "{text}" }
                button { onclick: move |_| session.notice.set(None), "Dismiss" }
            }
        }
    }
}

/// A card in a list that opens `to` when tapped: a case, a record, a search hit.
#[component]
fn CardLink(
    to: Route,
    title: Option<String>,
    meta: String,
    badge: Option<(String, bool)>,
) -> Element {
    let mut session = Session::get();
    rsx! {
        button { class: "card", onclick: move |_| session.open(to.clone()),
            if let Some(title) = title {
                span { class: "title", "{title}" }
            }
            span { class: "meta", "{meta}" }
            if let Some((text, late)) = badge {
                span { class: if late { "badge overdue" } else { "badge" }, "{text}" }
            }
        }
    }
}

/// "share_with_team" → "Share with team".
fn humanize(key: &str) -> String {
    let mut text = key.replace('_', " ");
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    text
}
