//! The pipeline: a Kinesis batch in, an [`Outcome`] out.
//!
//! Decoding never aborts a batch: a bad record becomes a dead letter with its reason, and the
//! rest of the batch goes on.

use std::sync::mpsc::Receiver;
use std::time::Instant;

use base64::Engine as _;

use crate::archive::{ArchiveStage, ArchiveWriter};
use crate::bulk::{BulkAction, BulkBody, BulkWriter, DEFAULT_BULK_MAX_BYTES};
use crate::dead_letter::{DeadLetter, Original, Stage};
use crate::decode::{DEFAULT_MAX_INFLATED_BYTES, DecodeError, Decoder, explain_json_error};
use crate::document::{context_fragment, write_document_with, write_event_metadata, write_raw_event};
use crate::event::{Context, Event};
use crate::index::IndexTemplate;
use crate::kinesis::KinesisEvent;
use crate::outcome::{BatchKey, Outcome, RecordOutcome};
use crate::transform::{ChainOutcome, Transforms};

/// Everything that shapes the pipeline's output, apart from the transforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Index names.
    pub index_template: IndexTemplate,
    /// `index` or `create`.
    pub bulk_action: BulkAction,
    /// Size limit of one `_bulk` body.
    pub bulk_max_bytes: usize,
    /// What the archive holds.
    pub archive_stage: ArchiveStage,
    /// Key prefix of archive objects.
    pub archive_prefix: String,
    /// Cap on one record's inflated size.
    pub max_inflated_bytes: usize,
    /// Cap on a batch's inflated size: records past it are not inflated but reported for retry
    /// (Kinesis sends them again, first in the next batch), so a few records that inflate to the
    /// per-record cap each cannot hold gigabytes at once.
    pub max_batch_inflated_bytes: usize,
    /// What a dead letter of a transform failure holds of its event.
    pub transform_dead_letters: DeadLetterContent,
    /// Whether action lines carry the event id as `_id` (so a replay overwrites instead of
    /// adding); off only for indices that refuse ids (OpenSearch Serverless time series).
    pub document_ids: bool,
    /// Whether the pipeline uses a second CPU when the machine has one: the next slice's records
    /// are inflated on a scoped thread while the current slice is transformed and encoded, and
    /// the archive's members are compressed on a worker thread (see [`ArchiveWriter::new`]).
    /// Off, or with one CPU, everything happens on the calling thread, in the same order and
    /// with the same output.
    pub second_cpu: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            index_template: IndexTemplate::default(),
            bulk_action: BulkAction::Index,
            bulk_max_bytes: DEFAULT_BULK_MAX_BYTES,
            archive_stage: ArchiveStage::Documents,
            archive_prefix: "archive".to_owned(),
            max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES,
            max_batch_inflated_bytes: DEFAULT_MAX_BATCH_INFLATED_BYTES,
            transform_dead_letters: DeadLetterContent::Metadata,
            document_ids: true,
            second_cpu: true,
        }
    }
}

/// A configured pipeline; build one per process and run it on every batch.
pub struct Pipeline {
    config: PipelineConfig,
    decoder: Decoder,
    /// The decoder of the thread that inflates ahead: `Some` when there is a second CPU to use.
    inflater: Option<Decoder>,
    transforms: Option<Box<dyn Transforms + Send>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("config", &self.config).field("transforms", &self.transforms.is_some()).finish()
    }
}

impl Pipeline {
    /// A pipeline without transforms.
    pub fn new(config: PipelineConfig) -> Pipeline {
        let decoder = Decoder::new(config.max_inflated_bytes);
        let two_cpus = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        let inflater = (config.second_cpu && two_cpus).then(|| Decoder::new(config.max_inflated_bytes));
        Pipeline { config, decoder, inflater, transforms: None }
    }

