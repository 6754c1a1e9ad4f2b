//! Group commit: many writers' work made durable by one commit.
//!
//! A commit waits for the disk (`fsync`), and the log's writers take turns, so committing
//! each sync on its own caps the server at one sync per disk flush. Instead a writer
//! queues its work. If nobody is committing, it becomes the leader: it takes the writer's
//! lock and everything queued, runs it in one transaction (each piece under its own
//! savepoint, so a refused push undoes only itself), commits once, and answers everyone.
//! Then, if more work queued meanwhile, it hands the lead to the oldest of it and returns.
//! Alone, a sync is a group of one; under load one flush makes many syncs durable. Nobody
//! is answered before the group's commit, and a sync that is answered returns at once,
//! without waiting for the writer's lock again.

use std::sync::{Mutex, MutexGuard, mpsc};

use super::StorageError;
use super::documents::{Checked, DocumentCache};

/// Work of type `J` waiting for the next group, answered with an `A`.
#[derive(Debug)]
pub struct GroupCommit<J, A> {
    state: Mutex<State<J, A>>,
}

#[derive(Debug)]
struct State<J, A> {
    queued: Vec<Queued<J, A>>,
    /// Whether a leader is committing, or has been handed the lead and will.
    led: bool,
}

#[derive(Debug)]
struct Queued<J, A> {
    job: J,
    turn: mpsc::Sender<Turn<A>>,
}

/// What a queued job's thread is told.
#[derive(Debug)]
enum Turn<A> {
    /// Its group committed (or failed): here is its answer.
    Answered(A),
    /// It leads the next group.
    Lead,
}

/// Locks `mutex`. A panic while holding a connection cannot leave a transaction half-done:
/// the database rolls back a transaction whose handle is dropped unfinished.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<J, A> Default for GroupCommit<J, A> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queued: Vec::new(),
                led: false,
            }),
        }
    }
}

impl<J, A> GroupCommit<J, A> {
    /// Queues `job` and returns its answer: either a leader's group took it along, or this
    /// thread leads, holding `writer` to run every queued job with `commit`, which returns
    /// one answer per job in the order given. Returns `None` only if the job's group was
    /// lost to a panic.
    pub fn run<W>(
        &self,
        writer: &Mutex<W>,
        job: J,
        commit: impl FnOnce(&mut W, Vec<J>) -> Vec<A>,
    ) -> Option<A> {
        let (turn, told) = mpsc::channel();
        let leads = {
            let mut state = lock(&self.state);
            state.queued.push(Queued { job, turn });
            !std::mem::replace(&mut state.led, true)
        };
        if !leads {
            match told.recv().ok()? {
                Turn::Answered(answer) => return Some(answer),
                Turn::Lead => {}
            }
        }
        // This thread leads; if it panics, the lead still passes on.
        let handoff = HandOff(self);
        let mut writer = lock(writer);
        let (jobs, turns): (Vec<J>, Vec<mpsc::Sender<Turn<A>>>) =
            std::mem::take(&mut lock(&self.state).queued)
                .into_iter()
                .map(|queued| (queued.job, queued.turn))
                .unzip();
        let results = commit(&mut writer, jobs);
        drop(writer);
        for (turn, result) in turns.into_iter().zip(results) {
            // Its own answer is among them.
            let _ = turn.send(Turn::Answered(result));
        }
        drop(handoff);
        match told.try_recv().ok()? {
            Turn::Answered(answer) => Some(answer),
            Turn::Lead => None,
        }
    }

    /// How many jobs wait for a group.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        lock(&self.state).queued.len()
    }
}

/// Passes the lead, when a leader is done, to the oldest job queued since, or marks that
/// nobody leads.
struct HandOff<'a, J, A>(&'a GroupCommit<J, A>);

impl<J, A> Drop for HandOff<'_, J, A> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        // A job whose thread is gone cannot lead; nor can it be answered.
        while !state.queued.is_empty() {
            if state.queued[0].turn.send(Turn::Lead).is_ok() {
                return;
            }
            state.queued.remove(0);
        }
        state.led = false;
    }
}

