//! Test fixtures: Kinesis events built from plain CloudWatch Logs JSON, and in-memory sinks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use sluicegate_engine::bulk::BulkBody;
use sluicegate_engine::kinesis::{KinesisData, KinesisEvent, KinesisEventRecord};
use sluicegate_lambda::sink::{ArchiveSink, BulkSink, Fate, ItemFate, PutError, ShipReport};

/// One record's data: CloudWatch subscription JSON (gzipped and base64-encoded here), or raw
/// base64 text as is (for garbage).
pub enum Data<'a> {
    Json(&'a str),
    Base64(&'a str),
}

/// A Kinesis event whose records carry `data`, with sequence numbers 100, 101, …
pub fn kinesis_event(data: &[Data<'_>]) -> KinesisEvent {
    let records = data
        .iter()
        .enumerate()
        .map(|(record_idx, data)| {
            let data = match data {
                Data::Json(json) => base64::engine::general_purpose::STANDARD.encode(gzip(json.as_bytes())),
                Data::Base64(text) => (*text).to_owned(),
            };
            let sequence_number = (100 + record_idx).to_string();
            KinesisEventRecord {
                event_id: format!("shardId-000000000000:{sequence_number}"),
                event_source_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/logs".to_owned(),
                kinesis: KinesisData {
                    sequence_number,
                    partition_key: "p".to_owned(),
                    data,
                    approximate_arrival_timestamp: 1_700_000_000.5,
                },
            }
        })
        .collect();
    KinesisEvent { records }
}

/// A CloudWatch Logs subscription message with events `(id, message)`.
pub fn log_message(events: &[(&str, &str)]) -> String {
    let log_events: Vec<serde_json::Value> =
        events.iter().map(|(id, message)| serde_json::json!({"id": id, "timestamp": 1_700_000_000_000_i64, "message": message})).collect();
    serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/lambda/app",
        "logStream": "2026/11/28/[$LATEST]abc",
        "subscriptionFilters": ["all"],
        "logEvents": log_events,
    })
    .to_string()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    sluicegate_engine::archive::gzip(bytes)
}

/// Gunzip of every member: archive objects are concatenated gzip members of about 1 MiB each.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    sluicegate_engine::decode::Decoder::new(256 << 20).inflate_members(bytes).expect("gzip")
}

/// A `_bulk` sink that keeps what it is sent and gives each item the fate `fate_of` picks from
/// its id (the `_id` in the action line).
pub struct MemoryBulk {
    pub fate_of: fn(&str) -> Fate,
    pub received: Mutex<Vec<String>>,
}

impl MemoryBulk {
    pub fn new(fate_of: fn(&str) -> Fate) -> MemoryBulk {
        MemoryBulk { fate_of, received: Mutex::new(Vec::new()) }
    }
}

impl BulkSink for MemoryBulk {
    async fn ship(&self, bodies: &[BulkBody], _deadline: Instant) -> ShipReport {
        let mut report = ShipReport { n_requests: bodies.len() as u32, ..ShipReport::default() };
        for body in bodies {
            for (item_idx, item) in body.items.iter().enumerate() {
                let lines = std::str::from_utf8(&body.body[item.range.clone()]).unwrap();
                let action: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
                let id = action["index"]["_id"].as_str().unwrap().to_owned();
                let fate = match (self.fate_of)(&id) {
                    Fate::Rejected { status, error, .. } => Fate::Rejected { status, error, document: body.document(item_idx).to_vec() },
                    fate => fate,
                };
                if fate == Fate::Delivered {
                    self.received.lock().unwrap().push(id);
                }
                report.items.push(ItemFate { record_idx: item.record_idx, fate });
            }
        }
        report
    }
}

/// Objects in memory; keys for which `fails` answers true are refused (a fake for S3 outages).
pub struct FakeArchive {
    pub fails: fn(&str) -> bool,
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl FakeArchive {
    pub fn new(fails: fn(&str) -> bool) -> FakeArchive {
        FakeArchive { fails, objects: Mutex::new(BTreeMap::new()) }
    }
}

impl ArchiveSink for FakeArchive {
    async fn put(&self, key: &str, body: Vec<u8>, _deadline: Instant) -> Result<(), PutError> {
        if (self.fails)(key) {
            return Err(PutError { key: key.to_owned(), n_attempts: 1, reason: "injected failure".to_owned() });
        }
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        Ok(())
    }
}
