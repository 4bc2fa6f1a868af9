//! Test fixtures: readable CloudWatch JSON in, gzip and base64 done here once, and a textual
//! rendering of an outcome for snapshots.

use sluicegate_engine::archive::ArchiveStage;
use sluicegate_engine::corpus::{gzip_json, kinesis_event_from_payloads};
use sluicegate_engine::dead_letter::Original;
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::{Outcome, Pipeline, PipelineConfig};

/// A Kinesis event with one record per CloudWatch Logs JSON text; a text starting with `raw:`
/// is sent as those bytes without gzip.
pub fn kinesis_batch(records: &[&str]) -> KinesisEvent {
    let payloads: Vec<Vec<u8>> = records
        .iter()
        .map(|record| match record.strip_prefix("raw:") {
            Some(raw) => raw.as_bytes().to_vec(),
            None => gzip_json(record.as_bytes()),
        })
        .collect();
    kinesis_event_from_payloads(&payloads)
}

/// Runs a batch through a pipeline without transforms.
pub fn run(batch: &KinesisEvent, config: PipelineConfig) -> Outcome {
    Pipeline::new(config).run(batch, None)
}

/// The default configuration with the archive off, for tests that look at `_bulk` only.
pub fn bulk_only() -> PipelineConfig {
    PipelineConfig { archive_stage: ArchiveStage::None, ..PipelineConfig::default() }
}

/// The outcome as text: per record its counts, then the `_bulk` bodies, then dead letters.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    for (record_idx, record) in outcome.records.iter().enumerate() {
        out.push_str(&format!(
            "record {record_idx}: events={} shipped={} dropped={} dead={}{}\n",
            record.n_events,
            record.n_shipped,
            record.n_dropped,
            record.n_dead_lettered,
            if record.control { " control" } else { "" }
        ));
    }
    for (body_idx, body) in outcome.bulk.iter().enumerate() {
        out.push_str(&format!("-- bulk {body_idx} ({} items)\n", body.items.len()));
        out.push_str(&String::from_utf8_lossy(&body.body));
    }
    for dead_letter in &outcome.dead_letters {
        let original = match &dead_letter.original {
            Original::Bytes(bytes) => format!("{} bytes", bytes.len()),
            Original::Json(json) => String::from_utf8_lossy(json).into_owned(),
        };
        out.push_str(&format!(
            "-- dead letter record {} [{}] {}: {original}\n",
            dead_letter.record_idx,
            dead_letter.stage.name(),
            dead_letter.reason
        ));
    }
    out
}
