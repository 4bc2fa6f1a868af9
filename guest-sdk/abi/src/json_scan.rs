//! JSON text checked without building it: the host checks every transform's fields with this
//! before it copies them into a document, and transforms can use it to look inside JSON log lines
//! they will pass on as text.
//!
//! [`object_members`] checks that a text is exactly one JSON object (RFC 8259, with whitespace
//! around it) and reports where each top-level member's key and value are, so that they can be
//! read or copied without a tree or an allocation. Strings are scanned sixteen or eight bytes at
//! a time, with the escaper's byte tests.
//!
//! It is as strict as a parse into a value: `\u` escapes must pair surrogates, and nesting stops
//! at [`MAX_DEPTH`]. Numbers are checked for their grammar only, not their range.
//!
//! ```
//! use sluicegate_abi::json_scan::{object_members, unescape};
//!
//! let text = r#"{"level":"w\u0041rn","n":[1,2]}"#;
//! let mut keys = Vec::new();
//! object_members(text, |member| keys.push((member.key(text).to_owned(), member.value(text).to_owned()))).unwrap();
//! assert_eq!(keys, [("level".to_owned(), r#""w\u0041rn""#.to_owned()), ("n".to_owned(), "[1,2]".to_owned())]);
//! assert_eq!(unescape(r"w\u0041rn"), "wArn");
//! assert!(object_members("[1]", |_| ()).unwrap_err().is_not_an_object());
//! ```

use std::borrow::Cow;

/// How deeply arrays and objects may nest (the top-level object counts): serde_json's limit, so
/// that what passes here also parses into a value.
pub const MAX_DEPTH: usize = 127;

/// One member of an object: where its key (between the quotes, escapes as written) and its value
/// (the whole value's text) are in the text that was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
    key_is_escaped: bool,
}

impl Member {
    /// The key as written between its quotes; see [`Member::key_is_escaped`].
    #[inline]
    pub fn key<'t>(&self, text: &'t str) -> &'t str {
        &text[self.key_start..self.key_end]
    }

    /// The key's text, its escapes decoded.
    #[inline]
    pub fn decoded_key<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.key_is_escaped { unescape(self.key(text)) } else { Cow::Borrowed(self.key(text)) }
    }

    /// Whether the key, its escapes decoded, is `key`: compared as bytes, without a decoded
    /// copy, when it has no escapes (nearly always).
    #[inline]
    pub fn key_is(&self, text: &str, key: &str) -> bool {
        if self.key_is_escaped {
            unescape(self.key(text)) == key
        } else {
            text.as_bytes().get(self.key_start..self.key_end) == Some(key.as_bytes())
        }
    }

    /// Whether the key holds a backslash escape, so that [`Member::key`] is not its text.
    #[inline]
    pub fn key_is_escaped(&self) -> bool {
        self.key_is_escaped
    }

    /// The value's JSON text.
    #[inline]
    pub fn value<'t>(&self, text: &'t str) -> &'t str {
        &text[self.value_start..self.value_end]
    }

    /// The value's text when it is a JSON string, its escapes decoded.
    pub fn string_value<'t>(&self, text: &'t str) -> Option<Cow<'t, str>> {
        let value = self.value(text);
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        Some(unescape(inner))
    }

    /// Where the member starts (its key's opening quote) in the text.
    #[inline]
    pub fn start(&self) -> usize {
        self.key_start - 1
    }

    /// Where the member's value ends in the text.
    #[inline]
    pub fn end(&self) -> usize {
        self.value_end
    }
}

/// Why a text is not what was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    at: usize,
    reason: &'static str,
}

impl Invalid {
    /// The byte offset where the text went wrong.
    pub fn at(&self) -> usize {
        self.at
    }

    /// Whether the text is valid JSON, only not an object.
    pub fn is_not_an_object(&self) -> bool {
        self.reason == NOT_AN_OBJECT
    }
}

