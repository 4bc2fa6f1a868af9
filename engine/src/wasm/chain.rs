//! A chain of Wasm transforms: frames per batch, verdicts and patches back, traps contained by
//! discarding the instance and bisecting the batch down to the event that traps.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sluicegate_abi::{FrameContext, FrameEvent, frame_len};

use super::WasmError;
use super::host::{LoadedModule, WasmHost};
use super::instance::{Decision, Instance};
use crate::event::{Context, Event};
use crate::index::check_index_name;
use crate::transform::{ChainOutcome, Failure, TransformCounts, Transforms};

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
    /// The pattern an index set by a transform must match, when the pipeline restricts them.
    allowed_indices: Option<String>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("stages", &self.stages.iter().map(|stage| &*stage.name).collect::<Vec<_>>()).finish()
    }
}

/// How long, in call timeouts, the calls of one transform that fail may take together in one
/// call of [`Transforms::apply`] (one slice of a batch, about 4 MiB of inflated records). Past it
/// the transform's remaining events of the slice are not run and go back to Kinesis
/// (unfinished), never to the `on_error` policy: an event gets the policy only for its own
/// failure. Isolating one looping event among a thousand costs about eleven timeouts; panics
/// and errors cost microseconds each, so a few bad lines never reach the budget, while a module
/// that loops on everything costs a bounded time per slice.
const TRAP_BUDGET_TIMEOUTS: u32 = 16;

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
        Ok(Chain { host: host.clone(), stages, allowed_indices: None })
    }

    /// Restricts the indices a transform may set to those matching `pattern` (`*` for any text);
    /// an event given another fails in that transform, with the reason.
    pub fn allow_indices(mut self, pattern: Option<String>) -> Chain {
        self.allowed_indices = pattern;
        self
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
            let mut counts = TransformCounts { name: stage.name.to_string(), ..TransformCounts::default() };
            for (event, decision) in events.into_iter().zip(decisions) {
                // A transform may choose an index only within the rules and the pipeline's pattern.
                let decision = match decision {
                    Decision::Modified { index: Some(Some(ref index)), .. } => {
                        match check_index_name(index, self.allowed_indices.as_deref()) {
                            Ok(()) => decision,
                            Err(reason) => Decision::Failed(reason),
                        }
                    }
                    other => other,
                };
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
                    Decision::Unfinished | Decision::NotRun => {
                        counts.not_run += 1;
                        outcome.unfinished.push(event);
                    }
                    Decision::Failed(reason) => match stage.on_error {
                        OnError::DeadLetter => {
                            counts.failed += 1;
                            outcome.failed.push(Failure { event, transform: stage.name.to_string(), reason });
                        }
                        OnError::Drop => {
                            counts.dropped += 1;
                            outcome.dropped.push(event);
                        }
                        OnError::Pass => {
                            counts.passed += 1;
                            kept.push(event);
                        }
                    },
                }
            }
            events = kept;
            outcome.timings.push((stage.name.to_string(), started.elapsed()));
            outcome.counts.push(counts);
        }
        outcome.kept = events;
        outcome
    }
}

/// The time the failing calls of one transform may still take in this slice.
struct TrapBudget {
    spent: Duration,
    limit: Duration,
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
        let mut budget = TrapBudget { spent: Duration::ZERO, limit: host.limits.call_timeout * TRAP_BUDGET_TIMEOUTS };
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
            self.decide(host, contexts, &frame_events[start..end], deadline, &mut budget, &mut decisions);
            start = end;
        }
        let n_not_run = decisions.iter().filter(|decision| matches!(decision, Decision::NotRun)).count();
        if n_not_run > 0 {
            eprintln!(
                "transform {}: its failing calls took {} ms in this batch, past its budget of {} ms: {n_not_run} events not run, their records go back to Kinesis",
                self.name,
                budget.spent.as_millis(),
                budget.limit.as_millis()
            );
        }
        decisions.into_iter().map(|decision| if matches!(decision, Decision::NotRun) { Decision::Unfinished } else { decision }).collect()
    }

    fn decide(
        &mut self,
        host: &WasmHost,
        contexts: &[FrameContext<'_>],
        events: &[FrameEvent<'_>],
        deadline: Option<Instant>,
        budget: &mut TrapBudget,
        decisions: &mut Vec<Decision>,
    ) {
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            decisions.extend(events.iter().map(|_| Decision::Unfinished));
            return;
        }
        if budget.spent >= budget.limit {
            decisions.extend(events.iter().map(|_| Decision::NotRun));
            return;
        }
        let started = Instant::now();
        let instance = match self.instance.take() {
            Some(instance) => Ok(instance),
            None => Instance::new(host, &self.name, &self.module, self.config.as_bytes()),
        };
        let mut instance = match instance {
            Ok(instance) => instance,
            Err(error) => {
                // The events did not run: they go back to Kinesis rather than to the policy.
                budget.spent += started.elapsed().max(host.limits.call_timeout);
                eprintln!("transform {}: cannot make a new instance: {error}", self.name);
                decisions.extend(events.iter().map(|_| Decision::NotRun));
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
                budget.spent += started.elapsed();
                if events.len() == 1 {
                    decisions.push(Decision::Failed(reason));
                    return;
                }
                let (left, right) = events.split_at(events.len() / 2);
                self.decide(host, contexts, left, deadline, budget, decisions);
                self.decide(host, contexts, right, deadline, budget, decisions);
            }
        }
    }
}
