//! The Elasticsearch `_bulk` API: request bodies out, per-item classification of responses in.

mod degrade;
mod encode;
mod response;

pub use degrade::{degrade, degrade_to_base};
pub use encode::{BulkAction, BulkBody, BulkItem, BulkWriter, DEFAULT_BULK_MAX_BYTES};
pub use response::{ItemResult, ResponseError, classify};
