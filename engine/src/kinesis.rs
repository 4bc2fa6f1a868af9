//! The Kinesis event in the JSON shape Lambda receives, read leniently.
//!
//! `data` stays base64 text here: a record whose data is not valid base64 must become a dead
//! letter for that record alone, not an error that fails the whole invocation (and so blocks the
//! shard), which is what a strict `Base64Data` field would do.

use serde::{Deserialize, Serialize};

/// A Lambda event from a Kinesis event source mapping.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct KinesisEvent {
    /// The records of the batch, in shard order.
    #[serde(rename = "Records", default)]
    pub records: Vec<KinesisEventRecord>,
}

/// One record of a [`KinesisEvent`].
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct KinesisEventRecord {
    /// `shardId-000000000000:<sequence number>`.
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    /// The stream's ARN.
    #[serde(rename = "eventSourceARN", default)]
    pub event_source_arn: String,
    /// The Kinesis part of the record (empty when the record has none: it becomes a dead letter).
    #[serde(default)]
    pub kinesis: KinesisData,
}

/// The Kinesis payload of a record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KinesisData {
    /// The record's sequence number, which `batchItemFailures` reports (empty when missing: the
    /// record cannot be reported, so it becomes a dead letter).
    #[serde(default)]
    pub sequence_number: String,
    /// The partition key.
    #[serde(default)]
    pub partition_key: String,
    /// The record's bytes, base64 encoded.
    #[serde(default)]
    pub data: String,
    /// When the record arrived in the stream, in seconds since the Unix epoch.
    #[serde(default)]
    pub approximate_arrival_timestamp: f64,
}

impl KinesisEventRecord {
    /// The shard id from `eventID`, or `unknown-shard` when the id has no shard part.
    pub fn shard_id(&self) -> &str {
        match self.event_id.split_once(':') {
            Some((shard, _)) if !shard.is_empty() => shard,
            _ => "unknown-shard",
        }
    }

    /// The stream's name from `eventSourceARN` (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`),
    /// `None` when the record has no such ARN.
    pub fn stream_name(&self) -> Option<&str> {
        self.event_source_arn.rsplit_once(":stream/").map(|(_, name)| name).filter(|name| !name.is_empty())
    }

    /// Arrival time in milliseconds since the Unix epoch.
    pub fn arrival_ms(&self) -> i64 {
        (self.kinesis.approximate_arrival_timestamp * 1000.0).round() as i64
    }
}
