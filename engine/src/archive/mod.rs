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

/// Builds a gzip NDJSON object line by line without holding the uncompressed text: every
/// [`CHUNK_BYTES`] of lines become one gzip member, and the members are concatenated, which RFC
/// 1952 allows and every gzip reader (zcat, Python, Java, Athena) reads as one stream. Deflate
/// only looks 32 KiB back, so chunking costs no measurable ratio.
#[derive(Debug, Default)]
pub struct ArchiveWriter {
    chunk: Vec<u8>,
    gzip: Vec<u8>,
    n_lines: usize,
}

/// Uncompressed bytes per gzip member of an [`ArchiveWriter`].
pub const CHUNK_BYTES: usize = 1 << 20;

impl ArchiveWriter {
    /// The buffer to append one line to; call [`ArchiveWriter::end_line`] after.
    pub fn line_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.chunk
    }

    /// Ends the line just written.
    pub fn end_line(&mut self) {
        self.chunk.push(b'\n');
        self.n_lines += 1;
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    /// Lines written so far.
    pub fn n_lines(&self) -> usize {
        self.n_lines
    }

    fn flush(&mut self) {
        if !self.chunk.is_empty() {
            self.gzip.extend_from_slice(&gzip(&self.chunk));
            self.chunk.clear();
        }
    }

    /// The object, or `None` when no line was written.
    pub fn finish(mut self, key: String) -> Option<ArchiveObject> {
        self.flush();
        (self.n_lines > 0).then_some(ArchiveObject { key, body: self.gzip, n_lines: self.n_lines })
    }
}

/// Gzip at level 1: NDJSON of log documents is repetitive enough that the fastest real level
/// already shrinks it several times, and the archive is on the per-event hot path.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).expect("1 is a valid level"));
    let mut out = vec![0; compressor.gzip_compress_bound(bytes.len())];
    let n_bytes = compressor.gzip_compress(bytes, &mut out).expect("the buffer is at least the bound");
    out.truncate(n_bytes);
    out
}
