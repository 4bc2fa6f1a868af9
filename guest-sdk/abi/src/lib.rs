//! The Wasm ABI (version 1) of Sluicegate transforms: the frame the host writes and the reply the
//! guest answers with; and the JSON scanners both sides share ([`json_text`], [`json_scan`]).
//!
//! Both sides use this crate: the host (`sluicegate-engine`) writes frames and reads replies, the
//! guest runtime (`sluicegate-sdk`) reads frames and writes replies. It has no dependencies.
//! Transform authors depend on `sluicegate-sdk`, which hides all of this behind `Transform` and
//! `Event`; transforms that scan JSON text themselves (the built-in ones) use the scanners here.
//! Everything is little-endian and every offset is relative to the start of its area.
//!
//! The scanners step sixteen bytes at a time with SIMD where the target has it at build time
//! (SSE2 on x86_64, Wasm SIMD with `+simd128`); the `portable` feature turns that off, so that
//! the plain steps arm64 runs are tested on x86_64 too.
//!
//! # Exports of a guest module
//!
//! | export | signature | what it does |
//! |---|---|---|
//! | [`MARKER_EXPORT`] | `() -> i32` | returns [`ABI_VERSION`]; its presence marks a Sluicegate module |
//! | [`BUFFER_EXPORT`] | `(len: i32) -> i32` | makes the guest's input buffer at least `len` bytes long and returns its address |
//! | [`INIT_EXPORT`] | `(len: i32) -> i64` | reads the JSON configuration from the buffer; returns a reply area (0 = success) |
//! | [`PROCESS_EXPORT`] | `(len: i32) -> i64` | reads a frame from the buffer; returns the reply area |
//! | `memory` | memory | the guest's linear memory |
//!
//! A reply area is returned as `address << 32 | length`. For `init`, a non-empty area holds the
//! error text (UTF-8). For `process` it holds a reply (see [`ReplyWriter`]).
//!
//! # Imports
//!
//! Only from the module [`HOST_MODULE`]: [`LOG_IMPORT`] `(level: i32, ptr: i32, len: i32)` and
//! [`PANIC_IMPORT`] `(ptr: i32, len: i32)`, which records a panic message before the guest traps.
//!
//! # Frame
//!
//! ```text
//! header   16 bytes   version u32, n_contexts u32, n_events u32, reserved u32
//! contexts 24 bytes   owner (offset u32, length u32), log group (..), log stream (..)
//! events   48 bytes   timestamp i64, context_idx u32, id (offset, length), message (..),
//!                     fields (..), index (..), reserved u32; fields and index: offset u32::MAX = none
//! bytes               the text the tables point into
//! ```
//!
//! # Reply
//!
//! ```text
//! header   8 bytes    n_events u32, n_patches u32
//! verdicts n_events bytes, one Verdict each
//! patches  one per modified or failed event, in event order:
//!          modified: event_idx u32, changes u32 (CHANGED_* bits), [timestamp i64],
//!                    [message: length u32, bytes], [fields: length u32 (u32::MAX = remove), bytes],
//!                    [index: length u32 (u32::MAX = remove), bytes]
//!          failed:   event_idx u32, reason: length u32, bytes
//! ```

#![deny(missing_docs)]

pub mod json_scan;
pub mod json_text;
pub mod testing;

use std::fmt;

/// The ABI version this crate describes.
pub const ABI_VERSION: u32 = 1;
/// The export whose presence marks a module built for this ABI version.
pub const MARKER_EXPORT: &str = "sluicegate_abi_v1";
/// The export that sizes the guest's input buffer.
pub const BUFFER_EXPORT: &str = "sluicegate_buffer";
/// The export that configures a new instance.
pub const INIT_EXPORT: &str = "sluicegate_init";
/// The export that runs the transform over one frame.
pub const PROCESS_EXPORT: &str = "sluicegate_process";
/// The guest's linear memory.
pub const MEMORY_EXPORT: &str = "memory";
/// The only module a guest may import from.
pub const HOST_MODULE: &str = "sluicegate";
/// Host import: a log line from the guest.
pub const LOG_IMPORT: &str = "log";
/// Host import: the message of a panic, sent just before the guest traps.
pub const PANIC_IMPORT: &str = "panic";