const NOT_AN_OBJECT: &str = "not a json object";

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_not_an_object() { f.write_str(self.reason) } else { write!(f, "{} at byte {}", self.reason, self.at) }
    }
}

impl std::error::Error for Invalid {}

/// What [`object_members`] saw of a text it passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    line_breaks: bool,
}

impl Scanned {
    /// Whether a raw line break (`\n` or `\r`) stands between the text's tokens. Valid JSON can
    /// hold one nowhere else (inside strings it must be escaped), so without one the text is on
    /// one line, which NDJSON writers need to know.
    pub fn has_line_breaks(&self) -> bool {
        self.line_breaks
    }
}

/// Checks that `text` is one JSON object and calls `member` with each of its top-level members,
/// in order (a repeated key is reported each time).
pub fn object_members(text: &str, mut member: impl FnMut(Member)) -> Result<Scanned, Invalid> {
    let mut scan = Scanner { bytes: text.as_bytes(), at: 0, line_breaks: false };
    scan.skip_whitespace();
    if scan.peek() != Some(b'{') {
        // Say "not an object" only of valid JSON, as a parse would.
        scan.value()?;
        scan.end()?;
        return Err(Invalid { at: 0, reason: NOT_AN_OBJECT });
    }
    scan.at += 1;
    scan.skip_whitespace();
    if scan.peek() == Some(b'}') {
        scan.at += 1;
    } else {
        loop {
            let (key_start, key_is_escaped) = scan.key()?;
            let key_end = scan.at - 1;
            scan.skip_whitespace();
            scan.expect(b':', "expected `:`")?;
            scan.skip_whitespace();
            let value_start = scan.at;
            scan.nested_value(1)?;
            member(Member { key_start, key_end, value_start, value_end: scan.at, key_is_escaped });
            scan.skip_whitespace();
            match scan.next() {
                Some(b',') => scan.skip_whitespace(),
                Some(b'}') => break,
                _ => return Err(scan.error_before("expected `,` or `}`")),
            }
        }
    }
    scan.end()?;
    Ok(Scanned { line_breaks: scan.line_breaks })
}

/// Checks that `text` is one JSON value, with nothing but whitespace around it.
pub fn check(text: &str) -> Result<(), Invalid> {
    let mut scan = Scanner { bytes: text.as_bytes(), at: 0, line_breaks: false };
    scan.skip_whitespace();
    scan.value()?;
    scan.end()
}

