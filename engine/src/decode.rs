//! Record decoding: base64 (done by the caller), capped gunzip, then the CloudWatch Logs
//! subscription JSON with simd-json.
//!
//! Every failure is a [`DecodeError`] that the pipeline turns into a rejection of that record;
//! nothing here aborts a batch.

use std::borrow::Cow;
use std::fmt;
use std::ptr::NonNull;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record's `data` is not base64.
    #[error("record data is not valid base64: {reason}")]
    Base64 {
        /// The decoder's message.
        reason: String,
    },
    /// The record does not start with the gzip magic bytes.
    #[error("record is not gzip (first bytes {first_bytes:02x?})")]
    NotGzip {
        /// Up to four leading bytes, for the dead letter's reason.
        first_bytes: Vec<u8>,
    },
    /// The record inflates to more than the configured cap.
    #[error("record inflates past the cap of {cap} bytes")]
    InflatesPastCap {
        /// The cap in bytes.
        cap: usize,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("record is not valid gzip: {reason}")]
    BadGzip {
        /// What the decompressor reported.
        reason: String,
    },
    /// The inflated bytes are not CloudWatch Logs subscription JSON (this includes non-UTF-8).
    #[error("record is not cloudwatch logs subscription json: {reason}")]
    BadJson {
        /// What the parser reported.
        reason: String,
    },
    /// `messageType` is neither `DATA_MESSAGE` nor `CONTROL_MESSAGE`.
    #[error("unknown messageType {message_type:?}")]
    UnknownMessageType {
        /// The value found.
        message_type: String,
    },
}

/// Default cap on one record's inflated size: 16 MiB. A Kinesis record is at most 1 MiB
/// compressed, and CloudWatch Logs batches are at most 1 MiB of events, so honest records stay
/// far below it.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = 16 << 20;

/// Reusable state for decoding the records of a batch.
pub struct Decoder {
    decompressor: MemberDecompressor,
    /// Made on the first [`Decoder::inflate_members`] call: the pipeline never needs it.
    member_decompressor: Option<MemberDecompressor>,
    json_buffers: simd_json::Buffers,
    max_inflated_bytes: usize,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder").field("max_inflated_bytes", &self.max_inflated_bytes).finish()
    }
}

impl Decoder {
    /// A decoder that rejects records inflating past `max_inflated_bytes`.
    pub fn new(max_inflated_bytes: usize) -> Decoder {
        Decoder {
            decompressor: MemberDecompressor::new(),
            member_decompressor: None,
            json_buffers: simd_json::Buffers::new(64 * 1024),
            max_inflated_bytes,
        }
    }

    /// Gunzips one record, refusing to produce more than the cap.
    pub fn inflate(&mut self, gzip: &[u8]) -> Result<Vec<u8>, DecodeError> {
        if gzip.len() < 18 || gzip[0] != 0x1f || gzip[1] != 0x8b {
            return Err(DecodeError::NotGzip { first_bytes: gzip.iter().take(4).copied().collect() });
        }
        let cap = self.max_inflated_bytes;
        // The trailer's ISIZE is the inflated size modulo 2^32. It is a hint, not a promise: a
        // crafted record may lie, so the buffer grows on demand but never past the cap.
        let trailer: [u8; 4] = gzip[gzip.len() - 4..].try_into().expect("four bytes");
        let hint = u32::from_le_bytes(trailer) as usize;
        if hint > cap {
            return Err(DecodeError::InflatesPastCap { cap });
        }
        let mut size = hint.max(gzip.len()).clamp(64, cap);
        loop {
            // Inflated into the buffer's spare room, not into zeros first: the trailer's size is
            // nearly always exact, and zeroing it cost as much as a copy.
            let mut out = Vec::with_capacity(size);
            match self.decompressor.gzip_into(gzip, &mut out) {
                Ok(()) => return Ok(out),
                Err(MemberError::InsufficientSpace) if size < cap => {
                    size = size.saturating_mul(4).min(cap);
                }
                Err(MemberError::InsufficientSpace) => {
                    return Err(DecodeError::InflatesPastCap { cap });
                }
                Err(MemberError::BadData) => {
                    return Err(DecodeError::BadGzip { reason: "corrupt or truncated deflate data".to_owned() });
                }
            }
        }
    }

