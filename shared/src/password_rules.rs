//! What makes a password or passphrase worth what it guards, for the agency's server
//! (passwords) and for the device's store (the passphrase its key is derived from): NIST SP
//! 800-63B's rules, which judge length and commonness and nothing of composition.
//!
//! One list of the most common passwords (about 100,000, which guessing tries first) serves
//! both. The strength shown as the worker types is an estimate from the same library, by
//! length and variety: a guide, not a gate; the gate is length and the list.

/// The fewest characters a password or passphrase may have.
pub const MIN_CHARS: usize = 8;

/// Whether `text` is on the list of the most common passwords, as typed or in lower case.
pub fn is_common(text: &str) -> bool {
    passwords::analyzer::is_common_password(text)
        || passwords::analyzer::is_common_password(text.to_lowercase())
}

/// How hard a passphrase looks to guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    /// Refused: shorter than [`MIN_CHARS`], or on the list of the most common.
    Refused,
    /// Accepted, but guessed sooner than it should be.
    Weak,
    /// Reasonable.
    Fair,
    /// Long and varied.
    Strong,
}

impl Strength {
    /// The estimate for `text`.
    pub fn of(text: &str) -> Strength {
        if text.chars().count() < MIN_CHARS || is_common(text) {
            return Strength::Refused;
        }
        let score = passwords::scorer::score(&passwords::analyzer::analyze(text));
        match score {
            score if score < 60.0 => Strength::Weak,
            score if score < 85.0 => Strength::Fair,
            _ => Strength::Strong,
        }
    }

    /// The estimate in a worker's words.
    pub fn words(self) -> &'static str {
        match self {
            Strength::Refused => "Too easy to guess",
            Strength::Weak => "Weak: add another word",
            Strength::Fair => "Fair",
            Strength::Strong => "Strong",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_common_are_refused_whatever_their_case() {
        assert!(is_common("password"));
        assert!(is_common("PASSWORD1"));
        assert!(is_common("qwertyuiop"));
        assert!(!is_common("kettle harbour violet"));
        assert_eq!(Strength::of("iloveyou"), Strength::Refused);
        assert_eq!(Strength::of("seven77"), Strength::Refused);
    }

    #[test]
    fn longer_and_more_varied_reads_stronger() {
        let weak = Strength::of("abcdefgh");
        let fair = Strength::of("kettle harbour");
        let strong = Strength::of("kettle harbour violet 1987!");
        assert!(weak < fair && fair < strong, "{weak:?} {fair:?} {strong:?}");
        assert_eq!(strong, Strength::Strong);
        // A few unrelated words, as the app suggests, read as more than weak.
        assert!(Strength::of("amara kettle harbour violet") >= Strength::Fair);
    }
}
