//! Templates: which fields each kind of document has, what type each field is and what the
//! form calls it.
//!
//! A template is the single description of a kind of record. The document layer checks every
//! edit against it, the store indexes the fields it marks as searchable, and the app lays out
//! its editor from it, so adding a field to a record is a one-line change here.

/// How a field is stored, and so how concurrent edits to it merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Narrative prose, stored as Automerge `Text`: two people typing into the same paragraph
    /// offline both keep their words.
    Narrative,
    /// A short line (a name, a place, a speaker). Last writer wins: character-merging two
    /// spellings of a name would make a third, wrong one. History keeps both values.
    Line,
    /// Yes or no, such as the risk flag.
    Flag,
    /// A calendar date without a time, such as a date of birth.
    Date,
    /// An instant, such as when a visit ended.
    Time,
    /// A whole number, such as a session number or a participation rating.
    Number,
    /// One of a fixed set of values.
    Choice(&'static [&'static str]),
}

impl FieldKind {
    /// Whether the field is stored as Automerge `Text`.
    pub fn is_narrative(self) -> bool {
        matches!(self, FieldKind::Narrative)
    }
}

/// One field of a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's key in the document.
    pub name: &'static str,
    /// What the form calls it.
    pub label: &'static str,
    /// Its type.
    pub kind: FieldKind,
    /// A reviewer's field (a supervisor's comment): it stays editable while the record waits
    /// for review, when the author's own fields are locked.
    pub review: bool,
}

/// A list of entries that devices may add to concurrently: each entry has a stable
/// [`crate::ItemId`] and the fields listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSpec {
    /// The list's key in the document.
    pub name: &'static str,
    /// What the form calls it.
    pub label: &'static str,
    /// The fields of each entry.
    pub fields: &'static [FieldSpec],
}

/// The form of one kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// The kind's key, as stored in documents (`home_visit`, `case`...).
    pub kind: &'static str,
    /// What the app calls this kind of record.
    pub label: &'static str,
    /// Top-level fields, in the order the form shows them.
    pub fields: &'static [FieldSpec],
    /// Lists, in the order the form shows them.
    pub lists: &'static [ListSpec],
}

impl Template {
    /// The top-level field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// The list called `name`.
    pub fn list(&self, name: &str) -> Option<&'static ListSpec> {
        self.lists.iter().find(|list| list.name == name)
    }
}

impl ListSpec {
    /// The entry field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|field| field.name == name)
    }
}

const fn field(name: &'static str, label: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind,
        review: false,
    }
}

const fn narrative(name: &'static str, label: &'static str) -> FieldSpec {
    field(name, label, FieldKind::Narrative)
}

const fn line(name: &'static str, label: &'static str) -> FieldSpec {
    field(name, label, FieldKind::Line)
}

const fn review(name: &'static str, label: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        label,
        kind: FieldKind::Narrative,
        review: true,
    }
}

/// Decisions always carry their rationale (DESIGN: "decisions with their rationale").
const DECISIONS: ListSpec = ListSpec {
    name: "decisions",
    label: "Decisions",
    fields: &[
        narrative("decision", "Decision"),
        narrative("rationale", "Why"),
    ],
};

/// The client's file.
pub const CASE: Template = Template {
    kind: "case",
    label: "Case",
    fields: &[
        line("client_name", "Client's name"),
        field("date_of_birth", "Date of birth", FieldKind::Date),
        field("age", "Age (if date of birth unknown)", FieldKind::Number),
        line("gender", "Gender"),
        narrative("address", "Address"),
        narrative("family_history", "Family history"),
        narrative("health_history", "Health history"),
        line("referral_source", "Referral source"),
        narrative("presenting_problem", "Presenting problem"),
        narrative("contract_terms", "Contract terms"),
        narrative("initial_assessment", "Initial assessment"),
    ],
    lists: &[
        ListSpec {
            name: "contacts",
            label: "Contacts",
            fields: &[
                line("name", "Name"),
                line("relationship", "Relationship"),
                line("phone", "Phone"),
                narrative("notes", "Notes"),
            ],
        },
        ListSpec {
            name: "household",
            label: "Household members",
            fields: &[
                line("name", "Name"),
                line("relationship", "Relationship"),
                field("age", "Age", FieldKind::Number),
            ],
        },
        ListSpec {
            name: "consents",
            label: "Consents",
            fields: &[
                field(
                    "scope",
                    "Consent to",
                    FieldKind::Choice(&["record", "share_with_team", "share_with_agencies"]),
                ),
                narrative("details", "Details of scope"),
                field("given_on", "Given on", FieldKind::Date),
                field(
                    "obtained",
                    "How obtained",
                    FieldKind::Choice(&["written", "verbal", "electronic"]),
                ),
                field("withdrawn_on", "Withdrawn on", FieldKind::Date),
            ],
        },
        ListSpec {
            name: "goals",
            label: "Goals",
            fields: &[
                narrative("goal", "Goal"),
                field(
                    "state",
                    "Progress",
                    FieldKind::Choice(&["active", "achieved", "dropped"]),
                ),
            ],
        },
    ],
};

