//! JSON string literals written straight to text: the one escaper the host (documents, `_bulk`
//! bodies) and guests (fields written as text) share.
//!
//! The scan looks at sixteen bytes at a time (SIMD where the target has it at build time), then
//! eight: a chunk that needs nothing is copied whole; in one that needs an escape the runs
//! between the bytes to escape are copied whole and those bytes written from a table; into bytes
//! ([`write_str`]) or a string ([`push_str`]).

/// Appends `text` as a JSON string literal, quotes included, to bytes.
///
/// Chunks that need nothing are copied whole. In a sixteen-byte chunk that needs an escape the
/// runs between the bytes to escape are copied with [`extend_short`] (no call to `memcpy`, which
/// for runs this short costs more than the bytes) and the flagged bytes written from a table;
/// the eight-byte step, whose test is exact only for its lowest byte, writes its chunk a byte at
/// a time. Log lines that hold JSON escape a quote every few bytes.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut at = 0;
    #[cfg(sluicegate_simd)]
    while let Some(chunk) = bytes.get(at..at + 16) {
        let chunk: &[u8; 16] = chunk.try_into().expect("sixteen bytes");
        let mut mask = simd::escape_mask(bytes, at);
        if mask == 0 {
            out.extend_from_slice(chunk);
        } else {
            // The mask is exact: the runs between the bytes it flags are copied whole, and only
            // the flagged bytes go through the table.
            out.reserve(ESCAPED_CHUNK_ROOM);
            let mut from = 0;
            while mask != 0 {
                let flagged = mask.trailing_zeros() as usize;
                extend_short(out, &chunk[from..flagged]);
                push_escaped(out, chunk[flagged]);
                from = flagged + 1;
                mask &= mask - 1;
            }
            extend_short(out, &chunk[from..]);
        }
        at += 16;
    }
    while let Some(chunk) = bytes.get(at..at + 8) {
        let chunk: &[u8; 8] = chunk.try_into().expect("eight bytes");
        if escape_mask(u64::from_le_bytes(*chunk)) == 0 {
            out.extend_from_slice(chunk);
        } else {
            out.reserve(ESCAPED_CHUNK_ROOM);
            for &byte in chunk {
                push_escaped(out, byte);
            }
        }
        at += 8;
    }
    // The last bytes, fewer than eight: nearly always none needs escaping, and then they are
    // copied at once instead of pushed one by one.
    let rest = &bytes[at..];
    if tail_may_need_escape(bytes, at) {
        for &byte in rest {
            push_escaped(out, byte);
        }
    } else {
        extend_short(out, rest);
    }
    out.push(b'"');
}

/// Whether a byte of `bytes[at..]` (fewer than eight) may need escaping: never `false` when one
/// does. Tested with loads that end at the text's end (and so may take in bytes before `at`,
/// whose flags can only add false alarms, which cost the byte-by-byte path and nothing else),
/// never past it.
#[inline(always)]
fn tail_may_need_escape(bytes: &[u8], at: usize) -> bool {
    let len = bytes.len();
    let rest = len - at;
    debug_assert!(rest < 8);
    if rest == 0 {
        return false;
    }
    #[cfg(sluicegate_simd)]
    if len >= 16 {
        return simd::escape_mask(bytes, len - 16) >> (16 - rest) != 0;
    }
    let word = if len >= 8 {
        u64::from_le_bytes(bytes[len - 8..].try_into().expect("eight bytes")) >> ((8 - rest) * 8)
    } else if rest >= 4 {
        let quarter = |from: usize| u64::from(u32::from_le_bytes(bytes[from..from + 4].try_into().expect("four bytes")));
        quarter(at) | quarter(len - 4) << 32
    } else {
        // One to three bytes, each taken at least once; the rest of the word is plain.
        u64::from_le_bytes([bytes[at], bytes[at + rest / 2], bytes[len - 1], b'a', b'a', b'a', b'a', b'a'])
    };
    // The shift above leaves zero bytes on top, which the test would flag: they are made plain.
    let filled = if len >= 8 && rest < 8 { word | (u64::from_le_bytes([b'a'; 8]) << (rest * 8)) } else { word };
    escape_mask(filled) != 0
}