/// Size of the frame header.
pub const FRAME_HEADER_LEN: usize = 16;
/// Size of one context entry.
pub const CONTEXT_ENTRY_LEN: usize = 24;
/// Size of one event entry.
pub const EVENT_ENTRY_LEN: usize = 48;
/// Size of the reply header.
pub const REPLY_HEADER_LEN: usize = 8;
/// Offset or length meaning "absent" (fields, index) or "remove" (in a patch).
pub const NONE: u32 = u32::MAX;

/// Patch bit: the timestamp changed.
pub const CHANGED_TIMESTAMP: u32 = 1;
/// Patch bit: the message changed.
pub const CHANGED_MESSAGE: u32 = 2;
/// Patch bit: the fields changed (or were removed).
pub const CHANGED_FIELDS: u32 = 4;
/// Patch bit: the target index changed (or was removed).
pub const CHANGED_INDEX: u32 = 8;
const CHANGED_ALL: u32 = CHANGED_TIMESTAMP | CHANGED_MESSAGE | CHANGED_FIELDS | CHANGED_INDEX;

/// What a transform decided for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Verdict {
    /// Ship it as it came in; nothing travels back.
    Keep = 0,
    /// Do not ship it.
    Drop = 1,
    /// Ship it with the changes in its patch.
    Modified = 2,
    /// The transform failed on it; the reason is in its patch.
    Failed = 3,
}

impl Verdict {
    fn from_byte(byte: u8) -> Option<Verdict> {
        Some(match byte {
            0 => Verdict::Keep,
            1 => Verdict::Drop,
            2 => Verdict::Modified,
            3 => Verdict::Failed,
            _ => return None,
        })
    }
}

/// What is wrong with a frame or a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError {
    /// What was being read.
    pub what: &'static str,
    /// Byte offset in the area where it went wrong.
    pub offset: usize,
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for AbiError {}

/// The context of a group of events, as the frame carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameContext<'a> {
    /// The AWS account id that owns the log group.
    pub owner: &'a str,
    /// The log group.
    pub log_group: &'a str,
    /// The log stream.
    pub log_stream: &'a str,
}

/// One event as the frame carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEvent<'a> {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// Index of its context in the frame.
    pub context_idx: u32,
    /// The CloudWatch event id.
    pub id: &'a str,
    /// The log line.
    pub message: &'a str,
    /// Fields added by earlier transforms, as JSON object text.
    pub fields: Option<&'a str>,
    /// Target index chosen by an earlier transform.
    pub index: Option<&'a str>,
}

/// The size of the frame that [`write_frame`] writes for these contexts and events.
pub fn frame_len(contexts: &[FrameContext<'_>], events: &[FrameEvent<'_>]) -> usize {
    let text: usize =
        contexts.iter().map(|context| context.owner.len() + context.log_group.len() + context.log_stream.len()).sum::<usize>()
            + events
                .iter()
                .map(|event| event.id.len() + event.message.len() + event.fields.map_or(0, str::len) + event.index.map_or(0, str::len))
                .sum::<usize>();
    FRAME_HEADER_LEN + contexts.len() * CONTEXT_ENTRY_LEN + events.len() * EVENT_ENTRY_LEN + text
}