    /// Gunzips a stream of concatenated gzip members (RFC 1952 allows them, and archive objects
    /// are written as members of about 1 MiB each), refusing to produce more than the cap in
    /// total. [`Decoder::inflate`] reads only the first member, which suits Kinesis records but
    /// would silently cut an archive short.
    pub fn inflate_members(&mut self, gzip: &[u8]) -> Result<Vec<u8>, DecodeError> {
        if gzip.len() < 18 || gzip[0] != 0x1f || gzip[1] != 0x8b {
            return Err(DecodeError::NotGzip { first_bytes: gzip.iter().take(4).copied().collect() });
        }
        let cap = self.max_inflated_bytes;
        let decompressor = self.member_decompressor.get_or_insert_with(MemberDecompressor::new);
        let mut out: Vec<u8> = Vec::new();
        let mut input = gzip;
        // A guess at the next member's inflated size: for the first, the last member's trailer
        // (exact when there is one member; a hint that is never trusted past the cap); then twice
        // the previous member's, since writers make members of one size. Every guess is filled
        // with zeros before the call, so it stays close to what the member needs.
        let trailer: [u8; 4] = gzip[gzip.len() - 4..].try_into().expect("four bytes");
        let mut guess = u32::from_le_bytes(trailer) as usize;
        while !input.is_empty() {
            if input.len() < 18 || input[0] != 0x1f || input[1] != 0x8b {
                let offset = gzip.len() - input.len();
                return Err(DecodeError::BadGzip {
                    reason: format!("{} bytes after the last gzip member at offset {offset} are not gzip", input.len()),
                });
            }
            let start = out.len();
            let room_left = cap - start;
            let mut room = guess.clamp(4 << 10, 64 << 20).min(room_left);
            let (n_in, n_out) = loop {
                // The buffer grows geometrically but never past the cap, so a bomb of many small
                // members costs at most the cap before it is refused.
                let wanted = start + room;
                if wanted > out.capacity() {
                    let grown = out.capacity().saturating_mul(2).clamp(wanted, cap.max(wanted));
                    out.reserve_exact(grown - out.len());
                }
                out.resize(wanted, 0);
                match decompressor.gzip_member(input, &mut out[start..]) {
                    Ok(consumed) => break consumed,
                    Err(MemberError::InsufficientSpace) if room < room_left => room = room.saturating_mul(4).min(room_left),
                    Err(MemberError::InsufficientSpace) => {
                        return Err(DecodeError::InflatesPastCap { cap });
                    }
                    Err(MemberError::BadData) => {
                        let offset = gzip.len() - input.len();
                        return Err(DecodeError::BadGzip { reason: format!("corrupt or truncated gzip member at offset {offset}") });
                    }
                }
            };
            out.truncate(start + n_out);
            input = &input[n_in..];
            guess = n_out.saturating_mul(2);
        }
        Ok(out)
    }

    /// Parses inflated bytes as a CloudWatch Logs subscription message, in place.
    pub fn parse<'a>(&mut self, inflated: &'a mut [u8]) -> Result<LogData<'a>, DecodeError> {
        let data: LogData<'a> = simd_json::serde::from_slice_with_buffers(inflated, &mut self.json_buffers)
            .map_err(|error| DecodeError::BadJson { reason: error.to_string() })?;
        match data.message_type.as_ref() {
            "DATA_MESSAGE" | "CONTROL_MESSAGE" => Ok(data),
            other => Err(DecodeError::UnknownMessageType { message_type: other.to_owned() }),
        }
    }
}

/// libdeflate's decompressor through its C interface, for what libdeflater 1.x does not do: gzip
/// decompression that reports how much input the member used, without which the next member of
/// a concatenated stream cannot be found, and decompression into a vector's spare capacity
/// (libdeflater takes an initialised slice, which costs zeroing every record's buffer first).
struct MemberDecompressor(NonNull<libdeflate_sys::libdeflate_decompressor>);

// SAFETY: the decompressor is plain heap state with no tie to the thread that made it, and it is
// only used through `&mut self`, so moving it or sharing `&` references across threads is sound
// (libdeflater says the same of its own `Decompressor`).
unsafe impl Send for MemberDecompressor {}
// SAFETY: see `Send`; no method takes `&self`.
unsafe impl Sync for MemberDecompressor {}

