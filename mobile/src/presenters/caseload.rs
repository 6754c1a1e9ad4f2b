//! The caseload: which cases to show for the worker's search and filter.

use doorstep_shared::model::CaseState;
use doorstep_shared::store::CaseSummary;

/// The caseload's filter chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseFilter {
    /// Open cases (the default: closed ones are rarely wanted on a visit).
    #[default]
    Open,
    /// Cases with an overdue record.
    Overdue,
    /// Cases with records waiting for their author.
    ToWrite,
    /// Every case, closed ones included.
    All,
}

impl CaseFilter {
    /// Every filter, in the order of the chips.
    pub const ALL: [CaseFilter; 4] = [
        CaseFilter::Open,
        CaseFilter::Overdue,
        CaseFilter::ToWrite,
        CaseFilter::All,
    ];

    /// The chip's label.
    pub fn label(self) -> &'static str {
        match self {
            CaseFilter::Open => "Open",
            CaseFilter::Overdue => "Overdue",
            CaseFilter::ToWrite => "To write",
            CaseFilter::All => "All",
        }
    }

    fn admits(self, case: &CaseSummary) -> bool {
        match self {
            CaseFilter::Open => case.state == CaseState::Open,
            CaseFilter::Overdue => case.overdue > 0,
            CaseFilter::ToWrite => case.awaiting_author > 0,
            CaseFilter::All => true,
        }
    }
}

/// The cases to list: those the filter admits whose client's name contains every word of
/// `query` (ignoring case), most overdue first, then most recently changed.
pub fn visible<'a>(
    cases: &'a [CaseSummary],
    filter: CaseFilter,
    query: &str,
) -> Vec<&'a CaseSummary> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    let mut shown: Vec<&CaseSummary> = cases
        .iter()
        .filter(|case| filter.admits(case))
        .filter(|case| {
            let name = case.client_name.to_lowercase();
            words.iter().all(|word| name.contains(word.as_str()))
        })
        .collect();
    shown.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(b.updated_at.cmp(&a.updated_at))
    });
    shown
}

/// The badge on a case: how many records are overdue, or wait to be written.
pub fn badge(case: &CaseSummary) -> Option<(String, bool)> {
    match (case.overdue, case.awaiting_author) {
        (0, 0) => None,
        (0, waiting) => Some((format!("{waiting} to write"), false)),
        (overdue, _) => Some((format!("{overdue} overdue"), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};
    use doorstep_shared::ids::CaseId;

    fn case(
        name: &str,
        state: CaseState,
        awaiting: u32,
        overdue: u32,
        age_hours: i64,
    ) -> CaseSummary {
        CaseSummary {
            id: CaseId::random(),
            client_name: name.to_owned(),
            state,
            records: awaiting + 1,
            awaiting_author: awaiting,
            overdue,
            updated_at: Utc::now() - Duration::hours(age_hours),
            is_group: false,
        }
    }

    fn names(cases: Vec<&CaseSummary>) -> Vec<&str> {
        cases.iter().map(|case| case.client_name.as_str()).collect()
    }

    #[test]
    fn open_cases_by_default_overdue_first_then_recent() {
        let cases = vec![
            case("Ada Lovelace", CaseState::Open, 0, 0, 1),
            case("Brian Closed", CaseState::Closed, 0, 0, 0),
            case("Cara Late", CaseState::Open, 2, 1, 30),
            case("Dev Recent", CaseState::Open, 1, 0, 0),
        ];
        assert_eq!(
            names(visible(&cases, CaseFilter::default(), "")),
            ["Cara Late", "Dev Recent", "Ada Lovelace"]
        );
        assert_eq!(
            names(visible(&cases, CaseFilter::Overdue, "")),
            ["Cara Late"]
        );
        assert_eq!(
            names(visible(&cases, CaseFilter::ToWrite, "")),
            ["Cara Late", "Dev Recent"]
        );
        assert_eq!(visible(&cases, CaseFilter::All, "").len(), 4);
    }

    #[test]
    fn the_search_matches_every_word_in_any_case() {
        let cases = vec![
            case("Ada Lovelace", CaseState::Open, 0, 0, 1),
            case("Ada Byron", CaseState::Open, 0, 0, 1),
        ];
        assert_eq!(
            names(visible(&cases, CaseFilter::All, "ada LOVE")),
            ["Ada Lovelace"]
        );
        assert_eq!(visible(&cases, CaseFilter::All, "ada").len(), 2);
        assert!(visible(&cases, CaseFilter::All, "zed").is_empty());
    }

    #[test]
    fn the_badge_puts_overdue_before_waiting() {
        assert_eq!(badge(&case("A", CaseState::Open, 0, 0, 0)), None);
        assert_eq!(
            badge(&case("A", CaseState::Open, 2, 0, 0)),
            Some(("2 to write".to_owned(), false))
        );
        assert_eq!(
            badge(&case("A", CaseState::Open, 2, 1, 0)),
            Some(("1 overdue".to_owned(), true))
        );
    }
}