/// Writes a frame into `out`, which must be exactly [`frame_len`] bytes long.
///
/// # Panics
///
/// When `out` has another length or a text is longer than 4 GiB; callers size both.
pub fn write_frame(out: &mut [u8], contexts: &[FrameContext<'_>], events: &[FrameEvent<'_>]) {
    assert_eq!(out.len(), frame_len(contexts, events), "frame buffer has the wrong size");
    put_u32(out, 0, ABI_VERSION);
    put_u32(out, 4, contexts.len() as u32);
    put_u32(out, 8, events.len() as u32);
    put_u32(out, 12, 0);
    let mut text_at = FRAME_HEADER_LEN + contexts.len() * CONTEXT_ENTRY_LEN + events.len() * EVENT_ENTRY_LEN;
    let mut put_text = |out: &mut [u8], entry_at: usize, text: Option<&str>| match text {
        Some(text) => {
            out[text_at..text_at + text.len()].copy_from_slice(text.as_bytes());
            put_u32(out, entry_at, u32::try_from(text_at).expect("frames stay under 4 GiB"));
            put_u32(out, entry_at + 4, text.len() as u32);
            text_at += text.len();
        }
        None => {
            put_u32(out, entry_at, NONE);
            put_u32(out, entry_at + 4, 0);
        }
    };
    for (context_idx, context) in contexts.iter().enumerate() {
        let entry_at = FRAME_HEADER_LEN + context_idx * CONTEXT_ENTRY_LEN;
        put_text(out, entry_at, Some(context.owner));
        put_text(out, entry_at + 8, Some(context.log_group));
        put_text(out, entry_at + 16, Some(context.log_stream));
    }
    let events_at = FRAME_HEADER_LEN + contexts.len() * CONTEXT_ENTRY_LEN;
    for (event_idx, event) in events.iter().enumerate() {
        let entry_at = events_at + event_idx * EVENT_ENTRY_LEN;
        out[entry_at..entry_at + 8].copy_from_slice(&event.timestamp.to_le_bytes());
        put_u32(out, entry_at + 8, event.context_idx);
        put_text(out, entry_at + 12, Some(event.id));
        put_text(out, entry_at + 20, Some(event.message));
        put_text(out, entry_at + 28, event.fields);
        put_text(out, entry_at + 36, event.index);
        put_u32(out, entry_at + 44, 0);
    }
}

/// A frame being read (by the guest runtime and the native test harness).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    bytes: &'a [u8],
    n_contexts: usize,
    n_events: usize,
    /// Where the text area starts (the end of the tables).
    text_at: usize,
    /// The text area, when it is valid UTF-8 as a whole (the host writes it so).
    text: Option<&'a str>,
    /// Whether the text area is all ASCII (log text nearly always is): then every text inside
    /// it is valid UTF-8 whatever its ends, and needs no check of its own.
    ascii: bool,
}

impl<'a> Frame<'a> {
    /// Checks the header and the table sizes.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, AbiError> {
        let version = get_u32(bytes, 0, "frame header")?;
        if version != ABI_VERSION {
            return Err(AbiError { what: "frame version", offset: 0 });
        }
        let n_contexts = get_u32(bytes, 4, "frame header")? as usize;
        let n_events = get_u32(bytes, 8, "frame header")? as usize;
        let tables = n_contexts
            .checked_mul(CONTEXT_ENTRY_LEN)
            .and_then(|contexts| n_events.checked_mul(EVENT_ENTRY_LEN).and_then(|events| events.checked_add(contexts)))
            .and_then(|tables| tables.checked_add(FRAME_HEADER_LEN));
        match tables {
            // The text area is checked once, as a whole: a text that lies inside it and starts and
            // ends on character boundaries is then valid without a scan of its own, which saves
            // a call per text (four per event). Anything else is checked on its own, as before.
            Some(end) if end <= bytes.len() => {
                let (text, ascii) = utf8(&bytes[end..]);
                Ok(Frame { bytes, n_contexts, n_events, text_at: end, text, ascii })
            }
            _ => Err(AbiError { what: "frame tables", offset: FRAME_HEADER_LEN }),
        }
    }

    /// The number of events.
    pub fn n_events(&self) -> usize {
        self.n_events
    }

    /// The number of contexts.
    pub fn n_contexts(&self) -> usize {
        self.n_contexts
    }

    /// The context at `context_idx`.
    pub fn context(&self, context_idx: usize) -> Result<FrameContext<'a>, AbiError> {
        if context_idx >= self.n_contexts {
            return Err(AbiError { what: "context index", offset: 4 });
        }
        let entry_at = FRAME_HEADER_LEN + context_idx * CONTEXT_ENTRY_LEN;
        Ok(FrameContext {
            owner: self.text(entry_at)?.unwrap_or_default(),
            log_group: self.text(entry_at + 8)?.unwrap_or_default(),
            log_stream: self.text(entry_at + 16)?.unwrap_or_default(),
        })
    }

    /// The event at `event_idx`.
    pub fn event(&self, event_idx: usize) -> Result<FrameEvent<'a>, AbiError> {
        if event_idx >= self.n_events {
            return Err(AbiError { what: "event index", offset: 8 });
        }
        let entry_at = FRAME_HEADER_LEN + self.n_contexts * CONTEXT_ENTRY_LEN + event_idx * EVENT_ENTRY_LEN;
        let timestamp = i64::from_le_bytes(self.bytes[entry_at..entry_at + 8].try_into().expect("eight bytes"));
        let context_idx = get_u32(self.bytes, entry_at + 8, "event entry")?;
        if context_idx as usize >= self.n_contexts {
            return Err(AbiError { what: "event context", offset: entry_at + 8 });
        }
        Ok(FrameEvent {
            timestamp,
            context_idx,
            id: self.text(entry_at + 12)?.unwrap_or_default(),
            message: self.text(entry_at + 20)?.unwrap_or_default(),
            fields: self.text(entry_at + 28)?,
            index: self.text(entry_at + 36)?,
        })
    }

    #[inline(always)]
    fn text(&self, entry_at: usize) -> Result<Option<&'a str>, AbiError> {
        let offset = get_u32(self.bytes, entry_at, "text entry")?;
        if offset == NONE {
            return Ok(None);
        }
        let len = get_u32(self.bytes, entry_at + 4, "text entry")? as usize;
        let bytes = get_bytes(self.bytes, offset as usize, len, "text")?;
        if self.ascii && offset as usize >= self.text_at {
            // SAFETY: the bytes lie inside the text area, which is all ASCII, so valid UTF-8.
            return Ok(Some(unsafe { std::str::from_utf8_unchecked(bytes) }));
        }
        // `str::get` checks both ends for character boundaries, so the view is valid UTF-8.
        let in_text_area = self.text.and_then(|text| {
            let start = (offset as usize).checked_sub(self.text_at)?;
            text.get(start..start + len)
        });
        match in_text_area {
            Some(text) => Ok(Some(text)),
            None => std::str::from_utf8(bytes).map(Some).map_err(|_| AbiError { what: "text encoding", offset: offset as usize }),
        }
    }
}