/// A note written after visiting the client at home.
pub const HOME_VISIT: Template = Template {
    kind: "home_visit",
    label: "Home visit",
    fields: &[
        narrative("place", "Place"),
        narrative("people_present", "People present"),
        narrative("purpose", "Purpose"),
        narrative("observed_home", "Observed: the home"),
        narrative("observed_client", "Observed: the client's presentation"),
        narrative("interventions", "Interventions"),
        narrative("assessment", "Assessment (your interpretation)"),
        field("risk", "Risk or safety concern", FieldKind::Flag),
        narrative("risk_details", "Risk details"),
        narrative("plan", "Plan"),
        field("next_visit", "Next visit", FieldKind::Date),
    ],
    lists: &[
        ListSpec {
            name: "quotes",
            label: "Client's words (verbatim)",
            fields: &[line("speaker", "Speaker"), narrative("words", "Words")],
        },
        DECISIONS,
        ListSpec {
            name: "tasks",
            label: "Follow-up tasks",
            fields: &[
                narrative("task", "Task"),
                field("due", "Due", FieldKind::Date),
                field("done", "Done", FieldKind::Flag),
            ],
        },
    ],
};

/// A session written out exchange by exchange, for supervision and learning.
pub const PROCESS_RECORDING: Template = Template {
    kind: "process_recording",
    label: "Process recording",
    fields: &[
        narrative("purpose", "Purpose"),
        narrative("summary", "Summary"),
        narrative("reflection", "Overall reflection"),
        narrative("learning_goals", "Learning goals"),
        review("supervisor_overall", "Supervisor's overall comment"),
    ],
    lists: &[ListSpec {
        name: "exchanges",
        label: "Exchanges",
        fields: &[
            line("speaker", "Speaker"),
            field(
                "mode",
                "Dialogue or behaviour",
                FieldKind::Choice(&["dialogue", "behaviour"]),
            ),
            narrative("content", "What was said or done"),
            narrative("feelings", "Worker's feelings"),
            narrative("analysis", "Analysis (skills used, what was happening)"),
            review("supervisor_comment", "Supervisor's comment"),
        ],
    }],
};

/// An interview, phone contact or collateral contact, under topical headings.
pub const CASE_NOTE: Template = Template {
    kind: "case_note",
    label: "Case note",
    fields: &[
        field(
            "contact",
            "Contact",
            FieldKind::Choice(&["interview", "phone", "collateral"]),
        ),
        narrative("plan", "Plan"),
    ],
    lists: &[
        ListSpec {
            name: "sections",
            label: "Sections",
            fields: &[line("heading", "Heading"), narrative("text", "Text")],
        },
        DECISIONS,
    ],
};

/// One meeting of a group, with each member's attendance and participation.
pub const GROUP_SESSION: Template = Template {
    kind: "group_session",
    label: "Group session",
    fields: &[
        line("group_name", "Group"),
        field("session_number", "Session number", FieldKind::Number),
        line("facilitators", "Facilitators"),
        narrative("topics", "Topics and activities"),
        narrative("dynamics", "Group dynamics"),
        narrative("conflicts", "Conflicts and breakthroughs"),
        narrative("progress", "Progress against the group's objectives"),
        narrative("next_session", "Plan for the next session"),
    ],
    lists: &[
        ListSpec {
            name: "members",
            label: "Members",
            fields: &[
                line("name", "Name"),
                field(
                    "attendance",
                    "Attendance",
                    FieldKind::Choice(&["present", "absent", "late", "excused"]),
                ),
                field("rating", "Participation (1 to 5)", FieldKind::Number),
                narrative("note", "Participation note"),
            ],
        },
        DECISIONS,
    ],
};

/// Every template, cases first.
pub const ALL: [&Template; 5] = [
    &CASE,
    &HOME_VISIT,
    &PROCESS_RECORDING,
    &CASE_NOTE,
    &GROUP_SESSION,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_within_each_template() {
        for template in ALL {
            let mut names = HashSet::new();
            for field in template.fields {
                assert!(names.insert(field.name), "{}.{}", template.kind, field.name);
            }
            for list in template.lists {
                assert!(names.insert(list.name), "{}.{}", template.kind, list.name);
                let mut item_names = HashSet::new();
                for field in list.fields {
                    assert!(
                        item_names.insert(field.name),
                        "{}.{}",
                        list.name,
                        field.name
                    );
                    assert_ne!(field.name, "id", "`id` is the entry's own key");
                }
            }
        }
    }
}
