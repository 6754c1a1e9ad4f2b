//! Sign in to the agency's sync server, or work offline under one's user name.
//!
//! The server is the one the app came from (or the one this device last signed in to); the
//! worker may type another, which must be `https` ([`ServerAddress`]). Nothing in the page's
//! address can choose where the password goes.

use dioxus::prelude::*;
use doorstep_shared::ids::UserId;
use doorstep_shared::sync::http::SyncClient;

use crate::platform;
use crate::presenters::server_address::ServerAddress;
use crate::session::{Session, SyncTrigger, settings};
use crate::sync_engine::describe;
use crate::ui::Route;

#[component]
pub fn SignIn() -> Element {
    let mut session = Session::get();
    let known_user = session.user().map(|user| user.as_str().to_owned());
    let saved_server = session
        .read(|store| store.setting(settings::SERVER))
        .and_then(Result::ok)
        .flatten();
    let mut server = use_signal(|| saved_server.unwrap_or_else(platform::default_server));
    // Whether the worker is typing another server's address.
    let mut other_server = use_signal(|| server.peek().is_empty());
    let shown_server = ServerAddress::parse(&server.peek()).map(|server| server.host());
    let mut user = use_signal(|| known_user.clone().unwrap_or_default());
    let mut password = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    let mut become_user = move |name: &str| -> Option<UserId> {
        let parsed: UserId = match name.trim().parse() {
            Ok(user) => user,
            Err(_) => {
                problem.set(Some(
                    "Enter your user name (letters, digits, . _ -).".into(),
                ));
                return None;
            }
        };
        let signed_in = session.write(|store| {
            store.sign_in(parsed.clone())?;
            store.set_setting(settings::USER, Some(parsed.as_str()))
        });
        signed_in.map(|()| parsed)
    };

    let sign_in = move |event: FormEvent| {
        event.prevent_default();
        if *busy.peek() {
            return;
        }
        let address = match ServerAddress::parse(&server.peek()) {
            Ok(address) => address.as_str().to_owned(),
            Err(why) => {
                problem.set(Some(why.to_owned()));
                other_server.set(true);
                return;
            }
        };
        let (name, secret) = (user.peek().clone(), password.peek().clone());
        busy.set(true);
        problem.set(None);
        spawn(async move {
            let result = async {
                let mut client = SyncClient::new(&address).map_err(|error| describe(&error))?;
                client
                    .sign_in(name.trim(), &secret, &platform::device_name())
                    .await
                    .map_err(|error| describe(&error))?;
                Ok::<_, String>(client.token().map(str::to_owned))
            }
            .await;
            busy.set(false);
            match result {
                Ok(Some(token)) => {
                    if become_user(&name).is_none() {
                        return;
                    }
                    session.write(|store| {
                        store.set_setting(settings::SERVER, Some(&address))?;
                        store.set_setting(settings::TOKEN, Some(&token))
                    });
                    {
                        let mut sync = session.sync.write();
                        sync.signed_in = true;
                        sync.needs_sign_in = false;
                        sync.problem = None;
                    }
                    session.request_sync(SyncTrigger::Now);
                    session.replace_with(Route::Caseload {});
                }
                Ok(None) => problem.set(Some("The server issued no device token.".into())),
                Err(why) => problem.set(Some(why)),
            }
        });
    };

    let work_offline = move |_| {
        let name = user.peek().clone();
        if become_user(&name).is_some() {
            session.replace_with(Route::Caseload {});
        }
    };

    rsx! {
        section { class: "sign-in",
            p { "Sign in to your agency's server to share notes with your team. You can also work offline and sign in later." }
            form { onsubmit: sign_in,
                if other_server() {
                    label {
                        "Server"
                        input {
                            r#type: "url",
                            name: "server",
                            inputmode: "url",
                            autocomplete: "off",
                            autocapitalize: "none",
                            spellcheck: "false",
                            placeholder: "https://doorstep.agency.example",
                            initial_value: "{server.peek()}",
                            oninput: move |event| server.set(event.value()),
                        }
                    }
                } else {
                    div { class: "server-line",
                        span { class: "meta", "Server: " }
                        strong { class: "server-host",
                            match &shown_server {
                                Ok(host) => host.clone(),
                                Err(_) => server.peek().clone(),
                            }
                        }
                        button {
                            class: "text-button",
                            r#type: "button",
                            onclick: move |_| other_server.set(true),
                            "Use another server"
                        }
                    }
                }
                label {
                    "User name"
                    input {
                        name: "user",
                        autocomplete: "username",
                        autocapitalize: "none",
                        readonly: known_user.is_some(),
                        initial_value: "{user.peek()}",
                        oninput: move |event| user.set(event.value()),
                    }
                }
                label {
                    "Password"
                    input {
                        r#type: "password",
                        name: "password",
                        autocomplete: "current-password",
                        autocapitalize: "none",
                        spellcheck: "false",
                        oninput: move |event| password.set(event.value()),
                    }
                }
                if let Some(problem) = problem() {
                    p { class: "error", role: "alert", "{problem}" }
                }
                button { class: "primary", r#type: "submit", disabled: busy(),
                    if busy() { "Signing in…" } else { "Sign in" }
                }
            }
            button { class: "secondary", onclick: work_offline, "Work offline" }
        }
    }
}
