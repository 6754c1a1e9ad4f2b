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
        // While updating, nothing can be typed: the page is about to reload, and words typed
        // after the field was saved could not be saved again in time.
        if state == UpdateState::Applying {
            div { class: "updating-cover" }
        }
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
