//! The archive's compression on another core. Gzip is about half of what a batch costs without
//! transforms; a Lambda function of 1,769 MB or more has a second vCPU (and the command line a
//! machine's), so the archive's members are compressed on one worker thread while the pipeline
//! goes on with the next slice. With one CPU there is no worker and members are compressed where
//! they are written, as before; either way the object's bytes are the same.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, OnceLock};

/// Members handed to the worker and not yet collected, per writer: the pipeline waits for the
/// oldest past this, so memory holds a few chunks whatever the worker's pace. The pipeline
/// writes a slice's documents in a burst of several chunks, faster than they are compressed,
/// and then decodes and transforms the next slice while writing none: room for a burst lets the
/// worker catch up during the next slice instead of holding the pipeline up during this one.
const MAX_IN_FLIGHT: usize = 6;

struct Job {
    chunk: Arc<Vec<u8>>,
    done: mpsc::SyncSender<Option<Vec<u8>>>,
}

/// The process's compression worker, started on first use; `None` with one CPU or when the
/// thread cannot be started.
fn worker() -> Option<&'static Sender<Job>> {
    static WORKER: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
                return None;
            }
            let (jobs, queue) = mpsc::channel::<Job>();
            let spawned = std::thread::Builder::new().name("sluicegate-gzip".to_owned()).spawn(move || {
                for job in queue {
                    // A panic is contained: the writer compresses that chunk itself.
                    let member = std::panic::catch_unwind(AssertUnwindSafe(|| super::gzip(&job.chunk))).ok();
                    drop(job.chunk);
                    let _ = job.done.send(member);
                }
            });
            spawned.ok().map(|_| jobs)
        })
        .as_ref()
}

/// A chunk the worker has, and where its member will come.
#[derive(Debug)]
struct InFlight {
    chunk: Arc<Vec<u8>>,
    member: Receiver<Option<Vec<u8>>>,
}

/// The members of one object, in order: compressed by the worker when there is one.
#[derive(Debug, Default)]
pub(super) struct Members {
    /// The members collected so far, concatenated.
    pub gzip: Vec<u8>,
    in_flight: VecDeque<InFlight>,
    /// A chunk buffer back from the worker, for the next chunk.
    spare: Option<Vec<u8>>,
}

impl Members {
    /// Compresses `chunk` as the next member (in the background when `background` and there is
    /// a worker) and leaves an empty buffer in its place.
    pub fn push(&mut self, chunk: &mut Vec<u8>, background: bool) {
        if chunk.is_empty() {
            return;
        }
        let worker = if background { worker() } else { None };
        let Some(worker) = worker else {
            self.collect_all();
            super::gzip_append(chunk, &mut self.gzip);
            chunk.clear();
            return;
        };
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            self.collect_oldest();
        }
        let next = self.spare.take().unwrap_or_else(|| Vec::with_capacity(chunk.capacity()));
        let chunk = Arc::new(std::mem::replace(chunk, next));
        let (done, receiver) = mpsc::sync_channel(1);
        match worker.send(Job { chunk: Arc::clone(&chunk), done }) {
            Ok(()) => self.in_flight.push_back(InFlight { chunk, member: receiver }),
            Err(_) => {
                // The worker is gone: compress here, after what it already has.
                self.collect_all();
                super::gzip_append(&chunk, &mut self.gzip);
            }
        }
    }

    /// Waits for every member in flight; `gzip` then holds the whole object.
    pub fn collect_all(&mut self) {
        while !self.in_flight.is_empty() {
            self.collect_oldest();
        }
    }

    fn collect_oldest(&mut self) {
        let Some(InFlight { chunk, member }) = self.in_flight.pop_front() else {
            return;
        };
        match member.recv() {
            Ok(Some(member)) => self.gzip.extend_from_slice(&member),
            // The worker failed on it or is gone: the chunk is still here.
            Ok(None) | Err(_) => super::gzip_append(&chunk, &mut self.gzip),
        }
        // The worker dropped its handle before answering, so the buffer is ours again.
        if let Ok(mut buffer) = Arc::try_unwrap(chunk) {
            buffer.clear();
            self.spare = Some(buffer);
        }
    }
}
