//! Two people's changes to one field's text, merged so that both keep their words.
//!
//! Automerge merges a narrative field character by character once both changes are in the
//! document. Two places see the text before that happens, and need the same merge:
//!
//! - the field a worker is typing into, when a colleague's words reach the document: the
//!   input keeps what the worker typed, gains the colleague's words where they put them, and
//!   the caret stays where the worker was typing ([`Merged::position`]);
//! - the worker's words reaching the document after a colleague's did: the worker changed the
//!   text they saw (the *base*), not the text the document now holds.
//!
//! [`merge`] takes the base and both sides, diffs each side against the base, and applies both
//! sets of changes. Where the two change the same stretch of the base, both insertions are
//! kept, ours first, and whatever either removed is removed.

/// One change to the base: its bytes `start..end` became `inserted`.
#[derive(Debug, Clone, Copy)]
struct Hunk<'a> {
    start: usize,
    end: usize,
    inserted: &'a str,
    ours: bool,
}

/// The changes that turn `base` into `changed`, in order, each at least one equal character
/// away from the next.
fn hunks<'a>(base: &'a str, changed: &'a str, ours: bool) -> Vec<Hunk<'a>> {
    let mut hunks: Vec<Hunk<'a>> = Vec::new();
    let (mut at_base, mut at_changed) = (0, 0);
    let mut open: Option<(usize, usize)> = None;
    let mut close = |open: &mut Option<(usize, usize)>, at_base: usize, at_changed: usize| {
        if let Some((start, from)) = open.take() {
            hunks.push(Hunk {
                start,
                end: at_base,
                inserted: &changed[from..at_changed],
                ours,
            });
        }
    };
    for chunk in dissimilar::diff(base, changed) {
        match chunk {
            dissimilar::Chunk::Equal(text) => {
                close(&mut open, at_base, at_changed);
                at_base += text.len();
                at_changed += text.len();
            }
            dissimilar::Chunk::Delete(text) => {
                open.get_or_insert((at_base, at_changed));
                at_base += text.len();
            }
            dissimilar::Chunk::Insert(text) => {
                open.get_or_insert((at_base, at_changed));
                at_changed += text.len();
            }
        }
    }
    close(&mut open, at_base, at_changed);
    hunks
}

/// How a stretch of *ours* appears in the merged text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    /// Where the stretch starts in ours, and its length in bytes.
    ours_start: usize,
    len: usize,
    /// Where it starts in the merged text.
    merged_start: usize,
    /// Whether the stretch is in the merged text; if not (the other side removed it), every
    /// position in it maps to `merged_start`.
    kept: bool,
}

/// The text both changes made, and where positions in ours went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The merged text.
    pub text: String,
    pieces: Vec<Piece>,
}

impl Merged {
    /// Where the byte offset `ours` of our text is in the merged text: a caret stays beside
    /// the words it was beside. Offsets past the end map to the end.
    pub fn position(&self, ours: usize) -> usize {
        self.pieces
            .iter()
            .find(|piece| piece.ours_start <= ours && ours <= piece.ours_start + piece.len)
            .map_or(self.text.len(), |piece| {
                if piece.kept {
                    piece.merged_start + (ours - piece.ours_start)
                } else {
                    piece.merged_start
                }
            })
    }
}

/// Both `ours` and `theirs` were made from `base`: returns the text with both changes.
pub fn merge(base: &str, ours: &str, theirs: &str) -> Merged {
    let mut all = hunks(base, ours, true);
    all.extend(hunks(base, theirs, false));
    // By start; at the same start, ours first.
    all.sort_by_key(|hunk| (hunk.start, !hunk.ours));

    let mut text = String::with_capacity(ours.len().max(theirs.len()));
    let mut pieces = Vec::new();
    let (mut at_base, mut at_ours) = (0, 0);
    let mut next = 0;
    while next < all.len() {
        // A group: hunks that overlap, or start at the same place, changed one stretch.
        let start = all[next].start;
        let mut end = all[next].end;
        let mut last = next + 1;
        while last < all.len() && (all[last].start < end || all[last].start == start) {
            end = end.max(all[last].end);
            last += 1;
        }
        let group = &all[next..last];
        next = last;

        // The unchanged stretch before it.
        let same = start - at_base;
        pieces.push(Piece {
            ours_start: at_ours,
            len: same,
            merged_start: text.len(),
            kept: true,
        });
        text.push_str(&base[at_base..start]);
        at_ours += same;

        // Ours over the stretch: the base text it kept (removed by theirs) and its insertions.
        let group_start = text.len();
        let mut ours_inserted = 0;
        let mut at = start;
        for hunk in group.iter().filter(|hunk| hunk.ours) {
            pieces.push(Piece {
                ours_start: at_ours,
                len: hunk.start - at,
                merged_start: group_start + ours_inserted,
                kept: false,
            });
            at_ours += hunk.start - at;
            pieces.push(Piece {
                ours_start: at_ours,
                len: hunk.inserted.len(),
                merged_start: group_start + ours_inserted,
                kept: true,
            });
            at_ours += hunk.inserted.len();
            ours_inserted += hunk.inserted.len();
            text.push_str(hunk.inserted);
            at = hunk.end;
        }
        pieces.push(Piece {
            ours_start: at_ours,
            len: end - at,
            merged_start: group_start + ours_inserted,
            kept: false,
        });
        at_ours += end - at;
        for hunk in group.iter().filter(|hunk| !hunk.ours) {
            text.push_str(hunk.inserted);
        }
        at_base = end;
    }
    pieces.push(Piece {
        ours_start: at_ours,
        len: base.len() - at_base,
        merged_start: text.len(),
        kept: true,
    });
    text.push_str(&base[at_base..]);
    Merged { text, pieces }
}

