//! Unlock the store with the passphrase, or choose one on first use.

use dioxus::prelude::*;
use doorstep_shared::store::{Passphrase, StoreError};

use crate::platform;
use crate::presenters::lock::check_new_passphrase;
use crate::session::Session;

#[component]
pub fn Unlock() -> Element {
    let mut session = Session::get();
    let exists = use_resource(platform::store_exists);
    let mut passphrase = use_signal(String::new);
    let mut confirmation = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let exists = match &*exists.read() {
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
                        autocomplete: if exists { "current-password" } else { "new-password" },
                        value: "{passphrase}",
                        oninput: move |event| passphrase.set(event.value()),
                    }
                }
                if !exists {
                    label {
                        "Passphrase again"
                        input {
                            r#type: "password",
                            name: "confirmation",
                            autocomplete: "new-password",
                            value: "{confirmation}",
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
