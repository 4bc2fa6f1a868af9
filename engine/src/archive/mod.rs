//! The archive: one gzip NDJSON object per invocation under a hive-style key.

mod background;
mod keys;

pub use keys::object_key;

use std::ptr::NonNull;
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
    /// How many lines each record has, in line order (`(record index, lines)`, one run per
    /// record): lines are written in record order, so the lines of the records before a given
    /// one are the object's first lines ([`ArchiveObject::lines_before`]).
    pub record_lines: Vec<(u32, u32)>,
}

impl ArchiveObject {
    /// The number of lines of the records before `record_idx`.
    pub fn lines_before(&self, record_idx: u32) -> usize {
        self.record_lines.iter().filter(|(record, _)| *record < record_idx).map(|(_, n_lines)| *n_lines as usize).sum()
    }

    /// The object's first `n_lines` lines, gzipped: what it holds once the records from some
    /// record on go back to Kinesis, to be archived by the invocation that retries them.
    /// `None` when the object cannot be read back within `max_bytes` inflated.
    pub fn truncated(&self, n_lines: usize, max_bytes: usize) -> Option<Vec<u8>> {
        let text = crate::decode::Decoder::new(max_bytes).inflate_members(&self.body).ok()?;
        let mut end = 0;
        for _ in 0..n_lines {
            end += text[end..].iter().position(|&byte| byte == b'\n')? + 1;
        }
        Some(gzip(&text[..end]))
    }
}

/// Builds a gzip NDJSON object line by line without holding the uncompressed text: every
/// [`CHUNK_BYTES`] of lines become one gzip member, and the members are concatenated, which RFC
/// 1952 allows and every gzip reader (zcat, Python, Java, Athena) reads as one stream. Deflate
/// only looks 32 KiB back, so chunking costs no measurable ratio.
///
/// With `background` (and more than one CPU), members are compressed on a worker thread while
/// lines go on being written; the object's bytes are the same either way.
#[derive(Debug, Default)]
pub struct ArchiveWriter {
    chunk: Vec<u8>,
    members: background::Members,
    background: bool,
    n_lines: usize,
    record_lines: Vec<(u32, u32)>,
}

/// Uncompressed bytes per gzip member of an [`ArchiveWriter`].
pub const CHUNK_BYTES: usize = 1 << 20;

impl ArchiveWriter {
    /// A writer that compresses its members on the worker thread when there is more than one
    /// CPU (`background`), or where they are written.
    pub fn new(background: bool) -> ArchiveWriter {
        ArchiveWriter { background, ..ArchiveWriter::default() }
    }

    /// The buffer to append one line to; call [`ArchiveWriter::end_line`] after.
    pub fn line_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.chunk
    }

    /// Ends the line just written, a line of the record `record_idx` (records come in order).
    pub fn end_line(&mut self, record_idx: u32) {
        self.chunk.push(b'\n');
        self.n_lines += 1;
        match self.record_lines.last_mut() {
            Some((record, n_lines)) if *record == record_idx => *n_lines += 1,
            _ => self.record_lines.push((record_idx, 1)),
        }
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    /// Lines written so far.
    pub fn n_lines(&self) -> usize {
        self.n_lines
    }

    fn flush(&mut self) {
        self.members.push(&mut self.chunk, self.background);
    }

    /// The object, or `None` when no line was written.
    pub fn finish(mut self, key: String) -> Option<ArchiveObject> {
        self.flush();
        self.members.collect_all();
        let body = std::mem::take(&mut self.members.gzip);
        (self.n_lines > 0).then_some(ArchiveObject { key, body, n_lines: self.n_lines, record_lines: self.record_lines })
    }
}

/// Gzip at the fastest real level (libdeflate's level 1): NDJSON of log documents is repetitive
/// enough that it already shrinks the text about seven times, and the archive is on the per-event
/// hot path.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    gzip_append(bytes, &mut out);
    out
}

thread_local! {
    /// libdeflate's compressor at level 1, made once per thread: it allocates its tables once,
    /// not again (and faulted in again) for every 1 MiB member.
    static COMPRESSOR: std::cell::RefCell<Compressor> = std::cell::RefCell::new(Compressor::new());
}

/// [`gzip`], appended to `out`: the archive's members go straight onto the object.
pub fn gzip_append(bytes: &[u8], out: &mut Vec<u8>) {
    COMPRESSOR.with(|cell| cell.borrow_mut().gzip_append(bytes, out));
}

/// libdeflate's compressor at level 1, called directly so that it writes into a vector's spare
/// capacity (libdeflater takes an initialised slice, which costs zeroing the bound first).
struct Compressor(NonNull<libdeflate_sys::libdeflate_compressor>);