/// Decodes the escapes of a JSON string's contents (the text between its quotes); borrows when
/// there are none. Text that [`object_members`] or [`check`] passed decodes exactly; a malformed
/// escape elsewhere becomes U+FFFD rather than an error.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(slash) = rest.find('\\') {
        out.push_str(&rest[..slash]);
        let escape = &rest[slash + 1..];
        let (character, used) = match escape.as_bytes().first() {
            Some(b'"') => ('"', 1),
            Some(b'\\') => ('\\', 1),
            Some(b'/') => ('/', 1),
            Some(b'b') => ('\u{8}', 1),
            Some(b'f') => ('\u{c}', 1),
            Some(b'n') => ('\n', 1),
            Some(b'r') => ('\r', 1),
            Some(b't') => ('\t', 1),
            Some(b'u') => decode_unicode_escape(&escape.as_bytes()[1..]).map_or(('\u{fffd}', 1), |(character, used)| (character, used + 1)),
            _ => ('\u{fffd}', 0),
        };
        out.push(character);
        // Escapes are ASCII, so `used` ends on a character boundary.
        rest = &escape[used..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character of the `XXXX` (and, for a surrogate pair, `\uYYYY`) after `\u`, and how many
/// bytes it took.
fn decode_unicode_escape(bytes: &[u8]) -> Option<(char, usize)> {
    let high = hex4(bytes)?;
    match high {
        0xd800..=0xdbff => {
            let low = bytes.get(4..6).filter(|pair| *pair == b"\\u").and_then(|_| hex4(&bytes[6..]))?;
            if !(0xdc00..=0xdfff).contains(&low) {
                return None;
            }
            let code = 0x10000 + ((u32::from(high) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
            Some((char::from_u32(code)?, 10))
        }
        0xdc00..=0xdfff => None,
        _ => Some((char::from_u32(u32::from(high))?, 4)),
    }
}

/// The value of four hex digits at the start of `bytes`.
fn hex4(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.get(..4)?;
    digits.iter().try_fold(0u16, |value, &digit| Some(value << 4 | (digit as char).to_digit(16)? as u16))
}

struct Scanner<'b> {
    bytes: &'b [u8],
    at: usize,
    /// Whether whitespace skipped so far held a `\n` or `\r`.
    line_breaks: bool,
}

impl Scanner<'_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn error(&self, reason: &'static str) -> Invalid {
        Invalid { at: self.at, reason }
    }

    /// An error at the byte just taken.
    fn error_before(&self, reason: &'static str) -> Invalid {
        Invalid { at: self.at.saturating_sub(1), reason }
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), Invalid> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(reason))
        }
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' => {}
                b'\n' | b'\r' => self.line_breaks = true,
                _ => return,
            }
            self.at += 1;
        }
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Result<(), Invalid> {
        self.skip_whitespace();
        if self.at == self.bytes.len() { Ok(()) } else { Err(self.error("trailing characters")) }
    }

    /// A key: its string, returning where its contents start and whether it has escapes.
    #[inline(always)]
    fn key(&mut self) -> Result<(usize, bool), Invalid> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string key"));
        }
        let start = self.at + 1;
        Ok((start, self.string()?))
    }

    /// One value at the top level.
    fn value(&mut self) -> Result<(), Invalid> {
        self.nested_value(0)
    }

    /// One value inside `depth` containers. Containers nest without recursion: a bit per level
    /// says whether it is an object.
    fn nested_value(&mut self, depth: usize) -> Result<(), Invalid> {
        let outer = depth;
        let mut depth = depth;
        // Bit `level - outer - 1` is set when that level is an object.
        let mut is_object: u128 = 0;
        loop {
            // A value starts here.
            match self.peek() {
                Some(b'"') => {
                    self.string()?;
                }
                Some(open @ (b'{' | b'[')) => {
                    if depth >= MAX_DEPTH {
                        return Err(self.error("nesting too deep"));
                    }
                    self.at += 1;
                    self.skip_whitespace();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        let level = depth - outer;
                        depth += 1;
                        if open == b'{' {
                            is_object |= 1 << level;
                            self.member_head()?;
                        } else {
                            is_object &= !(1 << level);
                        }
                        continue;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.error("expected a value")),
                None => return Err(self.error("unexpected end, expected a value")),
            }
            // A value ended: close what it ends, until the next value starts.
            loop {
                if depth == outer {
                    return Ok(());
                }
                let level = depth - outer - 1;
                let in_object = is_object >> level & 1 == 1;
                self.skip_whitespace();
                match (in_object, self.next()) {
                    (true, Some(b',')) => {
                        self.skip_whitespace();
                        self.member_head()?;
                        break;
                    }
                    (false, Some(b',')) => {
                        self.skip_whitespace();
                        break;
                    }
                    (true, Some(b'}')) | (false, Some(b']')) => depth -= 1,
                    (true, _) => return Err(self.error_before("expected `,` or `}`")),
                    (false, _) => return Err(self.error_before("expected `,` or `]`")),
                }
            }
        }
    }

    /// `"key" :` and the whitespace before the value.
    #[inline(always)]
    fn member_head(&mut self) -> Result<(), Invalid> {
        self.key()?;
        self.skip_whitespace();
        self.expect(b':', "expected `:`")?;
        self.skip_whitespace();
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), Invalid> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(())
        } else {
            Err(self.error("expected a value"))
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and finite as a double, as
    /// serde_json requires (`5e426` is "number out of range" there).
    fn number(&mut self) -> Result<(), Invalid> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error_before("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.one_or_more_digits()?;
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = self.peek() {
            exponent = true;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.one_or_more_digits()?;
        }
        // Only a number with an exponent or over 300 digits can reach past a double's range.
        if (exponent || self.at - start > 300) && !self.number_is_finite(start) {
            return Err(self.error_before("number out of range"));
        }
        Ok(())
    }

    fn number_is_finite(&self, start: usize) -> bool {
        std::str::from_utf8(&self.bytes[start..self.at]).ok().and_then(|text| text.parse::<f64>().ok()).is_some_and(f64::is_finite)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn one_or_more_digits(&mut self) -> Result<(), Invalid> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }

    /// A string from its opening quote; says whether it had escapes. The text is `str`, so only
    /// the quote, backslash and control bytes need looking at: runs of other bytes are skipped
    /// sixteen or eight at a time.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Invalid> {
        self.at += 1;
        let bytes = self.bytes;
        let mut escaped = false;
        loop {
            // A flagged byte found by either step goes straight to the byte match: the eight-byte
            // step after a sixteen-byte hit would only find the same byte again.
            'flagged: {
                #[cfg(sluicegate_simd)]
                while self.at + 16 <= bytes.len() {
                    let mask = crate::json_text::simd::escape_mask(bytes, self.at);
                    if mask != 0 {
                        self.at += mask.trailing_zeros() as usize;
                        break 'flagged;
                    }
                    self.at += 16;
                }
                while let Some(word) = bytes.get(self.at..self.at + 8) {
                    let mask = crate::json_text::escape_mask(u64::from_le_bytes(word.try_into().expect("eight bytes")));
                    if mask != 0 {
                        // The lowest flagged byte is exact.
                        self.at += (mask.trailing_zeros() / 8) as usize;
                        break 'flagged;
                    }
                    self.at += 8;
                }
            }
            match self.next() {
                Some(b'"') => return Ok(escaped),
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0x00..=0x1f) => return Err(self.error_before("control character in string")),
                Some(_) => {}
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// The escape after a backslash.
    fn escape(&mut self) -> Result<(), Invalid> {
        match self.next() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(()),
            Some(b'u') => {
                let start = self.at - 2;
                match decode_unicode_escape(&self.bytes[self.at..]) {
                    Some((_, used)) => {
                        self.at += used;
                        Ok(())
                    }
                    None => Err(Invalid { at: start, reason: "invalid \\u escape or lone surrogate" }),
                }
            }
            _ => Err(self.error_before("invalid escape")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Result<Vec<(String, String)>, Invalid> {
        let mut found = Vec::new();
        object_members(text, |member| found.push((member.decoded_key(text).into_owned(), member.value(text).to_owned())))?;
        Ok(found)
    }

    #[test]
    fn key_is_compares_the_decoded_key() {
        let text = r#"{"level":1,"le\u0076el":2,"lev":3,"level2":4,"\"q\"":5}"#;
        let mut found = Vec::new();
        object_members(text, |member| found.push(member)).unwrap();
        for member in &found {
            for key in ["level", "lev", "level2", "\"q\"", "le\\u0076el", ""] {
                assert_eq!(member.key_is(text, key), member.decoded_key(text) == key, "{:?} against {key:?}", member.key(text));
            }
        }
        assert_eq!(found.iter().filter(|member| member.key_is(text, "level")).count(), 2);
    }

    #[test]
    fn line_breaks_between_tokens_are_reported() {
        let scanned = |text: &str| object_members(text, |_| ()).unwrap().has_line_breaks();
        assert!(!scanned(r#"{"a":"x\ny","b":[1, 2]}"#));
        assert!(scanned("{\"a\":\n1}"));
        assert!(scanned("{\"a\":[1,\r2]}"));
        assert!(scanned("{}\n"));
        assert!(!scanned(" {\t} "));
    }

    /// What serde_json says of the same text, parsed to a value (the strict reading).
    fn serde_verdict(text: &str) -> Result<bool, ()> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => Ok(value.is_object()),
            Err(_) => Err(()),
        }
    }

    #[test]
    fn members_key_and_value_ranges() {
        let text = " {\"a\" : 1 ,\"b\\\"c\":{\"x\":[true,false,null,\"]\"]},\"d\":-0.5e+3}\n";
        assert_eq!(
            members(text).unwrap(),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b\"c".to_owned(), r#"{"x":[true,false,null,"]"]}"#.to_owned()),
                ("d".to_owned(), "-0.5e+3".to_owned())
            ]
        );
        let mut spans = Vec::new();
        object_members(text, |member| spans.push(&text[member.start()..member.end()])).unwrap();
        assert_eq!(spans, ["\"a\" : 1", "\"b\\\"c\":{\"x\":[true,false,null,\"]\"]}", "\"d\":-0.5e+3"]);
        assert_eq!(members("{}").unwrap(), []);
        assert_eq!(members(r#"{"a":1,"a":2}"#).unwrap().len(), 2);
    }

    #[test]
    fn errors_say_what_and_where() {
        let error = object_members(r#"{"a":1,}"#, |_| ()).unwrap_err();
        assert_eq!(error.to_string(), "expected a string key at byte 7");
        assert_eq!(object_members(r#"{"a":1} x"#, |_| ()).unwrap_err().to_string(), "trailing characters at byte 8");
        assert_eq!(object_members("\"a\"", |_| ()).unwrap_err().to_string(), "not a json object");
        assert!(!object_members("x", |_| ()).unwrap_err().is_not_an_object());
        assert_eq!(object_members(r#"{"a":"\ud800"}"#, |_| ()).unwrap_err().at(), 6);
    }

    #[test]
    fn nesting_stops_at_the_limit() {
        let nested = |depth: usize| format!("{{\"a\":{}1{}}}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        assert!(object_members(&nested(MAX_DEPTH), |_| ()).is_ok());
        assert_eq!(
            object_members(&nested(MAX_DEPTH + 1), |_| ()).unwrap_err().to_string(),
            format!("nesting too deep at byte {}", 5 + MAX_DEPTH - 1)
        );
        // Deep enough to overflow a recursive checker's stack, without any recursion here.
        assert!(check(&"[".repeat(1_000_000)).is_err());
        assert_eq!(serde_verdict(&nested(MAX_DEPTH)), Ok(true));
        assert!(serde_verdict(&nested(MAX_DEPTH + 1)).is_err());
    }

    #[test]
    fn unescape_decodes_every_escape() {
        assert_eq!(unescape(r#"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"#), "a\"b\\c/d\u{8}\u{c}\n\r\té😀");
        assert!(matches!(unescape("plain é"), Cow::Borrowed("plain é")));
        assert_eq!(unescape(r"bad\x \ud800 end\"), "bad\u{fffd}x \u{fffd}d800 end\u{fffd}");
    }

    #[test]
    fn string_values_decode() {
        let text = r#"{"level":"w\u0041rn","n":1}"#;
        let mut values = Vec::new();
        object_members(text, |member| values.push(member.string_value(text).map(Cow::into_owned))).unwrap();
        assert_eq!(values, [Some("wArn".to_owned()), None]);
    }

    /// Cases a checker gets wrong, each against serde_json's parse.
    #[test]
    fn agrees_with_serde_json_on_tricky_texts() {
        let cases = [
            "{}",
            " { } ",
            "{\"a\":1}",
            "{\"a\":01}",
            "{\"a\":-}",
            "{\"a\":-0}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":1e}",
            "{\"a\":1e+}",
            "{\"a\":1E-7}",
            "{\"a\":tru}",
            "{\"a\":truex}",
            "{\"a\":nul}",
            "{\"a\":\"\t\"}",
            "{\"a\":\"\\t\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\\ud800\\u0041\"}",
            "{\"a\":\"\\ud800\\udc00\"}",
            "{\"a\":[}",
            "{\"a\":[1,]}",
            "{\"a\":[,1]}",
            "{\"a\":{\"b\"}}",
            "{\"a\":{\"b\":}}",
            "{\"a\":{1:2}}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1,,\"b\":2}",
            "{\"a\":1}}",
            "{\"a\":1",
            "{\"a",
            "{",
            "",
            " ",
            "[]",
            "1",
            "\"s\"",
            "null",
            "{\"a\":1}\u{0}",
            "{\"a\":\"é\u{2028}\"}",
            "{\"a\":[[[]]],\"b\":{\"c\":{}}}",
            "{\"a\":\"abcdefghijklmnopqrstuvwxyz\\\"0123456789\"}",
            "{\"\":0}",
            "{\"a\":1}\n",
            "\u{feff}{}",
            "{\"a\":\"\u{7f}\"}",
            "{\"a\":-01}",
            "{\"a\":1.5e3.2}",
            "{\"a\":[1 2]}",
            "{\"a\":5e426}",
            "{\"a\":1e308}",
            "{\"a\":-1.8e308}",
            "5e426",
        ];
        for text in cases {
            let ours = object_members(text, |_| ()).map(|_| ()).map_err(|error| error.is_not_an_object());
            let expected = match serde_verdict(text) {
                Ok(true) => Ok(()),
                Ok(false) => Err(true),
                Err(()) => Err(false),
            };
            assert_eq!(ours, expected, "{text:?}");
        }
    }

    /// Every single-byte change of a few valid documents, at every position, against serde_json.
    #[test]
    fn agrees_with_serde_json_on_every_one_byte_change() {
        let documents = [
            r#"{"level":"info","n":-12.5e+3,"ok":true,"no":null,"list":[1,{"x":"a\"b\\c\u00e9\ud83d\ude00"},[]],"o":{}}"#,
            r#"{"msg":"abcdefghijklmnopqrstuvwxyz 0123456789 ABCDEFGHIJ","f":false,"z":0}"#,
        ];
        let replacements = b"{}[],:\"\\ -+.eE0159aftnulx\tu\n\x01\x7f";
        let mut n_checked = 0;
        for document in documents {
            for at in 0..document.len() {
                for &byte in replacements {
                    for delete in [false, true] {
                        let mut bytes = document.as_bytes().to_vec();
                        if delete {
                            bytes.remove(at);
                        } else {
                            bytes[at] = byte;
                        }
                        let Ok(text) = String::from_utf8(bytes) else { continue };
                        let ours = object_members(&text, |_| ()).map(|_| ()).map_err(|error| error.is_not_an_object());
                        // A raw line break in text that passed is whitespace between tokens, and
                        // is reported.
                        if let Ok(scanned) = object_members(&text, |_| ()) {
                            assert_eq!(scanned.has_line_breaks(), text.contains(['\n', '\r']), "{text:?}");
                        }
                        let expected = match serde_verdict(&text) {
                            Ok(true) => Ok(()),
                            Ok(false) => Err(true),
                            Err(()) => Err(false),
                        };
                        assert_eq!(ours, expected, "{text:?}");
                        if ours.is_ok() {
                            // Each member's value text is that key's value.
                            let whole: serde_json::Value = serde_json::from_str(&text).unwrap();
                            let found = members(&text).unwrap();
                            if found.iter().enumerate().any(|(idx, (key, _))| found[..idx].iter().any(|(earlier, _)| earlier == key)) {
                                continue;
                            }
                            for (key, value) in found {
                                assert_eq!(serde_json::from_str::<serde_json::Value>(&value).unwrap(), whole[&key], "{text:?}");
                            }
                        }
                        n_checked += 1;
                    }
                }
            }
        }
        assert!(n_checked > 5_000);
    }
}
