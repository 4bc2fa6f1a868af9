//! A chain of Wasm transforms: frames per batch, verdicts and patches back, traps contained by
//! discarding the instance and bisecting the batch down to the event that traps.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluicegate_sdk::abi::{FrameContext, FrameEvent, frame_len};

use super::WasmError;
use super::host::{LoadedModule, WasmHost};
use super::instance::{Decision, Instance};
use crate::event::{Context, Event};
use crate::transform::{ChainOutcome, Failure, Transforms};

/// What happens to an event a transform fails on (an error, a panic, a trap, a deadline).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnError {
    /// Dead-letter the event as the transform received it.
    #[default]
    DeadLetter,
    /// Drop the event.
    Drop,
    /// Ship the event as it came into the transform; later transforms still see it.
    Pass,
}

/// One transform of a chain, before it is started.
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// The transform's name (in errors, dead letters and timings).
    pub name: String,
    /// Its module.
    pub module: LoadedModule,
    /// Its JSON configuration, handed to `init` once per instance.
    pub config: String,
    /// What happens to events it fails on.
    pub on_error: OnError,
}

struct Stage {
    name: Arc<str>,
    module: LoadedModule,
    config: String,
    on_error: OnError,
    /// `None` after a trap, until the next call makes a new instance.
    instance: Option<Instance>,
}

/// A chain of transforms, started: every instance made and configured.
pub struct Chain {
    host: WasmHost,
    stages: Vec<Stage>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("stages", &self.stages.iter().map(|stage| &*stage.name).collect::<Vec<_>>()).finish()
    }
}

/// Traps per transform and call of [`Transforms::apply`] (one slice of a batch, about 4 MiB of
/// inflated records) after which the rest of the slice gets the `on_error` policy without
/// running: a transform that traps on everything (or loops on everything) would otherwise cost
/// two calls per event.
const MAX_TRAPS_PER_BATCH: usize = 32;

/// How close to the batch deadline a failed call counts as cut short by it: the epoch ticker can
/// interrupt up to a tick early.
const DEADLINE_SLACK: Duration = Duration::from_millis(2);

impl Chain {
    /// Starts every transform (instance and `init`); the first that fails stops the start.
    pub fn new(host: &WasmHost, specs: Vec<StageSpec>) -> Result<Chain, WasmError> {
        let mut stages = Vec::with_capacity(specs.len());
        for spec in specs {
            let name: Arc<str> = spec.name.into();
            let instance = Instance::new(host, &name, &spec.module, spec.config.as_bytes())?;
            stages.push(Stage { name, module: spec.module, config: spec.config, on_error: spec.on_error, instance: Some(instance) });
        }
        Ok(Chain { host: host.clone(), stages })
    }

    /// The transforms' names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|stage| &*stage.name)
    }

    /// Each transform's name and whether its module came precompiled (a `.cwasm`).
    pub fn precompiled(&self) -> impl Iterator<Item = (&str, bool)> {
        self.stages.iter().map(|stage| (&*stage.name, stage.module.precompiled))
    }
}

impl Transforms for Chain {
    fn apply<'a>(&mut self, contexts: &[Context<'a>], events: Vec<Event<'a>>, deadline: Option<Instant>) -> ChainOutcome<'a> {
        let frame_contexts: Vec<FrameContext<'_>> = contexts
            .iter()
            .map(|context| FrameContext { owner: &context.owner, log_group: &context.log_group, log_stream: &context.log_stream })
            .collect();
        let mut outcome = ChainOutcome { timings: Vec::with_capacity(self.stages.len()), ..ChainOutcome::default() };
        let mut events = events;
        for stage in &mut self.stages {
            let started = Instant::now();
            let decisions = stage.run(&self.host, &frame_contexts, &events, deadline);
            let mut kept = Vec::with_capacity(events.len());
            for (event, decision) in events.into_iter().zip(decisions) {
                match decision {
                    Decision::Keep => kept.push(event),
                    Decision::Drop => outcome.dropped.push(event),
                    Decision::Modified { timestamp, message, fields, index } => {
                        let mut event = event;
                        if let Some(timestamp) = timestamp {
                            event.timestamp = timestamp;
                        }
                        if let Some(message) = message {
                            event.message = Cow::Owned(message);
                        }
                        if let Some(fields) = fields {
                            event.fields = fields;
                        }
                        if let Some(index) = index {
                            event.index = index;
                        }
                        kept.push(event);
                    }
                    Decision::Unfinished => outcome.unfinished.push(event),
                    Decision::Failed(reason) => match stage.on_error {
                        OnError::DeadLetter => outcome.failed.push(Failure { event, transform: stage.name.to_string(), reason }),
                        OnError::Drop => outcome.dropped.push(event),
                        OnError::Pass => kept.push(event),
                    },
                }
            }
            events = kept;
            outcome.timings.push((stage.name.to_string(), started.elapsed()));
        }
        outcome.kept = events;
        outcome
    }
}

