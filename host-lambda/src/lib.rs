//! Sluicegate's hosts: the Lambda handler, its configuration, the S3 archiver and the metrics line.
//!
//! This is glue around `sluicegate-engine`: the engine turns a batch into bodies and objects, and
//! this crate ships them and decides which records go back to Kinesis as `batchItemFailures`.

pub mod archive;
pub mod config;
pub mod handler;
pub mod metrics;
pub mod sink;
