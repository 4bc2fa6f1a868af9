//! The seam between the pipeline and a transform chain (the Wasm host implements it).

use std::time::{Duration, Instant};

use crate::event::{Context, Event};

/// A chain of transforms run over every event of a batch.
pub trait Transforms {
    /// Runs the chain over `events`, which share `contexts`, and sorts each event into kept
    /// (possibly changed), dropped, failed, or unfinished: work does not start past `deadline`,
    /// and events it could not finish by then are returned as unfinished, not failed.
    fn apply<'a>(&mut self, contexts: &[Context<'a>], events: Vec<Event<'a>>, deadline: Option<Instant>) -> ChainOutcome<'a>;
}

/// What a transform chain made of a batch's events.
#[derive(Debug, Default)]
pub struct ChainOutcome<'a> {
    /// Events to ship, in their original order.
    pub kept: Vec<Event<'a>>,
    /// Events the chain dropped (by verdict, or by an `on_error: drop` policy).
    pub dropped: Vec<Event<'a>>,
    /// Events to dead-letter: the event as the failing transform received it.
    pub failed: Vec<Failure<'a>>,
    /// Events the chain did not finish before the deadline. They are neither shipped nor given
    /// up on: their records go back to Kinesis to be tried again.
    pub unfinished: Vec<Event<'a>>,
    /// Time spent in each transform, in chain order.
    pub timings: Vec<(String, Duration)>,
    /// What each transform's failures came to, in chain order.
    pub counts: Vec<TransformCounts>,
}

/// The events one transform failed on, by what its `on_error` policy made of them, and the
/// events it did not run, so that a policy never acts unseen.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransformCounts {
    /// The transform.
    pub name: String,
    /// Events it failed on that became dead letters.
    pub failed: u64,
    /// Events it failed on that went on unchanged (`on_error: pass`).
    pub passed: u64,
    /// Events it failed on that were dropped (`on_error: drop`).
    pub dropped: u64,
    /// Events it did not run (the deadline, or its trap budget, came first): their records go
    /// back to Kinesis.
    pub not_run: u64,
}

impl TransformCounts {
    /// Adds `other`'s counts (of the same transform) to these.
    pub fn add(&mut self, other: &TransformCounts) {
        self.failed += other.failed;
        self.passed += other.passed;
        self.dropped += other.dropped;
        self.not_run += other.not_run;
    }

    /// Whether nothing failed and everything ran.
    pub fn is_clean(&self) -> bool {
        self.failed + self.passed + self.dropped + self.not_run == 0
    }
}

/// An event a transform failed on, under an `on_error: dead-letter` policy.
#[derive(Debug)]
pub struct Failure<'a> {
    /// The event as the transform received it.
    pub event: Event<'a>,
    /// The transform's name.
    pub transform: String,
    /// What went wrong (the guest's error text, a trap, a deadline).
    pub reason: String,
}