/// `bytes` as text when they are valid UTF-8, and whether they are all ASCII. Log text nearly
/// always is, which is checked 64 bytes a step with Wasm SIMD and 32 without (four 64-bit words
/// OR-ed together, no branch per byte); core's check, which on wasm32 works a 32-bit word at a
/// time, runs only on text with other characters.
fn utf8(bytes: &[u8]) -> (Option<&str>, bool) {
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let word = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
    #[cfg(all(sluicegate_simd, target_arch = "wasm32"))]
    let (high_bits, rest) = {
        // With Wasm SIMD, 64 bytes a step: four sixteen-byte loads OR-ed together.
        use core::arch::wasm32::{u8x16_bitmask, u8x16_splat, v128_load, v128_or};
        let mut blocks = bytes.chunks_exact(64);
        let mut any = u8x16_splat(0);
        for block in &mut blocks {
            // SAFETY: each load reads sixteen of the block's 64 bytes; v128_load reads unaligned.
            let load = |at: usize| unsafe { v128_load(block.as_ptr().add(at).cast()) };
            any = v128_or(any, v128_or(v128_or(load(0), load(16)), v128_or(load(32), load(48))));
        }
        (u64::from(u8x16_bitmask(any)), blocks.remainder())
    };
    #[cfg(not(all(sluicegate_simd, target_arch = "wasm32")))]
    let (high_bits, rest) = (0, bytes);
    let mut blocks = rest.chunks_exact(32);
    let mut any = high_bits;
    for block in &mut blocks {
        any |= word(&block[..8]) | word(&block[8..16]) | word(&block[16..24]) | word(&block[24..]);
    }
    if any & HIGHS == 0 && high_bits == 0 && blocks.remainder().is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return (Some(unsafe { std::str::from_utf8_unchecked(bytes) }), true);
    }
    (std::str::from_utf8(bytes).ok(), false)
}

/// The guest's side of a reply: verdicts first, then a patch for each modified or failed event.
#[derive(Debug, Default)]
pub struct ReplyWriter {
    bytes: Vec<u8>,
    n_events: usize,
    n_patches: u32,
}

/// What changed in a modified event. `None` leaves a part as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes<'a> {
    /// A new timestamp.
    pub timestamp: Option<i64>,
    /// A new message.
    pub message: Option<&'a str>,
    /// New fields (`Some(None)` removes them).
    pub fields: Option<Option<&'a str>>,
    /// A new target index (`Some(None)` removes it).
    pub index: Option<Option<&'a str>>,
}

