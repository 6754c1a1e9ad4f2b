//! Group commit: many writers' work made durable by one commit.
//!
//! A commit waits for the disk (`fsync`), and the log's writers take turns, so committing
//! each sync on its own caps the server at one sync per disk flush. Instead a writer
//! queues its work and waits for the writer's lock; whoever holds it next takes everything
//! queued, runs it in one transaction (each piece under its own savepoint, so a refused
//! push undoes only itself), commits once, and answers everyone, before letting go of the
//! lock. Alone, a sync is a group of one; under load one flush makes many syncs durable.
//! Nobody is answered before the group's commit.

use std::sync::{Mutex, MutexGuard, mpsc};

use super::StorageError;
use super::documents::{Checked, DocumentCache};

/// Work of type `J` waiting for the next group, answered with an `A`.
#[derive(Debug)]
pub struct GroupCommit<J, A> {
    queued: Mutex<Vec<Queued<J, A>>>,
}

#[derive(Debug)]
struct Queued<J, A> {
    job: J,
    answer: mpsc::Sender<A>,
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
            queued: Mutex::new(Vec::new()),
        }
    }
}

impl<J, A> GroupCommit<J, A> {
    /// Queues `job`, then, holding `writer`, either finds it already done by the group
    /// before, or runs every queued job with `commit`, which returns one answer per job in
    /// the order given. Returns `None` only if the job's group was lost to a panic.
    pub fn run<W>(
        &self,
        writer: &Mutex<W>,
        job: J,
        commit: impl FnOnce(&mut W, Vec<J>) -> Vec<A>,
    ) -> Option<A> {
        let (answer, answered) = mpsc::channel();
        lock(&self.queued).push(Queued { job, answer });
        let mut writer = lock(writer);
        // While this waited for the writer, the group before may have taken it along.
        if let Ok(result) = answered.try_recv() {
            return Some(result);
        }
        let (jobs, answers): (Vec<J>, Vec<mpsc::Sender<A>>) =
            std::mem::take(&mut *lock(&self.queued))
                .into_iter()
                .map(|queued| (queued.job, queued.answer))
                .unzip();
        let results = commit(&mut writer, jobs);
        // Answered while the writer is still held, so that a job taken along is answered
        // before its own thread gets the writer and looks.
        for (answer, result) in answers.into_iter().zip(results) {
            // The sync may have given up waiting (its request timed out): nobody to tell.
            let _ = answer.send(result);
        }
        drop(writer);
        answered.recv().ok()
    }

    /// How many jobs wait for a group.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        lock(&self.queued).len()
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
}
