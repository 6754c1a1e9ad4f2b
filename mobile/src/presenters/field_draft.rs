//! A field the worker is typing into, between their keystrokes and the store.
//!
//! Keystrokes are not written one by one: the text is written once the worker pauses for
//! [`SAVE_AFTER`], or leaves the field, so a burst of typing costs one durable write and one
//! change in the record's history, and a saved field is never more than about a second behind
//! the screen.

use std::time::Duration;

use doorstep_shared::text::{byte_offset_of_utf16, merge, utf16_offset_of_byte};

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

    /// The text as the store last gave it: what the worker's typing is based on.
    pub fn stored(&self) -> &str {
        &self.stored
    }

    /// The store's text changed under the field (a colleague's edit arrived by sync). Words
    /// typed meanwhile are kept with the colleague's: both changes are made to the text
    /// ([`merge`]).
    ///
    /// Returns whether the text to show changed: the input then has to be given it.
    pub fn refresh(&mut self, stored: &str) -> bool {
        if stored == self.stored {
            return false;
        }
        let shown_before = self.shown().to_owned();
        self.merge_into_field(stored, &shown_before, (0, 0));
        self.shown() != shown_before
    }

    /// The store's text became `stored` while the input holds `in_field`, with the selection
    /// at `selection` (start and end, in the UTF-16 units a web page counts). Returns the text
    /// the input is to hold now, with both the worker's typing and the colleague's words, and
    /// where its selection goes: beside the same words as before. `None` if the store's text
    /// did not change.
    pub fn merge_into_field(
        &mut self,
        stored: &str,
        in_field: &str,
        selection: (usize, usize),
    ) -> Option<(String, (usize, usize))> {
        if stored == self.stored {
            return None;
        }
        let merged = merge(&self.stored, in_field, stored);
        let place = |units: usize| {
            let ours = byte_offset_of_utf16(in_field, units);
            utf16_offset_of_byte(&merged.text, merged.position(ours))
        };
        let selection = (place(selection.0), place(selection.1));
        self.stored = stored.to_owned();
        self.typed = (merged.text != stored).then(|| merged.text.clone());
        Some((merged.text, selection))
    }
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
    fn a_colleagues_words_merge_into_the_field_and_the_caret_stays_with_the_worker() {
        let mut draft = FieldDraft::new("The plan: ");
        // Typed, not yet saved; the caret at the end.
        let typed = "The plan: Amara will phone the G";
        draft.input(typed);
        let caret = typed.encode_utf16().count();
        let (text, selection) = draft
            .merge_into_field("Ben agrees. The plan: ", typed, (caret, caret))
            .expect("the store's text moved");
        assert_eq!(text, "Ben agrees. The plan: Amara will phone the G");
        let end = text.encode_utf16().count();
        assert_eq!(
            selection,
            (end, end),
            "the caret stays after the worker's last letter"
        );
        assert_eq!(draft.unsaved().as_deref(), Some(text.as_str()));
        assert_eq!(draft.stored(), "Ben agrees. The plan: ");
        // The same text again changes nothing.
        assert_eq!(
            draft.merge_into_field("Ben agrees. The plan: ", &text, (0, 0)),
            None
        );
    }

    #[test]
    fn a_selection_after_an_emoji_is_counted_as_the_page_counts_it() {
        let mut draft = FieldDraft::new("😀 tea");
        let (text, selection) = draft
            .merge_into_field("Ben: 😀 tea", "😀 tea and toast", (16, 16))
            .unwrap();
        assert_eq!(text, "Ben: 😀 tea and toast");
        assert_eq!(selection, (21, 21));
    }

    #[test]
    fn accented_text_is_cut_on_character_boundaries() {
        let mut draft = FieldDraft::new("café");
        draft.input("cafés");
        draft.refresh("le café");
        assert_eq!(draft.shown(), "le cafés");
    }
}
