//! A field the worker is typing into, between their keystrokes and the store.
//!
//! Keystrokes are not written one by one: the text is written once the worker pauses for
//! [`SAVE_AFTER`], or leaves the field, so a burst of typing costs one durable write and one
//! change in the record's history, and a saved field is never more than about a second behind
//! the screen.

use std::time::Duration;

/// How long after the last keystroke the field is written to the store.
pub const SAVE_AFTER: Duration = Duration::from_millis(300);

/// The text of one field: what the store holds, and what the worker has typed since.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldDraft {
    stored: String,
    typed: Option<String>,
    /// Counts keystrokes, so that only the timer of the latest one writes.
    keystroke: u64,
}

impl FieldDraft {
    /// A field showing what the store holds.
    pub fn new(stored: impl Into<String>) -> Self {
        FieldDraft {
            stored: stored.into(),
            typed: None,
            keystroke: 0,
        }
    }

    /// The text to show.
    pub fn shown(&self) -> &str {
        self.typed.as_deref().unwrap_or(&self.stored)
    }

    /// The worker typed: the field now reads `text`. Returns the keystroke's number, to hand
    /// to [`FieldDraft::due`] after [`SAVE_AFTER`].
    pub fn input(&mut self, text: impl Into<String>) -> u64 {
        self.typed = Some(text.into());
        self.keystroke += 1;
        self.keystroke
    }

    /// The text to write, if `keystroke` is still the latest and differs from the store.
    pub fn due(&self, keystroke: u64) -> Option<String> {
        (keystroke == self.keystroke)
            .then(|| self.unsaved())
            .flatten()
    }

    /// The text to write now, whatever the timer (the worker left the field).
    pub fn unsaved(&self) -> Option<String> {
        self.typed
            .as_ref()
            .filter(|typed| **typed != self.stored)
            .cloned()
    }

    /// Whether typed text has not reached the store yet.
    pub fn is_pending(&self) -> bool {
        self.unsaved().is_some()
    }

    /// The store took `text`.
    pub fn saved(&mut self, text: &str) {
        self.stored = text.to_owned();
        if self.typed.as_deref() == Some(text) {
            self.typed = None;
        }
    }

    /// The store's text changed under the field (a colleague's edit arrived by sync). Words
    /// typed meanwhile are carried over onto the new text: the worker's change, found as the
    /// span between what the old and the typed text share at both ends, is made to the new
    /// text at the same place.
    ///
    /// Returns whether the text to show changed: the input then has to be drawn anew with it,
    /// since what the worker types is otherwise left in the input as it is.
    pub fn refresh(&mut self, stored: &str) -> bool {
        if stored == self.stored {
            return false;
        }
        let shown_before = self.shown().to_owned();
        if let Some(typed) = &self.typed {
            self.typed = Some(rebase(&self.stored, typed, stored));
        }
        self.stored = stored.to_owned();
        if self.typed.as_deref() == Some(stored) {
            self.typed = None;
        }
        self.shown() != shown_before
    }
}

/// `typed` was made from `base`; returns the same change made to `newer`. If `newer` changed
/// the very span the worker changed, the worker's text for that span wins and the rest of
/// `newer` is kept.
fn rebase(base: &str, typed: &str, newer: &str) -> String {
    let prefix = common_prefix(base, typed);
    let suffix = common_suffix(&base[prefix..], &typed[prefix..]);
    let removed = &base[prefix..base.len() - suffix];
    let inserted = &typed[prefix..typed.len() - suffix];
    let (head, tail) = (&base[..prefix], &base[base.len() - suffix..]);
    // Where the worker's change sits in the newer text: after the same words before it and
    // before the same words after it.
    if newer.starts_with(head) && newer.ends_with(tail) && head.len() + tail.len() <= newer.len() {
        let middle = &newer[head.len()..newer.len() - tail.len()];
        let middle = middle.strip_prefix(removed).unwrap_or(middle);
        return format!("{head}{inserted}{middle}{tail}");
    }
    if let Some(at) = newer.find(head).filter(|_| !head.is_empty()) {
        let after = &newer[at + head.len()..];
        let after = after.strip_prefix(removed).unwrap_or(after);
        return format!("{}{head}{inserted}{after}", &newer[..at]);
    }
    format!("{newer}{inserted}")
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at)
}