impl Stage {
    /// One decision per event: frames of at most `max_frame_bytes`, bisected on a trap.
    fn run(&mut self, host: &WasmHost, contexts: &[FrameContext<'_>], events: &[Event<'_>], deadline: Option<Instant>) -> Vec<Decision> {
        let frame_events: Vec<FrameEvent<'_>> = events
            .iter()
            .map(|event| FrameEvent {
                timestamp: event.timestamp,
                context_idx: event.context_idx,
                id: &event.id,
                message: &event.message,
                fields: event.fields.as_deref(),
                index: event.index.as_deref(),
            })
            .collect();
        let mut decisions = Vec::with_capacity(events.len());
        let mut n_traps = 0;
        let mut start = 0;
        while start < frame_events.len() {
            // Chunks by size keep the guest's memory small on large batches; the contexts table
            // goes with every chunk.
            let mut end = start;
            let mut chunk_bytes = frame_len(contexts, &[]);
            while end < frame_events.len() {
                let event_bytes = frame_len(&[], &frame_events[end..=end]);
                if end > start && chunk_bytes + event_bytes > host.limits.max_frame_bytes {
                    break;
                }
                chunk_bytes += event_bytes;
                end += 1;
            }
            self.decide(host, contexts, &frame_events[start..end], deadline, &mut n_traps, &mut decisions);
            start = end;
        }
        decisions
    }

    fn decide(
        &mut self,
        host: &WasmHost,
        contexts: &[FrameContext<'_>],
        events: &[FrameEvent<'_>],
        deadline: Option<Instant>,
        n_traps: &mut usize,
        decisions: &mut Vec<Decision>,
    ) {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            decisions.extend(events.iter().map(|_| Decision::Unfinished));
            return;
        }
        if *n_traps >= MAX_TRAPS_PER_BATCH {
            let reason = format!("not run: the transform trapped {n_traps} times in this batch");
            decisions.extend(events.iter().map(|_| Decision::Failed(reason.clone())));
            return;
        }
        let instance = match self.instance.take() {
            Some(instance) => Ok(instance),
            None => Instance::new(host, &self.name, &self.module, self.config.as_bytes()),
        };
        let mut instance = match instance {
            Ok(instance) => instance,
            Err(error) => {
                *n_traps += 1;
                let reason = error.to_string();
                decisions.extend(events.iter().map(|_| Decision::Failed(reason.clone())));
                return;
            }
        };
        match instance.call(host, contexts, events, deadline) {
            Ok(answer) => {
                self.instance = Some(instance);
                decisions.extend(answer);
            }
            Err(reason) => {
                // The instance may be in any state after a trap: it is dropped, not reused.
                drop(instance);
                if deadline.is_some_and(|deadline| Instant::now() + DEADLINE_SLACK >= deadline) {
                    // The batch's deadline may be what cut the call short, in which case no
                    // event is to blame; an event that does trap will do so again on the retry,
                    // with time to find it.
                    decisions.extend(events.iter().map(|_| Decision::Unfinished));
                    return;
                }
                *n_traps += 1;
                if events.len() == 1 {
                    decisions.push(Decision::Failed(reason));
                    return;
                }
                let (left, right) = events.split_at(events.len() / 2);
                self.decide(host, contexts, left, deadline, n_traps, decisions);
                self.decide(host, contexts, right, deadline, n_traps, decisions);
            }
        }
    }
}
