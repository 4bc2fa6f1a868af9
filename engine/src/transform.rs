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
