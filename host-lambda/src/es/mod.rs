//! The Elasticsearch/OpenSearch `_bulk` client: configuration, signed requests, retries.
//!
//! [`EsClient::ship`] sends the engine's `_bulk` bodies and returns one [`ItemFate`] for every item:
//! delivered, rejected (a dead letter carrying the Elasticsearch error) or undelivered (the
//! record goes back to Kinesis in `batchItemFailures`).

mod client;
mod config;
mod request;
mod retry;

pub use client::{EsClient, EsClientError, EsRequestError, Fate, ItemFate, ShipReport};
pub use config::{EsAuth, EsConfig, EsConfigError, SigV4Service};
pub use request::{BULK_PATH, SigningError, sign_request, sign_request_for};
pub use retry::Backoff;
