//! The web browser: the store in IndexedDB, the page's own timers, events and history.

use super::*;
use doorstep_shared::store::browser::{self, Persistence};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;

/// Makes a handler for a browser event (which the browser calls from outside the app) run
/// inside the app's runtime: there signals notify the screens, and tasks can be spawned. It
/// runs in the app's root scope, which lives as long as the page: the screen that set the
/// handler up may be gone by the time the event comes.
pub(super) fn in_app<A>(mut handler: impl FnMut(A) + 'static) -> impl FnMut(A) + 'static {
    let runtime = dioxus::core::Runtime::current();
    move |argument| runtime.in_scope(dioxus::core::ScopeId::APP, || handler(argument))
}

/// The Web Lock a tab holds while it may open the store.
const STORE_LOCK: &str = "doorstep.store";

thread_local! {
    static CLAIMED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Each tab holds the store in memory and writes its pages back whole, so two tabs of one
/// origin would overwrite each other's commits. A tab claims the store through a Web Lock
/// (`navigator.locks`) that it then holds until it closes; with `wait`, the call returns
/// once the tab holding it has closed, else at once with whether the claim succeeded.
/// Without Web Locks (an insecure origin) nothing can be claimed, and the tab proceeds.
pub async fn claim_store(wait: bool) -> bool {
    if CLAIMED.get() {
        return true;
    }
    let Some(window) = web_sys::window() else {
        return true;
    };
    let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into())
        .ok()
        .filter(|locks| locks.is_object());
    let request = locks.as_ref().and_then(|locks| {
        js_sys::Reflect::get(locks, &"request".into())
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()
    });
    let (Some(locks), Some(request)) = (locks, request) else {
        tracing::warn!("this browser has no Web Locks: another tab could open the store too");
        return true;
    };
    let mut answer = None;
    let answered = js_sys::Promise::new(&mut |resolve, _reject| answer = Some(resolve));
    let Some(answer) = answer else {
        return true;
    };
    let granted = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let held = !lock.is_null();
        let _ = answer.call1(&JsValue::NULL, &JsValue::from_bool(held));
        if held {
            // A promise that never settles: the lock is held until the tab closes.
            js_sys::Promise::new(&mut |_resolve, _reject| {}).into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"ifAvailable".into(), &JsValue::from_bool(!wait));
    if let Err(error) = request.call3(&locks, &STORE_LOCK.into(), &options, &granted) {
        tracing::warn!("the store's Web Lock could not be requested: {error:?}");
        return true;
    }
    let held = wasm_bindgen_futures::JsFuture::from(answered)
        .await
        .is_ok_and(|held| held.is_truthy());
    CLAIMED.set(held);
    held
}

/// Calls `callback(true)` when the page is hidden (the phone put down, another app or tab in
/// front) and `callback(false)` when it is shown again.
///
/// Before the callback, and before the browser draws the app switcher's picture of the page,
/// the page is covered (the `covered` class on `<html>`, which the style sheet turns into a
/// plain cover): the app re-renders only later, which would be too late. The cover stays when
/// the page is shown again, until the app has decided whether to lock ([`uncover`]). And the
/// field being typed into is left, which saves it, while the page can still reach IndexedDB:
/// text is otherwise written once typing pauses, and a page hidden or closed within that
/// pause would lose it.
pub fn on_visibility(callback: impl FnMut(bool) + 'static) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let mut callback = in_app(callback);
    let on_page_hide = Closure::<dyn FnMut()>::new(|| {
        cover(true);
        save_focused_field();
    });
    let on_visibility = Closure::<dyn FnMut()>::new(move || {
        let hidden = web_sys::window()
            .and_then(|window| window.document())
            .is_some_and(|document| document.hidden());
        if hidden {
            cover(true);
            save_focused_field();
        }
        callback(hidden);
    });
    let _ =
        window.add_event_listener_with_callback("pagehide", on_page_hide.as_ref().unchecked_ref());
    if let Some(document) = window.document() {
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            on_visibility.as_ref().unchecked_ref(),
        );
    }
    // The listeners live as long as the page.
    on_page_hide.forget();
    on_visibility.forget();
}

/// Takes the cover away once the screen under it is drawn: the app shown again, still
/// unlocked or now locked.
pub fn uncover() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let after_drawing = Closure::once_into_js(|| cover(false));
    if window
        .request_animation_frame(after_drawing.unchecked_ref())
        .is_err()
    {
        cover(false);
    }
}

fn cover(covered: bool) {
    let root = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.document_element());
    if let Some(root) = root {
        let _ = root.class_list().toggle_with_force("covered", covered);
    }
}

