//! When a record was written, against when the visit happened. The lines themselves are the
//! shared model's, so that a record's PDF says exactly what the app shows.

pub use doorstep_shared::model::timeliness::{ago, span, timeliness, when};