impl ReplyWriter {
    /// Starts a reply for `n_events` events, all kept until told otherwise. The buffer is reused.
    pub fn begin(&mut self, n_events: usize) {
        self.bytes.clear();
        self.bytes.resize(REPLY_HEADER_LEN + n_events, Verdict::Keep as u8);
        self.bytes[0..4].copy_from_slice(&(n_events as u32).to_le_bytes());
        self.n_events = n_events;
        self.n_patches = 0;
    }

    /// Marks an event as dropped.
    pub fn drop_event(&mut self, event_idx: usize) {
        self.bytes[REPLY_HEADER_LEN + event_idx] = Verdict::Drop as u8;
    }

    /// Records changes to an event. Calls must come in event order.
    pub fn modify(&mut self, event_idx: usize, changes: Changes<'_>) {
        let mut mask = 0;
        mask |= if changes.timestamp.is_some() { CHANGED_TIMESTAMP } else { 0 };
        mask |= if changes.message.is_some() { CHANGED_MESSAGE } else { 0 };
        mask |= if changes.fields.is_some() { CHANGED_FIELDS } else { 0 };
        mask |= if changes.index.is_some() { CHANGED_INDEX } else { 0 };
        if mask == 0 {
            return;
        }
        self.bytes[REPLY_HEADER_LEN + event_idx] = Verdict::Modified as u8;
        self.n_patches += 1;
        self.bytes.extend_from_slice(&(event_idx as u32).to_le_bytes());
        self.bytes.extend_from_slice(&mask.to_le_bytes());
        if let Some(timestamp) = changes.timestamp {
            self.bytes.extend_from_slice(&timestamp.to_le_bytes());
        }
        if let Some(message) = changes.message {
            self.put_text(Some(message));
        }
        if let Some(fields) = changes.fields {
            self.put_text(fields);
        }
        if let Some(index) = changes.index {
            self.put_text(index);
        }
    }

    /// Records that the transform failed on an event. Calls must come in event order.
    pub fn fail(&mut self, event_idx: usize, reason: &str) {
        self.bytes[REPLY_HEADER_LEN + event_idx] = Verdict::Failed as u8;
        self.n_patches += 1;
        self.bytes.extend_from_slice(&(event_idx as u32).to_le_bytes());
        self.put_text(Some(reason));
    }

    /// The finished reply.
    pub fn finish(&mut self) -> &[u8] {
        let n_patches = self.n_patches.to_le_bytes();
        self.bytes[4..8].copy_from_slice(&n_patches);
        &self.bytes
    }

    fn put_text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => {
                self.bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
                self.bytes.extend_from_slice(text.as_bytes());
            }
            None => self.bytes.extend_from_slice(&NONE.to_le_bytes()),
        }
    }
}

/// The host's side of a reply: every offset and length is checked, so a hostile guest can only
/// make the call fail.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    bytes: &'a [u8],
    n_events: usize,
}

/// A patch read from a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch<'a> {
    /// The event changed.
    Modified {
        /// The event's index in the frame.
        event_idx: usize,
        /// What changed.
        changes: Changes<'a>,
    },
    /// The transform failed on the event.
    Failed {
        /// The event's index in the frame.
        event_idx: usize,
        /// The guest's error text.
        reason: &'a str,
    },
}

impl<'a> Reply<'a> {
    /// Checks the header and the verdicts of a reply to a frame of `n_events` events.
    pub fn parse(bytes: &'a [u8], n_events: usize) -> Result<Reply<'a>, AbiError> {
        let claimed = get_u32(bytes, 0, "reply header")? as usize;
        if claimed != n_events {
            return Err(AbiError { what: "reply event count", offset: 0 });
        }
        let verdicts = get_bytes(bytes, REPLY_HEADER_LEN, n_events, "reply verdicts")?;
        if let Some(bad) = verdicts.iter().position(|&byte| Verdict::from_byte(byte).is_none()) {
            return Err(AbiError { what: "verdict", offset: REPLY_HEADER_LEN + bad });
        }
        Ok(Reply { bytes, n_events })
    }

    /// The verdict for `event_idx`.
    pub fn verdict(&self, event_idx: usize) -> Verdict {
        Verdict::from_byte(self.bytes[REPLY_HEADER_LEN + event_idx]).expect("verdicts were checked in parse")
    }

    /// The verdicts, in event order.
    pub fn verdicts(&self) -> impl Iterator<Item = Verdict> + '_ {
        (0..self.n_events).map(|event_idx| self.verdict(event_idx))
    }

