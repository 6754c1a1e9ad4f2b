//! # doorstep-mobile
//!
//! The app home-visit workers write their records in. Its behaviour lives in plain structs
//! that the views call, so it is tested without a renderer.

pub mod save_status;
