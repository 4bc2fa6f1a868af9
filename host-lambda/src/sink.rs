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

    /// How many bodies the handler ships at once.
    fn max_in_flight(&self) -> usize {
        4
    }
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

    fn max_in_flight(&self) -> usize {
        self.config().max_concurrency
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

/// One sink or another, chosen at run time (the command line ships to a server or to a folder).
#[derive(Debug)]
pub enum OneOf<A, B> {
    /// The first kind.
    First(A),
    /// The second kind.
    Second(B),
}

impl<A: BulkSink, B: BulkSink> BulkSink for OneOf<A, B> {
    async fn ship(&self, bodies: &[BulkBody], deadline: Instant) -> ShipReport {
        match self {
            OneOf::First(sink) => sink.ship(bodies, deadline).await,
            OneOf::Second(sink) => sink.ship(bodies, deadline).await,
        }
    }

    fn max_in_flight(&self) -> usize {
        match self {
            OneOf::First(sink) => sink.max_in_flight(),
            OneOf::Second(sink) => sink.max_in_flight(),
        }
    }
}

impl<A: ArchiveSink, B: ArchiveSink> ArchiveSink for OneOf<A, B> {
    async fn put(&self, key: &str, body: Vec<u8>, deadline: Instant) -> Result<(), PutError> {
        match self {
            OneOf::First(sink) => sink.put(key, body, deadline).await,
            OneOf::Second(sink) => sink.put(key, body, deadline).await,
        }
    }
}

/// A local folder standing in for the servers: `_bulk` bodies under `bulk/` (every item counts as
/// delivered), objects at their keys below the folder.
#[derive(Debug)]
pub struct LocalFolder {
    /// The folder.
    pub out: std::path::PathBuf,
    n_bodies: std::sync::atomic::AtomicUsize,
}

impl LocalFolder {
    /// A folder sink writing below `out`.
    pub fn new(out: impl Into<std::path::PathBuf>) -> LocalFolder {
        LocalFolder { out: out.into(), n_bodies: std::sync::atomic::AtomicUsize::new(0) }
    }

    fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|error| format!("cannot write {}: {error}", path.display()))
    }
}

impl BulkSink for LocalFolder {
    async fn ship(&self, bodies: &[BulkBody], _deadline: Instant) -> ShipReport {
        let mut report = ShipReport::default();
        for body in bodies {
            let body_idx = self.n_bodies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let written = self.write(&format!("bulk/{:06}.ndjson", body_idx + 1), &body.body);
            report.n_requests += 1;
            report.items.extend(body.items.iter().map(|item| ItemFate {
                record_idx: item.record_idx,
                fate: match &written {
                    Ok(()) => Fate::Delivered,
                    Err(reason) => Fate::Undelivered { reason: reason.clone() },
                },
            }));
        }
        report
    }
}

impl ArchiveSink for LocalFolder {
    async fn put(&self, key: &str, body: Vec<u8>, _deadline: Instant) -> Result<(), PutError> {
        self.write(key, &body).map_err(|reason| PutError { key: key.to_owned(), n_attempts: 1, reason })
    }
}