    /// Reads every patch, checking that each belongs to a modified or failed event, in order,
    /// and that every such event has exactly one.
    pub fn patches(&self) -> Result<Vec<Patch<'a>>, AbiError> {
        let n_patches = get_u32(self.bytes, 4, "reply header")? as usize;
        let n_expected = self.verdicts().filter(|verdict| matches!(verdict, Verdict::Modified | Verdict::Failed)).count();
        if n_patches != n_expected {
            return Err(AbiError { what: "reply patch count", offset: 4 });
        }
        let mut patches = Vec::with_capacity(n_patches);
        let mut at = REPLY_HEADER_LEN + self.n_events;
        let mut next_event_idx = 0;
        for _ in 0..n_patches {
            let event_idx = get_u32(self.bytes, at, "patch")? as usize;
            if event_idx < next_event_idx || event_idx >= self.n_events {
                return Err(AbiError { what: "patch event index", offset: at });
            }
            next_event_idx = event_idx + 1;
            at += 4;
            match self.verdict(event_idx) {
                Verdict::Modified => {
                    let mask = get_u32(self.bytes, at, "patch")?;
                    if mask & !CHANGED_ALL != 0 || mask == 0 {
                        return Err(AbiError { what: "patch changes", offset: at });
                    }
                    at += 4;
                    let mut changes = Changes::default();
                    if mask & CHANGED_TIMESTAMP != 0 {
                        let bytes = get_bytes(self.bytes, at, 8, "patch timestamp")?;
                        changes.timestamp = Some(i64::from_le_bytes(bytes.try_into().expect("eight bytes")));
                        at += 8;
                    }
                    if mask & CHANGED_MESSAGE != 0 {
                        let Some(message) = self.text(&mut at)? else {
                            return Err(AbiError { what: "patch message", offset: at });
                        };
                        changes.message = Some(message);
                    }
                    if mask & CHANGED_FIELDS != 0 {
                        changes.fields = Some(self.text(&mut at)?);
                    }
                    if mask & CHANGED_INDEX != 0 {
                        changes.index = Some(self.text(&mut at)?);
                    }
                    patches.push(Patch::Modified { event_idx, changes });
                }
                Verdict::Failed => {
                    let reason = self.text(&mut at)?.unwrap_or_default();
                    patches.push(Patch::Failed { event_idx, reason });
                }
                Verdict::Keep | Verdict::Drop => return Err(AbiError { what: "patch for an unchanged event", offset: at - 4 }),
            }
        }
        Ok(patches)
    }

    fn text(&self, at: &mut usize) -> Result<Option<&'a str>, AbiError> {
        let len = get_u32(self.bytes, *at, "patch text")?;
        *at += 4;
        if len == NONE {
            return Ok(None);
        }
        let bytes = get_bytes(self.bytes, *at, len as usize, "patch text")?;
        let text = std::str::from_utf8(bytes).map_err(|_| AbiError { what: "patch text encoding", offset: *at })?;
        *at += len as usize;
        Ok(Some(text))
    }
}

