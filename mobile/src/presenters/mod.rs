//! The app's behaviour in plain structs and functions, which the views call and which are
//! tested without a renderer.

pub mod caseload;
pub mod dashboard;
pub mod field_draft;
pub mod lock;
pub mod progress_chart;
pub mod review;
pub mod save_status;
pub mod server_address;
pub mod sync_status;
pub mod timeliness;
pub mod update;
pub mod visit_times;
