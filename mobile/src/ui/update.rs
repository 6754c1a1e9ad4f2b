//! "A new version is ready": shown when a new build was deployed while the app is open.

use dioxus::prelude::*;

use crate::platform::app_shell;
use crate::presenters::update::UpdateState;
use crate::session::Session;

#[component]
pub fn UpdateReady() -> Element {
    let session = Session::get();
    let state = *session.update.read();
    let Some(message) = state.message() else {
        return rsx! {};
    };
    rsx! {
        div { class: "update-ready", role: "status",
            span { "{message}" }
            if state == UpdateState::Ready {
                button {
                    class: "secondary",
                    onclick: move |_| {
                        spawn(app_shell::apply_update(session.update));
                    },
                    "Update now"
                }
            }
        }
    }
}