enum MemberError {
    BadData,
    InsufficientSpace,
}

impl MemberDecompressor {
    fn new() -> MemberDecompressor {
        // SAFETY: the call has no preconditions; it returns null only when it cannot allocate.
        let raw = unsafe { libdeflate_sys::libdeflate_alloc_decompressor() };
        MemberDecompressor(NonNull::new(raw).expect("libdeflate could not allocate a decompressor"))
    }

    /// Inflates `input`, one gzip member (what libdeflater's `gzip_decompress` reads), into the
    /// spare capacity of `out`, which is empty; on success its length is the bytes written.
    fn gzip_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), MemberError> {
        debug_assert!(out.is_empty());
        let mut n_out = 0usize;
        // SAFETY: the decompressor is live and used by one call at a time (`&mut self`);
        // libdeflate reads at most `input.len()` bytes and writes at most `out.capacity()` bytes
        // to the vector's buffer (never reading them), both valid for the whole call, and writes
        // the count through a pointer to a local.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.capacity(),
                &mut n_out,
            )
        };
        match result {
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS if n_out <= out.capacity() => {
                // SAFETY: libdeflate wrote the first `n_out` bytes, within the capacity.
                unsafe { out.set_len(n_out) };
                Ok(())
            }
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(MemberError::InsufficientSpace),
            _ => Err(MemberError::BadData),
        }
    }

    /// Inflates the first gzip member of `input` into `out`, answering (input bytes used,
    /// output bytes written). The member's CRC-32 and size are checked.
    fn gzip_member(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize), MemberError> {
        let mut n_in = 0usize;
        let mut n_out = 0usize;
        // SAFETY: the decompressor is live (freed only in `drop`) and used by one call at a time
        // (`&mut self`); libdeflate reads at most `input.len()` bytes from `input` and writes at
        // most `out.len()` bytes to `out`, both valid for those lengths for the whole call, and
        // it writes the two counts through pointers to locals.
        let result = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut n_in,
                &mut n_out,
            )
        };
        match result {
            // A success that used no input or claims more than it was given would loop forever
            // or read past the slice; libdeflate never does either, but the caller relies on it.
            libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS if n_in > 0 && n_in <= input.len() && n_out <= out.len() => {
                Ok((n_in, n_out))
            }
            libdeflate_sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(MemberError::InsufficientSpace),
            _ => Err(MemberError::BadData),
        }
    }
}

impl Drop for MemberDecompressor {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `libdeflate_alloc_decompressor` and is freed once, here.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

/// A readable reason why `inflated` is not a subscription message.
///
/// simd-json's errors name no field, so on this (rare) path the bytes are parsed again with
/// serde_json, whose messages say what was expected where.
pub fn explain_json_error(inflated: &[u8]) -> String {
    match serde_json::from_slice::<LogData<'_>>(inflated) {
        Err(error) => error.to_string(),
        Ok(_) => "rejected by the fast parser".to_owned(),
    }
}

/// A CloudWatch Logs subscription message. Unknown fields (`policyLevel`, …) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogData<'a> {
    /// `DATA_MESSAGE` or `CONTROL_MESSAGE`.
    #[serde(borrow)]
    pub message_type: Cow<'a, str>,
    /// The account that owns the log group.
    #[serde(borrow, default)]
    pub owner: Cow<'a, str>,
    /// The log group.
    #[serde(borrow, default)]
    pub log_group: Cow<'a, str>,
    /// The log stream.
    #[serde(borrow, default)]
    pub log_stream: Cow<'a, str>,
    /// The log events; empty for control messages.
    #[serde(borrow, default)]
    pub log_events: Vec<LogEvent<'a>>,
}

