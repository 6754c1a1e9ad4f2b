//! The offline banner and the sync panel: pending changes, last sync, "Sync now".

use dioxus::prelude::*;

use crate::platform;
use crate::session::{Screen, Session, SyncTrigger, settings};

#[component]
pub fn Banner() -> Element {
    let session = Session::get();
    let banner = session.sync.read().banner();
    rsx! {
        if let Some(text) = banner {
            div { class: "banner", role: "status", "{text}" }
        }
    }
}

#[component]
pub fn SyncPanel() -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let status = session.sync.read().clone();
    let server = session
        .read(|store| store.setting(settings::SERVER))
        .and_then(Result::ok)
        .flatten();
    let user_label = session
        .user()
        .map_or_else(|| "nobody".to_owned(), |user| user.as_str().to_owned());
    let server_label = server.unwrap_or_else(|| "none: working offline".to_owned());
    rsx! {
        section { class: "sync",
            p { class: "summary", "{status.summary(platform::now())}" }
            if let Some(problem) = &status.problem {
                p { class: "error", "Last attempt: {problem}" }
            }
            dl { class: "timeliness",
                div { dt { "Signed in as" } dd { "{user_label}" } }
                div { dt { "Server" } dd { "{server_label}" } }
            }
            button {
                class: "primary",
                disabled: status.running,
                onclick: move |_| session.request_sync(SyncTrigger::Now),
                if status.running { "Syncing…" } else { "Sync now" }
            }
            if !status.signed_in || status.needs_sign_in {
                button { class: "secondary", onclick: move |_| session.open(Screen::SignIn), "Sign in to sync" }
            }
            button { class: "secondary", onclick: move |_| session.lock_now(), "Lock now" }
        }
    }
}
