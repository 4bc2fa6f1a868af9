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
            gzip_append(&self.chunk, &mut self.gzip);
            self.chunk.clear();
        }
    }

    /// The object, or `None` when no line was written.
    pub fn finish(mut self, key: String) -> Option<ArchiveObject> {
        self.flush();
        (self.n_lines > 0).then_some(ArchiveObject { key, body: self.gzip, n_lines: self.n_lines })
    }
}

/// Gzip at the fastest real level: NDJSON of log documents is repetitive enough that it already
/// shrinks the text about seven times, and the archive is on the per-event hot path.
///
/// On x86_64 (with the default `isal` feature) this is ISA-L's igzip at level 1: on the standard corpus's documents it measured
/// 2.6x faster than libdeflate at level 1 for 5% more bytes (docs/wasm.md). Elsewhere, and
/// should igzip ever refuse (its stateless call has a fixed output buffer), libdeflate.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    gzip_append(bytes, &mut out);
    out
}

/// [`gzip`], appended to `out`: the archive's members go straight onto the object.
pub fn gzip_append(bytes: &[u8], out: &mut Vec<u8>) {
    #[cfg(all(target_arch = "x86_64", feature = "isal"))]
    if igzip_append(bytes, out) {
        return;
    }
    out.extend_from_slice(&libdeflate_gzip(bytes));
}

/// libdeflate's gzip at level 1.
pub(crate) fn libdeflate_gzip(bytes: &[u8]) -> Vec<u8> {
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).expect("1 is a valid level"));
    let mut out = vec![0; compressor.gzip_compress_bound(bytes.len())];
    let n_bytes = compressor.gzip_compress(bytes, &mut out).expect("the buffer is at least the bound");
    out.truncate(n_bytes);
    out
}

#[cfg(all(target_arch = "x86_64", feature = "isal"))]
thread_local! {
    /// igzip's output buffer, zeroed once and kept: a fresh zeroed buffer of the bound per 1 MiB
    /// member cost more (the `memset`) than copying the member's ~130 KB out of it.
    static IGZIP_SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// ISA-L's stateless gzip at level 1 into a buffer of libdeflate's bound (stored blocks fit
/// it), appended to `out`; `false` (and `out` as it was) when it does not finish there.
#[cfg(all(target_arch = "x86_64", feature = "isal"))]
fn igzip_append(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let bound = bytes.len() + bytes.len() / 8 + 1024;
    IGZIP_SCRATCH.with(|cell| {
        let mut scratch = cell.take();
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let compressed = isal::compress_into(bytes, &mut scratch[..bound], isal::CompressionLevel::One, isal::Codec::Gzip);
        let done = match compressed {
            Ok(n_bytes) => {
                out.extend_from_slice(&scratch[..n_bytes]);
                true
            }
            Err(_) => false,
        };
        // A one-off huge input (a single large line) does not keep its buffer alive.
        if scratch.len() > 4 * CHUNK_BYTES {
            scratch = Vec::new();
        }
        cell.set(scratch);
        done
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member, as Athena or `zcat` would read the object.
    fn gunzip(gzip: &[u8]) -> Vec<u8> {
        crate::decode::Decoder::new(64 << 20).inflate_members(gzip).unwrap()
    }

    #[test]
    fn gzip_round_trips_text_empty_and_incompressible_input() {
        let text = b"{\"message\":\"GET /index.html 200\"}\n".repeat(10_000);
        // Bytes no compressor can shrink: the output is stored blocks, larger than the input.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for input in [&text[..], b"", &noise[..]] {
            // igzip itself, not the fallback, handles all three.
            #[cfg(all(target_arch = "x86_64", feature = "isal"))]
            assert!(igzip_append(input, &mut Vec::new()), "igzip compresses {} bytes", input.len());
            let compressed = gzip(input);
            assert_eq!(&compressed[..2], [0x1f, 0x8b], "a gzip member");
            assert_eq!(gunzip(&compressed), input);
        }
        assert!(gzip(&text).len() < text.len() / 20, "repetitive text shrinks");
    }

    #[test]
    fn writer_members_read_back_as_one_stream() {
        let mut writer = ArchiveWriter::default();
        let line = vec![b'x'; 1000];
        for _ in 0..3000 {
            writer.line_buffer().extend_from_slice(&line);
            writer.end_line();
        }
        let object = writer.finish("key".to_owned()).unwrap();
        assert_eq!(object.n_lines, 3000);
        let text = gunzip(&object.body);
        assert_eq!(text.len(), 3000 * 1001);
        assert!(text.split(|&byte| byte == b'\n').take(3000).all(|row| row == line));
    }
}