/// Room for a chunk of sixteen bytes escaped, all six-byte `\u00XX` at worst.
const ESCAPED_CHUNK_ROOM: usize = 16 * 6;

/// Appends one byte of a string, escaped when it must be.
#[inline(always)]
fn push_escaped(out: &mut Vec<u8>, byte: u8) {
    match ESCAPES[byte as usize] {
        0 => out.push(byte),
        b'u' => out.extend_from_slice(CONTROL[byte as usize].as_bytes()),
        short => out.extend_from_slice(&[b'\\', short]),
    }
}

/// Per byte, 0 when it goes as it is, else the letter after the backslash of its escape (`u` for
/// `\u00XX`).
const ESCAPES: [u8; 256] = {
    let mut table = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `text` as a JSON string literal, quotes included, to a string: [`write_str`] into its
/// bytes (measured in the guests against a scan that copied the runs between escapes: see
/// docs/wasm.md).
pub fn push_str(out: &mut String, text: &str) {
    // SAFETY: `write_str` appends every byte of `text` in order, each either as it is or, when
    // it is ASCII, replaced by an ASCII escape, so the string's bytes stay UTF-8.
    write_str(unsafe { out.as_mut_vec() }, text);
}

/// Appends `bytes`; up to 32 of them without a call to `memcpy`. Compiled to Wasm, a copy of a
/// length not known in advance is `memory.copy`, which wasmtime runs as a call into the runtime
/// (about 45 instructions, more than a short key or value takes to copy): two overlapping loads
/// and stores of the largest width that fits do it instead.
#[inline(always)]
pub fn extend_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    if len > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(len);
    let src = bytes.as_ptr();
    // SAFETY: `len` bytes are reserved after the vector's end; every read stays inside `bytes`
    // and every write inside `dst..dst + len` (the two of each width overlap when `len` is not
    // twice it), so once written those bytes are `bytes`, and the length may cover them.
    unsafe {
        let dst = out.as_mut_ptr().add(out.len());
        macro_rules! two {
            ($width:ty) => {{
                let size = std::mem::size_of::<$width>();
                let (first, last) = (src.cast::<$width>().read_unaligned(), src.add(len - size).cast::<$width>().read_unaligned());
                dst.cast::<$width>().write_unaligned(first);
                dst.add(len - size).cast::<$width>().write_unaligned(last);
            }};
        }
        match len {
            16.. => two!(u128),
            8.. => two!(u64),
            4.. => two!(u32),
            1.. => {
                *dst = *src;
                *dst.add(len / 2) = *src.add(len / 2);
                *dst.add(len - 1) = *src.add(len - 1);
            }
            0 => {}
        }
        out.set_len(out.len() + len);
    }
}

/// [`extend_short`] for text.
#[inline(always)]
pub fn push_short(out: &mut String, text: &str) {
    // SAFETY: a whole `str` is appended, so the string's bytes stay UTF-8.
    extend_short(unsafe { out.as_mut_vec() }, text.as_bytes());
}

/// `\u00XX` for every control character (the short escapes above take precedence).
const CONTROL: [&str; 32] = [
    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\u0008", "\\u0009", "\\u000a", "\\u000b",
    "\\u000c", "\\u000d", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
];

/// High bits set on the bytes of `word` (little-endian) that are `"`, `\\` or a control
/// character (below 0x20); zero when none is.
///
/// The classic SWAR tests: `(x - 0x01..) & !x & 0x80..` is non-zero exactly when some byte of `x`
/// is zero, and with `0x20..` instead of `0x01..`, when some byte is below 0x20.
#[inline(always)]
pub(crate) fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

