//! When the visit took place: asked for, never pre-filled.
//!
//! A note written hours after a visit must not carry "an hour ago until now" as its times,
//! or its timeliness line would show no delay at all. So the worker says when: the visit has
//! just finished (and how long it was), it was earlier today, or on another day. The form
//! starts empty; only the kind of answer this worker gave last time is chosen for them.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use doorstep_shared::document::{Occurrence, VisitTimesError};
use doorstep_shared::ids::UserId;

/// The kinds of answer to "when was it?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenChoice {
    /// It ended just now, after a length the worker picks.
    JustFinished,
    /// Earlier today, between two times.
    EarlierToday,
    /// On another day, between two times.
    AnotherDay,
}

impl WhenChoice {
    /// Every choice, in the order the form offers them.
    pub const ALL: [WhenChoice; 3] = [
        WhenChoice::JustFinished,
        WhenChoice::EarlierToday,
        WhenChoice::AnotherDay,
    ];

    /// What the form calls it.
    pub fn label(self) -> &'static str {
        match self {
            WhenChoice::JustFinished => "Just finished",
            WhenChoice::EarlierToday => "Earlier today",
            WhenChoice::AnotherDay => "Another day",
        }
    }

    fn key(self) -> &'static str {
        match self {
            WhenChoice::JustFinished => "just_finished",
            WhenChoice::EarlierToday => "earlier_today",
            WhenChoice::AnotherDay => "another_day",
        }
    }
}

/// How long a visit that just finished lasted, in minutes: the lengths offered.
pub const LENGTHS: [i64; 6] = [15, 30, 45, 60, 90, 120];

/// "45 min", "1 h 30".
pub fn length_label(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes} min"),
        (hours, 0) => format!("{hours} h"),
        (hours, minutes) => format!("{hours} h {minutes:02}"),
    }
}

/// What the worker has answered so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitTimesAnswer {
    /// The kind of answer, once chosen.
    pub choice: Option<WhenChoice>,
    /// For "just finished": the length in minutes, once chosen.
    pub length: Option<i64>,
    /// For "another day": the day, as a date input gives it (`2026-11-30`).
    pub day: String,
    /// For "earlier today" and "another day": the start, as a time input gives it (`09:30`).
    pub start: String,
    /// The end, likewise.
    pub end: String,
}

impl VisitTimesAnswer {
    /// A fresh answer: the kind of answer (and length) this worker gave last time chosen, no
    /// time filled in.
    pub fn remembered(preference: Option<&str>) -> VisitTimesAnswer {
        let mut answer = VisitTimesAnswer::default();
        let Some(preference) = preference else {
            return answer;
        };
        let (key, length) = preference.split_once(':').unwrap_or((preference, ""));
        answer.choice = WhenChoice::ALL
            .into_iter()
            .find(|choice| choice.key() == key);
        if answer.choice == Some(WhenChoice::JustFinished) {
            answer.length = length
                .parse()
                .ok()
                .filter(|length| LENGTHS.contains(length));
        }
        answer
    }

    /// What to remember of this answer for the worker's next record.
    pub fn preference(&self) -> Option<String> {
        let choice = self.choice?;
        Some(match (choice, self.length) {
            (WhenChoice::JustFinished, Some(length)) => format!("{}:{length}", choice.key()),
            _ => choice.key().to_owned(),
        })
    }

    /// The visit's times, from this answer given at `now` in the worker's time zone, or what
    /// is still missing or wrong, in words for the form.
    pub fn occurrence<Tz: TimeZone>(&self, now: DateTime<Tz>) -> Result<Occurrence, String> {
        let zone = now.timezone();
        let now_utc = now.with_timezone(&Utc);
        let occurred = match self.choice {
            None => return Err("Say when it took place.".into()),
            Some(WhenChoice::JustFinished) => {
                let length = self.length.ok_or("Choose how long it lasted.")?;
                Occurrence::between(now_utc - Duration::minutes(length), now_utc)
            }
            Some(choice) => {
                let day = if choice == WhenChoice::EarlierToday {
                    now.date_naive()
                } else {
                    NaiveDate::parse_from_str(&self.day, "%Y-%m-%d")
                        .map_err(|_| "Enter the day it took place.")?
                };
                let at = |text: &str, what: &str| -> Result<DateTime<Utc>, String> {
                    let time = NaiveTime::parse_from_str(text, "%H:%M")
                        .map_err(|_| format!("Enter when it {what}."))?;
                    zone.from_local_datetime(&day.and_time(time))
                        .earliest()
                        .map(|at| at.with_timezone(&Utc))
                        .ok_or_else(|| format!("That {what} time does not exist on that day."))
                };
                Occurrence::between(at(&self.start, "started")?, at(&self.end, "ended")?)
            }
        };
        occurred.check(now_utc).map_err(|error| -> String {
            match error {
                VisitTimesError::EndsBeforeStart => "It must end after it starts.".into(),
                VisitTimesError::EndsInFuture => "It cannot end in the future.".into(),
                VisitTimesError::Incomplete | VisitTimesError::MissingAtSubmission => {
                    "Enter when it started and when it ended.".into()
                }
            }
        })?;
        Ok(occurred)
    }
}