impl Compressor {
    fn new() -> Compressor {
        // SAFETY: the call has no preconditions; it returns null only when it cannot allocate.
        let raw = unsafe { libdeflate_sys::libdeflate_alloc_compressor(1) };
        Compressor(NonNull::new(raw).expect("libdeflate could not allocate a compressor"))
    }

    fn gzip_append(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        // SAFETY: the compressor is live; the bound reads nothing but the arguments.
        let bound = unsafe { libdeflate_sys::libdeflate_gzip_compress_bound(self.0.as_ptr(), bytes.len()) };
        out.reserve(bound);
        let start = out.len();
        // SAFETY: the compressor is live and used by one call at a time (`&mut self`); libdeflate
        // reads `bytes.len()` bytes of `bytes` and writes at most `bound` bytes to the reserved
        // spare capacity after `start`, never reading it, and returns how many it wrote.
        let n_bytes = unsafe {
            libdeflate_sys::libdeflate_gzip_compress(
                self.0.as_ptr(),
                bytes.as_ptr().cast(),
                bytes.len(),
                out.as_mut_ptr().add(start).cast(),
                bound,
            )
        };
        // libdeflate answers 0 only when the output does not fit, which the bound rules out.
        assert!(n_bytes > 0 && n_bytes <= bound, "libdeflate's gzip fits its own bound");
        // SAFETY: libdeflate wrote the `n_bytes` bytes after `start`, within the reserved capacity.
        unsafe { out.set_len(start + n_bytes) };
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `libdeflate_alloc_compressor` and is freed once, here.
        unsafe { libdeflate_sys::libdeflate_free_compressor(self.0.as_ptr()) }
    }
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
            let compressed = gzip(input);
            assert_eq!(&compressed[..2], [0x1f, 0x8b], "a gzip member");
            assert_eq!(gunzip(&compressed), input);
        }
        assert!(gzip(&text).len() < text.len() / 20, "repetitive text shrinks");
        // The thread's kept compressor carries nothing from one member to the next.
        assert_eq!(gzip(&text), first, "the same member after other inputs");
    }

    #[test]
    fn an_object_keeps_the_lines_of_the_records_before_one() {
        let mut writer = ArchiveWriter::default();
        // Records 0, 2 and 5 (1 and 3 had nothing to archive), 800 lines each: several members.
        for record_idx in [0, 2, 5] {
            for line_idx in 0..800 {
                writer.line_buffer().extend_from_slice(
                    format!("{{\"record\":{record_idx},\"line\":{line_idx},\"pad\":\"{}\"}}", "x".repeat(900)).as_bytes(),
                );
                writer.end_line(record_idx);
            }
        }
        let object = writer.finish("key".to_owned()).unwrap();
        assert_eq!(object.record_lines, [(0, 800), (2, 800), (5, 800)]);
        assert_eq!((object.lines_before(0), object.lines_before(2), object.lines_before(3), object.lines_before(9)), (0, 800, 1600, 2400));
        let kept = gunzip(&object.truncated(object.lines_before(3), 64 << 20).unwrap());
        let lines: Vec<&[u8]> = kept.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).collect();
        assert_eq!(lines.len(), 1600);
        assert!(lines.last().unwrap().starts_with(b"{\"record\":2,\"line\":799"));
        assert_eq!(gunzip(&object.truncated(0, 64 << 20).unwrap()), b"");
        assert_eq!(object.truncated(1, 1024), None, "past the cap it cannot be read back");
    }

    #[test]
    fn members_compressed_in_the_background_are_the_same_object() {
        let lines: Vec<Vec<u8>> = (0..20_000)
            .map(|line_idx| format!("{{\"line\":{line_idx},\"pad\":\"{}\"}}", "y".repeat(line_idx % 300)).into_bytes())
            .collect();
        let write = |background: bool| {
            let mut writer = ArchiveWriter::new(background);
            for (line_idx, line) in lines.iter().enumerate() {
                writer.line_buffer().extend_from_slice(line);
                writer.end_line(line_idx as u32 / 1000);
            }
            writer.finish("key".to_owned()).unwrap()
        };
        let (inline, background) = (write(false), write(true));
        assert!(inline.body.len() > 2 * 1024, "several members");
        assert_eq!(background, inline);
        let text = gunzip(&background.body);
        assert_eq!(text.iter().filter(|&&byte| byte == b'\n').count(), 20_000);
    }

    #[test]
    fn writer_members_read_back_as_one_stream() {
        let mut writer = ArchiveWriter::default();
        let line = vec![b'x'; 1000];
        for _ in 0..3000 {
            writer.line_buffer().extend_from_slice(&line);
            writer.end_line(0);
        }
        let object = writer.finish("key".to_owned()).unwrap();
        assert_eq!(object.n_lines, 3000);
        let text = gunzip(&object.body);
        assert_eq!(text.len(), 3000 * 1001);
        assert!(text.split(|&byte| byte == b'\n').take(3000).all(|row| row == line));
    }
}
