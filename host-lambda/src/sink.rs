//! The two seams of the handler: where `_bulk` bodies go and where S3 objects go.
//!
//! The handler is generic over [`BulkSink`] and [`ArchiveSink`] so that tests swap in in-memory or
//! fault-injecting sinks without `#[cfg(test)]` tricks; production uses the Elasticsearch client
//! and the S3 archiver.

use std::future::Future;
use std::time::Instant;

use sluicegate_engine::bulk::BulkBody;

/// Where `_bulk` bodies go.
pub trait BulkSink {
    /// Sends `bodies`, retrying what is worth retrying until `deadline`, and says what became of
    /// every item. Never fails as a whole: an item that could not be sent is `Undelivered`.
    fn ship(&self, bodies: &[BulkBody], deadline: Instant) -> impl Future<Output = ShipReport> + Send;
}

/// Where archive objects and dead letters go.
pub trait ArchiveSink {
    /// Puts one object, retrying until `deadline`; an `Err` means the object is not stored.
    fn put(&self, key: &str, body: Vec<u8>, deadline: Instant) -> impl Future<Output = Result<(), PutError>> + Send;
}

/// What became of the items of a batch's `_bulk` bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipReport {
    /// One entry per item of every body, in order.
    pub items: Vec<ItemFate>,
    /// HTTP requests made.
    pub n_requests: usize,
    /// Items sent again after a retryable failure.
    pub n_items_retried: usize,
    /// Requests split in half after a 413.
    pub n_splits: usize,
}

/// What became of one `_bulk` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFate {
    /// The Kinesis record the document came from.
    pub record_idx: u32,
    /// Delivered, rejected for good, or not delivered in time.
    pub fate: Fate,
}

/// The end of one `_bulk` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored (or already there).
    Delivered,
    /// Refused for good (a mapping conflict): the document becomes a dead letter.
    Rejected {
        /// The item's HTTP status.
        status: u16,
        /// Elasticsearch's error (JSON text).
        error: String,
        /// The document (the source line).
        document: Vec<u8>,
    },
    /// Still failing when the retries or the deadline ran out: its record is reported.
    Undelivered {
        /// The last failure.
        reason: String,
    },
}

/// An object that could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot put {key} after {n_attempts} attempts: {reason}")]
pub struct PutError {
    /// The object's key.
    pub key: String,
    /// Attempts made.
    pub n_attempts: u32,
    /// The last failure.
    pub reason: String,
}