impl LogData<'_> {
    /// Whether this is a `CONTROL_MESSAGE` (acknowledged, nothing shipped).
    pub fn is_control(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// One log event of a [`LogData`].
#[derive(Debug, Deserialize)]
pub struct LogEvent<'a> {
    /// The event id: a string from AWS, an integer from some emulators.
    #[serde(borrow)]
    pub id: EventId<'a>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line.
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

/// An event id as text, whichever JSON type it arrived as.
#[derive(Debug, PartialEq, Eq)]
pub struct EventId<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for EventId<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = EventId<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or integer event id")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(EventId(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EventId(Cow::Owned(v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(EventId(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(EventId(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{ArchiveStage, CHUNK_BYTES, gzip};
    use crate::corpus::{CorpusSpec, kinesis_event};
    use crate::{Pipeline, PipelineConfig};

    /// Regression: `sluicegate replay` inflated archive objects with the single-member call and
    /// so replayed only the first MiB of any busy invocation's archive.
    #[test]
    fn every_member_of_an_archive_object_comes_back() {
        let config = PipelineConfig { archive_stage: ArchiveStage::Documents, ..PipelineConfig::default() };
        let outcome = Pipeline::new(config).run(&kinesis_event(CorpusSpec::STANDARD), None);
        assert_eq!(outcome.archive.len(), 1);
        let archive = &outcome.archive[0];
        let shipped: Vec<u8> = outcome
            .bulk
            .iter()
            .flat_map(|body| body.body.split_inclusive(|&byte| byte == b'\n').skip(1).step_by(2))
            .flatten()
            .copied()
            .collect();
        assert!(shipped.len() > 2 * CHUNK_BYTES, "the corpus fills more than two members ({} bytes)", shipped.len());

        let mut decoder = Decoder::new(DEFAULT_MAX_INFLATED_BYTES);
        let inflated = decoder.inflate_members(&archive.body).unwrap();
        assert_eq!(inflated.iter().filter(|&&byte| byte == b'\n').count(), archive.n_lines);
        assert!(inflated == shipped, "the archive holds every shipped document, in order");
        // What the single-member call sees: the first member only.
        let first_member = decoder.inflate(&archive.body).unwrap();
        assert!(first_member.len() < inflated.len() && inflated.starts_with(&first_member));
    }

    #[test]
    fn members_that_together_inflate_past_the_cap_are_refused() {
        let cap = 1 << 20;
        // Each member is about 100 bytes that inflate to 64 KiB.
        let member = gzip(&[b'a'; 64 << 10]);
        assert!(member.len() < 1024);
        let mut decoder = Decoder::new(cap);
        let at_cap = member.repeat(16);
        let inflated = decoder.inflate_members(&at_cap).unwrap();
        assert_eq!(inflated.len(), cap);
        assert!(inflated.capacity() <= cap, "the buffer never grows past the cap ({})", inflated.capacity());
        assert_eq!(decoder.inflate_members(&member.repeat(17)), Err(DecodeError::InflatesPastCap { cap }));
        // A bomb of thousands of members is refused as soon as the cap is reached.
        assert_eq!(decoder.inflate_members(&member.repeat(100_000)), Err(DecodeError::InflatesPastCap { cap }));
        // One member past the cap, after members below it.
        let mut mixed = member.repeat(8);
        mixed.extend_from_slice(&gzip(&vec![b'b'; cap]));
        assert_eq!(decoder.inflate_members(&mixed), Err(DecodeError::InflatesPastCap { cap }));
    }

    #[test]
    fn members_are_checked_to_the_last_byte() {
        let mut decoder = Decoder::new(DEFAULT_MAX_INFLATED_BYTES);
        let mut two = gzip(b"one\n");
        two.extend_from_slice(&gzip(b""));
        two.extend_from_slice(&gzip(b"two\n"));
        assert_eq!(decoder.inflate_members(&two).unwrap(), b"one\ntwo\n");
        assert_eq!(decoder.inflate_members(&gzip(b"single\n")).unwrap(), b"single\n");

        let mut trailing = two.clone();
        trailing.extend_from_slice(b"\0\0\0");
        let error = decoder.inflate_members(&trailing).unwrap_err();
        assert!(matches!(&error, DecodeError::BadGzip { reason } if reason.contains("after the last gzip member")), "{error}");
        let truncated = &two[..two.len() - 3];
        assert!(matches!(decoder.inflate_members(truncated), Err(DecodeError::BadGzip { .. })));
        let mut corrupt = two.clone();
        let last = corrupt.len() - 6;
        corrupt[last] ^= 0xff;
        assert!(matches!(decoder.inflate_members(&corrupt), Err(DecodeError::BadGzip { .. })), "a bad CRC-32 is found");
        assert!(matches!(decoder.inflate_members(b"not gzip at all, not at all"), Err(DecodeError::NotGzip { .. })));
    }
}
