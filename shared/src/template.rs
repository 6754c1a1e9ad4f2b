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
    /// A whole number, such as a session number.
    Number,
    /// A rating on a scale, from `min` to `max` inclusive, such as progress on a goal.
    Scale {
        /// The lowest rating.
        min: i64,
        /// The highest rating.
        max: i64,
    },
    /// One of the case's goals, by its entry's id: what a record's progress note is about.
    Goal,
    /// A client's case, by its id: a group's member who is a client.
    Case,
    /// A member of the record's group, by their entry's id in the group.
    Member,
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

/// What one entry of a list is called ("decision" for an entry of `decisions`).
pub fn entry_noun(list: &str) -> &'static str {
    match list {
        "exchanges" => "exchange",
        "members" => "member",
        "quotes" => "quote",
        "decisions" => "decision",
        "tasks" => "task",
        "sections" => "section",
        "contacts" => "contact",
        "household" => "household member",
        "consents" => "consent",
        "goals" => "goal",
        "progress" => "progress note",
        "goal_progress" => "goal worked on",
        "goal_outcomes" => "goal outcome",
        "objectives" => "objective",
        _ => "entry",
    }
}

/// What the form calls a choice, where its key alone would not say it plainly.
pub fn choice_label(option: &str) -> String {
    let label = match option {
        "record" => "Being recorded",
        "share_with_team" => "Sharing within the case team",
        "share_with_agencies" => "Information shared with other agencies",
        "supervision_and_training" => "Use in supervision and training",
        _ => return capitalised(&option.replace('_', " ")),
    };
    label.to_owned()
}

/// `text` with its first letter a capital: "visit" → "Visit".
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
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

/// The client's own words, attributed to whoever said them: the client's voice, kept apart
/// from the worker's account of it.
const QUOTES: ListSpec = ListSpec {
    name: "quotes",
    label: "Client's words (verbatim)",
    fields: &[line("speaker", "Speaker"), narrative("words", "Words")],
};

/// What was seen and heard, kept apart from what the worker makes of it (DESIGN §1,
/// accuracy).
const OBSERVED: FieldSpec = narrative("observations", "Observed: what was seen and heard");
const ASSESSMENT: FieldSpec = narrative("assessment", "Assessment (your interpretation)");

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
        line("phone", "Client's phone"),
        line("email", "Client's email"),
        narrative("family_history", "Family history"),
        narrative("health_history", "Health history"),
        narrative("social_economic", "Social and economic factors"),
        narrative("earlier_involvement", "Earlier involvement with services"),
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
                    FieldKind::Choice(&[
                        "record",
                        "share_with_team",
                        "share_with_agencies",
                        "supervision_and_training",
                    ]),
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
                    "State",
                    FieldKind::Choice(&["active", "achieved", "dropped"]),
                ),
                field("target_date", "Target date", FieldKind::Date),
                field("review_date", "Next review", FieldKind::Date),
            ],
        },
        ListSpec {
            name: "progress",
            label: "Progress on goals",
            fields: &[
                field("goal", "Goal", FieldKind::Goal),
                field("on", "Date", FieldKind::Date),
                field("rating", "Progress (1 none to 5 achieved)", PROGRESS_SCALE),
                narrative("note", "What changed"),
            ],
        },
        DECISIONS,
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
        QUOTES,
        DECISIONS,
        GOAL_PROGRESS,
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
    lists: &[
        ListSpec {
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
                narrative("client_feelings", "Client's feelings and behaviour"),
                narrative("feelings", "Worker's feelings"),
                narrative("analysis", "Analysis (skills used, what was happening)"),
                review("supervisor_comment", "Supervisor's comment"),
            ],
        },
        DECISIONS,
        GOAL_PROGRESS,
    ],
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
        OBSERVED,
        ASSESSMENT,
        narrative("plan", "Plan"),
    ],
    lists: &[
        ListSpec {
            name: "sections",
            label: "Sections",
            fields: &[line("heading", "Heading"), narrative("text", "Text")],
        },
        QUOTES,
        DECISIONS,
        GOAL_PROGRESS,
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
        OBSERVED,
        ASSESSMENT,
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
                field("member", "Member", FieldKind::Member),
                line("name", "Name (if not one of the group's members)"),
                field(
                    "attendance",
                    "Attendance",
                    FieldKind::Choice(&["present", "absent", "late", "excused"]),
                ),
                field(
                    "rating",
                    "Participation (1 withdrawn to 5 fully engaged)",
                    FieldKind::Scale { min: 1, max: 5 },
                ),
                narrative("note", "Participation note"),
            ],
        },
        QUOTES,
        DECISIONS,
    ],
};

/// Progress on a goal, from 1 (none) to 5 (achieved).
pub const PROGRESS_SCALE: FieldKind = FieldKind::Scale { min: 1, max: 5 };

/// The goals a record worked on, with the progress seen for each.
const GOAL_PROGRESS: ListSpec = ListSpec {
    name: "goal_progress",
    label: "Goals worked on",
    fields: &[
        field("goal", "Goal", FieldKind::Goal),
        field("rating", "Progress (1 none to 5 achieved)", PROGRESS_SCALE),
        narrative("note", "Progress seen"),
    ],
};

/// A group of its own: its facilitators are the team that holds it, its members are clients
/// (each with their own case) or named people who are not.
pub const GROUP: Template = Template {
    kind: "group",
    label: "Group",
    fields: &[
        line("name", "Group's name"),
        narrative("purpose", "Purpose"),
        narrative("meets", "When and where it meets"),
    ],
    lists: &[
        ListSpec {
            name: "objectives",
            label: "Objectives",
            fields: &[narrative("objective", "Objective")],
        },
        ListSpec {
            name: "members",
            label: "Members",
            fields: &[
                field("case", "Their own case (for a client)", FieldKind::Case),
                line("name", "Name"),
                field("joined", "Joined", FieldKind::Date),
                field("left", "Left", FieldKind::Date),
            ],
        },
    ],
};

/// The summary a case closes with.
pub const CLOSING_SUMMARY: Template = Template {
    kind: "closing_summary",
    label: "Closing summary",
    fields: &[
        narrative("reason", "Reason for closing"),
        narrative("work_done", "The work done, in summary"),
        narrative("services_referred", "Services referred to"),
        narrative("client_told", "What the client was told"),
    ],
    lists: &[ListSpec {
        name: "goal_outcomes",
        label: "Outcomes against each goal",
        fields: &[
            field("goal", "Goal", FieldKind::Goal),
            field(
                "outcome",
                "Outcome",
                FieldKind::Choice(&["achieved", "partly_achieved", "not_achieved", "dropped"]),
            ),
            narrative("note", "How it ended"),
        ],
    }],
};

/// The summary a case is transferred with, for the receiving worker.
pub const HANDOVER_SUMMARY: Template = Template {
    kind: "handover_summary",
    label: "Handover summary",
    fields: &[
        line("receiving_worker", "Receiving worker"),
        narrative("situation", "The client's situation now"),
        narrative("risks", "Risks and safety"),
        narrative("work_in_progress", "Work in progress"),
        narrative("next_steps", "Next steps"),
        narrative("client_views", "The client's views on the transfer"),
    ],
    lists: &[GOAL_PROGRESS],
};

/// Every template, cases first.
pub const ALL: [&Template; 8] = [
    &CASE,
    &GROUP,
    &HOME_VISIT,
    &PROCESS_RECORDING,
    &CASE_NOTE,
    &GROUP_SESSION,
    &CLOSING_SUMMARY,
    &HANDOVER_SUMMARY,
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
