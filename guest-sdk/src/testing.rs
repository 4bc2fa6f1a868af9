//! A native test harness: run a transform with `cargo test`, without Wasm, through the same frame
//! and reply encoding the host uses.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;
use sluicegate_abi::{FrameContext, FrameEvent, Patch, Reply, Verdict as AbiVerdict, frame_len, write_frame};

use crate::runtime::Runtime;
use crate::{Error, Transform};

/// An event to feed a transform in a test, and what comes out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEvent {
    /// The CloudWatch event id.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line.
    pub message: String,
    /// The AWS account id.
    pub owner: String,
    /// The log group.
    pub log_group: String,
    /// The log stream.
    pub log_stream: String,
    /// Fields, as JSON object text.
    pub fields: Option<String>,
    /// Target index.
    pub index: Option<String>,
}

impl TestEvent {
    /// An event with this message and plausible defaults for the rest.
    pub fn new(message: impl Into<String>) -> TestEvent {
        TestEvent {
            id: "36000000000000000000000000000000000000000000000000000000".to_owned(),
            timestamp: 1_700_000_000_000,
            message: message.into(),
            owner: "123456789012".to_owned(),
            log_group: "/aws/lambda/test".to_owned(),
            log_stream: "2024/01/01/[$LATEST]0123456789abcdef".to_owned(),
            fields: None,
            index: None,
        }
    }

    /// The same event from another log group.
    pub fn log_group(mut self, log_group: impl Into<String>) -> TestEvent {
        self.log_group = log_group.into();
        self
    }

    /// The same event with fields (JSON object text).
    pub fn fields(mut self, fields: impl Into<String>) -> TestEvent {
        self.fields = Some(fields.into());
        self
    }

    /// The same event at another time.
    pub fn timestamp(mut self, timestamp: i64) -> TestEvent {
        self.timestamp = timestamp;
        self
    }

    /// The field at a dotted path, parsed from [`TestEvent::fields`].
    pub fn field(&self, path: &str) -> Option<Value> {
        let mut value: Value = serde_json::from_str(self.fields.as_deref()?).ok()?;
        for part in path.split('.') {
            value = value.as_object_mut()?.remove(part)?;
        }
        Some(value)
    }
}

/// What a transform made of a [`TestEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    /// Kept as it came in.
    Kept,
    /// Kept with changes: the event as it would go on.
    Changed(TestEvent),
    /// Dropped.
    Dropped,
    /// Failed with this reason (an error from the transform, or `panicked: ...`).
    Failed(String),
}

/// A configured transform, run natively.
pub struct Harness<T> {
    runtime: Runtime<T>,
}

impl<T> std::fmt::Debug for Harness<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Harness")
    }
}

impl<T: Transform> Harness<T> {
    /// Configures the transform from JSON text, as the pipeline file's `config` would.
    pub fn new(config: &str) -> Result<Harness<T>, Error> {
        Ok(Harness { runtime: Runtime::init(config.as_bytes())? })
    }

    /// Runs one event.
    pub fn run_one(&mut self, event: TestEvent) -> TestOutcome {
        self.run(std::slice::from_ref(&event)).pop().expect("one outcome per event")
    }

    /// Runs a batch of events in one frame, as the host would. A panic fails the event that
    /// panicked (found by running the events one by one), like a trap in Wasm.
    pub fn run(&mut self, events: &[TestEvent]) -> Vec<TestOutcome> {
        match self.run_frame(events) {
            Ok(outcomes) => outcomes,
            Err(reason) if events.len() == 1 => vec![TestOutcome::Failed(reason)],
            Err(_) => events.iter().flat_map(|event| self.run(std::slice::from_ref(event))).collect(),
        }
    }

    fn run_frame(&mut self, events: &[TestEvent]) -> Result<Vec<TestOutcome>, String> {
        let contexts: Vec<FrameContext<'_>> = events
            .iter()
            .map(|event| FrameContext { owner: &event.owner, log_group: &event.log_group, log_stream: &event.log_stream })
            .collect();
        let frame_events: Vec<FrameEvent<'_>> = events
            .iter()
            .enumerate()
            .map(|(event_idx, event)| FrameEvent {
                timestamp: event.timestamp,
                context_idx: event_idx as u32,
                id: &event.id,
                message: &event.message,
                fields: event.fields.as_deref(),
                index: event.index.as_deref(),
            })
            .collect();
        let mut frame = vec![0; frame_len(&contexts, &frame_events)];
        write_frame(&mut frame, &contexts, &frame_events);
        let runtime = &mut self.runtime;
        let reply = catch_unwind(AssertUnwindSafe(|| runtime.process(&frame).map(<[u8]>::to_vec)))
            .map_err(|payload| {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic without a message");
                format!("panicked: {message}")
            })?
            .map_err(|error| error.to_string())?;
        let reply = Reply::parse(&reply, events.len()).map_err(|error| error.to_string())?;
        let mut outcomes: Vec<TestOutcome> = reply
            .verdicts()
            .map(|verdict| match verdict {
                AbiVerdict::Drop => TestOutcome::Dropped,
                _ => TestOutcome::Kept,
            })
            .collect();
        for patch in reply.patches().map_err(|error| error.to_string())? {
            match patch {
                Patch::Modified { event_idx, changes } => {
                    let mut event = events[event_idx].clone();
                    if let Some(timestamp) = changes.timestamp {
                        event.timestamp = timestamp;
                    }
                    if let Some(message) = changes.message {
                        event.message = message.to_owned();
                    }
                    if let Some(fields) = changes.fields {
                        event.fields = fields.map(str::to_owned);
                    }
                    if let Some(index) = changes.index {
                        event.index = index.map(str::to_owned);
                    }
                    outcomes[event_idx] = TestOutcome::Changed(event);
                }
                Patch::Failed { event_idx, reason } => outcomes[event_idx] = TestOutcome::Failed(reason.to_owned()),
            }
        }
        Ok(outcomes)
    }
}