fn common_suffix(a: &str, b: &str) -> usize {
    let mut len = 0;
    for (x, y) in a.chars().rev().zip(b.chars().rev()) {
        if x != y {
            break;
        }
        len += x.len_utf8();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_keystroke_of_a_burst_writes() {
        let mut draft = FieldDraft::new("");
        let first = draft.input("T");
        let second = draft.input("Te");
        let last = draft.input("Tea");
        assert_eq!(draft.due(first), None);
        assert_eq!(draft.due(second), None);
        assert_eq!(draft.due(last).as_deref(), Some("Tea"));
        draft.saved("Tea");
        assert_eq!(draft.due(last), None, "written once");
        assert!(!draft.is_pending());
        assert_eq!(draft.shown(), "Tea");
    }

    #[test]
    fn typing_back_to_the_stored_text_writes_nothing() {
        let mut draft = FieldDraft::new("calm");
        draft.input("calm.");
        let keystroke = draft.input("calm");
        assert_eq!(draft.due(keystroke), None);
    }

    #[test]
    fn leaving_the_field_writes_at_once() {
        let mut draft = FieldDraft::new("");
        draft.input("Kitchen");
        assert_eq!(draft.unsaved().as_deref(), Some("Kitchen"));
    }

    #[test]
    fn a_colleagues_edit_shows_when_nothing_is_typed() {
        let mut draft = FieldDraft::new("Tearful.");
        assert!(
            draft.refresh("Tearful. Then calm."),
            "the input is drawn anew"
        );
        assert_eq!(draft.shown(), "Tearful. Then calm.");
        assert!(!draft.is_pending());
    }

    #[test]
    fn words_typed_while_a_colleagues_edit_arrives_are_kept_with_theirs() {
        let mut draft = FieldDraft::new("She was tearful. The flat was cold.");
        draft.input("She was tearful at first. The flat was cold.");
        assert!(draft.refresh("She was tearful. The flat was cold. Heating broken."));
        assert_eq!(
            draft.shown(),
            "She was tearful at first. The flat was cold. Heating broken."
        );
        assert_eq!(
            draft.unsaved().as_deref(),
            Some("She was tearful at first. The flat was cold. Heating broken.")
        );
    }

    #[test]
    fn the_workers_own_save_coming_back_leaves_the_input_alone() {
        let mut draft = FieldDraft::new("Tea");
        draft.input("Tea and");
        draft.saved("Tea and");
        draft.input("Tea and toast");
        assert!(!draft.refresh("Tea and"), "nothing new from outside");
        assert_eq!(draft.shown(), "Tea and toast");
        assert_eq!(draft.unsaved().as_deref(), Some("Tea and toast"));
    }

    #[test]
    fn a_deletion_is_carried_over_too() {
        let mut draft = FieldDraft::new("one two three");
        draft.input("one three");
        draft.refresh("zero one two three");
        assert_eq!(draft.shown(), "zero one three");
    }

    #[test]
    fn both_typing_at_the_same_spot_keeps_both() {
        let mut draft = FieldDraft::new("Plan: ");
        draft.input("Plan: visit Friday.");
        draft.refresh("Plan: call GP.");
        let shown = draft.shown();
        assert!(shown.contains("visit Friday."), "{shown}");
        assert!(shown.contains("call GP."), "{shown}");
    }

    #[test]
    fn accented_text_is_cut_on_character_boundaries() {
        let mut draft = FieldDraft::new("café");
        draft.input("cafés");
        draft.refresh("le café");
        assert_eq!(draft.shown(), "le cafés");
    }
}