    /// A pipeline that runs `transforms` on every event.
    pub fn with_transforms(config: PipelineConfig, transforms: Box<dyn Transforms + Send>) -> Pipeline {
        Pipeline { transforms: Some(transforms), ..Pipeline::new(config) }
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Runs one batch. Transforms start no new work past `deadline`.
    ///
    /// The batch goes through in slices of about [`SLICE_INFLATED_BYTES`] of inflated records:
    /// each slice is decoded, transformed and encoded before the next is inflated, so memory
    /// holds the growing `_bulk` bodies plus one slice, not the whole batch three times over.
    pub fn run(&mut self, batch: &KinesisEvent, deadline: Option<Instant>) -> Outcome {
        let mut bodies = Vec::new();
        let mut outcome = self.run_streaming(batch, deadline, |body| bodies.push(body));
        outcome.bulk = bodies;
        outcome
    }

    /// [`Pipeline::run`], handing each `_bulk` body to `on_body` as soon as it is complete
    /// (after the slice that completes it), so that a host ships it while later slices are
    /// decoded, transformed and encoded; the outcome's `bulk` stays empty.
    pub fn run_streaming(&mut self, batch: &KinesisEvent, deadline: Option<Instant>, mut on_body: impl FnMut(BulkBody)) -> Outcome {
        let mut outcome = Outcome::default();
        if let Some(first) = batch.records.first() {
            outcome.batch = BatchKey {
                stream: first.stream_name().map(str::to_owned),
                shard_id: first.shard_id().to_owned(),
                first_sequence_number: first.kinesis.sequence_number.clone(),
                arrival_ms: first.arrival_ms(),
            };
        }
        outcome.records = batch
            .records
            .iter()
            .map(|record| RecordOutcome { sequence_number: record.kinesis.sequence_number.clone(), ..RecordOutcome::default() })
            .collect();
        let (stage, background) = (self.config.archive_stage, self.config.second_cpu);
        let mut writers = Writers {
            bulk: if self.config.document_ids {
                BulkWriter::new(self.config.bulk_action, self.config.bulk_max_bytes)
            } else {
                BulkWriter::new(self.config.bulk_action, self.config.bulk_max_bytes).without_ids()
            },
            documents: matches!(stage, ArchiveStage::Documents | ArchiveStage::Both).then(|| ArchiveWriter::new(background)),
            raw: matches!(stage, ArchiveStage::Raw | ArchiveStage::Both).then(|| ArchiveWriter::new(background)),
        };

        // With a second CPU, once the first slice is inflated here, a scoped thread inflates
        // each next slice while the one before it is transformed and encoded here; it hands
        // slices over one at a time (a rendezvous), so memory holds at most one slice more than
        // without it, and a batch of one slice starts no thread.
        let mut inflater = self.inflater.take();
        std::thread::scope(|scope| {
            let mut inflater = inflater.as_mut();
            let mut ahead: Option<Receiver<InflatedSlice>> = None;
            let mut next_record_idx = 0;
            let mut n_batch_inflated = 0;
            let cap = self.config.max_batch_inflated_bytes;
            while next_record_idx < batch.records.len() {
                if self.transforms.is_some() && deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    // Nothing new starts past the deadline: the rest goes back to Kinesis.
                    for record in &mut outcome.records[next_record_idx..] {
                        record.unfinished = true;
                    }
                    break;
                }
                let started = Instant::now();
                let slice = match ahead.as_ref().map(Receiver::recv) {
                    Some(Ok(slice)) => slice,
                    // The thread is gone (it panicked): the rest is inflated here.
                    Some(Err(_)) | None => {
                        ahead = None;
                        inflate_slice(&mut self.decoder, batch, next_record_idx, cap, &mut n_batch_inflated)
                    }
                };
                next_record_idx = slice.next_record_idx;
                n_batch_inflated = slice.n_batch_inflated;
                if next_record_idx < batch.records.len()
                    && let Some(inflater) = inflater.take()
                {
                    ahead = inflate_ahead(scope, inflater, batch, next_record_idx, n_batch_inflated, cap);
                }
                self.run_slice(batch, slice, started, deadline, &mut outcome, &mut writers);
                for body in writers.bulk.take_finished() {
                    hand_over(body, &mut outcome, &mut on_body);
                }
            }
        });
        self.inflater = inflater;

        let encode_started = Instant::now();
        for body in std::mem::replace(&mut writers.bulk, BulkWriter::new(self.config.bulk_action, 1)).finish() {
            hand_over(body, &mut outcome, &mut on_body);
        }
        let prefix = &self.config.archive_prefix;
        if let Some(object) = writers.documents.and_then(|writer| writer.finish(outcome.batch.key(prefix, ""))) {
            outcome.archive.push(object);
        }
        let raw_prefix = if stage == ArchiveStage::Both { format!("{}-raw", prefix.trim_end_matches('/')) } else { prefix.clone() };
        if let Some(object) = writers.raw.and_then(|writer| writer.finish(outcome.batch.key(&raw_prefix, ""))) {
            outcome.archive.push(object);
        }
        outcome.timings.encode += encode_started.elapsed();
        outcome
    }

