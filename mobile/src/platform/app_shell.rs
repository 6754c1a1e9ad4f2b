//! The installed web app (DESIGN §9): the service worker that keeps the app for when there is
//! no network, the new versions it finds, and persistent storage. Elsewhere the app is
//! installed as a program of its own, and none of this applies.
//!
//! The worker itself is `mobile/web/sw.js`, which `scripts/web-app-shell` writes into each
//! build with the build's list of files.

use dioxus::prelude::*;

use crate::presenters::sync_status::StoragePersistence;
use crate::presenters::update::UpdateState;

/// How often an open app asks whether a new version was deployed.
#[cfg(target_family = "wasm")]
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Registers the service worker and watches for new versions, which set `update` to
/// [`UpdateState::Ready`]. Called once, at start.
pub fn start(update: Signal<UpdateState>) {
    #[cfg(target_family = "wasm")]
    web::start(update);
    #[cfg(not(target_family = "wasm"))]
    let _ = update;
}

/// Asks whether a new version was deployed (when the app comes back into view, and now and
/// then while it is open).
pub fn check_for_update() {
    #[cfg(target_family = "wasm")]
    web::check_for_update();
}

/// The worker agreed to the new version: the field being typed into is saved and its write
/// settled, then the new version takes over and the page reloads with it.
pub async fn apply_update(mut update: Signal<UpdateState>) {
    update.set(UpdateState::Applying);
    super::save_focused_field();
    super::writes_settled().await;
    #[cfg(target_family = "wasm")]
    web::activate_waiting();
}

/// Asks the browser to keep this site's storage, which it otherwise may clear when space
/// runs low (Safari does after seven days unused, unless the app is installed), and says
/// whether it will.
pub async fn persist_storage() -> StoragePersistence {
    #[cfg(target_family = "wasm")]
    return web::persist_storage().await;
    #[cfg(not(target_family = "wasm"))]
    StoragePersistence::AppOwn
}

#[cfg(target_family = "wasm")]
mod web {
    use std::cell::RefCell;
    use std::rc::Rc;

    use dioxus::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        RegistrationOptions, ServiceWorker, ServiceWorkerRegistration, ServiceWorkerState,
        ServiceWorkerUpdateViaCache,
    };

    use super::{CHECK_EVERY, StoragePersistence, UpdateState};

    thread_local! {
        static REGISTRATION: RefCell<Option<ServiceWorkerRegistration>> =
            const { RefCell::new(None) };
    }

    fn service_workers() -> Option<web_sys::ServiceWorkerContainer> {
        let navigator = web_sys::window()?.navigator();
        // Absent on a page that is not a secure context (plain http to another machine).
        js_sys::Reflect::has(&navigator, &"serviceWorker".into())
            .unwrap_or(false)
            .then(|| navigator.service_worker())
    }

    pub fn start(mut update: Signal<UpdateState>) {
        let Some(container) = service_workers() else {
            tracing::warn!("no service worker here: the app will not open without a network");
            return;
        };
        let options = RegistrationOptions::new();
        // The browser asks the server for the worker every time, never its HTTP cache.
        options.set_update_via_cache(ServiceWorkerUpdateViaCache::None);
        let registered = container.register_with_options("/sw.js", &options);
        spawn(async move {
            let registration = match JsFuture::from(registered).await {
                Ok(registration) => registration.unchecked_into::<ServiceWorkerRegistration>(),
                Err(error) => {
                    tracing::warn!("the service worker was not registered: {error:?}");
                    return;
                }
            };
            // A worker that waits while another controls the page is a new version. (With no
            // controller it is the first install, which needs nobody's consent.)
            let controlled = move || {
                service_workers()
                    .and_then(|workers| workers.controller())
                    .is_some()
            };
            if registration.waiting().is_some() && controlled() {
                update.set(UpdateState::Ready);
            }
            let watched = registration.clone();
            let became_ready = Rc::new(RefCell::new(crate::platform::web::in_app(move |()| {
                if controlled() {
                    update.set(UpdateState::Ready);
                }
            })));
            let on_update_found = Closure::<dyn FnMut()>::new(move || {
                let Some(installing) = watched.installing() else {
                    return;
                };
                let worker = installing.clone();
                let became_ready = Rc::clone(&became_ready);
                let on_state = Closure::<dyn FnMut()>::new(move || {
                    if worker.state() == ServiceWorkerState::Installed {
                        (became_ready.borrow_mut())(());
                    }
                });
                installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
                on_state.forget();
            });
            registration.set_onupdatefound(Some(on_update_found.as_ref().unchecked_ref()));
            on_update_found.forget();
            REGISTRATION.with_borrow_mut(|kept| *kept = Some(registration));
            loop {
                crate::platform::sleep(CHECK_EVERY).await;
                check_for_update();
            }
        });
    }

    pub fn check_for_update() {
        REGISTRATION.with_borrow(|registration| {
            if let Some(registration) = registration
                && let Ok(checked) = registration.update()
            {
                // Offline, the check fails; the next one will do.
                spawn(async move {
                    let _ = JsFuture::from(checked).await;
                });
            }
        });
    }

    pub fn activate_waiting() {
        let waiting: Option<ServiceWorker> =
            REGISTRATION.with_borrow(|registration| registration.as_ref()?.waiting());
        let reload = || {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        };
        let (Some(waiting), Some(container)) = (waiting, service_workers()) else {
            reload();
            return;
        };
        // Reload once the new worker controls the page, so the page is the new build's.
        let on_controller_change = Closure::once_into_js(reload);
        container.set_oncontrollerchange(Some(on_controller_change.unchecked_ref()));
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &"skip-waiting".into());
        if waiting.post_message(&message).is_err() {
            reload();
        }
    }

    pub async fn persist_storage() -> StoragePersistence {
        let Some(window) = web_sys::window() else {
            return StoragePersistence::Unknown;
        };
        let asked = match window.navigator().storage().persist() {
            Ok(asked) => JsFuture::from(asked)
                .await
                .ok()
                .and_then(|kept| kept.as_bool()),
            Err(_) => None,
        };
        match asked {
            Some(true) => StoragePersistence::Persistent,
            // Safari keeps the storage of an app on the home screen, and does not say so.
            _ if installed(&window) => StoragePersistence::AppOwn,
            Some(false) => StoragePersistence::MayBeCleared,
            None => StoragePersistence::Unknown,
        }
    }

    /// Whether the app runs installed, from the home screen.
    fn installed(window: &web_sys::Window) -> bool {
        let standalone = window
            .match_media("(display-mode: standalone)")
            .ok()
            .flatten()
            .is_some_and(|query| query.matches());
        // Safari's own flag for a page opened from the home screen.
        let ios_standalone = js_sys::Reflect::get(&window.navigator(), &"standalone".into())
            .is_ok_and(|flag| flag.is_truthy());
        standalone || ios_standalone
    }
}
