//! JSON string literals written straight to text: the one escaper the host (documents, `_bulk`
//! bodies) and guests (fields written as text) share.
//!
//! Log text rarely needs escaping, so the scan looks at eight bytes at a time and copies runs
//! that need nothing in one go.

/// Appends `text` as a JSON string literal, quotes included, to bytes.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    escape(text, |piece| out.extend_from_slice(piece.as_bytes()));
    out.push(b'"');
}

/// Appends `text` as a JSON string literal, quotes included, to a string.
pub fn push_str(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    escape(text, |piece| out.push_str(piece));
    out.push('"');
}

/// Calls `emit` with the escaped text in pieces: runs of `text` that need nothing, and escapes.
#[inline(always)]
fn escape(text: &str, mut emit: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes.get(at..at + 8) {
            let mask = escape_mask(u64::from_le_bytes(word.try_into().expect("eight bytes")));
            if mask == 0 {
                at += 8;
                continue;
            }
            // The lowest flagged byte is exact (a false flag can only sit above a true one),
            // so jump straight to it.
            at += (mask.trailing_zeros() / 8) as usize;
        }
        let escaped = match bytes[at] {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            control @ 0x00..=0x1f => CONTROL[control as usize],
            _ => {
                at += 1;
                continue;
            }
        };
        // `at` is an ASCII byte, so both slices end on character boundaries.
        emit(&text[start..at]);
        emit(escaped);
        at += 1;
        start = at;
    }
    emit(&text[start..]);
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
fn escape_mask(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;

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
