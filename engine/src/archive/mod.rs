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
    /// What igzip works in, made once per thread and kept: its stream (82 KB), its level buffer
    /// (276 KiB) and the output buffer. isal-rs made the first two afresh for every 1 MiB member,
    /// zeroing the level buffer and moving the stream twice, which cost more than 1 M
    /// instructions and the fresh pages' faults a corpus run.
    static IGZIP: std::cell::RefCell<Option<Igzip>> = const { std::cell::RefCell::new(None) };
}

/// ISA-L's stateless deflate at level 1 and the memory it needs.
#[cfg(all(target_arch = "x86_64", feature = "isal"))]
struct Igzip {
    stream: Box<isal_sys::igzip_lib::isal_zstream>,
    level_buf: Vec<u8>,
    /// The output, zeroed once: a fresh zeroed buffer of the bound per member cost more (the
    /// `memset`) than copying the member's ~130 KB out of it.
    scratch: Vec<u8>,
}

#[cfg(all(target_arch = "x86_64", feature = "isal"))]
impl Igzip {
    fn new() -> Igzip {
        // SAFETY: the stream is plain integers, pointers and byte arrays, all valid as zeros;
        // `isal_deflate_stateless_init` sets what a call reads before the call.
        let stream = unsafe { Box::<isal_sys::igzip_lib::isal_zstream>::new_zeroed().assume_init() };
        let level_buf = vec![0; isal_sys::igzip_lib::ISAL_DEF_LVL1_DEFAULT as usize];
        Igzip { stream, level_buf, scratch: Vec::new() }
    }

    /// Compresses `bytes` into one gzip member in `scratch`; its length, or `None` when it does
    /// not fit the bound (it always should: stored blocks fit).
    fn compress(&mut self, bytes: &[u8], bound: usize) -> Option<usize> {
        use isal_sys::igzip_lib as isal;
        if self.scratch.len() < bound {
            self.scratch.resize(bound, 0);
        }
        let avail_in = u32::try_from(bytes.len()).ok()?;
        let avail_out = u32::try_from(bound).ok()?;
        let stream = &mut *self.stream;
        // SAFETY: `stream` is a valid, exclusively borrowed stream; init only writes its fields.
        unsafe { isal::isal_deflate_stateless_init(stream) };
        stream.level = 1;
        stream.level_buf = self.level_buf.as_mut_ptr();
        stream.level_buf_size = self.level_buf.len() as u32;
        stream.gzip_flag = isal::IGZIP_GZIP as u16;
        stream.end_of_stream = 1;
        stream.flush = isal::NO_FLUSH as u16;
        // igzip reads through `next_in` and never writes there.
        stream.next_in = bytes.as_ptr().cast_mut();
        stream.avail_in = avail_in;
        stream.next_out = self.scratch.as_mut_ptr();
        stream.avail_out = avail_out;
        // SAFETY: the input, output and level buffers live, unaliased, for the call, with the
        // lengths given; the stream was initialised above.
        let status = unsafe { isal::isal_deflate_stateless(stream) };
        // Nothing outlives the call that points into the buffers.
        stream.next_in = std::ptr::null_mut();
        stream.next_out = std::ptr::null_mut();
        (status == isal::COMP_OK as i32 && stream.avail_in == 0).then_some(stream.total_out as usize)
    }
}

/// ISA-L's stateless gzip at level 1 into a buffer of libdeflate's bound (stored blocks fit
/// it), appended to `out`; `false` (and `out` as it was) when it does not finish there.
#[cfg(all(target_arch = "x86_64", feature = "isal"))]
fn igzip_append(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let bound = bytes.len() + bytes.len() / 8 + 1024;
    IGZIP.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return false;
        };
        let igzip = slot.get_or_insert_with(Igzip::new);
        let done = match igzip.compress(bytes, bound) {
            Some(n_bytes) => {
                out.extend_from_slice(&igzip.scratch[..n_bytes]);
                true
            }
            None => false,
        };
        // A one-off huge input (a single large line) does not keep its buffer alive.
        if igzip.scratch.len() > 4 * CHUNK_BYTES {
            igzip.scratch = Vec::new();
        }
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
        let first = gzip(&text);
        for input in [&text[..], b"", &noise[..]] {
            // igzip itself, not the fallback, handles all three.
            #[cfg(all(target_arch = "x86_64", feature = "isal"))]
            assert!(igzip_append(input, &mut Vec::new()), "igzip compresses {} bytes", input.len());
            let compressed = gzip(input);
            assert_eq!(&compressed[..2], [0x1f, 0x8b], "a gzip member");
            assert_eq!(gunzip(&compressed), input);
        }
        assert!(gzip(&text).len() < text.len() / 20, "repetitive text shrinks");
        // The thread's kept stream and level buffer carry nothing from one member to the next.
        assert_eq!(gzip(&text), first, "the same member after other inputs");
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
