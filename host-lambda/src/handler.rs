//! One invocation: run the pipeline, ship `_bulk` and S3 objects concurrently, and work out
//! exactly which records were not durably delivered (`batchItemFailures`).
//!
//! A record is reported when any of its documents is undelivered, or when an object holding its
//! content (the archive object, or a dead-letter object with one of its dead letters) could not
//! be written, or when the deadline came before its events were through the transforms.
//! Everything else ends delivered (as shipped, or degraded after the index refused its shape) or
//! dead-lettered, so no record blocks the shard.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sluicegate_engine::archive::{ArchiveStage, gzip};
use sluicegate_engine::bulk::BulkBody;
use sluicegate_engine::dead_letter::{self, DeadLetter, Original, Stage};
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::{Outcome, Pipeline};

use crate::metrics::InvocationMetrics;
use crate::sink::{ArchiveSink, BulkSink, Fate, ShipReport};

/// The handler state that lives as long as the container: the pipeline (with its Wasm instances)
/// and the two sinks.
#[derive(Debug)]
pub struct Handler<B, A> {
    // Shared with the blocking thread the pipeline runs on while the bodies it completes ship;
    // a mutex, since the runtime borrows the handler into every invocation.
    pipeline: Arc<Mutex<Pipeline>>,
    bulk: B,
    archive: A,
    dead_letter_prefix: String,
}

/// What one invocation came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handled {
    /// Sequence numbers of the records not durably delivered, in batch order.
    pub batch_item_failures: Vec<String>,
    /// Counts and times for the metrics line.
    pub metrics: InvocationMetrics,
}

impl<B: BulkSink, A: ArchiveSink> Handler<B, A> {
    /// A handler that ships through `bulk` and `archive`, with dead letters under `dead_letter_prefix`.
    pub fn new(pipeline: Pipeline, bulk: B, archive: A, dead_letter_prefix: impl Into<String>) -> Handler<B, A> {
        Handler { pipeline: Arc::new(Mutex::new(pipeline)), bulk, archive, dead_letter_prefix: dead_letter_prefix.into() }
    }

    /// The sinks, back from the handler (tests look into them).
    pub fn into_sinks(self) -> (B, A) {
        (self.bulk, self.archive)
    }