/// The answers of a group whose transaction ended in `committed`: each job's own result
/// if the group committed, and then the documents its pushes checked are kept; otherwise,
/// since nothing of the group was stored, the commit's error for all `count` jobs.
pub fn answers<T, E: std::fmt::Display>(
    committed: Result<(), E>,
    count: usize,
    results: Vec<Result<T, StorageError>>,
    checked: Vec<Checked>,
    documents: &DocumentCache,
) -> Vec<Result<T, StorageError>> {
    match committed {
        Ok(()) => {
            documents.keep(checked);
            results
        }
        Err(error) => (0..count)
            .map(|_| Err(StorageError::Database(error.to_string())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn jobs_queued_while_the_writer_is_busy_run_as_one_group_and_each_gets_its_answer() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::default();
        let writer = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let held = lock(&writer);
        let threads: Vec<_> = (1..=5)
            .map(|job| {
                let (group, writer) = (Arc::clone(&group), Arc::clone(&writer));
                std::thread::spawn(move || {
                    group.run(&writer, job, |groups, jobs| {
                        groups.push(jobs.clone());
                        jobs.iter().map(|job| job * 10).collect()
                    })
                })
            })
            .collect();
        while group.queued() < 5 {
            std::thread::yield_now();
        }
        drop(held);
        let mut answers: Vec<u32> = threads
            .into_iter()
            .map(|thread| thread.join().unwrap().unwrap())
            .collect();
        answers.sort_unstable();
        assert_eq!(answers, [10, 20, 30, 40, 50]);
        let groups = lock(&writer);
        assert_eq!(groups.len(), 1, "one commit for all five: {groups:?}");
        assert_eq!(groups[0].len(), 5);
    }

    /// Runs `job` on its own thread, committing each group by recording it in `writer`;
    /// the group holding job 0 says so in `committing` and waits until `wait_for` more jobs
    /// queue, and a group holding job 99 panics.
    fn spawn_job(
        group: &Arc<GroupCommit<u32, u32>>,
        writer: &Arc<Mutex<Vec<Vec<u32>>>>,
        job: u32,
        wait_for: usize,
        committing: &Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Option<u32>> {
        let (group, writer) = (Arc::clone(group), Arc::clone(writer));
        let committing = Arc::clone(committing);
        std::thread::spawn(move || {
            group.run(&writer, job, |groups, jobs| {
                if jobs.contains(&0) {
                    committing.store(true, Ordering::SeqCst);
                    while group.queued() < wait_for {
                        std::thread::yield_now();
                    }
                }
                assert!(!jobs.contains(&99), "a leader's commit panicked");
                groups.push(jobs.clone());
                jobs.iter().map(|job| job + 100).collect()
            })
        })
    }

    #[test]
    fn jobs_queued_during_a_commit_make_the_next_group_led_by_the_oldest() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::default();
        let writer = Arc::new(Mutex::new(Vec::new()));
        let committing = Arc::new(AtomicBool::new(false));
        let first = spawn_job(&group, &writer, 0, 3, &committing);
        while !committing.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        // Queued while the first group commits (it waits for all three).
        let later: Vec<_> = (1..=3)
            .map(|job| {
                let thread = spawn_job(&group, &writer, job, 0, &committing);
                // In order; the third lets the first group end, so its queue may empty.
                while job < 3 && group.queued() < job as usize {
                    std::thread::yield_now();
                }
                thread
            })
            .collect();
        assert_eq!(first.join().unwrap(), Some(100));
        let answers: Vec<_> = later.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(answers, [Some(101), Some(102), Some(103)]);
        assert_eq!(*lock(&writer), [vec![0], vec![1, 2, 3]]);
    }

    #[test]
    fn a_leader_that_panics_loses_only_its_group_and_the_lead_passes_on() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::default();
        let writer = Arc::new(Mutex::new(Vec::new()));
        let committing = Arc::new(AtomicBool::new(false));
        let held = lock(&writer);
        let doomed = spawn_job(&group, &writer, 99, 0, &committing);
        while group.queued() < 1 {
            std::thread::yield_now();
        }
        drop(held);
        assert!(doomed.join().is_err(), "the leader's thread panicked");
        let after = spawn_job(&group, &writer, 7, 0, &committing);
        assert_eq!(
            after.join().unwrap(),
            Some(107),
            "the next job still commits"
        );
    }
}