/// The setting that remembers a worker's last kind of answer, per worker: two workers who
/// share a tablet each get their own.
pub fn preference_key(user: &UserId) -> String {
    format!("visit_times_choice/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    /// 16:40 on 30 Nov 2026, an hour ahead of UTC.
    fn now() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 30, 16, 40, 0)
            .unwrap()
    }

    fn utc(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
            .unwrap()
    }

    #[test]
    fn nothing_is_filled_in_until_the_worker_says_when() {
        let answer = VisitTimesAnswer::remembered(None);
        assert_eq!(answer, VisitTimesAnswer::default());
        assert_eq!(
            answer.occurrence(now()).unwrap_err(),
            "Say when it took place."
        );
        let finished = VisitTimesAnswer {
            choice: Some(WhenChoice::JustFinished),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            finished.occurrence(now()).unwrap_err(),
            "Choose how long it lasted."
        );
        let earlier = VisitTimesAnswer {
            choice: Some(WhenChoice::EarlierToday),
            start: "09:30".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            earlier.occurrence(now()).unwrap_err(),
            "Enter when it ended."
        );
    }

    #[test]
    fn each_kind_of_answer_gives_the_times_the_worker_meant() {
        let finished = VisitTimesAnswer {
            choice: Some(WhenChoice::JustFinished),
            length: Some(45),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            finished.occurrence(now()).unwrap(),
            Occurrence::between(utc(30, 14, 55), utc(30, 15, 40))
        );
        let earlier = VisitTimesAnswer {
            choice: Some(WhenChoice::EarlierToday),
            start: "09:30".into(),
            end: "10:15".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            earlier.occurrence(now()).unwrap(),
            Occurrence::between(utc(30, 8, 30), utc(30, 9, 15))
        );
        let another = VisitTimesAnswer {
            choice: Some(WhenChoice::AnotherDay),
            day: "2026-11-27".into(),
            start: "14:00".into(),
            end: "15:00".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            another.occurrence(now()).unwrap(),
            Occurrence::between(utc(27, 13, 0), utc(27, 14, 0))
        );
    }

    #[test]
    fn times_that_cannot_be_are_refused_in_words() {
        let backwards = VisitTimesAnswer {
            choice: Some(WhenChoice::EarlierToday),
            start: "11:00".into(),
            end: "10:00".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            backwards.occurrence(now()).unwrap_err(),
            "It must end after it starts."
        );
        let later_today = VisitTimesAnswer {
            choice: Some(WhenChoice::EarlierToday),
            start: "17:00".into(),
            end: "18:00".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            later_today.occurrence(now()).unwrap_err(),
            "It cannot end in the future."
        );
        let no_day = VisitTimesAnswer {
            choice: Some(WhenChoice::AnotherDay),
            start: "14:00".into(),
            end: "15:00".into(),
            ..VisitTimesAnswer::default()
        };
        assert_eq!(
            no_day.occurrence(now()).unwrap_err(),
            "Enter the day it took place."
        );
    }

    #[test]
    fn the_kind_of_answer_is_remembered_never_the_times() {
        let answer = VisitTimesAnswer {
            choice: Some(WhenChoice::JustFinished),
            length: Some(90),
            start: "09:00".into(),
            ..VisitTimesAnswer::default()
        };
        let remembered = VisitTimesAnswer::remembered(answer.preference().as_deref());
        assert_eq!(remembered.choice, Some(WhenChoice::JustFinished));
        assert_eq!(remembered.length, Some(90));
        assert!(remembered.start.is_empty() && remembered.end.is_empty());
        let earlier = VisitTimesAnswer::remembered(Some("earlier_today"));
        assert_eq!(earlier.choice, Some(WhenChoice::EarlierToday));
        // A setting from another version, or tampered with, remembers nothing.
        assert_eq!(
            VisitTimesAnswer::remembered(Some("yesterday:7")),
            VisitTimesAnswer::default()
        );
        assert_eq!(
            VisitTimesAnswer::remembered(Some("just_finished:7")).length,
            None
        );
        let amara: UserId = "amara".parse().unwrap();
        let ben: UserId = "ben".parse().unwrap();
        assert_ne!(preference_key(&amara), preference_key(&ben));
    }

    #[test]
    fn lengths_read_as_a_worker_says_them() {
        let labels: Vec<_> = LENGTHS.into_iter().map(length_label).collect();
        assert_eq!(
            labels,
            ["15 min", "30 min", "45 min", "1 h", "1 h 30", "2 h"]
        );
    }
}