    /// Handles one batch. Nothing new starts past `deadline` (the Lambda's deadline less a margin).
    ///
    /// The pipeline runs on a blocking thread and hands over each `_bulk` body as soon as it is
    /// complete; the bodies ship (at most [`BulkSink::max_in_flight`] at once) while the rest of
    /// the batch is decoded, transformed and encoded, so an invocation costs about the larger of
    /// its CPU time and its network time, not their sum, and holds only the bodies in flight.
    /// With one vCPU the thread and the network still overlap: shipping is mostly waiting.
    pub async fn handle(&self, event: impl Into<Arc<KinesisEvent>>, deadline: Instant) -> Handled {
        let event: Arc<KinesisEvent> = event.into();
        let started = Instant::now();
        let n_records = event.records.len();
        // One body waiting beside those in flight: a slow cluster slows the pipeline down
        // instead of piling bodies up in memory.
        let (body_sender, mut body_receiver) = tokio::sync::mpsc::channel::<BulkBody>(1);
        let pipeline = Arc::clone(&self.pipeline);
        let pipeline_event = Arc::clone(&event);
        let transform_deadline = transform_deadline(started, deadline);
        let running = tokio::task::spawn_blocking(move || {
            let mut pipeline = pipeline.lock().unwrap_or_else(PoisonError::into_inner);
            let outcome = pipeline.run_streaming(&pipeline_event, Some(transform_deadline), |body| {
                // The receiver lives until every body is in; a send fails only if the
                // invocation was abandoned, and then nothing is shipped anyway.
                let _ = body_sender.blocking_send(body);
            });
            let config = pipeline.config();
            let documents_key = matches!(config.archive_stage, ArchiveStage::Documents | ArchiveStage::Both)
                .then(|| outcome.batch.key(&config.archive_prefix, ""));
            (outcome, documents_key)
        });
        let mut shipping_started = None;
        let mut report = ShipReport::default();
        let mut in_flight = futures_util::stream::FuturesUnordered::new();
        let max_in_flight = self.bulk.max_in_flight().max(1);
        // Until the pipeline is done: take bodies as they come (while fewer than the limit are in
        // flight) and collect what the shipped ones came to.
        loop {
            tokio::select! {
                body = body_receiver.recv(), if in_flight.len() < max_in_flight => match body {
                    Some(body) => {
                        shipping_started.get_or_insert_with(Instant::now);
                        in_flight.push(async move { self.bulk.ship(std::slice::from_ref(&body), deadline).await });
                    }
                    None => break,
                },
                Some(body_report) = futures_util::StreamExt::next(&mut in_flight), if !in_flight.is_empty() => merge(&mut report, body_report),
            }
        }
        let (mut outcome, documents_key) = match running.await {
            Ok(done) => done,
            Err(error) => {
                // The pipeline panicked: nothing of the batch can be vouched for.
                tracing::error!(error = %error, "the pipeline failed; every record goes back to Kinesis");
                return Handled {
                    batch_item_failures: event
                        .records
                        .iter()
                        .map(|record| record.kinesis.sequence_number.clone())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    metrics: InvocationMetrics {
                        records: n_records as u64,
                        batch_item_failures: n_records as u64,
                        ..InvocationMetrics::default()
                    },
                };
            }
        };
        let shipping = shipping_started.unwrap_or_else(Instant::now);
        let n_records = outcome.records.len();
        // Records the transforms did not finish go back whole; what of them was done ships
        // anyway (the same ids overwrite on the retry).
        let mut failed: Vec<bool> = outcome.records.iter().map(|record| record.unfinished).collect();

        let dead_letter_key = outcome.batch.key(&self.dead_letter_prefix, "");
        let dead_letter_body = (!outcome.dead_letters.is_empty()).then(|| gzip(&dead_letter::ndjson(&outcome.dead_letters)));
        let archive_bytes: usize = outcome.archive.iter().map(|object| object.body.len()).sum();
        // The objects are put at once, on the likely chance that every record is delivered; they
        // are kept to be cut down should some records go back to Kinesis (below).
        let archive_objects = std::mem::take(&mut outcome.archive);
        let archive_keys: Vec<String> = archive_objects.iter().map(|object| object.key.clone()).collect();
        let archive_puts = futures_util::future::join_all(
            archive_objects.iter().zip(&archive_keys).map(|(object, key)| self.archive.put(key, object.body.clone(), deadline)),
        );
        let dead_letter_put = async {
            match dead_letter_body {
                Some(body) => Some(self.archive.put(&dead_letter_key, body, deadline).await),
                None => None,
            }
        };
        // The bodies still in flight finish while the objects are put.
        let in_flight_done = futures_util::StreamExt::collect::<Vec<ShipReport>>(in_flight);
        let (in_flight_reports, archive_results, dead_letter_result) = tokio::join!(in_flight_done, archive_puts, dead_letter_put);
        for body_report in in_flight_reports {
            merge(&mut report, body_report);
        }

        let mut n_puts_failed = 0;
        for (key, result) in archive_keys.iter().zip(&archive_results) {
            if let Err(error) = result {
                n_puts_failed += 1;
                tracing::error!(key = %key, error = %error, "archive object not stored");
                let is_documents = documents_key.as_deref() == Some(key.as_str());
                for (record_idx, record) in outcome.records.iter().enumerate() {
                    // The documents object holds the shipped documents; a raw object every decoded event.
                    let in_object = if is_documents { record.n_shipped > 0 } else { record.n_events > 0 };
                    failed[record_idx] |= in_object;
                }
            }
        }
        if let Some(Err(error)) = &dead_letter_result {
            n_puts_failed += 1;
            tracing::error!(key = %dead_letter_key, error = %error, "dead letters not stored");
            mark(&mut failed, &outcome.dead_letters);
        }

        let settled = settled_per_record(&report, n_records);
        for (record_idx, record) in outcome.records.iter().enumerate() {
            // Counting what settled, rather than looking for `Undelivered`, also reports a record
            // whose items a sink failed to account for.
            if settled[record_idx] < record.n_shipped {
                failed[record_idx] = true;
            }
        }
        // One line for all undelivered items, not one per item: a cluster outage would otherwise
        // log thousands of lines per invocation.
        let mut undelivered = report.items.iter().filter_map(|item| match &item.fate {
            Fate::Undelivered { reason } => Some(reason),
            _ => None,
        });
        if let Some(first_reason) = undelivered.next() {
            tracing::warn!(n_items = 1 + undelivered.count(), first_reason = %first_reason, "bulk items undelivered");
        }

        // Kinesis retries from the first reported record on, every record after it included, and
        // the retry archives them under its own first record: this invocation's objects keep only
        // the records before it, so each record ends in exactly one archive object (and its dead
        // letters in one dead-letter object) once the retries settle.
        let first_failed = failed.iter().position(|failed| *failed).map_or(u32::MAX, |record_idx| record_idx as u32);
        let mut rejected = rejected_dead_letters(&outcome, &report);
        rejected.retain(|dead_letter| dead_letter.record_idx < first_failed);
        log_refusals(&report);
        if !rejected.is_empty() {
            let key = outcome.batch.key(&self.dead_letter_prefix, "-bulk");
            if let Err(error) = self.archive.put(&key, gzip(&dead_letter::ndjson(&rejected)), deadline).await {
                tracing::error!(key = %key, error = %error, "rejected documents not stored");
                mark(&mut failed, &rejected);
                n_puts_failed += 1;
            }
        }

        let first_failed = failed.iter().position(|failed| *failed).map_or(u32::MAX, |record_idx| record_idx as u32);
        if first_failed != u32::MAX {
            n_puts_failed += self
                .keep_before(
                    first_failed,
                    &archive_objects,
                    &archive_results,
                    &outcome,
                    &dead_letter_key,
                    &dead_letter_result,
                    &mut failed,
                    deadline,
                )
                .await;
        }

        // A record without a sequence number cannot be reported (Lambda would fail the whole
        // batch on an empty identifier); it is a dead letter from decoding on.
        let batch_item_failures: Vec<String> = outcome
            .records
            .iter()
            .zip(&failed)
            .filter(|(record, failed)| **failed && !record.sequence_number.is_empty())
            .map(|(record, _)| record.sequence_number.clone())
            .collect();
        let summary = outcome.summary();
        let metrics = InvocationMetrics {
            records: summary.records as u64,
            events_in: summary.events_in,
            events_out: summary.events_out,
            dropped: summary.dropped,
            dead_lettered: summary.dead_lettered + rejected.len() as u64,
            bulk_requests: report.n_requests as u64,
            bulk_items_retried: report.n_items_retried as u64,
            bulk_degraded: report.items.iter().filter(|item| matches!(item.fate, Fate::Degraded { .. })).count() as u64,
            bulk_rejected: rejected.len() as u64,
            bulk_undelivered: report.items.iter().filter(|item| matches!(item.fate, Fate::Undelivered { .. })).count() as u64,
            s3_puts_failed: n_puts_failed,
            batch_item_failures: batch_item_failures.len() as u64,
            records_unfinished: summary.unfinished,
            bulk_bytes: summary.bulk_bytes as u64,
            archive_bytes: archive_bytes as u64,
            decode: outcome.timings.decode,
            transform: outcome.timings.transform,
            per_transform: outcome.timings.per_transform.clone(),
            transforms: outcome.transforms.clone(),
            encode: outcome.timings.encode,
            ship: shipping.elapsed(),
            total: started.elapsed(),
        };
        Handled { batch_item_failures, metrics }
    }
}

