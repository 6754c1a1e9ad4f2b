//! Redaction of third parties from what leaves: a subject access request gives the client
//! their records, not the names of the neighbours, relatives and other people in them.
//!
//! A name is redacted wherever it stands as a whole word or words, in any case ("mr hale",
//! "MR HALE"), and replaced by [`REDACTED`]. Identifiers and hashes are never rewritten: they
//! hold no names, and a hash rewritten would no longer prove anything.

use serde_json::Value;

/// What stands in a redacted name's place.
pub const REDACTED: &str = "[redacted]";

/// The keys of a sheet's JSON whose values are identifiers, hashes or keys, never words.
const NOT_WORDS: &[&str] = &[
    "schema",
    "record",
    "case",
    "id",
    "kind",
    "name",
    "media_type",
    "sha256",
    "heads",
    "heads_sha256",
    "utc",
    "path",
];

/// The names to redact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    names: Vec<Vec<char>>,
}

/// A name too short to be told from an ordinary word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is too short to redact: give a name of at least two letters")]
pub struct NameTooShort(pub String);

impl Redaction {
    /// Redacts `names`, each trimmed; blank ones are ignored. Longer names are redacted first,
    /// so "Mr Hale" goes whole before "Hale" is looked for.
    pub fn new<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
    ) -> Result<Redaction, NameTooShort> {
        let mut kept: Vec<Vec<char>> = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            if name.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
                return Err(NameTooShort(name.to_owned()));
            }
            let chars: Vec<char> = name
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .collect();
            if !kept.contains(&chars) {
                kept.push(chars);
            }
        }
        kept.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Ok(Redaction { names: kept })
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The names, as given (trimmed).
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.names.iter().map(|name| name.iter().collect())
    }

    /// `text` with every name redacted.
    pub fn text(&self, text: &str) -> String {
        let mut out: Vec<char> = text.chars().collect();
        for name in &self.names {
            out = replace_word(&out, name);
        }
        out.into_iter().collect()
    }

    /// `value` with every name redacted from its words: every string, but those under
    /// [`NOT_WORDS`] keys.
    pub fn json(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(text) => *text = self.text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.json(item)),
            Value::Object(fields) => {
                for (key, field) in fields.iter_mut() {
                    if !NOT_WORDS.contains(&key.as_str()) {
                        self.json(field);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Whether `a` and `b` are the same letter but for case.
fn same_letter(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

/// `text` with each match of `name` that is whole words replaced by [`REDACTED`].
fn replace_word(text: &[char], name: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let starts_word = at == 0 || !text[at - 1].is_alphanumeric();
        if starts_word && let Some(end) = match_at(text, at, name) {
            let ends_word = end == text.len() || !text[end].is_alphanumeric();
            if ends_word {
                out.extend(REDACTED.chars());
                at = end;
                continue;
            }
        }
        out.push(text[at]);
        at += 1;
    }
    out
}

/// Where a match of `name` starting at `at` ends, if one starts there. A space in the name
/// matches any run of white space: a name broken over two lines is still the name.
fn match_at(text: &[char], at: usize, name: &[char]) -> Option<usize> {
    let mut position = at;
    for &wanted in name {
        if wanted == ' ' {
            // One or more white-space characters in the text.
            if !text.get(position)?.is_whitespace() {
                return None;
            }
            while text.get(position).is_some_and(|c| c.is_whitespace()) {
                position += 1;
            }
        } else {
            if !same_letter(*text.get(position)?, wanted) {
                return None;
            }
            position += 1;
        }
    }
    Some(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_goes_wherever_it_stands_as_words_in_any_case() {
        let redaction = Redaction::new(["Mr Hale", "Hale", "Zoë"]).unwrap();
        assert_eq!(
            redaction.text("Mr Hale came; MR\nHALE left. Hale's dog. Whale, hales. zoë and ZOË."),
            "[redacted] came; [redacted] left. [redacted]'s dog. Whale, hales. [redacted] and [redacted]."
        );
    }

    #[test]
    fn identifiers_and_hashes_are_left_whole() {
        let redaction = Redaction::new(["Cafe"]).unwrap();
        let mut value = serde_json::json!({
            "record": "0b1e2c3d-cafe-4aaa-8bbb-cafecafecafe",
            "sha256": "cafe",
            "fields": [{"name": "cafe", "label": "Cafe", "value": "Met at the cafe."}],
        });
        redaction.json(&mut value);
        assert_eq!(value["record"], "0b1e2c3d-cafe-4aaa-8bbb-cafecafecafe");
        assert_eq!(value["sha256"], "cafe");
        assert_eq!(value["fields"][0]["name"], "cafe");
        assert_eq!(value["fields"][0]["label"], "[redacted]");
        assert_eq!(value["fields"][0]["value"], "Met at the [redacted].");
    }

    #[test]
    fn a_name_too_short_to_tell_from_a_word_is_refused_and_blank_ones_ignored() {
        assert_eq!(Redaction::new(["J"]), Err(NameTooShort("J".into())));
        assert!(Redaction::new(["", "  "]).unwrap().is_empty());
    }
}
