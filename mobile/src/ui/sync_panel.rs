//! The offline banner and the sync panel: pending changes, last sync, "Sync now".

use chrono::Duration;
use dioxus::prelude::*;

use crate::platform;
use crate::presenters::lock::LOCK_WHEN_HIDDEN_CHOICES;
use crate::presenters::server_address::ServerAddress;
use crate::session::{Session, SyncTrigger, settings};
use crate::ui::Route;

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
    let server_label = server.map_or_else(
        || "none: working offline".to_owned(),
        |server| ServerAddress::parse(&server).map_or(server, |server| server.host()),
    );
    let hidden_after = session.lock.read().hidden_after().num_seconds();
    let mut lock_when_hidden = move |secs: i64| {
        let kept = session
            .write(|store| store.set_setting(settings::LOCK_WHEN_HIDDEN, Some(&secs.to_string())));
        if kept.is_some() {
            let lock = *session.lock.peek();
            session.lock.set(lock.hidden_for(Duration::seconds(secs)));
        }
    };
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
                button { class: "secondary", onclick: move |_| session.open(Route::SignIn {}), "Sign in to sync" }
            }
            if let Some(line) = status.storage_line() {
                p { class: "storage", "{line}" }
            }
            if let Some(warning) = status.storage_warning() {
                p { class: "storage-warning", role: "alert", "{warning}" }
            }
            div { class: "field", role: "group", "aria-label": "Lock when the app is hidden",
                span { class: "label", "Lock when the app is hidden" }
                div { class: "choices",
                    for (secs, label) in LOCK_WHEN_HIDDEN_CHOICES {
                        button {
                            key: "{secs}",
                            class: if secs == hidden_after { "choice selected" } else { "choice" },
                            "aria-pressed": "{secs == hidden_after}",
                            onclick: move |_| lock_when_hidden(secs),
                            "{label}"
                        }
                    }
                }
            }
            button { class: "secondary", onclick: move |_| session.lock_now(), "Lock now" }
        }
    }
}
