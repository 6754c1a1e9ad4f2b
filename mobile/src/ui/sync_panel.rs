//! The offline banner and the sync panel: pending changes, last sync, "Sync now".

use chrono::Duration;
use dioxus::prelude::*;

use crate::platform;
use crate::presenters::lock::LOCK_WHEN_HIDDEN_CHOICES;
use crate::presenters::server_address::ServerAddress;
use crate::session::{Session, SyncTrigger, settings};
use crate::ui::Route;
use doorstep_shared::attachments::size_label;
use doorstep_shared::store::AttachmentLimits;

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
    let mut confirming_sign_out = use_signal(|| false);
    let sign_out = move |_| {
        confirming_sign_out.set(false);
        spawn(async move {
            let told = crate::sync_engine::sign_out(session).await;
            session.notice.set(Some(match told {
                Ok(()) => "Signed out: this device's notes were removed from it. What it had \
                           synced is kept on the server."
                    .to_owned(),
                Err(reason) => format!(
                    "Signed out and this device's notes removed, but the server could not be \
                     told ({reason}): ask your administrator to revoke this device."
                ),
            }));
            session.open(Route::SignIn {});
        });
    };
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
            AttachmentSettings {}
            button { class: "secondary", onclick: move |_| session.lock_now(), "Lock now" }
            if status.signed_in && !confirming_sign_out() {
                button {
                    class: "secondary",
                    onclick: move |_| confirming_sign_out.set(true),
                    "Sign out of this device"
                }
            }
            if confirming_sign_out() {
                div { class: "confirm", role: "alertdialog", "aria-label": "Sign out of this device",
                    if status.pending > 0 {
                        p { class: "storage-warning",
                            "{status.pending} changes have not reached the server. Signing out now removes them from this device for good: sync first if you can."
                        }
                    } else {
                        p { "Signing out removes this device's notes from it. They are kept on the server, and come back when you sign in again." }
                    }
                    button { class: "danger", onclick: sign_out, "Sign out and remove notes" }
                    button { class: "secondary", onclick: move |_| confirming_sign_out.set(false), "Cancel" }
                }
            }
        }
    }
}

/// One attachment limit: its label, how it is set, its value, and the values offered.
type LimitChoice = (
    &'static str,
    fn(&mut AttachmentLimits, u64),
    u64,
    &'static [(u64, &'static str)],
);

/// What attachments take on this device, and its limits: the largest attachment, the space
/// for them all, and the size photos are taken at.
#[component]
fn AttachmentSettings() -> Element {
    let mut session = Session::get();
    let _ = session.revision.read();
    let Some(Ok((limits, used))) =
        session.read(|store| Ok((store.attachment_limits()?, store.attachment_bytes_used()?)))
    else {
        return rsx! {};
    };
    const MIB: u64 = 1024 * 1024;
    let mut set = move |change: fn(&mut AttachmentLimits, u64), value: u64| {
        let mut changed = limits;
        change(&mut changed, value);
        session.write(|store| store.set_attachment_limits(changed));
    };
    let choices: [LimitChoice; 3] = [
        (
            "Largest attachment",
            |limits, value| limits.max_attachment_bytes = value,
            limits.max_attachment_bytes,
            &[
                (10 * MIB, "10 MB"),
                (20 * MIB, "20 MB"),
                (30 * MIB, "30 MB"),
            ],
        ),
        (
            "Space for attachments on this device",
            |limits, value| limits.device_budget_bytes = value,
            limits.device_budget_bytes,
            &[
                (256 * MIB, "256 MB"),
                (512 * MIB, "512 MB"),
                (1024 * MIB, "1 GB"),
            ],
        ),
        (
            "Photos are kept at",
            |limits, value| limits.photo_longest_side = value as u32,
            u64::from(limits.photo_longest_side),
            &[(1280, "1,280 px"), (2048, "2,048 px"), (3072, "3,072 px")],
        ),
    ];
    rsx! {
        p { class: "storage", "Attachments on this device: {size_label(used)} of {size_label(limits.device_budget_bytes)}." }
        for (label, change, current, options) in choices {
            div { key: "{label}", class: "field", role: "group", "aria-label": "{label}",
                span { class: "label", "{label}" }
                div { class: "choices",
                    for (value, name) in options.iter().copied() {
                        button {
                            key: "{value}",
                            class: if value == current { "choice selected" } else { "choice" },
                            "aria-pressed": "{value == current}",
                            onclick: move |_| set(change, value),
                            "{name}"
                        }
                    }
                }
            }
        }
    }
}
