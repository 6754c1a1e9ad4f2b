//! Groups of their own: a group is a document with its facilitators (the team that holds
//! it), members (each a client's case, or a named person who is not a client), objectives
//! and sessions. Attendance is kept per member across sessions; a member's own case learns
//! only the days and their attendance, written there by the server.

use chrono::{FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{Attendance, Record, RecordBody};
use crate::ids::{CaseId, ItemId, RecordId};

/// What a group is for, who is in it and what it aims at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct GroupProfile {
    /// The group's name.
    pub name: String,
    /// What it is for.
    pub purpose: String,
    /// When and where it meets.
    pub meets: String,
    /// What it works towards.
    pub objectives: Vec<GroupObjective>,
    /// Who is in it.
    pub members: Vec<GroupMemberEntry>,
}

/// One of a group's objectives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GroupObjective {
    pub id: ItemId,
    #[serde(default)]
    pub objective: String,
}

/// A member of a group: a client with a case of their own, or a named person who is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberEntry {
    /// The member's id within the group, which session records refer to.
    pub id: ItemId,
    /// The member's own case, if they are a client.
    #[serde(default)]
    pub case: Option<CaseId>,
    /// Their name, as the facilitators know it.
    #[serde(default)]
    pub name: String,
    /// When they joined.
    #[serde(default)]
    pub joined: Option<NaiveDate>,
    /// When they left, if they have.
    #[serde(default)]
    pub left: Option<NaiveDate>,
}

/// A session of a group, as a member's own case sees it: the day and their attendance,
/// never the other members or the notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAttendance {
    /// The group's name.
    pub group: String,
    /// The day of the session.
    pub on: NaiveDate,
    /// Whether they came; `None` until the facilitator records it.
    #[serde(default)]
    pub attendance: Option<Attendance>,
}

/// The register of a group: its sessions in order, and each member's attendance at each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The sessions, oldest first: the record, its day and its number.
    pub sessions: Vec<(RecordId, NaiveDate, Option<i64>)>,
    /// One row per member, in the group's order.
    pub rows: Vec<RegisterRow>,
}

/// One member's line of the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    /// The member.
    pub member: ItemId,
    /// Their name.
    pub name: String,
    /// Their attendance at each session, in the register's order.
    pub cells: Vec<Option<Attendance>>,
    /// Sessions they came to (present or late).
    pub attended: usize,
    /// Sessions their attendance was recorded for.
    pub recorded: usize,
}

impl Attendance {
    /// Whether they came: present, or late.
    pub fn came(self) -> bool {
        matches!(self, Attendance::Present | Attendance::Late)
    }

    /// The attendance's key, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Attendance::Present => "present",
            Attendance::Absent => "absent",
            Attendance::Late => "late",
            Attendance::Excused => "excused",
        }
    }
}

/// The day a session took place: the day it started (in `zone`), else the day it was
/// written.
pub fn session_day(record: &Record, zone: FixedOffset) -> NaiveDate {
    record
        .occurred_start
        .unwrap_or(record.writing_began)
        .with_timezone(&zone)
        .date_naive()
}

/// The register of `group` from its session records (other records are passed over).
pub fn register(group: &GroupProfile, records: &[Record], zone: FixedOffset) -> Register {
    let mut sessions: Vec<&Record> = records
        .iter()
        .filter(|record| matches!(record.body, RecordBody::GroupSession(_)))
        .collect();
    sessions.sort_by_key(|record| (session_day(record, zone), record.writing_began));
    let rows = group
        .members
        .iter()
        .map(|member| {
            let cells: Vec<Option<Attendance>> = sessions
                .iter()
                .map(|record| {
                    let RecordBody::GroupSession(session) = &record.body else {
                        unreachable!("only sessions are in the register");
                    };
                    session
                        .members
                        .iter()
                        .find(|entry| entry.member == Some(member.id))
                        .and_then(|entry| entry.attendance)
                })
                .collect();
            RegisterRow {
                member: member.id,
                name: member.name.clone(),
                attended: cells.iter().flatten().filter(|cell| cell.came()).count(),
                recorded: cells.iter().flatten().count(),
                cells,
            }
        })
        .collect();
    Register {
        sessions: sessions
            .iter()
            .map(|record| {
                let number = match &record.body {
                    RecordBody::GroupSession(session) => session.session_number,
                    _ => None,
                };
                (record.id, session_day(record, zone), number)
            })
            .collect(),
        rows,
    }
}