/// Leaves the field being typed into: its "left the field" handler writes it at once (event
/// handlers run as the event is dispatched, so the write is done when this returns).
pub fn save_focused_field() {
    let focused = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.active_element())
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = focused {
        let _ = element.blur();
    }
}

thread_local! {
    static BACK_KEPT_INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The marker of the history entry that keeps the back gesture inside the app.
const GUARD: &str = "doorstep-guard";

/// Keeps the back button and Android's back gesture inside the app: a marked entry for the
/// caseload is put under the screen the app was opened on, and whenever "back" lands on it
/// (the worker went back from the first screen), the caseload shows and the mark is put
/// under it again, instead of the browser leaving the app. Browsers let a page add history
/// entries that hold the back button only after the person has used the page, so this is
/// called once unlocking took a tap.
///
/// Every step back also counts `depth` down: the screens the in-app "Back" can return through.
pub fn keep_back_inside_app(mut depth: dioxus::prelude::Signal<usize>) {
    use dioxus::prelude::*;
    if BACK_KEPT_INSIDE.replace(true) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = window.history() else {
        return;
    };
    let here = window.location().href().unwrap_or_default();
    let _ = history.replace_state_with_url(&GUARD.into(), "", Some("/"));
    let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&here));
    let on_pop = Closure::<dyn FnMut(web_sys::PopStateEvent)>::new(in_app(
        move |event: web_sys::PopStateEvent| {
            let count = *depth.peek();
            depth.set(count.saturating_sub(1));
            if event.state().as_string().as_deref() == Some(GUARD)
                && let Some(window) = web_sys::window()
                && let Ok(history) = window.history()
            {
                let here = window.location().href().unwrap_or_default();
                let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&here));
            }
        },
    ));
    let _ = window.add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref());
    on_pop.forget();
}

pub async fn store_exists() -> Result<bool, StoreError> {
    browser::exists(STORE_NAME).await
}

/// Opens the store. How long that took (the key's derivation, most of it) is left in the
/// page's performance timeline as `doorstep-unlock`, for the browser tests to report: the
/// figure behind the key's cost (BENCHMARKS.md, "Unlocking").
pub async fn open_store(passphrase: &Passphrase) -> Result<Store, StoreError> {
    let performance = web_sys::window().and_then(|window| window.performance());
    if let Some(performance) = &performance {
        let _ = performance.mark("doorstep-unlock-start");
    }
    let opened = browser::open(STORE_NAME, passphrase).await;
    if let Some(performance) = &performance {
        let _ = performance.measure_with_start_mark("doorstep-unlock", "doorstep-unlock-start");
    }
    opened
}

pub fn storage_failure() -> Option<String> {
    Persistence::get().and_then(|persistence| persistence.failure())
}

pub async fn writes_settled() {
    if let Some(persistence) = Persistence::get() {
        persistence.settled().await;
    }
}

pub async fn sleep(duration: Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub fn online() -> bool {
    web_sys::window().is_none_or(|window| window.navigator().on_line())
}

/// Whether the browser says the connection costs by the byte (mobile data, or the worker
/// asked to save data): colleagues' photos then wait for Wi-Fi or a tap. Only Chromium says;
/// elsewhere the connection is taken as free.
pub fn metered() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let connection =
        js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("connection")).ok();
    let Some(connection) = connection.filter(|value| value.is_object()) else {
        return false;
    };
    let field = |name: &str| js_sys::Reflect::get(&connection, &JsValue::from_str(name)).ok();
    let save_data = field("saveData").and_then(|value| value.as_bool()) == Some(true);
    let cellular = field("type").and_then(|value| value.as_string()).as_deref() == Some("cellular");
    save_data || cellular
}

/// An address an `img` can show `bytes` from: an object URL, which the page's
/// Content-Security-Policy allows (`img-src blob:`). Released with [`release_picture_url`].
pub fn picture_url(bytes: &[u8], media_type: &str) -> Option<String> {
    let part = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&part);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(media_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    web_sys::Url::create_object_url_with_blob(&blob).ok()
}

/// Hands `bytes` to the browser as a download named `name`; on a phone it lands where the
/// browser keeps downloads, from where it can be shared. Returns where it went, in words.
pub fn save_file(name: &str, bytes: &[u8], media_type: &str) -> Result<String, String> {
    let url = picture_url(bytes, media_type).ok_or("the browser would not hold the file")?;
    let link = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.create_element("a").ok())
        .and_then(|element| element.dyn_into::<web_sys::HtmlAnchorElement>().ok())
        .ok_or("the page cannot offer a download")?;
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has its own copy once clicked; the URL can go at the next turn.
    let release = Closure::once_into_js(move || release_picture_url(&url));
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(release.unchecked_ref(), 10_000);
    }
    Ok(format!("{name}, in your downloads"))
}

