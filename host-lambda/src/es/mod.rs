//! The Elasticsearch/OpenSearch `_bulk` client: configuration, signed requests, retries.
//!
//! [`EsClient::ship`] sends the engine's `_bulk` bodies and returns one [`ItemFate`] for every item:
//! delivered, rejected (a dead letter carrying the Elasticsearch error) or undelivered (the
//! record goes back to Kinesis in `batchItemFailures`).
//!
//! | response | what `ship` does |
//! |---|---|
//! | item 2xx, or 409 with `create` | delivered |
//! | item 429, 5xx, `es_rejected_execution_exception` | retry those items with full-jitter backoff; then undelivered |
//! | item 4xx otherwise (mapping conflict) | rejected, with the error and the document |
//! | request 413 | split in half and send both; one document alone gets 413: rejected |
//! | connection error, timeout, request 401/403/408/429/5xx, unreadable response | retry the request; then undelivered |
//! | request 4xx otherwise (bad path) | undelivered at once: it repeats on every try, and the documents are not at fault |
//! | less than `Backoff::start_margin` before the deadline | nothing new starts; undelivered |
//!
//! Up to `max_concurrency` bodies are in flight at once over one keep-alive pool; the retries and
//! halves of one body go one after another, so a struggling cluster sees at most that many
//! requests from one invocation.

mod client;
mod config;
mod request;
mod retry;

pub use client::{EsClient, EsClientError, EsRequestError, Fate, ItemFate, ShipReport};
pub use config::{CollectionType, EsAuth, EsConfig, EsConfigError, SigV4Service};
pub use request::{BULK_PATH, SigningError, sign_request, sign_request_for};
pub use retry::Backoff;
