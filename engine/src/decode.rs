//! Record decoding: base64 (done by the caller), capped gunzip, then the CloudWatch Logs
//! subscription JSON with simd-json.
//!
//! Every failure is a [`DecodeError`] that the pipeline turns into a rejection of that record;
//! nothing here aborts a batch.

use std::borrow::Cow;
use std::fmt;

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
    decompressor: libdeflater::Decompressor,
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
        Decoder { decompressor: libdeflater::Decompressor::new(), json_buffers: simd_json::Buffers::new(64 * 1024), max_inflated_bytes }
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
            let mut out = vec![0u8; size];
            match self.decompressor.gzip_decompress(gzip, &mut out) {
                Ok(n_bytes) => {
                    out.truncate(n_bytes);
                    return Ok(out);
                }
                Err(libdeflater::DecompressionError::InsufficientSpace) if size < cap => {
                    size = size.saturating_mul(4).min(cap);
                }
                Err(libdeflater::DecompressionError::InsufficientSpace) => {
                    return Err(DecodeError::InflatesPastCap { cap });
                }
                Err(libdeflater::DecompressionError::BadData) => {
                    return Err(DecodeError::BadGzip { reason: "corrupt or truncated deflate data".to_owned() });
                }
            }
        }
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