impl<B: BulkSink, A: ArchiveSink> Handler<B, A> {
    /// Puts again the stored archive and dead-letter objects that hold records from
    /// `first_failed` on, with only the records before it; returns how many puts failed. An
    /// object that cannot be cut down sends all its records back (their retry rewrites it whole
    /// under the same key, since it starts from the same first record).
    #[allow(clippy::too_many_arguments)]
    async fn keep_before(
        &self,
        first_failed: u32,
        archive_objects: &[sluicegate_engine::archive::ArchiveObject],
        archive_results: &[Result<(), crate::sink::PutError>],
        outcome: &Outcome,
        dead_letter_key: &str,
        dead_letter_result: &Option<Result<(), crate::sink::PutError>>,
        failed: &mut [bool],
        deadline: Instant,
    ) -> u64 {
        let mut n_puts_failed = 0;
        for (object, result) in archive_objects.iter().zip(archive_results) {
            let n_lines = object.lines_before(first_failed);
            if result.is_err() || n_lines == object.n_lines {
                continue;
            }
            let cut = object.truncated(n_lines, MAX_ARCHIVE_READ_BACK_BYTES);
            let stored = match cut {
                Some(body) => self.archive.put(&object.key, body, deadline).await.map_err(|error| error.to_string()),
                None => Err("the object could not be read back".to_owned()),
            };
            if let Err(error) = stored {
                n_puts_failed += 1;
                tracing::error!(key = %object.key, error = %error, "archive object not cut down to the records before the first reported one; its records go back to Kinesis");
                for (record_idx, _) in &object.record_lines {
                    if let Some(failed) = failed.get_mut(*record_idx as usize) {
                        *failed = true;
                    }
                }
            }
        }
        if matches!(dead_letter_result, Some(Ok(())))
            && outcome.dead_letters.iter().any(|dead_letter| dead_letter.record_idx >= first_failed)
        {
            let kept: Vec<DeadLetter> =
                outcome.dead_letters.iter().filter(|dead_letter| dead_letter.record_idx < first_failed).cloned().collect();
            if let Err(error) = self.archive.put(dead_letter_key, gzip(&dead_letter::ndjson(&kept)), deadline).await {
                n_puts_failed += 1;
                tracing::error!(key = %dead_letter_key, error = %error, "dead letters not cut down; their records go back to Kinesis");
                mark(failed, &outcome.dead_letters);
            }
        }
        n_puts_failed
    }
}

