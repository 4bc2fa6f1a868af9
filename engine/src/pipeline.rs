//! The pipeline: a Kinesis batch in, an [`Outcome`] out.
//!
//! Decoding never aborts a batch: a bad record becomes a dead letter with its reason, and the
//! rest of the batch goes on.

use std::time::Instant;

use base64::Engine as _;

use crate::archive::{ArchiveStage, gzip_object};
use crate::bulk::{BulkAction, BulkWriter, DEFAULT_BULK_MAX_BYTES};
use crate::dead_letter::{DeadLetter, Original, Stage};
use crate::decode::{DEFAULT_MAX_INFLATED_BYTES, DecodeError, Decoder, explain_json_error};
use crate::document::{write_document, write_raw_event};
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
        }
    }
}

/// A configured pipeline; build one per process and run it on every batch.
pub struct Pipeline {
    config: PipelineConfig,
    decoder: Decoder,
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
        Pipeline { config, decoder, transforms: None }
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
    pub fn run(&mut self, batch: &KinesisEvent, deadline: Option<Instant>) -> Outcome {
        let started = Instant::now();
        let mut outcome = Outcome::default();
        if let Some(first) = batch.records.first() {
            outcome.batch = BatchKey {
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

        // Inflate every record first: the events borrow their text from these buffers.
        let mut inflated: Vec<(u32, Vec<u8>)> = Vec::with_capacity(batch.records.len());
        for (record_idx, record) in batch.records.iter().enumerate() {
            let record_idx = record_idx as u32;
            let gzip = match base64::engine::general_purpose::STANDARD.decode(record.kinesis.data.as_bytes()) {
                Ok(gzip) => gzip,
                Err(error) => {
                    let reason = DecodeError::Base64 { reason: error.to_string() }.to_string();
                    reject(&mut outcome, record_idx, reason, record.kinesis.data.as_bytes().to_vec());
                    continue;
                }
            };
            match self.decoder.inflate(&gzip) {
                Ok(bytes) => inflated.push((record_idx, bytes)),
                Err(error) => reject(&mut outcome, record_idx, error.to_string(), gzip),
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
            reject(&mut outcome, record_idx, reason, gzip);
        }
        let decoded = Instant::now();
        outcome.timings.decode = decoded - started;

        let stage = self.config.archive_stage;
        let mut raw_archive = Vec::new();
        if matches!(stage, ArchiveStage::Raw | ArchiveStage::Both) {
            raw_archive.reserve(events.iter().map(|event| event.message.len() + 160).sum());
            for event in &events {
                write_raw_event(&mut raw_archive, event, &contexts[event.context_idx as usize]);
                raw_archive.push(b'\n');
            }
        }
        let n_raw = events.len();

        let chain = match self.transforms.as_mut() {
            Some(transforms) => transforms.apply(&contexts, events, deadline),
            None => ChainOutcome { kept: events, ..ChainOutcome::default() },
        };
        for event in &chain.dropped {
            outcome.records[event.record_idx as usize].n_dropped += 1;
        }
        for failure in chain.failed {
            let mut original = Vec::new();
            write_raw_event(&mut original, &failure.event, &contexts[failure.event.context_idx as usize]);
            dead_letter(
                &mut outcome,
                failure.event.record_idx,
                Stage::Transform { name: failure.transform },
                failure.reason,
                Original::Json(original),
            );
        }
        let transformed = Instant::now();
        outcome.timings.transform = transformed - decoded;
        outcome.timings.per_transform = chain.timings;

        let mut writer = BulkWriter::new(self.config.bulk_action, self.config.bulk_max_bytes);
        let archive_documents = matches!(stage, ArchiveStage::Documents | ArchiveStage::Both);
        let mut document_archive = Vec::new();
        let mut n_documents = 0;
        let mut index_cache = IndexCache::default();
        for event in &chain.kept {
            let context = &contexts[event.context_idx as usize];
            let index = match &event.index {
                Some(index) => index.as_str(),
                None => index_cache.get(&self.config.index_template, event, context),
            };
            let mut document_start = 0;
            let pushed = writer.push(event.record_idx, index, &event.id, |out| {
                document_start = out.len();
                write_document(out, event, context)?;
                if archive_documents {
                    document_archive.extend_from_slice(&out[document_start..]);
                    document_archive.push(b'\n');
                }
                Ok::<(), String>(())
            });
            match pushed {
                Ok(()) => {
                    outcome.records[event.record_idx as usize].n_shipped += 1;
                    n_documents += 1;
                }
                Err(reason) => {
                    let mut original = Vec::new();
                    write_raw_event(&mut original, event, context);
                    dead_letter(&mut outcome, event.record_idx, Stage::Document, reason, Original::Json(original));
                }
            }
        }
        outcome.bulk = writer.finish();

        let prefix = &self.config.archive_prefix;
        if archive_documents && n_documents > 0 {
            outcome.archive.push(gzip_object(outcome.batch.key(prefix, ""), &document_archive, n_documents));
        }
        if !raw_archive.is_empty() {
            let raw_prefix = if stage == ArchiveStage::Both { format!("{}-raw", prefix.trim_end_matches('/')) } else { prefix.clone() };
            outcome.archive.push(gzip_object(outcome.batch.key(&raw_prefix, ""), &raw_archive, n_raw));
        }
        outcome.timings.encode = transformed.elapsed();
        outcome
    }
}

enum ParseFailure {
    Json,
    Other(String),
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
