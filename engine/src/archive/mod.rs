//! The archive: one gzip NDJSON object per invocation under a hive-style key.

mod keys;

pub use keys::object_key;

use std::str::FromStr;

/// What the archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArchiveStage {
    /// The documents as shipped, after transforms (and so after redaction).
    #[default]
    Documents,
    /// The events as they came in, before transforms, as CloudWatch-shaped JSON lines.
    Raw,
    /// Both: documents under the prefix, raw events under `{prefix}-raw`.
    Both,
    /// No archive.
    None,
}

impl FromStr for ArchiveStage {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "documents" => Ok(ArchiveStage::Documents),
            "raw" => Ok(ArchiveStage::Raw),
            "both" => Ok(ArchiveStage::Both),
            "none" => Ok(ArchiveStage::None),
            other => Err(format!("unknown archive stage {other:?} (expected documents, raw, both or none)")),
        }
    }
}

/// One object to put: its key and gzip bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveObject {
    /// The S3 key (or path below the output folder).
    pub key: String,
    /// Gzip-compressed NDJSON.
    pub body: Vec<u8>,
    /// Number of lines in the object.
    pub n_lines: usize,
}

/// Gzips NDJSON lines into an object.
pub fn gzip_object(key: String, ndjson: &[u8], n_lines: usize) -> ArchiveObject {
    ArchiveObject { key, body: gzip(ndjson), n_lines }
}

/// Gzip at libdeflate's fastest level: NDJSON of log documents is repetitive enough that level 1
/// already shrinks it several times, and the archive is on the per-event hot path.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::fastest());
    let mut out = vec![0; compressor.gzip_compress_bound(bytes.len())];
    let n_bytes = compressor.gzip_compress(bytes, &mut out).expect("the buffer is at least the bound");
    out.truncate(n_bytes);
    out
}
