//! What the signed-in worker may do with a record, as the server allows it (DESIGN §10): the
//! app offers an action only to someone whose change the server would accept.

use std::collections::{BTreeMap, BTreeSet};

use doorstep_shared::ids::UserId;
use doorstep_shared::model::{RecordStatus, TeamRole};

/// The actions a record offers the signed-in worker, and what the review panel says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewRights {
    /// Edit the record's own fields: any member, while it is a draft or returned.
    pub edit: bool,
    /// Submit it for review: a member who wrote part of it.
    pub submit: bool,
    /// Comment, fill in the reviewers' fields, return it: a supervisor, while it is submitted.
    pub review: bool,
    /// Approve and sign it: a supervisor who wrote no part of it.
    pub approve: bool,
    /// Add an addendum: any member, once it is signed.
    pub add_addendum: bool,
    /// Who may sign it, or why nobody can, while it waits for review.
    pub note: Option<String>,
}

/// What `me` may do with a record in `status`, on a case whose team is `team`, written by
/// `writers` (its creator and whoever wrote its body beyond reviewers' fields).
pub fn review_rights(
    me: Option<&UserId>,
    status: RecordStatus,
    team: &BTreeMap<UserId, TeamRole>,
    writers: &BTreeSet<UserId>,
) -> ReviewRights {
    let Some(me) = me else {
        return ReviewRights::default();
    };
    let member = team.contains_key(me);
    let supervises = team.get(me) == Some(&TeamRole::Supervisor);
    let wrote = writers.contains(me);
    let submitted = status == RecordStatus::Submitted;
    let signers: Vec<&str> = team
        .iter()
        .filter(|(user, role)| **role == TeamRole::Supervisor && !writers.contains(*user))
        .map(|(user, _)| user.as_str())
        .collect();
    let note = submitted.then(|| match (signers.as_slice(), supervises && wrote) {
        ([], _) if team.values().any(|role| *role == TeamRole::Supervisor) => {
            "Every supervisor on this team wrote part of this record, so none may sign it: \
             ask an administrator to add another supervisor."
                .to_owned()
        }
        ([], _) => "This team has no supervisor to sign this record: ask an administrator to \
                    add one."
            .to_owned(),
        (others, true) => format!(
            "You wrote part of this record, so another supervisor signs it: {}.",
            others.join(", ")
        ),
        (others, false) => format!("Signed by a supervisor: {}.", others.join(", ")),
    });
    ReviewRights {
        edit: member && status.author_may_edit(),
        submit: member && status.author_may_edit() && wrote,
        review: supervises && submitted,
        approve: supervises && submitted && !wrote,
        add_addendum: member && status == RecordStatus::Finalised,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        name.parse().unwrap()
    }

    fn team(members: &[(&str, TeamRole)]) -> BTreeMap<UserId, TeamRole> {
        members
            .iter()
            .map(|(name, role)| (user(name), *role))
            .collect()
    }

    fn writers(names: &[&str]) -> BTreeSet<UserId> {
        names.iter().map(|name| user(name)).collect()
    }

    #[test]
    fn a_colleague_co_writes_a_draft_but_neither_reviews_nor_signs() {
        let team = team(&[
            ("amara", TeamRole::Worker),
            ("ben", TeamRole::Colleague),
            ("grace", TeamRole::Supervisor),
        ]);
        let draft = review_rights(
            Some(&user("ben")),
            RecordStatus::Draft,
            &team,
            &writers(&["amara"]),
        );
        assert!(draft.edit && !draft.submit, "he has written nothing yet");
        let submitted = review_rights(
            Some(&user("ben")),
            RecordStatus::Submitted,
            &team,
            &writers(&["amara", "ben"]),
        );
        assert!(!submitted.review && !submitted.approve && !submitted.edit);
        assert_eq!(
            submitted.note.as_deref(),
            Some("Signed by a supervisor: grace.")
        );
    }

    #[test]
    fn a_supervisor_signs_only_what_she_did_not_write() {
        let team = team(&[
            ("amara", TeamRole::Worker),
            ("grace", TeamRole::Supervisor),
            ("hana", TeamRole::Supervisor),
        ]);
        let grace = review_rights(
            Some(&user("grace")),
            RecordStatus::Submitted,
            &team,
            &writers(&["amara", "grace"]),
        );
        assert!(grace.review && !grace.approve);
        assert_eq!(
            grace.note.as_deref(),
            Some("You wrote part of this record, so another supervisor signs it: hana.")
        );
        let hana = review_rights(
            Some(&user("hana")),
            RecordStatus::Submitted,
            &team,
            &writers(&["amara", "grace"]),
        );
        assert!(hana.review && hana.approve);
    }

    #[test]
    fn a_team_with_no_other_supervisor_says_so() {
        let team = team(&[("amara", TeamRole::Worker), ("grace", TeamRole::Supervisor)]);
        let rights = review_rights(
            Some(&user("grace")),
            RecordStatus::Submitted,
            &team,
            &writers(&["amara", "grace"]),
        );
        assert!(!rights.approve);
        assert!(rights.note.unwrap().contains("ask an administrator"));
        let alone = team_without_supervisor();
        let rights = review_rights(
            Some(&user("amara")),
            RecordStatus::Submitted,
            &alone,
            &writers(&["amara"]),
        );
        assert!(rights.note.unwrap().contains("no supervisor"));
    }

    fn team_without_supervisor() -> BTreeMap<UserId, TeamRole> {
        team(&[("amara", TeamRole::Worker)])
    }

    #[test]
    fn a_signed_record_takes_addenda_from_any_member_and_nothing_else() {
        let team = team(&[("amara", TeamRole::Worker), ("ben", TeamRole::Colleague)]);
        let rights = review_rights(
            Some(&user("ben")),
            RecordStatus::Finalised,
            &team,
            &writers(&["amara"]),
        );
        assert_eq!(
            rights,
            ReviewRights {
                add_addendum: true,
                ..ReviewRights::default()
            }
        );
        let stranger = review_rights(
            Some(&user("zed")),
            RecordStatus::Finalised,
            &team,
            &writers(&["amara"]),
        );
        assert!(!stranger.add_addendum);
    }
}