    /// Decodes, transforms and encodes one slice of inflated records; `started` is when its
    /// inflating started (or when it was waited for, when a thread inflated it ahead).
    fn run_slice(
        &mut self,
        batch: &KinesisEvent,
        slice: InflatedSlice,
        started: Instant,
        deadline: Option<Instant>,
        outcome: &mut Outcome,
        writers: &mut Writers,
    ) {
        let InflatedSlice { mut inflated, rejected, past_cap_from, .. } = slice;
        for (record_idx, reason, original) in rejected {
            reject(outcome, record_idx, reason, original);
        }
        if let Some(past_cap_from) = past_cap_from {
            // Past the batch's cap: the rest waits for the next invocation, unread.
            for record in &mut outcome.records[past_cap_from..] {
                record.unfinished = true;
            }
        }

        let mut contexts: Vec<Context<'_>> = Vec::with_capacity(inflated.len());
        let mut events: Vec<Event<'_>> = Vec::new();
        let mut parse_failures = Vec::new();
        for (record_idx, bytes) in inflated.iter_mut() {
            let record_idx = *record_idx;
            match self.decoder.parse(bytes) {
                Ok(data) => {
                    let record = &mut outcome.records[record_idx as usize];
                    record.control = data.is_control();
                    if record.control {
                        continue;
                    }
                    record.n_events = data.log_events.len() as u32;
                    let context_idx = contexts.len() as u32;
                    contexts.push(Context { owner: data.owner, log_group: data.log_group, log_stream: data.log_stream });
                    events.extend(data.log_events.into_iter().map(|log_event| Event {
                        record_idx,
                        context_idx,
                        id: log_event.id.0,
                        timestamp: log_event.timestamp,
                        message: log_event.message,
                        fields: None,
                        index: None,
                    }));
                }
                Err(DecodeError::BadJson { .. }) => parse_failures.push((record_idx, ParseFailure::Json)),
                Err(error) => parse_failures.push((record_idx, ParseFailure::Other(error.to_string()))),
            }
        }
        for (record_idx, reason) in parse_failures {
            // simd-json parses in place, so the original is the record's gzip bytes, decoded again.
            let data = &batch.records[record_idx as usize].kinesis.data;
            let gzip = base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).unwrap_or_default();
            let reason = match reason {
                ParseFailure::Json => {
                    let detail = self.decoder.inflate(&gzip).map(|bytes| explain_json_error(&bytes)).unwrap_or_default();
                    DecodeError::BadJson { reason: detail }.to_string()
                }
                ParseFailure::Other(reason) => reason,
            };
            reject(outcome, record_idx, reason, gzip);
        }
        if let Some(raw) = writers.raw.as_mut() {
            for event in &events {
                write_raw_event(raw.line_buffer(), event, &contexts[event.context_idx as usize]);
                raw.end_line(event.record_idx);
            }
        }
        let decoded = Instant::now();
        outcome.timings.decode += decoded - started;

        let chain = match self.transforms.as_mut() {
            Some(transforms) => transforms.apply(&contexts, events, deadline),
            None => ChainOutcome { kept: events, ..ChainOutcome::default() },
        };
        for event in &chain.dropped {
            outcome.records[event.record_idx as usize].n_dropped += 1;
        }
        for event in &chain.unfinished {
            outcome.records[event.record_idx as usize].unfinished = true;
        }
        for failure in chain.failed {
            let mut original = Vec::new();
            let context = &contexts[failure.event.context_idx as usize];
            match self.config.transform_dead_letters {
                DeadLetterContent::Event => write_raw_event(&mut original, &failure.event, context),
                DeadLetterContent::Metadata => write_event_metadata(&mut original, &failure.event, context),
            }
            dead_letter(
                outcome,
                failure.event.record_idx,
                Stage::Transform { name: failure.transform },
                failure.reason,
                Original::Json(original),
            );
        }
        for counts in &chain.counts {
            match outcome.transforms.iter_mut().find(|known| known.name == counts.name) {
                Some(total) => total.add(counts),
                None => outcome.transforms.push(counts.clone()),
            }
        }
        for (name, spent) in chain.timings {
            match outcome.timings.per_transform.iter_mut().find(|(known, _)| *known == name) {
                Some((_, total)) => *total += spent,
                None => outcome.timings.per_transform.push((name, spent)),
            }
        }
        let transformed = Instant::now();
        outcome.timings.transform += transformed - decoded;