/// How much of an archive object the handler inflates to cut it down: a batch is capped at its
/// inflated size, and its documents are of the same order.
const MAX_ARCHIVE_READ_BACK_BYTES: usize = 1 << 30;

/// One line for the documents the index refused (and those it took degraded), with counts by
/// error type and a few examples, not a line per item: a bad mapping refuses thousands at once.
fn log_refusals(report: &ShipReport) {
    let mut by_type: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    let mut examples: Vec<&str> = Vec::new();
    let (mut n_rejected, mut n_degraded) = (0, 0);
    for item in &report.items {
        let reason = match &item.fate {
            Fate::Rejected { error, .. } => {
                n_rejected += 1;
                error.as_str()
            }
            Fate::Degraded { reason } => {
                n_degraded += 1;
                reason.as_str()
            }
            _ => continue,
        };
        *by_type.entry(error_type(reason)).or_default() += 1;
        if examples.len() < 3 {
            examples.push(reason);
        }
    }
    if n_rejected + n_degraded > 0 {
        let examples: Vec<String> = examples.iter().map(|example| example.chars().take(300).collect()).collect();
        tracing::warn!(n_rejected, n_degraded, by_type = ?by_type, examples = ?examples, "bulk items refused");
    }
}

/// The error type of a refusal: the `type` of Elasticsearch's error JSON, or the text before
/// the first colon (`mapper_parsing_exception: failed to parse …`).
fn error_type(reason: &str) -> String {
    if let Ok(serde_json::Value::Object(error)) = serde_json::from_str::<serde_json::Value>(reason)
        && let Some(error_type) = error.get("type").and_then(serde_json::Value::as_str)
    {
        return error_type.to_owned();
    }
    let head = reason.trim_start_matches("refused as shipped (");
    head.split([':', ' ', '(']).next().unwrap_or("").to_owned()
}

/// Adds one shipment's fates and counts to the invocation's report.
fn merge(report: &mut ShipReport, other: ShipReport) {
    report.items.extend(other.items);
    report.n_requests += other.n_requests;
    report.n_items_retried += other.n_items_retried;
    report.n_splits += other.n_splits;
}

