//! # doorstep-mobile
//!
//! The app home-visit workers write their records in: Dioxus, one codebase for the web,
//! desktop and phones.
//!
//! - [`presenters`]: the behaviour, in plain structs tested without a renderer;
//! - [`platform`]: where the store lives and the clock, timers and network of each target;
//! - [`session`]: the unlocked store and the state every screen shares;
//! - [`sync_engine`]: background sync, at start, on reconnect, after edits and on demand;
//! - [`ui`]: the screens.

pub mod platform;
pub mod presenters;
pub mod session;
pub mod sync_engine;
pub mod ui;

/// Starts the app on the platform `dx` built it for.
pub fn launch() {
    #[cfg(feature = "desktop")]
    {
        use dioxus::desktop::{Config, LogicalSize, WindowBuilder};
        // On a desktop the app is a phone-shaped window: it is laid out for one hand.
        let window = WindowBuilder::new()
            .with_title("Doorstep")
            .with_inner_size(LogicalSize::new(420.0, 860.0));
        dioxus::LaunchBuilder::desktop()
            .with_cfg(Config::new().with_window(window).with_menu(None))
            .launch(ui::App);
    }
    #[cfg(target_family = "wasm")]
    std::panic::set_hook(Box::new(|panic| {
        // A panic in a browser is otherwise only "unreachable", with no word of where.
        web_sys::console::error_1(&format!("doorstep panicked: {panic}").into());
    }));
    #[cfg(not(feature = "desktop"))]
    dioxus::launch(ui::App);
}
