//! Sluicegate's Lambda glue: configuration, the Elasticsearch/OpenSearch client, the S3 archiver,
//! the handler and the metrics line.
//!
//! The engine turns a batch into bodies and objects; this crate ships them and decides which
//! records go back to Kinesis as `batchItemFailures`.

pub mod archive;
pub mod aws;
pub mod config;
pub mod es;
pub mod handler;
pub mod loader;
pub mod metrics;
pub mod sink;