fn mark(failed: &mut [bool], dead_letters: &[DeadLetter]) {
    for dead_letter in dead_letters {
        if let Some(failed) = failed.get_mut(dead_letter.record_idx as usize) {
            *failed = true;
        }
    }
}

/// Items that ended delivered or rejected (and so dead-lettered), per record.
fn settled_per_record(report: &ShipReport, n_records: usize) -> Vec<u32> {
    let mut settled = vec![0; n_records];
    for item in &report.items {
        if matches!(item.fate, Fate::Delivered | Fate::Degraded { .. } | Fate::Rejected { .. })
            && let Some(count) = settled.get_mut(item.record_idx as usize)
        {
            *count += 1;
        }
    }
    settled
}

/// Documents Elasticsearch refused for good, as dead letters with its error.
fn rejected_dead_letters(outcome: &Outcome, report: &ShipReport) -> Vec<DeadLetter> {
    report
        .items
        .iter()
        .filter_map(|item| match &item.fate {
            Fate::Rejected { status, error, document } => Some(DeadLetter {
                record_idx: item.record_idx,
                sequence_number: outcome
                    .records
                    .get(item.record_idx as usize)
                    .map(|record| record.sequence_number.clone())
                    .unwrap_or_default(),
                stage: Stage::Bulk,
                reason: format!("status {status}: {error}"),
                original: Original::Json(document.clone()),
            }),
            _ => None,
        })
        .collect()
}

/// The share of the time left that the pipeline (decoding and the transforms) may use: three
/// quarters, so that a slow transform leaves the rest for shipping what it finished, instead of
/// eating the whole invocation and having every record reported.
fn transform_deadline(now: Instant, deadline: Instant) -> Instant {
    now + deadline.saturating_duration_since(now) * 3 / 4
}

/// The time left before `deadline_ms` (milliseconds since the Unix epoch, as Lambda gives it),
/// less `margin`, as an [`Instant`]; a deadline already past gives now.
///
/// A value too small to be a date in this century is taken as the time left itself: cargo-lambda's
/// Runtime API emulator sends the function's timeout (`600000`) in `Lambda-Runtime-Deadline-Ms`,
/// and reading that as a date would leave no time at all.
pub fn deadline_from_epoch_ms(deadline_ms: u64, margin: Duration) -> Instant {
    const YEAR_2001_MS: u64 = 978_307_200_000;
    let now = Instant::now();
    let left_ms = if deadline_ms < YEAR_2001_MS {
        deadline_ms
    } else {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |now| now.as_millis() as u64);
        deadline_ms.saturating_sub(now_ms)
    };
    now + Duration::from_millis(left_ms).saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use super::{deadline_from_epoch_ms, error_type};

    #[test]
    fn refusals_are_counted_by_their_error_type() {
        assert_eq!(error_type(r#"{"type":"mapper_parsing_exception","reason":"failed"}"#), "mapper_parsing_exception");
        assert_eq!(error_type("mapper_parsing_exception: failed to parse field [user]"), "mapper_parsing_exception");
        assert_eq!(
            error_type(r#"refused as shipped (mapper_parsing_exception: x) and degraded: {"type":"y"}"#),
            "mapper_parsing_exception"
        );
        assert_eq!(error_type("content_too_long: a request with this document alone (9 bytes) is too large"), "content_too_long");
    }

    #[test]
    fn deadlines_leave_the_margin() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let margin = Duration::from_millis(500);
        let left = deadline_from_epoch_ms(now_ms + 10_000, margin) - Instant::now();
        assert!(left > Duration::from_millis(9_000) && left <= Duration::from_millis(9_500), "{left:?}");
        // Past deadlines leave nothing rather than underflowing.
        assert!(deadline_from_epoch_ms(now_ms - 10_000, margin) <= Instant::now());
        // cargo-lambda's emulator sends the timeout itself.
        let left = deadline_from_epoch_ms(600_000, margin) - Instant::now();
        assert!(left > Duration::from_secs(599) && left <= Duration::from_millis(599_500), "{left:?}");
    }
}