/// Sixteen bytes at a time, with the SIMD every target of ours has at build time: SSE2 (part of
/// x86_64) on the host, Wasm SIMD in the built-in transforms (`+simd128`).
#[cfg(sluicegate_simd)]
pub(crate) mod simd {
    /// One bit per byte of `bytes[at..at + 16]` (which must exist) that is `"`, `\\` or below 0x20.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    pub(crate) fn escape_mask(bytes: &[u8], at: usize) -> u32 {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_setzero_si128, _mm_subs_epu8,
        };
        assert!(at + 16 <= bytes.len());
        // SAFETY: the sixteen bytes are inside `bytes` (checked above) and the load is unaligned;
        // SSE2, which the other intrinsics need, is enabled at build time (the cfg above).
        unsafe {
            let chunk = _mm_loadu_si128(bytes.as_ptr().add(at).cast());
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            // Unsigned: a byte at most 0x1f saturates to zero.
            let control = _mm_cmpeq_epi8(_mm_subs_epu8(chunk, _mm_set1_epi8(0x1f)), _mm_setzero_si128());
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        }
    }

    /// One bit per byte of `bytes[at..at + 16]` (which must exist) that is `"`, `\\` or below 0x20.
    #[cfg(target_arch = "wasm32")]
    #[inline(always)]
    pub(crate) fn escape_mask(bytes: &[u8], at: usize) -> u32 {
        use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128_load, v128_or};
        assert!(at + 16 <= bytes.len());
        // SAFETY: the sixteen bytes are inside `bytes` (checked above); v128_load reads unaligned.
        let chunk = unsafe { v128_load(bytes.as_ptr().add(at).cast()) };
        let quote = u8x16_eq(chunk, u8x16_splat(b'"'));
        let backslash = u8x16_eq(chunk, u8x16_splat(b'\\'));
        let control = u8x16_lt(chunk, u8x16_splat(0x20));
        u32::from(u8x16_bitmask(v128_or(v128_or(quote, backslash), control)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_extensions_append_exactly_the_bytes() {
        let source: Vec<u8> = (0..40u8).map(|byte| byte.wrapping_mul(37).wrapping_add(1)).collect();
        for prefix in 0..3 {
            for len in 0..=source.len() {
                let mut out = vec![0xee; prefix];
                extend_short(&mut out, &source[..len]);
                assert_eq!(out.len(), prefix + len);
                assert!(out[..prefix].iter().all(|&byte| byte == 0xee));
                assert_eq!(&out[prefix..], &source[..len], "length {len}");
            }
        }
        let mut text = String::from("é");
        push_short(&mut text, "ab\"ü");
        assert_eq!(text, "éab\"ü");
    }

    /// The escaper written plainly, a byte at a time.
    fn reference(text: &str) -> String {
        let mut out = String::from("\"");
        for character in text.chars() {
            match character {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                control if u32::from(control) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(control))),
                other => out.push(other),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn every_escape_at_every_position_of_the_wide_and_narrow_steps() {
        let plain = "GET /api/orders?id=42 HTTP/1.1 200 é ".repeat(2);
        for at in 0..=plain.len() {
            if !plain.is_char_boundary(at) {
                continue;
            }
            for special in ['"', '\\', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{1f}', '\u{7f}', 'ÿ'] {
                let mut text = plain.clone();
                text.insert(at, special);
                let mut out = String::new();
                push_str(&mut out, &text);
                assert_eq!(out, reference(&text), "{special:?} at {at}");
                let mut bytes = Vec::new();
                write_str(&mut bytes, &text);
                assert_eq!(bytes, out.as_bytes());
            }
        }
    }

    #[test]
    fn every_escape_at_every_position_of_short_texts() {
        // The tail's test loads words that end at the text's end: every length up to 24, every
        // special byte at every position, after prefixes that may themselves need escaping.
        let plain = "abcdefghijklmnopqrstuvwx";
        for len in 0..=plain.len() {
            for at in 0..=len {
                for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', 'é'] {
                    let mut text = plain[..len].to_owned();
                    text.insert(at, special);
                    let mut bytes = Vec::new();
                    write_str(&mut bytes, &text);
                    assert_eq!(String::from_utf8(bytes).unwrap(), reference(&text), "{special:?} at {at} of {len}");
                }
                let mut bytes = Vec::new();
                write_str(&mut bytes, &plain[..len]);
                assert_eq!(bytes, format!("\"{}\"", &plain[..len]).as_bytes());
            }
        }
    }

    #[test]
    fn short_and_unicode_escapes() {
        let mut out = String::new();
        push_str(&mut out, "a\"b\\c\nd\re\tf\u{1}g\u{1f}h é");
        assert_eq!(out, r#""a\"b\\c\nd\re\tf\u0001g\u001fh é""#);
        let mut bytes = Vec::new();
        write_str(&mut bytes, "a\"b\\c\nd\re\tf\u{1}g\u{1f}h é");
        assert_eq!(bytes, out.as_bytes());
    }
}
