//! The two seams of the handler: where `_bulk` bodies go and where S3 objects go.
//!
//! The handler is generic over [`BulkSink`] and [`ArchiveSink`] so that tests swap in in-memory or
//! fault-injecting sinks without `#[cfg(test)]` tricks; production uses the Elasticsearch client
//! and the S3 archiver.

use std::future::Future;
use std::time::Instant;

use sluicegate_engine::bulk::BulkBody;

use crate::es::EsClient;
pub use crate::es::{Fate, ItemFate, ShipReport};

/// Where `_bulk` bodies go.
pub trait BulkSink {
    /// Sends `bodies`, retrying what is worth retrying until `deadline`, and says what became of
    /// every item. Never fails as a whole: an item that could not be sent is `Undelivered`.
    fn ship(&self, bodies: &[BulkBody], deadline: Instant) -> impl Future<Output = ShipReport>;
}

/// Where archive objects and dead letters go.
pub trait ArchiveSink {
    /// Puts one object, retrying until `deadline`; an `Err` means the object is not stored.
    fn put(&self, key: &str, body: Vec<u8>, deadline: Instant) -> impl Future<Output = Result<(), PutError>>;
}

impl BulkSink for EsClient {
    fn ship(&self, bodies: &[BulkBody], deadline: Instant) -> impl Future<Output = ShipReport> {
        EsClient::ship(self, bodies, deadline)
    }
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
