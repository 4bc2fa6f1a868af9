//! Where archive objects and dead letters are stored: S3, with SSE-KMS.

mod s3;

pub use s3::{S3Archive, jitter};