/// Lets the browser free a picture's bytes once nothing shows them.
pub fn release_picture_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

pub fn on_reconnect(mut callback: impl FnMut() + 'static) {
    if let Some(window) = web_sys::window() {
        let mut callback = in_app(move |()| callback());
        let closure = Closure::<dyn FnMut()>::new(move || callback(()));
        let _ = window.add_event_listener_with_callback("online", closure.as_ref().unchecked_ref());
        // The listener lives as long as the page.
        closure.forget();
    }
}

/// The origin that served the app: its own server. Nothing in the address (such as a
/// `?server=` a link carries) may choose where the worker's password goes.
pub fn default_server() -> String {
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default()
}

pub fn device_name() -> String {
    let agent = web_sys::window()
        .and_then(|window| window.navigator().user_agent().ok())
        .unwrap_or_default();
    let browser = ["Firefox", "Edg", "Chrome", "Safari"]
        .into_iter()
        .find(|name| agent.contains(name))
        .unwrap_or("browser");
    format!("{browser} (web)")
}

thread_local! {
    /// Whether the keyboard is composing a word (a phone keyboard's underlined word, or an
    /// input method's characters): the input's text must not change under it.
    static COMPOSING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A merge that waits for the word being composed, the latest only.
    #[allow(clippy::type_complexity)]
    static MERGE_AFTER_WORD: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
        const { std::cell::RefCell::new(None) };
    static WATCHING_COMPOSITION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn watch_composition() {
    if WATCHING_COMPOSITION.replace(true) {
        return;
    }
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let started = Closure::<dyn FnMut()>::new(|| COMPOSING.set(true));
    let mut finished = in_app(|()| {
        COMPOSING.set(false);
        if let Some(merge) = MERGE_AFTER_WORD.take() {
            merge();
        }
    });
    let ended = Closure::<dyn FnMut()>::new(move || finished(()));
    let _ = document
        .add_event_listener_with_callback("compositionstart", started.as_ref().unchecked_ref());
    let _ =
        document.add_event_listener_with_callback("compositionend", ended.as_ref().unchecked_ref());
    started.forget();
    ended.forget();
}

/// Gives the input or text area `id` new text where it stands, keeping focus and moving its
/// selection: `merge` gets the text the input holds and its selection (in UTF-16 units), and
/// returns the text to hold and the selection to set, or `None` to leave it. While the
/// keyboard is composing a word in it, the merge waits for the word to end: changing the text
/// under a word being composed makes phone keyboards drop or repeat letters. Returns `false`
/// if there is no such input on the page.
pub fn merge_into_input(
    id: &str,
    merge: impl FnOnce(&str, (usize, usize)) -> Option<(String, (usize, usize))> + 'static,
) -> bool {
    watch_composition();
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return false;
    };
    let focused = document
        .active_element()
        .is_some_and(|element| element.id() == id);
    if focused && COMPOSING.get() {
        let id = id.to_owned();
        MERGE_AFTER_WORD.set(Some(Box::new(move || {
            merge_now(&id, merge);
        })));
        return true;
    }
    merge_now(id, merge)
}

fn merge_now(
    id: &str,
    merge: impl FnOnce(&str, (usize, usize)) -> Option<(String, (usize, usize))>,
) -> bool {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return false;
    };
    let Some(element) = document.get_element_by_id(id) else {
        return false;
    };
    let focused = document.active_element().as_ref() == Some(&element);
    let offset = |at: Result<Option<u32>, JsValue>| at.ok().flatten().unwrap_or(0) as usize;
    if let Some(area) = element.dyn_ref::<web_sys::HtmlTextAreaElement>() {
        let selection = (offset(area.selection_start()), offset(area.selection_end()));
        if let Some((text, (start, end))) = merge(&area.value(), selection) {
            area.set_value(&text);
            if focused {
                let _ = area.set_selection_range(start as u32, end as u32);
            }
        }
        return true;
    }
    if let Some(input) = element.dyn_ref::<web_sys::HtmlInputElement>() {
        let selection = (
            offset(input.selection_start()),
            offset(input.selection_end()),
        );
        if let Some((text, (start, end))) = merge(&input.value(), selection) {
            input.set_value(&text);
            if focused {
                let _ = input.set_selection_range(start as u32, end as u32);
            }
        }
        return true;
    }
    false
}
