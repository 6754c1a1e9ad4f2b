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
    dioxus::launch(ui::App);
}