/// The byte offset in `text` of the position `units` UTF-16 code units in, as a web page
/// counts a caret; past the end, the end.
pub fn byte_offset_of_utf16(text: &str, units: usize) -> usize {
    let mut counted = 0;
    for (at, character) in text.char_indices() {
        if counted >= units {
            return at;
        }
        counted += character.len_utf16();
    }
    text.len()
}

/// How many UTF-16 code units `text` has before the byte offset `offset`.
pub fn utf16_offset_of_byte(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .chars()
        .map(char::len_utf16)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_colleagues_words_at_the_start_and_ours_at_the_end_are_both_kept() {
        let base = "The plan: ";
        let ours = "The plan: Amara will phone the GP";
        let theirs = "Ben agrees. The plan: ";
        let merged = merge(base, ours, theirs);
        assert_eq!(merged.text, "Ben agrees. The plan: Amara will phone the GP");
        // The caret at the end of what we typed is still at the end of it.
        assert_eq!(merged.position(ours.len()), merged.text.len());
        // A caret before their words moved with the text after it.
        assert_eq!(merged.position(4), 4 + "Ben agrees. ".len());
    }

    #[test]
    fn changes_in_two_places_around_ours_are_both_applied() {
        let base = "one two three four five";
        let ours = "one two three and a half four five";
        let theirs = "ONE two three four FIVE";
        let merged = merge(base, ours, theirs);
        assert_eq!(merged.text, "ONE two three and a half four FIVE");
        let caret = "one two three and a half".len();
        assert_eq!(merged.position(caret), caret);
    }

    #[test]
    fn both_typing_at_the_same_spot_keeps_both_ours_first() {
        let merged = merge("Plan: ", "Plan: visit Friday.", "Plan: call GP.");
        assert_eq!(merged.text, "Plan: visit Friday.call GP.");
        assert_eq!(
            merged.position("Plan: visit Friday.".len()),
            "Plan: visit Friday.".len()
        );
    }

    #[test]
    fn a_deletion_meets_an_insertion_inside_it() {
        // They removed a sentence in which we were adding a word: their removal stands, our
        // word is kept.
        let merged = merge(
            "Tea. Cold flat. Fine.",
            "Tea. Cold damp flat. Fine.",
            "Tea. Fine.",
        );
        assert!(merged.text.contains("damp"), "{merged:?}");
        assert!(!merged.text.contains("Cold"), "{merged:?}");
    }

    #[test]
    fn unchanged_sides_give_the_other() {
        assert_eq!(merge("a b", "a b", "a b c").text, "a b c");
        assert_eq!(merge("a b", "a b c", "a b").text, "a b c");
        assert_eq!(merge("", "", "").text, "");
    }

    #[test]
    fn accented_text_and_utf16_offsets() {
        let merged = merge("café", "cafés", "le café");
        assert_eq!(merged.text, "le cafés");
        // "😀" is one character, two UTF-16 units, four bytes.
        let text = "a😀b";
        assert_eq!(byte_offset_of_utf16(text, 3), 5);
        assert_eq!(utf16_offset_of_byte(text, 5), 3);
        assert_eq!(byte_offset_of_utf16(text, 99), text.len());
    }

    proptest! {
        /// Whatever two people type into the same base, a merge keeps every word each of them
        /// added, and a caret lands on a character boundary inside the merged text.
        #[test]
        fn every_inserted_word_survives(
            base in "[a-c ]{0,12}",
            ours_at in 0usize..13,
            ours_word in "[X-Z]{1,4}",
            theirs_at in 0usize..13,
            theirs_word in "[0-9]{1,4}",
            caret in 0usize..30,
        ) {
            let insert = |at: usize, word: &str| {
                let at = at.min(base.len());
                format!("{}{word}{}", &base[..at], &base[at..])
            };
            let ours = insert(ours_at, &ours_word);
            let theirs = insert(theirs_at, &theirs_word);
            let merged = merge(&base, &ours, &theirs);
            prop_assert!(merged.text.contains(&ours_word), "{merged:?}");
            prop_assert!(merged.text.contains(&theirs_word), "{merged:?}");
            prop_assert_eq!(merged.text.len(), base.len() + ours_word.len() + theirs_word.len());
            let at = merged.position(caret.min(ours.len()));
            prop_assert!(merged.text.is_char_boundary(at));
        }
    }
}