        let mut index_cache = IndexCache::default();
        let fragments: Vec<Vec<u8>> = contexts.iter().map(context_fragment).collect();
        // The slice's documents, about: the text they carry plus their fixed parts (action line,
        // `@timestamp`, keys), so that the body is allocated once instead of doubling.
        let expected_bytes: usize = chain
            .kept
            .iter()
            .map(|event| {
                DOCUMENT_OVERHEAD_BYTES
                    + event.message.len()
                    + 2 * event.id.len()
                    + event.fields.as_ref().map_or(0, String::len)
                    + event.index.as_ref().map_or(0, String::len)
                    + fragments[event.context_idx as usize].len()
            })
            .sum();
        writers.bulk.expect(expected_bytes);
        for event in &chain.kept {
            let context = &contexts[event.context_idx as usize];
            let fragment = &fragments[event.context_idx as usize];
            let index = match &event.index {
                Some(index) => index.as_str(),
                None => index_cache.get(&self.config.index_template, event, context),
            };
            let documents = &mut writers.documents;
            let pushed = writers.bulk.push(event.record_idx, index, &event.id, |out| {
                let document_start = out.len();
                write_document_with(out, event, context, fragment)?;
                if let Some(archive) = documents.as_mut() {
                    archive.line_buffer().extend_from_slice(&out[document_start..]);
                    archive.end_line(event.record_idx);
                }
                Ok::<(), String>(())
            });
            match pushed {
                Ok(()) => outcome.records[event.record_idx as usize].n_shipped += 1,
                Err(reason) => {
                    let mut original = Vec::new();
                    write_raw_event(&mut original, event, context);
                    dead_letter(outcome, event.record_idx, Stage::Document, reason, Original::Json(original));
                }
            }
        }
        outcome.timings.encode += transformed.elapsed();
    }
}

/// A slice's records inflated, and what became of those that could not be.
struct InflatedSlice {
    /// Where the next slice starts.
    next_record_idx: usize,
    /// The batch's inflated bytes up to the end of this slice.
    n_batch_inflated: usize,
    /// Record index and inflated bytes, in order.
    inflated: Vec<(u32, Vec<u8>)>,
    /// Record index, reason and original bytes of each record that could not be inflated.
    rejected: Vec<(u32, String, Vec<u8>)>,
    /// The records from this index on were left unread, past the batch's cap.
    past_cap_from: Option<usize>,
}

/// Starts the thread that inflates the slices from `first_record_idx` on, one at a time, each
/// sent when the pipeline asks for it; `None` when no thread can be started.
fn inflate_ahead<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    inflater: &'env mut Decoder,
    batch: &'env KinesisEvent,
    first_record_idx: usize,
    mut n_batch_inflated: usize,
    max_batch_inflated_bytes: usize,
) -> Option<Receiver<InflatedSlice>> {
    let (slices, ahead) = std::sync::mpsc::sync_channel::<InflatedSlice>(0);
    let work = move || {
        // A panic ends the thread and disconnects the channel; the pipeline then inflates the
        // rest itself.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut next_record_idx = first_record_idx;
            while next_record_idx < batch.records.len() {
                let slice = inflate_slice(inflater, batch, next_record_idx, max_batch_inflated_bytes, &mut n_batch_inflated);
                next_record_idx = slice.next_record_idx;
                if slices.send(slice).is_err() {
                    break; // the pipeline stopped at its deadline
                }
            }
        }));
    };
    std::thread::Builder::new().name("sluicegate-inflate".to_owned()).spawn_scoped(scope, work).ok().map(|_| ahead)
}

/// Inflates the records from `first_record_idx` up to a slice's worth
/// ([`SLICE_INFLATED_BYTES`]), or up to the batch's cap `max_batch_inflated_bytes`.
fn inflate_slice(
    decoder: &mut Decoder,
    batch: &KinesisEvent,
    first_record_idx: usize,
    max_batch_inflated_bytes: usize,
    n_batch_inflated: &mut usize,
) -> InflatedSlice {
    let mut slice = InflatedSlice {
        next_record_idx: first_record_idx,
        n_batch_inflated: 0,
        inflated: Vec::new(),
        rejected: Vec::new(),
        past_cap_from: None,
    };
    let mut n_inflated_bytes = 0;
    while slice.next_record_idx < batch.records.len() && (n_inflated_bytes < SLICE_INFLATED_BYTES || slice.inflated.is_empty()) {
        if *n_batch_inflated >= max_batch_inflated_bytes {
            slice.past_cap_from = Some(slice.next_record_idx);
            slice.next_record_idx = batch.records.len();
            break;
        }
        let record = &batch.records[slice.next_record_idx];
        let record_idx = slice.next_record_idx as u32;
        slice.next_record_idx += 1;
        if record.kinesis.sequence_number.is_empty() {
            // Without a sequence number the record can never be reported for a retry.
            let reason = "the record has no kinesis.sequenceNumber: it cannot be retried".to_owned();
            slice.rejected.push((record_idx, reason, record.kinesis.data.as_bytes().to_vec()));
            continue;
        }
        let gzip = match base64::engine::general_purpose::STANDARD.decode(record.kinesis.data.as_bytes()) {
            Ok(gzip) => gzip,
            Err(error) => {
                let reason = DecodeError::Base64 { reason: error.to_string() }.to_string();
                slice.rejected.push((record_idx, reason, record.kinesis.data.as_bytes().to_vec()));
                continue;
            }
        };
        match decoder.inflate(&gzip) {
            Ok(bytes) => {
                n_inflated_bytes += bytes.len();
                *n_batch_inflated += bytes.len();
                slice.inflated.push((record_idx, bytes));
            }
            Err(error) => slice.rejected.push((record_idx, error.to_string(), gzip)),
        }
    }
    slice.n_batch_inflated = *n_batch_inflated;
    slice
}

