//! Sluicegate's engine: everything between bytes in and bytes out.
//!
//! A Kinesis batch of CloudWatch Logs subscription records goes in ([`kinesis::KinesisEvent`]);
//! an [`Outcome`] comes out: the `_bulk` bodies to send, the archive object to put, the dead
//! letters, and for every record which of its events went where. The engine does no I/O and knows
//! nothing of Lambda, S3, SigV4 or hyper; the hosts do the shipping and the retries.

pub mod allocator;
pub mod archive;
pub mod bulk;
pub mod corpus;
pub mod dead_letter;
pub mod decode;
pub mod document;
pub mod event;
pub mod index;
pub mod kinesis;
pub mod mapping;
pub mod outcome;
pub mod pipeline;
pub mod pipeline_file;
pub mod time;
pub mod transform;
pub mod wasm;

pub use event::{Context, Event};
pub use outcome::{Outcome, RecordOutcome};
pub use pipeline::{DeadLetterContent, Pipeline, PipelineConfig};