/// What the server writes into each member's own case for one session: the entries of the
/// session's members who have a case, keyed `<session>/<member>`, with the group's name, the
/// day and the attendance. Nothing else of the session or of the group goes there.
pub fn attendance_for_cases(
    group: &GroupProfile,
    session: &Record,
) -> Vec<(CaseId, String, GroupAttendance)> {
    let RecordBody::GroupSession(body) = &session.body else {
        return Vec::new();
    };
    let on = session_day(session, FixedOffset::east_opt(0).expect("UTC is an offset"));
    body.members
        .iter()
        .filter_map(|entry| {
            let member = group
                .members
                .iter()
                .find(|member| Some(member.id) == entry.member)?;
            let case = member.case?;
            Some((
                case,
                format!("{}/{}", session.id, member.id),
                GroupAttendance {
                    group: group.name.clone(),
                    on,
                    attendance: entry.attendance,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::CaseId;
    use crate::model::{GroupMember, GroupSession, RecordStatus};
    use chrono::{Datelike, TimeZone, Utc};

    fn member(name: &str, case: Option<CaseId>) -> GroupMemberEntry {
        GroupMemberEntry {
            id: ItemId::random(),
            case,
            name: name.into(),
            joined: None,
            left: None,
        }
    }

    fn session(day: u32, number: i64, attendance: &[(&GroupMemberEntry, Attendance)]) -> Record {
        let start = Utc.with_ymd_and_hms(2026, 11, day, 18, 0, 0).unwrap();
        Record {
            id: RecordId::random(),
            case_id: CaseId::random(),
            author: "amara".parse().unwrap(),
            status: RecordStatus::Draft,
            occurred_start: Some(start),
            occurred_end: Some(start + chrono::Duration::hours(2)),
            writing_began: start + chrono::Duration::hours(3),
            submitted_at: None,
            finalised_at: None,
            signoff: None,
            addenda: vec![],
            review: vec![],
            attachments: vec![],
            body: RecordBody::GroupSession(GroupSession {
                session_number: Some(number),
                members: attendance
                    .iter()
                    .map(|(member, attendance)| GroupMember {
                        id: ItemId::random(),
                        member: Some(member.id),
                        name: String::new(),
                        attendance: Some(*attendance),
                        rating: Some(3),
                        note: format!("{} spoke about her week", member.name),
                    })
                    .collect(),
                ..GroupSession::default()
            }),
        }
    }

    #[test]
    fn the_register_keeps_each_members_attendance_across_sessions() {
        let (ada, bo, cy) = (
            member("Ada", Some(CaseId::random())),
            member("Bo", None),
            member("Cy", Some(CaseId::random())),
        );
        let group = GroupProfile {
            name: "Bereavement group".into(),
            members: vec![ada.clone(), bo.clone(), cy.clone()],
            ..GroupProfile::default()
        };
        let second = session(
            10,
            2,
            &[
                (&ada, Attendance::Late),
                (&bo, Attendance::Absent),
                (&cy, Attendance::Present),
            ],
        );
        let first = session(
            3,
            1,
            &[(&ada, Attendance::Present), (&bo, Attendance::Excused)],
        );
        let zone = FixedOffset::east_opt(0).unwrap();
        let register = register(&group, &[second.clone(), first.clone()], zone);
        let days: Vec<_> = register
            .sessions
            .iter()
            .map(|(_, day, n)| (day.day(), *n))
            .collect();
        assert_eq!(days, [(3, Some(1)), (10, Some(2))]);
        let rows: Vec<_> = register
            .rows
            .iter()
            .map(|row| {
                (
                    row.name.as_str(),
                    row.cells.clone(),
                    row.attended,
                    row.recorded,
                )
            })
            .collect();
        use Attendance::*;
        assert_eq!(
            rows,
            [
                ("Ada", vec![Some(Present), Some(Late)], 2, 2),
                ("Bo", vec![Some(Excused), Some(Absent)], 0, 2),
                ("Cy", vec![None, Some(Present)], 1, 1),
            ]
        );
    }

    #[test]
    fn a_members_own_case_learns_the_day_and_their_attendance_only() {
        let (ada, bo) = (member("Ada", Some(CaseId::random())), member("Bo", None));
        let group = GroupProfile {
            name: "Bereavement group".into(),
            members: vec![ada.clone(), bo.clone()],
            ..GroupProfile::default()
        };
        let record = session(
            3,
            1,
            &[(&ada, Attendance::Present), (&bo, Attendance::Absent)],
        );
        let written = attendance_for_cases(&group, &record);
        // Bo is not a client: nothing is written anywhere for him.
        assert_eq!(written.len(), 1);
        let (case, key, entry) = &written[0];
        assert_eq!(Some(*case), ada.case);
        assert_eq!(key, &format!("{}/{}", record.id, ada.id));
        assert_eq!(
            entry,
            &GroupAttendance {
                group: "Bereavement group".into(),
                on: NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
                attendance: Some(Attendance::Present),
            }
        );
        // What is written names nobody else and carries no note.
        let text = serde_json::to_string(&written[0].2).unwrap();
        assert!(!text.contains("Bo") && !text.contains("spoke"), "{text}");
    }
}
