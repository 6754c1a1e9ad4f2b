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

mod case;
mod caseload;
mod form;
mod history;
mod record;
mod sign_in;
mod sync_panel;
mod unlock;

use std::time::Duration;

use dioxus::prelude::*;

use crate::platform;
use crate::session::{Screen, Session};
use crate::sync_engine;

/// Phone-first styles: one column, large targets, high contrast.
const STYLE: &str = include_str!("style.css");

/// How often the inactivity lock is checked.
const LOCK_CHECK_EVERY: Duration = Duration::from_secs(10);

/// The app's root.
#[component]
pub fn App() -> Element {
    let mut session = use_context_provider(Session::new);
    let engine = use_coroutine(move |requests| sync_engine::run(requests, session));
    use_hook(move || session.attach_sync(engine));
    use_hook(platform::save_typing_when_hidden);
    use_future(move || async move {
        loop {
            platform::sleep(LOCK_CHECK_EVERY).await;
            if session.is_unlocked() && session.lock.peek().due(platform::now()) {
                session.lock_now();
            }
        }
    });
    let screen = session.screen();
    rsx! {
        style { {STYLE} }
        div {
            class: "app",
            onpointerdown: move |_| session.lock.write().touch(platform::now()),
            onkeydown: move |_| session.lock.write().touch(platform::now()),
            if !matches!(screen, Screen::Unlock) {
                TopBar { screen }
                sync_panel::Banner {}
            }
            main {
                match screen {
                    Screen::Unlock => rsx! { unlock::Unlock {} },
                    Screen::SignIn => rsx! { sign_in::SignIn {} },
                    Screen::Caseload => rsx! { caseload::Caseload {} },
                    Screen::Overdue => rsx! { caseload::Overdue {} },
                    Screen::NewCase => rsx! { case::NewCase {} },
                    Screen::Case(id) => rsx! { case::CaseView { key: "{id}", id } },
                    Screen::Profile(id) => rsx! { case::Profile { key: "{id}", id } },
                    Screen::Record(id) => rsx! { record::RecordView { key: "{id}", id } },
                    Screen::History(id) => rsx! { history::History { key: "{id}", id } },
                    Screen::Sync => rsx! { sync_panel::SyncPanel {} },
                }
            }
            Notice {}
        }
    }
}

#[component]
fn TopBar(screen: Screen) -> Element {
    let mut session = Session::get();
    let can_go_back = session.screens.read().len() > 1;
    let title = match screen {
        Screen::Unlock => "Doorstep",
        Screen::SignIn => "Sign in",
        Screen::Caseload => "Caseload",
        Screen::Overdue => "Overdue notes",
        Screen::NewCase => "New case",
        Screen::Case(_) => "Case",
        Screen::Profile(_) => "Case profile",
        Screen::Record(_) => "Record",
        Screen::History(_) => "History",
        Screen::Sync => "Sync",
    };
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
    rsx! {
        header { class: "topbar",
            if can_go_back {
                button { class: "icon", "aria-label": "Back", onclick: move |_| session.back(), "‹" }
            }
            h1 { "{title}" }
            button {
                class: "sync-chip",
                "aria-label": "Sync status",
                onclick: move |_| {
                    if session.screen() != Screen::Sync {
                        session.open(Screen::Sync)
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
    to: Screen,
    title: Option<String>,
    meta: String,
    badge: Option<(String, bool)>,
) -> Element {
    let mut session = Session::get();
    rsx! {
        button { class: "card", onclick: move |_| session.open(to),
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
