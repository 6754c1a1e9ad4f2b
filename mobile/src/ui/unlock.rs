//! Unlock the store with the passphrase, or choose one on first use.

use dioxus::prelude::*;
use doorstep_shared::password_rules::Strength;
use doorstep_shared::store::{Passphrase, StoreError};

use crate::platform;
use crate::presenters::lock::check_new_passphrase;
use crate::session::Session;

#[component]
pub fn Unlock() -> Element {
    let mut session = Session::get();
    // Set while another tab of this app holds the store (see `platform::claim_store`).
    let mut open_elsewhere = use_signal(|| false);
    let exists = use_resource(move || async move {
        if !platform::claim_store(false).await {
            open_elsewhere.set(true);
            platform::claim_store(true).await;
            open_elsewhere.set(false);
        }
        platform::store_exists().await
    });
    let mut passphrase = use_signal(String::new);
    let mut confirmation = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let exists = match &*exists.read() {
        None if open_elsewhere() => {
            return rsx! {
                section { class: "unlock",
                    h1 { class: "brand", "Doorstep" }
                    p { class: "open-elsewhere", role: "status",
                        "Doorstep is already open in another tab or window. Close it there, and this one continues by itself."
                    }
                }
            };
        }
        None => return rsx! { p { class: "centre", "Opening…" } },
        Some(Err(error)) => {
            return rsx! { p { class: "error", role: "alert", "This device's storage cannot be opened: {error}" } };
        }
        Some(Ok(exists)) => *exists,
    };

    let submit = move |event: FormEvent| {
        event.prevent_default();
        if *busy.peek() {
            return;
        }
        let typed = passphrase.peek().clone();
        if !exists && let Err(why) = check_new_passphrase(&typed, &confirmation.peek()) {
            problem.set(Some(why.to_owned()));
            return;
        }
        busy.set(true);
        spawn(async move {
            let opened = platform::open_store(&Passphrase::new(typed)).await;
            busy.set(false);
            match opened.and_then(|store| session.unlock(store)) {
                // Not kept once the store is open.
                Ok(()) => {
                    passphrase.set(String::new());
                    confirmation.set(String::new());
                }
                Err(StoreError::WrongPassphrase) => problem.set(Some(
                    "That passphrase does not open this device's notes.".into(),
                )),
                Err(error) => problem.set(Some(error.to_string())),
            }
        });
    };

    rsx! {
        section { class: "unlock",
            h1 { class: "brand", "Doorstep" }
            if exists {
                p { "Your notes on this device are locked." }
            } else {
                p {
                    "Choose a passphrase. It encrypts every note on this device; nobody, your agency included, can recover it."
                }
            }
            form { onsubmit: submit,
                label {
                    "Passphrase"
                    input {
                        r#type: "password",
                        name: "passphrase",
                        // The key to the notes: not for the browser's password manager.
                        autocomplete: "off",
                        oninput: move |event| passphrase.set(event.value()),
                    }
                }
                if !exists && !passphrase().is_empty() {
                    PassphraseStrength { passphrase: passphrase() }
                }
                if !exists {
                    label {
                        "Passphrase again"
                        input {
                            r#type: "password",
                            name: "confirmation",
                            autocomplete: "off",
                            oninput: move |event| confirmation.set(event.value()),
                        }
                    }
                }
                if let Some(problem) = problem() {
                    p { class: "error", role: "alert", "{problem}" }
                }
                button { class: "primary", r#type: "submit", disabled: busy(),
                    if busy() { "Opening…" } else if exists { "Unlock" } else { "Set passphrase" }
                }
            }
        }
    }
}

/// How hard the passphrase being chosen looks to guess, as it is typed.
#[component]
fn PassphraseStrength(passphrase: String) -> Element {
    let strength = Strength::of(&passphrase);
    let class = match strength {
        Strength::Refused => "strength refused",
        Strength::Weak => "strength weak",
        Strength::Fair => "strength fair",
        Strength::Strong => "strength strong",
    };
    rsx! {
        p { class, "aria-live": "polite", "Strength: {strength.words()}" }
    }
}