fn put_u32(out: &mut [u8], at: usize, value: u32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn get_u32(bytes: &[u8], at: usize, what: &'static str) -> Result<u32, AbiError> {
    let slice = get_bytes(bytes, at, 4, what)?;
    Ok(u32::from_le_bytes(slice.try_into().expect("four bytes")))
}

fn get_bytes<'a>(bytes: &'a [u8], at: usize, len: usize, what: &'static str) -> Result<&'a [u8], AbiError> {
    at.checked_add(len).and_then(|end| bytes.get(at..end)).ok_or(AbiError { what, offset: at })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_check_agrees_with_core_at_every_position() {
        let ascii = "GET /index.html HTTP/1.1 200 1234 user=alice level=INFO ".repeat(3);
        assert_eq!(utf8(ascii.as_bytes()), (Some(ascii.as_str()), true));
        assert_eq!(utf8(b""), (Some(""), true));
        // One other byte at each place, in a 32-byte block or in the tail: a whole character
        // (valid), a lone continuation byte or a cut-off lead byte (invalid).
        for at in 0..ascii.len() {
            for insert in ["é".as_bytes(), &[0x80], &[0xc3], &[0xff]] {
                let mut bytes = ascii.as_bytes().to_vec();
                bytes.splice(at..at, insert.iter().copied());
                assert_eq!(utf8(&bytes), (std::str::from_utf8(&bytes).ok(), false), "{insert:?} at {at}");
            }
        }
    }

    #[test]
    fn frame_and_reply_round_trip() {
        let contexts = [FrameContext { owner: "123", log_group: "/aws/lambda/a", log_stream: "s" }];
        let events = [
            FrameEvent { timestamp: -5, context_idx: 0, id: "1", message: "hello", fields: None, index: None },
            FrameEvent { timestamp: 7, context_idx: 0, id: "2", message: "wörld", fields: Some("{\"a\":1}"), index: Some("i") },
        ];
        let mut buffer = vec![0; frame_len(&contexts, &events)];
        write_frame(&mut buffer, &contexts, &events);
        let frame = Frame::parse(&buffer).unwrap();
        assert_eq!(frame.context(0).unwrap(), contexts[0]);
        assert_eq!(frame.event(0).unwrap(), events[0]);
        assert_eq!(frame.event(1).unwrap(), events[1]);
        assert!(frame.event(2).is_err());
        // A text that starts inside a character is refused, though the text area is valid.
        let message_entry = FRAME_HEADER_LEN + CONTEXT_ENTRY_LEN + EVENT_ENTRY_LEN + 20;
        let message_at = get_u32(&buffer, message_entry, "test").unwrap();
        let mut split = buffer.clone();
        put_u32(&mut split, message_entry, message_at + 2);
        put_u32(&mut split, message_entry + 4, 4);
        assert_eq!(Frame::parse(&split).unwrap().event(1).unwrap_err().what, "text encoding");
        // In an all-ASCII text area every slice is a text, and texts outside the area are still
        // checked on their own.
        let ascii_events = [FrameEvent { message: "plain", ..events[1] }];
        let mut ascii = vec![0; frame_len(&contexts, &ascii_events)];
        write_frame(&mut ascii, &contexts, &ascii_events);
        let frame = Frame::parse(&ascii).unwrap();
        assert!(frame.ascii);
        assert_eq!(frame.event(0).unwrap(), ascii_events[0]);
        let message_entry = FRAME_HEADER_LEN + CONTEXT_ENTRY_LEN + 20;
        let message_at = get_u32(&ascii, message_entry, "test").unwrap();
        put_u32(&mut ascii, message_entry, message_at + 1);
        put_u32(&mut ascii, message_entry + 4, 3);
        assert_eq!(Frame::parse(&ascii).unwrap().event(0).unwrap().message, "lai");
        // A text pointing at the event's own timestamp (-1: 0xff bytes, outside the text area).
        let timestamp_at = FRAME_HEADER_LEN + CONTEXT_ENTRY_LEN;
        ascii[timestamp_at..timestamp_at + 8].copy_from_slice(&(-1i64).to_le_bytes());
        put_u32(&mut ascii, message_entry, timestamp_at as u32);
        put_u32(&mut ascii, message_entry + 4, 8);
        assert_eq!(Frame::parse(&ascii).unwrap().event(0).unwrap_err().what, "text encoding");

        let mut writer = ReplyWriter::default();
        writer.begin(3);
        writer.modify(0, Changes { message: Some("m"), fields: Some(None), ..Changes::default() });
        writer.drop_event(1);
        writer.fail(2, "bad");
        let bytes = writer.finish().to_vec();
        let reply = Reply::parse(&bytes, 3).unwrap();
        assert_eq!(reply.verdicts().collect::<Vec<_>>(), [Verdict::Modified, Verdict::Drop, Verdict::Failed]);
        assert_eq!(
            reply.patches().unwrap(),
            [
                Patch::Modified { event_idx: 0, changes: Changes { message: Some("m"), fields: Some(None), ..Changes::default() } },
                Patch::Failed { event_idx: 2, reason: "bad" },
            ]
        );
        // Every truncation of a valid reply is refused, never read past its end.
        for len in 0..bytes.len() {
            let parsed = Reply::parse(&bytes[..len], 3).and_then(|reply| reply.patches());
            assert!(parsed.is_err(), "truncated at {len} was accepted");
        }
    }
}
