//! What one batch became: the pipeline's answer to the host.

use std::time::Duration;

use crate::archive::{ArchiveObject, object_key};
use crate::bulk::BulkBody;
use crate::dead_letter::DeadLetter;
use crate::transform::TransformCounts;

/// The result of running one batch through the pipeline.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// One entry per Kinesis record, in batch order.
    pub records: Vec<RecordOutcome>,
    /// The `_bulk` bodies to send ([`crate::Pipeline::run`]; empty after
    /// [`crate::Pipeline::run_streaming`], which hands them over as they complete).
    pub bulk: Vec<BulkBody>,
    /// `_bulk` bodies written and their bytes, however they were handed over.
    pub bulk_written: (usize, usize),
    /// The archive objects to put (none, one, or two for the `both` stage).
    pub archive: Vec<ArchiveObject>,
    /// Items given up on so far (decode, transform and document stages).
    pub dead_letters: Vec<DeadLetter>,
    /// Where this batch's objects go.
    pub batch: BatchKey,
    /// Time spent per stage.
    pub timings: Timings,
    /// What each transform's failures came to, in chain order.
    pub transforms: Vec<TransformCounts>,
}

/// What makes this batch's object keys: its stream, shard, first record and arrival time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchKey {
    /// The stream's name, when the event says it: two streams writing under one prefix must not
    /// overwrite each other's objects (shard ids and sequence numbers repeat across streams).
    pub stream: Option<String>,
    /// The shard of the first record.
    pub shard_id: String,
    /// The first record's sequence number.
    pub first_sequence_number: String,
    /// The first record's arrival in the stream, in milliseconds since the Unix epoch.
    pub arrival_ms: i64,
}

impl BatchKey {
    /// The object key under `prefix` for this batch, with an optional suffix before the extension.
    pub fn key(&self, prefix: &str, suffix: &str) -> String {
        let source = match &self.stream {
            Some(stream) => format!("{stream}-{}", self.shard_id),
            None => self.shard_id.clone(),
        };
        object_key(prefix, self.arrival_ms, &source, &self.first_sequence_number, suffix)
    }
}

/// What became of one Kinesis record's events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordOutcome {
    /// The record's sequence number.
    pub sequence_number: String,
    /// Whether it was a `CONTROL_MESSAGE` (acknowledged, nothing shipped).
    pub control: bool,
    /// Log events decoded from it (0 when it failed to decode).
    pub n_events: u32,
    /// Documents written to `_bulk` bodies.
    pub n_shipped: u32,
    /// Events that transforms dropped.
    pub n_dropped: u32,
    /// Events (or the whole record) given up on as dead letters.
    pub n_dead_lettered: u32,
    /// Whether the deadline came before all of its events were done (decoded and through the
    /// transforms): the record must go back to Kinesis to be tried again.
    pub unfinished: bool,
}

/// Time spent in each stage of the pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings {
    /// Base64, gunzip and JSON.
    pub decode: Duration,
    /// The transform chain, with each transform's share.
    pub transform: Duration,
    /// Per transform, in chain order.
    pub per_transform: Vec<(String, Duration)>,
    /// Documents, `_bulk` bodies and archive objects.
    pub encode: Duration,
}

/// Counts over a whole batch, for the command line summary and the metrics line.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Kinesis records in the batch.
    pub records: usize,
    /// Log events decoded.
    pub events_in: u64,
    /// Documents written to `_bulk` bodies.
    pub events_out: u64,
    /// Events dropped by transforms.
    pub dropped: u64,
    /// Records and events given up on as dead letters.
    pub dead_lettered: u64,
    /// Records the deadline left unfinished (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub unfinished: u64,
    /// `_bulk` request bodies.
    pub bulk_requests: usize,
    /// Bytes in the `_bulk` bodies.
    pub bulk_bytes: usize,
    /// Per transform that failed on events or did not run some: what its policy made of them
    /// (absent when every transform ran every event cleanly).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transform_failures: Vec<TransformCounts>,
}

impl Outcome {
    /// Counts over the batch.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary { records: self.records.len(), ..Summary::default() };
        for record in &self.records {
            summary.events_in += u64::from(record.n_events);
            summary.events_out += u64::from(record.n_shipped);
            summary.dropped += u64::from(record.n_dropped);
            summary.dead_lettered += u64::from(record.n_dead_lettered);
            summary.unfinished += u64::from(record.unfinished);
        }
        (summary.bulk_requests, summary.bulk_bytes) = self.bulk_written;
        summary.transform_failures = self.transforms.iter().filter(|counts| !counts.is_clean()).cloned().collect();
        summary
    }
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}