/// What a dead letter of a transform failure holds. The event it failed on is the event as the
/// transform received it, so a failing redactor would put personal data that it was there to
/// remove into the dead-letter bucket: by default only where the event came from, its id and
/// time and the message's length are kept, and the event itself is found by its id in the raw
/// archive (`archive_stage` raw or both) when one is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeadLetterContent {
    /// Log group, stream, owner, id, timestamp, the message's length in bytes; not its text.
    #[default]
    Metadata,
    /// The whole event as the failing transform received it.
    Event,
}

impl std::str::FromStr for DeadLetterContent {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "metadata" => Ok(DeadLetterContent::Metadata),
            "event" => Ok(DeadLetterContent::Event),
            other => Err(format!("transform_dead_letters is metadata or event, not {other:?}")),
        }
    }
}

/// Default cap on a batch's inflated size: well above the largest batch of ordinary logs Lambda
/// can deliver (6 MB of payload at about ten to one), below what a 128 MB function can hold with
/// its documents.
pub const DEFAULT_MAX_BATCH_INFLATED_BYTES: usize = 64 << 20;

/// Inflated bytes per slice of a batch: large enough that a transform call carries thousands of
/// events, small enough that a slice's working set is a few megabytes.
pub const SLICE_INFLATED_BYTES: usize = 4 << 20;

/// A `_bulk` item's bytes beyond its event's texts and context fragment: the action line's keys
/// and index name, `@timestamp`, the document's keys, line ends (an estimate, see
/// [`BulkWriter::expect`]).
const DOCUMENT_OVERHEAD_BYTES: usize = 160;

/// Where a batch's output accumulates across slices.
struct Writers {
    bulk: BulkWriter,
    documents: Option<ArchiveWriter>,
    raw: Option<ArchiveWriter>,
}

enum ParseFailure {
    Json,
    Other(String),
}

/// Counts a completed body into the outcome and hands it to the host.
fn hand_over(body: BulkBody, outcome: &mut Outcome, on_body: &mut impl FnMut(BulkBody)) {
    outcome.bulk_written.0 += 1;
    outcome.bulk_written.1 += body.body.len();
    on_body(body);
}

fn reject(outcome: &mut Outcome, record_idx: u32, reason: String, bytes: Vec<u8>) {
    dead_letter(outcome, record_idx, Stage::Decode, reason, Original::Bytes(bytes));
}

fn dead_letter(outcome: &mut Outcome, record_idx: u32, stage: Stage, reason: String, original: Original) {
    let record = &mut outcome.records[record_idx as usize];
    record.n_dead_lettered += 1;
    outcome.dead_letters.push(DeadLetter { record_idx, sequence_number: record.sequence_number.clone(), stage, reason, original });
}

/// The last index name rendered, reused while events stay in the same hour and log group.
#[derive(Default)]
struct IndexCache {
    hour: i64,
    context_idx: u32,
    name: String,
}

impl IndexCache {
    fn get(&mut self, template: &IndexTemplate, event: &Event<'_>, context: &Context<'_>) -> &str {
        let hour = event.timestamp.div_euclid(3_600_000);
        let same_group = !template.uses_log_group() || self.context_idx == event.context_idx;
        if self.name.is_empty() || hour != self.hour || !same_group {
            self.name = template.render(event.timestamp, context);
            self.hour = hour;
            self.context_idx = event.context_idx;
        }
        &self.name
    }
}
