//! The `redact` transform: finds secrets and personal data in the message and in string fields and
//! masks, hashes or partly hides them.
//!
//! ```json
//! {
//!   "detectors": ["email", "credit_card", "ipv4", "ipv6", "aws_access_key", "aws_secret_key", "jwt", "bearer"],
//!   "patterns": [{"name": "employee", "regex": "EMP-[0-9]{6}"}],
//!   "mode": "mask",
//!   "key": "for the keyed hash",
//!   "fields": ["user.email"]
//! }
//! ```
//!
//! `detectors` defaults to all of them. `mode` is `mask` (`[REDACTED:email]`), `hash` (a keyed
//! hash, `[email:1f2e3d4c5b6a7988]`, the same for the same value and key, so redacted values still
//! join) or `partial` (everything but the last four characters replaced by `*`). `fields` is a list
//! of dotted paths, or `"all"` for every string field; the message is always scanned. A `patterns`
//! regex has the `regex` crate's syntax with ASCII-only `\w`, `\d`, `\s`, `\b` and case folding
//! (see the `pattern` crate).
//!
//! The detectors are hand-written scanners, not regexes: one pass each (card numbers and IPv4
//! addresses share one pass over the numbers), skipped entirely when the text lacks the byte they
//! need (`@` for email, a digit for numbers), and strict about boundaries so that version numbers,
//! hashes and URLs do not match.

use pattern::Pattern;
use serde::Deserialize;
use sluicegate_sdk::{Error, Event, Transform, Value, Verdict};

/// The redact transform.
pub struct Redact {
    /// The detectors other than the two that read numbers, each once.
    detectors: Vec<Detector>,
    cards: bool,
    ipv4: bool,
    /// Per detector, its place in the configuration: among matches of the same span, the
    /// detector named first gives the kind.
    ranks: [usize; 8],
    patterns: Vec<(String, Pattern)>,
    mode: Mode,
    key: [u64; 2],
    fields: Fields,
    matches: Vec<Match>,
    /// The last text's blocks, kept for their allocation.
    blocks: Vec<Block>,
}

/// The configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    detectors: Option<Vec<Detector>>,
    patterns: Vec<PatternConfig>,
    mode: Mode,
    key: Option<String>,
    fields: Option<FieldsConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternConfig {
    name: String,
    regex: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FieldsConfig {
    All(String),
    Paths(Vec<String>),
}

enum Fields {
    None,
    All,
    Paths(Vec<String>),
}

/// How a found value is hidden.
#[derive(Debug, Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `[REDACTED:kind]`.
    #[default]
    Mask,
    /// `[kind:keyed hash]`.
    Hash,
    /// All but the last four characters replaced by `*`.
    Partial,
}

/// A built-in detector.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// Email addresses.
    Email,
    /// Card numbers of 13 to 19 digits (spaces or dashes allowed) that pass the Luhn check.
    CreditCard,
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// AWS access key ids (`AKIA…`, `ASIA…`).
    AwsAccessKey,
    /// AWS secret access keys: 40 characters of base64 after a word containing `secret`.
    AwsSecretKey,
    /// JSON web tokens.
    Jwt,
    /// The token after `Bearer `.
    Bearer,
}

const ALL_DETECTORS: [Detector; 8] = [
    Detector::Email,
    Detector::CreditCard,
    Detector::Ipv4,
    Detector::Ipv6,
    Detector::AwsAccessKey,
    Detector::AwsSecretKey,
    Detector::Jwt,
    Detector::Bearer,
];

impl Detector {
    fn name(self) -> &'static str {
        match self {
            Detector::Email => "email",
            Detector::CreditCard => "credit_card",
            Detector::Ipv4 => "ipv4",
            Detector::Ipv6 => "ipv6",
            Detector::AwsAccessKey => "aws_access_key",
            Detector::AwsSecretKey => "aws_secret_key",
            Detector::Jwt => "jwt",
            Detector::Bearer => "bearer",
        }
    }

    fn find(self, text: &str, scan: &Scan<'_>, out: &mut Vec<Match>) {
        let bytes = text.as_bytes();
        let kind = Kind::Builtin(self);
        match self {
            Detector::Email => find_emails(scan, kind, out),
            Detector::CreditCard => find_numbers(scan, true, false, out),
            Detector::Ipv4 => find_numbers(scan, false, true, out),
            Detector::Ipv6 => find_ipv6(text, scan, kind, out),
            Detector::AwsAccessKey => find_access_keys(scan, kind, out),
            Detector::AwsSecretKey => find_secret_keys(bytes, kind, out),
            Detector::Jwt => find_jwts(bytes, kind, out),
            Detector::Bearer => find_bearer(bytes, kind, out),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Builtin(Detector),
    Pattern(usize),
}

#[derive(Debug, Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    kind: Kind,
}

/// Byte classes, one table lookup instead of a chain of range tests in the scanners' inner
/// loops.
const WORD: u8 = 1;
const DOT: u8 = 2;
const DIGIT: u8 = 4;
const HEX: u8 = 8;
const IPV6: u8 = 16;

static CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        let mut class = 0;
        if b.is_ascii_alphanumeric() || b == b'_' {
            class |= WORD;
        }
        if b == b'.' {
            class |= DOT;
        }
        if b.is_ascii_digit() {
            class |= DIGIT;
        }
        if b.is_ascii_hexdigit() {
            class |= HEX;
        }
        if b.is_ascii_hexdigit() || b == b':' || b == b'.' {
            class |= IPV6;
        }
        classes[byte] = class;
        byte += 1;
    }
    classes
};

fn is(byte: u8, class: u8) -> bool {
    CLASSES[byte as usize] & class != 0
}

fn is_word(byte: u8) -> bool {
    is(byte, WORD)
}

fn find_emails(scan: &Scan<'_>, kind: Kind, out: &mut Vec<Match>) {
    let bytes = scan.bytes;
    let is_local = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'%' | b'+' | b'-');
    let is_domain = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-');
    let mut search_from = 0;
    loop {
        let at = scan.next(search_from, |block| block.ats);
        if at == bytes.len() {
            break;
        }
        search_from = at + 1;
        let mut start = at;
        while start > 0 && is_local(bytes[start - 1]) {
            start -= 1;
        }
        while start < at && bytes[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && is_domain(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start == at || end == at + 1 {
            continue;
        }
        // `scheme://user@host` is a URL's user, not an address.
        if start >= 2 && &bytes[start - 2..start] == b"//" {
            continue;
        }
        let domain = &bytes[at + 1..end];
        let Some(last_dot) = domain.iter().rposition(|&byte| byte == b'.') else {
            continue;
        };
        let top_level = &domain[last_dot + 1..];
        if top_level.len() < 2 || !top_level.iter().all(u8::is_ascii_alphabetic) || domain[0] == b'.' {
            continue;
        }
        out.push(Match { start, end, kind });
        search_from = end;
    }
}

/// Card numbers and IPv4 addresses in one walk over the numbers of the text: both start at a digit
/// that does not continue a word or follow a dot, so the digits are found once for both.
fn find_numbers(scan: &Scan<'_>, cards: bool, ipv4: bool, out: &mut Vec<Match>) {
    let bytes = scan.bytes;
    // Where the next card may start: a card candidate's digits and separators are never the start
    // of another one.
    let mut cards_from = 0;
    let mut at = scan.next(0, |block| block.starts);
    while at < bytes.len() {
        // Most numbers are short and end in neither a group separator nor a dot: the first run
        // of digits rules them out for both detectors without reading them again.
        let run_end = scan.run_end(at);
        let next = bytes.get(run_end).copied();
        if cards && at >= cards_from {
            let groups_go_on = matches!(next, Some(b' ' | b'-')) && bytes.get(run_end + 1).is_some_and(u8::is_ascii_digit);
            // Without another group, a run of fewer than 13 digits is a candidate that ends
            // where the run does.
            cards_from = if groups_go_on || run_end - at >= 13 { card_at(bytes, at, out) } else { run_end };
        }
        if ipv4 && run_end - at <= 3 && next == Some(b'.') {
            ipv4_at(bytes, at, out);
        }
        // The digits and dots that follow continue this number: none of them is a start.
        at = scan.next(run_end, |block| block.starts);
    }
}

/// What the detectors look for in one 64-byte block of a text, a bit per byte, found for the
/// whole text in one pass before they run (sixteen bytes a step with Wasm SIMD): where each
/// detector may match is then a few bit operations away, instead of a search of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Block {
    /// Where numbers may start: digits at a word boundary, that neither continue a word (`T10`,
    /// `4ba41356`) nor follow a dot (the `3` of `1.3`).
    starts: u64,
    digits: u64,
    /// Colons next to a hex digit, a colon or a dot, where an IPv6 address may be (and at the
    /// block's last byte, whose next byte the block does not know).
    colons: u64,
    /// `@`, where an email address may be.
    ats: u64,
    /// `A`, where an access key may start.
    capital_as: u64,
    /// `e` or `E` after `s` or `b` (any case), where `secret` or `bearer` may be, or before `y`,
    /// where `eyJ` may be (and at the block's last byte).
    keyword_es: u64,
}

/// The classes of one block's bytes, before [`scan_blocks`] relates each byte to its neighbours.
#[derive(Debug, Clone, Copy, Default)]
struct Classes {
    digits: u64,
    word_or_dot: u64,
    colons: u64,
    /// Hex digits, colons and dots: what an IPv6 address is made of.
    ipv6: u64,
    ats: u64,
    capital_as: u64,
    /// `e` or `E`.
    es: u64,
    /// `s`, `b`, `S` or `B`.
    s_or_b: u64,
    ys: u64,
}

impl Classes {
    #[cfg_attr(not(all(target_arch = "wasm32", target_feature = "simd128")), allow(dead_code))]
    fn or(self, other: Classes) -> Classes {
        Classes {
            digits: self.digits | other.digits,
            word_or_dot: self.word_or_dot | other.word_or_dot,
            colons: self.colons | other.colons,
            ipv6: self.ipv6 | other.ipv6,
            ats: self.ats | other.ats,
            capital_as: self.capital_as | other.capital_as,
            es: self.es | other.es,
            s_or_b: self.s_or_b | other.s_or_b,
            ys: self.ys | other.ys,
        }
    }
}

/// A text and its [`Block`]s.
struct Scan<'s> {
    bytes: &'s [u8],
    blocks: &'s [Block],
}

impl Scan<'_> {
    /// The first position at or after `from` whose bit `bits` sets (or the length).
    fn next(&self, from: usize, bits: impl Fn(&Block) -> u64) -> usize {
        let mut block_idx = from / 64;
        let Some(block) = self.blocks.get(block_idx) else {
            return self.bytes.len();
        };
        let mut set = bits(block) & (u64::MAX << (from % 64));
        loop {
            if set != 0 {
                return block_idx * 64 + set.trailing_zeros() as usize;
            }
            block_idx += 1;
            match self.blocks.get(block_idx) {
                Some(block) => set = bits(block),
                None => return self.bytes.len(),
            }
        }
    }

    /// Where the run of digits at `at` ends: from the bits, byte by byte only past its block.
    fn run_end(&self, at: usize) -> usize {
        let digits = self.blocks.get(at / 64).map_or(0, |block| block.digits);
        let mut end = at + (!(digits >> (at % 64))).trailing_zeros() as usize;
        while end < self.bytes.len() && self.bytes[end].is_ascii_digit() {
            end += 1;
        }
        end
    }
}

/// Fills `blocks` with the [`Block`]s of `bytes`.
fn scan_blocks(bytes: &[u8], blocks: &mut Vec<Block>) {
    blocks.clear();
    // The last byte of the block before: a word byte or a dot, part of an IPv6 address, `s` or
    // `b`.
    let (mut word_or_dot_before, mut ipv6_before, mut s_or_b_before) = (0, 0, 0);
    let mut base = 0;
    while base < bytes.len() {
        let classes = block_classes(bytes, base);
        const LAST: u64 = 1 << 63;
        blocks.push(Block {
            starts: classes.digits & !((classes.word_or_dot << 1) | word_or_dot_before),
            digits: classes.digits,
            colons: classes.colons & ((classes.ipv6 << 1) | ipv6_before | (classes.ipv6 >> 1) | LAST),
            ats: classes.ats,
            capital_as: classes.capital_as,
            keyword_es: classes.es & ((classes.s_or_b << 1) | s_or_b_before | (classes.ys >> 1) | LAST),
        });
        word_or_dot_before = classes.word_or_dot >> 63;
        ipv6_before = classes.ipv6 >> 63;
        s_or_b_before = classes.s_or_b >> 63;
        base += 64;
    }
}

/// The [`Classes`] of the (up to) 64 bytes of `bytes` from `base`; bits past the end are clear.
fn block_classes(bytes: &[u8], base: usize) -> Classes {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if bytes.len() >= 16 {
        return simd::block_classes(bytes, base);
    }
    let mut classes = Classes::default();
    for (idx, &byte) in bytes[base..].iter().take(64).enumerate() {
        let bit = |test: bool| u64::from(test) << idx;
        classes.digits |= bit(is(byte, DIGIT));
        classes.word_or_dot |= bit(is(byte, WORD | DOT));
        classes.colons |= bit(byte == b':');
        classes.ipv6 |= bit(is(byte, IPV6));
        classes.ats |= bit(byte == b'@');
        classes.capital_as |= bit(byte == b'A');
        classes.es |= bit(byte | 0x20 == b'e');
        classes.s_or_b |= bit(matches!(byte | 0x20, b's' | b'b'));
        classes.ys |= bit(byte == b'y');
    }
    classes
}

/// The card number starting at `start` (a digit at a word boundary), if there is one; returns
/// where the candidate's digits end. Not inlined: few numbers get here, and the walk over the
/// numbers compiles to tighter code without it.
#[inline(never)]
fn card_at(bytes: &[u8], start: usize, out: &mut Vec<Match>) -> usize {
    // Digits, with single spaces or dashes between groups. Most numbers are far too short for a
    // card, so the Luhn sum waits until the count and the boundary are known.
    let mut end = start;
    let mut n_digits = 0;
    let mut cursor = start;
    while cursor < bytes.len() {
        let byte = bytes[cursor];
        if byte.is_ascii_digit() {
            if n_digits == 19 {
                n_digits += 1;
                break;
            }
            n_digits += 1;
            cursor += 1;
            end = cursor;
        } else if matches!(byte, b' ' | b'-') && cursor + 1 < bytes.len() && bytes[cursor + 1].is_ascii_digit() {
            cursor += 1;
        } else {
            break;
        }
    }
    let bounded =
        end == bytes.len() || !(is_word(bytes[end]) || (bytes[end] == b'.' && bytes.get(end + 1).is_some_and(u8::is_ascii_digit)));
    if (13..=19).contains(&n_digits) && bounded && luhn_digits(&bytes[start..end]) {
        out.push(Match { start, end, kind: Kind::Builtin(Detector::CreditCard) });
    }
    end
}

/// The Luhn check over the digits of `text` (separators skipped): every second digit from the
/// right is doubled.
fn luhn_digits(text: &[u8]) -> bool {
    let mut sum = 0;
    let mut double = false;
    for &byte in text.iter().rev() {
        if byte.is_ascii_digit() {
            let digit = u32::from(byte - b'0');
            sum += if !double {
                digit
            } else if digit * 2 > 9 {
                digit * 2 - 9
            } else {
                digit * 2
            };
            double = !double;
        }
    }
    sum.is_multiple_of(10)
}

/// The Luhn check the scanner computes on the fly, written plainly (for the tests).
#[cfg(test)]
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            let digit = u32::from(digit);
            if position % 2 == 1 { if digit * 2 > 9 { digit * 2 - 9 } else { digit * 2 } } else { digit }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The IPv4 address starting at `start` (a digit at a word boundary), if there is one. Not
/// inlined, as [`card_at`] is not.
#[inline(never)]
fn ipv4_at(bytes: &[u8], start: usize, out: &mut Vec<Match>) {
    let mut cursor = start;
    let mut n_parts = 0;
    loop {
        let part_start = cursor;
        let mut value: u32 = 0;
        while cursor < bytes.len() && bytes[cursor].is_ascii_digit() && cursor - part_start < 4 {
            value = value * 10 + u32::from(bytes[cursor] - b'0');
            cursor += 1;
        }
        let len = cursor - part_start;
        if len == 0 || len > 3 || value > 255 || (len > 1 && bytes[part_start] == b'0') {
            return;
        }
        n_parts += 1;
        if n_parts == 4 {
            break;
        }
        if cursor < bytes.len() && bytes[cursor] == b'.' {
            cursor += 1;
        } else {
            return;
        }
    }
    // A fifth part (`1.2.3.4.5`) or a letter right after makes it something else.
    let bounded = cursor == bytes.len()
        || !(is_word(bytes[cursor]) || (bytes[cursor] == b'.' && bytes.get(cursor + 1).is_some_and(u8::is_ascii_digit)));
    if bounded {
        out.push(Match { start, end: cursor, kind: Kind::Builtin(Detector::Ipv4) });
    }
}

fn find_ipv6(text: &str, scan: &Scan<'_>, kind: Kind, out: &mut Vec<Match>) {
    let bytes = text.as_bytes();
    let is_candidate = |byte: u8| is(byte, IPV6);
    let mut at = 0;
    loop {
        let colon = scan.next(at, |block| block.colons);
        if colon == bytes.len() {
            break;
        }
        // Most colons separate words or quotes (`"key":"value"`, `level: x`): with neither
        // neighbour part of an address, the candidate is the colon alone, which is not one.
        let before = colon > 0 && is_candidate(bytes[colon - 1]);
        let after = bytes.get(colon + 1).is_some_and(|&byte| is_candidate(byte));
        if !before && !after {
            at = colon + 1;
            continue;
        }
        let mut start = colon;
        while start > 0 && is_candidate(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = colon;
        while end < bytes.len() && is_candidate(bytes[end]) {
            end += 1;
        }
        at = end.max(colon + 1);
        while end > start && bytes[end - 1] == b'.' {
            end -= 1;
        }
        // Bounded by something that is not part of a word (`std::vec` is a path, not an address).
        if (start > 0 && is_word(bytes[start - 1])) || (end < bytes.len() && is_word(bytes[end])) {
            continue;
        }
        let candidate = &text[start..end];
        if candidate.bytes().filter(|&byte| byte == b':').count() >= 2
            && candidate.bytes().any(|byte| is(byte, HEX))
            && candidate.parse::<std::net::Ipv6Addr>().is_ok()
        {
            out.push(Match { start, end, kind });
        }
    }
}

fn find_access_keys(scan: &Scan<'_>, kind: Kind, out: &mut Vec<Match>) {
    // Every prefix starts with `A`, which is rare in log text: its bits are the candidates.
    let bytes = scan.bytes;
    if bytes.len() < 20 {
        // Too short for a key (and the search below needs room for one).
        return;
    }
    let last_start = bytes.len() - 20;
    let mut search_from = 0;
    loop {
        let start = scan.next(search_from, |block| block.capital_as);
        if start > last_start {
            break;
        }
        search_from = start + 1;
        let prefix = &bytes[start..start + 4];
        if !matches!(prefix, b"AKIA" | b"ASIA" | b"ABIA" | b"ACCA") || (start > 0 && is_word(bytes[start - 1])) {
            continue;
        }
        let end = start + 20;
        let body = &bytes[start + 4..end];
        if body.iter().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit()) && (end == bytes.len() || !is_word(bytes[end])) {
            out.push(Match { start, end, kind });
        }
    }
}

fn find_secret_keys(bytes: &[u8], kind: Kind, out: &mut Vec<Match>) {
    let is_key_byte = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'/' || byte == b'+';
    let mut search_from = 0;
    while let Some(offset) = find_ignore_case(&bytes[search_from..], b"secret") {
        let keyword = search_from + offset;
        search_from = keyword + 6;
        // The key follows within a few separators: `secret_access_key": "…"`, `secret=…`.
        let window_end = (keyword + 48).min(bytes.len());
        let mut at = keyword + 6;
        while at < window_end && (is_word(bytes[at]) || matches!(bytes[at], b'"' | b'\'' | b':' | b'=' | b' ' | b'-')) {
            let start = at;
            let mut end = at;
            while end < bytes.len() && is_key_byte(bytes[end]) {
                end += 1;
            }
            if end - start == 40 && (start == 0 || !is_key_byte(bytes[start - 1])) {
                let key = &bytes[start..end];
                let has = |test: fn(&u8) -> bool| key.iter().any(test);
                if has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase) && has(u8::is_ascii_digit) {
                    out.push(Match { start, end, kind });
                    search_from = end;
                    break;
                }
            }
            at = if end > start { end } else { at + 1 };
        }
    }
}

fn find_jwts(bytes: &[u8], kind: Kind, out: &mut Vec<Match>) {
    let is_base64url = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
    let mut search_from = 0;
    while let Some(offset) = find_bytes(&bytes[search_from..], b"eyJ") {
        let start = search_from + offset;
        search_from = start + 3;
        if start > 0 && is_base64url(bytes[start - 1]) {
            continue;
        }
        let mut end = start;
        let mut n_parts = 1;
        while end < bytes.len() && (is_base64url(bytes[end]) || bytes[end] == b'.') {
            if bytes[end] == b'.' {
                n_parts += 1;
            }
            end += 1;
        }
        while end > start && bytes[end - 1] == b'.' {
            end -= 1;
            n_parts -= 1;
        }
        let token = &bytes[start..end];
        if n_parts == 3 && token.windows(4).any(|window| window == b".eyJ") {
            out.push(Match { start, end, kind });
            search_from = end;
        }
    }
}

fn find_bearer(bytes: &[u8], kind: Kind, out: &mut Vec<Match>) {
    let is_token = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=');
    let mut search_from = 0;
    while let Some(offset) = find_ignore_case(&bytes[search_from..], b"bearer ") {
        let keyword = search_from + offset;
        search_from = keyword + 7;
        if keyword > 0 && is_word(bytes[keyword - 1]) {
            continue;
        }
        let start = keyword + 7;
        let mut end = start;
        while end < bytes.len() && is_token(bytes[end]) {
            end += 1;
        }
        if end - start >= 8 {
            out.push(Match { start, end, kind });
            search_from = end;
        }
    }
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// Finds an ASCII `needle` (lower case, starting with three letters) in any case. Eight
/// positions at a time are tested for the needle's first three letters (a letter with bit 5
/// set is its lower case), then the whole needle is compared: a first letter alone (`s` for
/// `secret`) is too common in log text to be worth stopping at.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const FOLD: u64 = 0x2020_2020_2020_2020;
    debug_assert!(needle.len() >= 3 && needle[..3].iter().all(u8::is_ascii_lowercase));
    let matches_at = |at: usize| haystack.get(at..at + needle.len()).is_some_and(|window| window.eq_ignore_ascii_case(needle));
    let load = |at: usize| u64::from_le_bytes(haystack[at..at + 8].try_into().expect("eight bytes")) | FOLD;
    let [first, second, third] = [needle[0], needle[1], needle[2]].map(|byte| ONES * u64::from(byte));
    let mut at = 0;
    while at + 10 <= haystack.len() {
        // A zero byte where all three letters match; the high bit of each byte of `found` says
        // exactly which (no carries cross bytes).
        let differ = (load(at) ^ first) | (load(at + 1) ^ second) | (load(at + 2) ^ third);
        let mut found = !(((differ & LOWS) + LOWS) | differ | LOWS);
        while found != 0 {
            let candidate = at + (found.trailing_zeros() / 8) as usize;
            if matches_at(candidate) {
                return Some(candidate);
            }
            found &= found - 1;
        }
        at += 8;
    }
    (at..haystack.len()).find(|&candidate| matches_at(candidate))
}

/// Whether the text holds `secret` or `bearer ` (in any case) or `eyJ`, the keywords the secret
/// key, bearer and JWT detectors start from: each has an `e` second (after `s` or `b`) or first
/// (before `y`), so only those `e`s are looked at.
fn has_keyword(scan: &Scan<'_>) -> bool {
    let bytes = scan.bytes;
    let mut at = scan.next(0, |block| block.keyword_es);
    while at < bytes.len() {
        if at > 0 {
            let word = &bytes[at - 1..];
            if word.get(..6).is_some_and(|word| word.eq_ignore_ascii_case(b"secret"))
                || word.get(..7).is_some_and(|word| word.eq_ignore_ascii_case(b"bearer "))
            {
                return true;
            }
        }
        if bytes[at..].starts_with(b"eyJ") {
            return true;
        }
        at = scan.next(at + 1, |block| block.keyword_es);
    }
    false
}

/// The blocks' classes with Wasm SIMD (the modules build with `+simd128`); the portable code is
/// what the native tests run, and blocks of sixteen bytes or fewer.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_splat, v128, v128_load, v128_or};

    /// Sixteen bytes from `at`, which must leave sixteen in `bytes`.
    fn load(bytes: &[u8], at: usize) -> v128 {
        assert!(at + 16 <= bytes.len());
        // SAFETY: the sixteen bytes are inside `bytes` (checked above); v128_load reads unaligned.
        unsafe { v128_load(bytes.as_ptr().add(at).cast()) }
    }

    /// [`super::block_classes`], sixteen bytes a step without a loop, for a text of at least
    /// sixteen bytes: a chunk that would run past the end is loaded to end at the end instead,
    /// its lanes shifted into place. Range tests are signed compares of shifted bytes, one
    /// instruction each where the unsigned ones take three.
    pub(super) fn block_classes(bytes: &[u8], base: usize) -> super::Classes {
        use core::arch::wasm32::{i8x16_lt, i8x16_splat, i8x16_sub};
        let chunk_classes = |chunk_at: usize| {
            let load_at = chunk_at.min(bytes.len() - 16);
            let chunk = load(bytes, load_at);
            // The lanes before `chunk_at` (a chunk loaded early) belong to the chunk before.
            let skip = chunk_at - load_at;
            let bits = |lanes: v128| (u64::from(u8x16_bitmask(lanes)) >> skip) << (chunk_at - base);
            let is = |byte: u8| u8x16_eq(chunk, u8x16_splat(byte));
            // `b - (low + 0x80)` wraps the range `low..low + n` onto `-128..-128 + n`.
            let in_range = |lanes: v128, low: u8, n: i8| {
                i8x16_lt(i8x16_sub(lanes, i8x16_splat((low as i8).wrapping_add(i8::MIN))), i8x16_splat(i8::MIN + n))
            };
            let digit = in_range(chunk, b'0', 10);
            let lower = v128_or(chunk, u8x16_splat(0x20));
            let is_lower = |byte: u8| u8x16_eq(lower, u8x16_splat(byte));
            let letter = in_range(lower, b'a', 26);
            let hex_letter = in_range(lower, b'a', 6);
            let dot = is(b'.');
            let colon = is(b':');
            super::Classes {
                digits: bits(digit),
                word_or_dot: bits(v128_or(v128_or(digit, letter), v128_or(is(b'_'), dot))),
                colons: bits(colon),
                ipv6: bits(v128_or(v128_or(digit, hex_letter), v128_or(colon, dot))),
                ats: bits(is(b'@')),
                capital_as: bits(is(b'A')),
                es: bits(is_lower(b'e')),
                s_or_b: bits(v128_or(is_lower(b's'), is_lower(b'b'))),
                ys: bits(is(b'y')),
            }
        };
        let mut out = chunk_classes(base);
        for chunk_at in [base + 16, base + 32, base + 48] {
            if chunk_at >= bytes.len() {
                break;
            }
            out = out.or(chunk_classes(chunk_at));
        }
        out
    }
}

/// `f` of the text's [`Scan`] (for the tests).
#[cfg(test)]
fn with_scan<R>(bytes: &[u8], f: impl FnOnce(&Scan<'_>) -> R) -> R {
    let mut blocks = Vec::new();
    scan_blocks(bytes, &mut blocks);
    f(&Scan { bytes, blocks: &blocks })
}

/// SipHash-2-4: a keyed hash, so equal values hash equally (joins still work) while nobody without
/// the key can test guesses against the output.
fn siphash(key: [u64; 2], bytes: &[u8]) -> u64 {
    let mut v =
        [key[0] ^ 0x736f_6d65_7073_6575, key[1] ^ 0x646f_7261_6e64_6f6d, key[0] ^ 0x6c79_6765_6e65_7261, key[1] ^ 0x7465_6462_7974_6573];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        v[3] ^= word;
        round(&mut v);
        round(&mut v);
        v[0] ^= word;
    }
    let mut last = [0u8; 8];
    last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    let word = u64::from_le_bytes(last) | ((bytes.len() as u64) << 56);
    v[3] ^= word;
    round(&mut v);
    round(&mut v);
    v[0] ^= word;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

impl Redact {
    /// Where a kind's matches sort among matches of the same span.
    fn rank(&self, kind: Kind) -> usize {
        match kind {
            Kind::Builtin(detector) => self.ranks[detector as usize],
            Kind::Pattern(pattern_idx) => ALL_DETECTORS.len() + pattern_idx,
        }
    }

    fn kind_name(&self, kind: Kind) -> &str {
        match kind {
            Kind::Builtin(detector) => detector.name(),
            Kind::Pattern(pattern_idx) => &self.patterns[pattern_idx].0,
        }
    }

    /// The text with every match hidden, or `None` when nothing matched.
    fn redact(&mut self, text: &str) -> Option<String> {
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        let mut blocks = std::mem::take(&mut self.blocks);
        scan_blocks(text.as_bytes(), &mut blocks);
        let scan = Scan { bytes: text.as_bytes(), blocks: &blocks };
        if self.cards || self.ipv4 {
            find_numbers(&scan, self.cards, self.ipv4, &mut matches);
        }
        // The three detectors that start at a keyword are skipped together when one pass finds
        // none of their keywords, as in nearly every line.
        let mut keywords = None;
        for &detector in &self.detectors {
            if matches!(detector, Detector::AwsSecretKey | Detector::Bearer | Detector::Jwt)
                && !*keywords.get_or_insert_with(|| has_keyword(&scan))
            {
                continue;
            }
            detector.find(text, &scan, &mut matches);
        }
        self.blocks = blocks;
        for (pattern_idx, (_, regex)) in self.patterns.iter().enumerate() {
            matches.extend(regex.find_iter(text).map(|found| Match {
                start: found.start,
                end: found.end,
                kind: Kind::Pattern(pattern_idx),
            }));
        }
        if matches.is_empty() {
            self.matches = matches;
            return None;
        }
        // Earliest first, longest first among equals, then in the order the detectors and patterns
        // are configured; overlapping later matches are dropped.
        matches.sort_unstable_by_key(|found| (found.start, std::cmp::Reverse(found.end), self.rank(found.kind)));
        let mut out = String::with_capacity(text.len() + 16 * matches.len());
        let mut copied = 0;
        for found in &matches {
            if found.start < copied {
                continue;
            }
            out.push_str(&text[copied..found.start]);
            let value = &text[found.start..found.end];
            let kind = self.kind_name(found.kind);
            match self.mode {
                Mode::Mask => {
                    out.push_str("[REDACTED:");
                    out.push_str(kind);
                    out.push(']');
                }
                Mode::Hash => out.push_str(&format!("[{kind}:{:016x}]", siphash(self.key, value.as_bytes()))),
                Mode::Partial => {
                    let n_chars = value.chars().count();
                    let keep_from = value.char_indices().nth(n_chars.saturating_sub(4)).map_or(value.len(), |(at, _)| at);
                    out.extend(std::iter::repeat_n('*', n_chars.saturating_sub(4)));
                    out.push_str(&value[keep_from..]);
                }
            }
            copied = found.end;
        }
        out.push_str(&text[copied..]);
        self.matches = matches;
        Some(out)
    }

    fn redact_value(&mut self, value: &mut Value) -> bool {
        match value {
            Value::String(text) => match self.redact(text) {
                Some(redacted) => {
                    *text = redacted;
                    true
                }
                None => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| self.redact_value(item) | changed),
            Value::Object(object) => object.values_mut().fold(false, |changed, item| self.redact_value(item) | changed),
            _ => false,
        }
    }
}

impl Transform for Redact {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        let patterns = config
            .patterns
            .into_iter()
            .map(|pattern| {
                let regex = Pattern::new(&pattern.regex).map_err(|error| Error::msg(format!("pattern {}: {error}", pattern.name)))?;
                Ok((pattern.name, regex))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let key = match (&config.key, config.mode) {
            (Some(key), _) => [siphash([0, 1], key.as_bytes()), siphash([2, 3], key.as_bytes())],
            (None, Mode::Hash) => return Err(Error::msg("mode hash needs a key")),
            (None, _) => [0, 0],
        };
        let fields = match config.fields {
            None => Fields::None,
            Some(FieldsConfig::All(all)) if all == "all" => Fields::All,
            Some(FieldsConfig::All(other)) => return Err(Error::msg(format!("fields is a list of paths or \"all\", not {other:?}"))),
            Some(FieldsConfig::Paths(paths)) => Fields::Paths(paths),
        };
        let configured = config.detectors.unwrap_or(ALL_DETECTORS.to_vec());
        let mut ranks = [usize::MAX; 8];
        for (rank, detector) in configured.iter().enumerate() {
            ranks[*detector as usize] = ranks[*detector as usize].min(rank);
        }
        let enabled = |detector: Detector| ranks[detector as usize] != usize::MAX;
        Ok(Redact {
            detectors: ALL_DETECTORS
                .into_iter()
                .filter(|&detector| enabled(detector) && !matches!(detector, Detector::CreditCard | Detector::Ipv4))
                .collect(),
            cards: enabled(Detector::CreditCard),
            ipv4: enabled(Detector::Ipv4),
            ranks,
            patterns,
            mode: config.mode,
            key,
            fields,
            matches: Vec::new(),
            blocks: Vec::new(),
        })
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        if let Some(redacted) = self.redact(event.message()) {
            event.set_message(redacted);
        }
        match &self.fields {
            Fields::None => {}
            Fields::All => {
                if !event.fields().is_empty() {
                    let mut fields = Value::Object(event.fields().clone());
                    if self.redact_value(&mut fields) {
                        let Value::Object(fields) = fields else { unreachable!("an object stays an object") };
                        *event.fields_mut() = fields;
                    }
                }
            }
            Fields::Paths(paths) => {
                for path_idx in 0..paths.len() {
                    let Fields::Paths(paths) = &self.fields else { unreachable!() };
                    let path = paths[path_idx].clone();
                    if let Some(mut value) = event.field(&path).cloned()
                        && self.redact_value(&mut value)
                    {
                        event.set_field(&path, value);
                    }
                }
            }
        }
        Ok(Verdict::Keep)
    }
}

sluicegate_sdk::export!(Redact);

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    fn redact(config: &str, message: &str) -> String {
        let mut harness = Harness::<Redact>::new(config).unwrap();
        match harness.run_one(TestEvent::new(message)) {
            TestOutcome::Kept => message.to_owned(),
            TestOutcome::Changed(event) => event.message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn detectors() {
        let cases = [
            ("mail jane.doe+x@example.co.uk now", "mail [REDACTED:email] now"),
            ("https://shop.example.com/u?email=bob@mail.example.org&x=1", "https://shop.example.com/u?email=[REDACTED:email]&x=1"),
            ("ftp://admin@files.example.com/x", "ftp://admin@files.example.com/x"),
            ("card 4111 1111 1111 1111 ok", "card [REDACTED:credit_card] ok"),
            ("card 4111-1111-1111-1112 fails luhn", "card 4111-1111-1111-1112 fails luhn"),
            ("order 1234567890123 id", "order 1234567890123 id"),
            ("from 10.0.3.17 to 192.168.1.1:443", "from [REDACTED:ipv4] to [REDACTED:ipv4]:443"),
            ("version 1.2.3 and 1.2.3.4.5 and v10.1.2.3 and 256.1.1.1", "version 1.2.3 and 1.2.3.4.5 and v10.1.2.3 and 256.1.1.1"),
            ("peer 2001:db8::8a2e:370:7334 and ::1", "peer [REDACTED:ipv6] and [REDACTED:ipv6]"),
            ("at 10:20:30 std::vec::Vec aa:bb:cc:dd:ee:ff", "at 10:20:30 std::vec::Vec aa:bb:cc:dd:ee:ff"),
            ("key AKIAIOSFODNN7EXAMPLE used", "key [REDACTED:aws_access_key] used"),
            ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY done", "aws_secret_access_key=[REDACTED:aws_secret_key] done"),
            ("sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U end", "token [REDACTED:jwt] end"),
            ("Authorization: Bearer abcDEF123456.xyz", "Authorization: Bearer [REDACTED:bearer]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact("{}", input), expected, "input {input:?}");
        }
    }

    #[test]
    fn modes_and_patterns() {
        assert_eq!(redact(r#"{"mode":"partial"}"#, "card 4111111111111111"), "card ************1111");
        let hashed = redact(r#"{"mode":"hash","key":"k1"}"#, "a@example.com b@example.com a@example.com");
        let parts: Vec<&str> = hashed.split(' ').collect();
        assert_eq!(parts[0], parts[2], "the same value hashes the same");
        assert_ne!(parts[0], parts[1]);
        assert!(parts[0].starts_with("[email:"), "{hashed}");
        assert_ne!(redact(r#"{"mode":"hash","key":"k2"}"#, "a@example.com"), parts[0], "the key changes the hash");
        assert_eq!(redact(r#"{"patterns":[{"name":"employee","regex":"EMP-[0-9]{6}"}]}"#, "by EMP-123456"), "by [REDACTED:employee]");
        assert_eq!(redact(r#"{"detectors":["ipv4"]}"#, "a@example.com 1.2.3.4"), "a@example.com [REDACTED:ipv4]");
        assert!(Harness::<Redact>::new(r#"{"mode":"hash"}"#).is_err());
    }

    #[test]
    fn numbers_are_read_once_for_cards_and_addresses() {
        // Cards and IPv4 addresses share one walk over the numbers; each still sees every
        // number it would have seen alone.
        let cases = [
            // The card candidate runs on into `10` (a space between digit groups), so `10.0.0.1`
            // starts inside it: an address, but no card.
            ("4111111111111111 10.0.0.1 4111 1111 1111 1111", "4111111111111111 [REDACTED:ipv4] [REDACTED:credit_card]"),
            ("1.2.3.4 4111-1111-1111-1111.5 10.0.0.1.", "[REDACTED:ipv4] 4111-1111-1111-1111.5 [REDACTED:ipv4]."),
            ("at 10:00:00.000 1 4111111111111111 x", "at 10:00:00.000 1 4111111111111111 x"),
            ("n=10.0.0.1,4111111111111111;v1.2.3.4", "n=[REDACTED:ipv4],[REDACTED:credit_card];v1.2.3.4"),
            ("12345678901234567890 4111111111111111", "12345678901234567890 [REDACTED:credit_card]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact("{}", input), expected, "input {input:?}");
        }
        assert_eq!(redact(r#"{"detectors":["credit_card"]}"#, "10.0.0.1 4111111111111111"), "10.0.0.1 [REDACTED:credit_card]");
        assert_eq!(redact(r#"{"detectors":["ipv4"]}"#, "10.0.0.1 4111111111111111"), "[REDACTED:ipv4] 4111111111111111");
    }

    #[test]
    fn the_detector_named_first_wins_a_tie() {
        // Regression: detectors no longer run in configuration order, so equal spans are
        // ordered by the configuration explicitly.
        assert_eq!(redact("{}", "Authorization: Bearer 10.0.0.12"), "Authorization: Bearer [REDACTED:ipv4]");
        assert_eq!(
            redact(r#"{"detectors":["bearer","ipv4"]}"#, "Authorization: Bearer 10.0.0.12"),
            "Authorization: Bearer [REDACTED:bearer]"
        );
        assert_eq!(redact(r#"{"detectors":["bearer","credit_card","bearer"]}"#, "Bearer 4111111111111111"), "Bearer [REDACTED:bearer]");
        assert_eq!(redact(r#"{"detectors":["credit_card","bearer"]}"#, "Bearer 4111111111111111"), "Bearer [REDACTED:credit_card]");
    }

    #[test]
    fn the_keyword_pass_sees_every_keyword_at_every_position() {
        for keyword in [b"secret".as_slice(), b"SeCrEt", b"bearer ", b"BEARER ", b"eyJ"] {
            for len in 0..24 {
                for position in 0..=len {
                    let mut text = vec![b'x'; len];
                    text.splice(position..position, keyword.iter().copied());
                    assert!(with_scan(&text, has_keyword), "{:?}", String::from_utf8_lossy(&text));
                    // One letter off is no keyword.
                    text[position + 1] = b'_';
                    assert!(!with_scan(&text, has_keyword), "{:?}", String::from_utf8_lossy(&text));
                }
            }
        }
        assert!(!with_scan(b"eyj EYJ bearer_ secre ", has_keyword), "eyJ is case sensitive, bearer needs its space");
    }

    #[test]
    fn keywords_are_found_in_any_case_at_every_position() {
        for needle in [b"secret".as_slice(), b"bearer "] {
            for len in 0..24 {
                for position in 0..=len {
                    for variant in 0..4 {
                        let mut text = vec![b'x'; len];
                        let mut keyword: Vec<u8> = needle.to_vec();
                        if variant & 1 == 1 {
                            keyword[0] = keyword[0].to_ascii_uppercase();
                        }
                        if variant & 2 == 2 {
                            keyword.make_ascii_uppercase();
                        }
                        text.splice(position..position, keyword);
                        assert_eq!(find_ignore_case(&text, needle), Some(position), "{:?}", String::from_utf8_lossy(&text));
                        // One letter off is not the keyword.
                        text[position + 2] = b'_';
                        assert_eq!(find_ignore_case(&text, needle), None, "{:?}", String::from_utf8_lossy(&text));
                    }
                }
            }
        }
        assert_eq!(find_ignore_case(b"SECRE sEcReT", b"secret"), Some(6));
        assert_eq!(find_ignore_case(b"sec", b"secret"), None);
    }

    #[test]
    fn fields() {
        let mut harness = Harness::<Redact>::new(r#"{"fields":"all"}"#).unwrap();
        let event = TestEvent::new("hi").fields(r#"{"user":{"email":"a@example.com","n":1},"tags":["10.1.1.1"]}"#);
        let TestOutcome::Changed(event) = harness.run_one(event) else { panic!() };
        assert_eq!(event.fields.unwrap(), r#"{"tags":["[REDACTED:ipv4]"],"user":{"email":"[REDACTED:email]","n":1}}"#);
        let mut harness = Harness::<Redact>::new(r#"{"fields":["user.email"]}"#).unwrap();
        let event = TestEvent::new("hi").fields(r#"{"user":{"email":"a@example.com"},"ip":"10.1.1.1"}"#);
        let TestOutcome::Changed(event) = harness.run_one(event) else { panic!() };
        assert_eq!(event.fields.unwrap(), r#"{"ip":"10.1.1.1","user":{"email":"[REDACTED:email]"}}"#);
    }

    #[test]
    fn short_text_starting_with_a_does_not_panic() {
        // Regression: a text shorter than an access key that started with `A` (`"A"`, `"Ack"`,
        // `"AKIA1234"`) panicked in the access key scanner, trapping the module.
        for text in ["A", "Ack", "AKIA", "AKIA1234", "ASIAIOSFODNN7EXAMPL"] {
            assert_eq!(redact("{}", text), text);
        }
        assert_eq!(redact("{}", "AKIAIOSFODNN7EXAMPLE"), "[REDACTED:aws_access_key]");
    }

    #[test]
    fn siphash_matches_the_reference_vector() {
        // The reference implementation's first test vector: key 00..0f, empty input.
        let key = [u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]), u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15])];
        assert_eq!(siphash(key, b"").to_le_bytes(), [0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72]);
    }
}
#[cfg(test)]
mod scanner_tests {
    use super::*;

    #[test]
    fn cards_match_exactly_the_numbers_that_pass_luhn() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = 13 + (state >> 60) as usize % 7;
            let digits: Vec<u8> = (0..len).map(|idx| ((state >> (idx * 3 % 61)) % 10) as u8).collect();
            let text: String = digits.iter().map(|digit| char::from(b'0' + digit)).collect();
            let mut found = Vec::new();
            with_scan(format!("n {text} x").as_bytes(), |scan| find_numbers(scan, true, false, &mut found));
            assert_eq!(!found.is_empty(), luhn(&digits), "{text}");
        }
    }

    #[test]
    fn the_blocks_say_what_a_byte_at_a_time_says() {
        // Each field of the blocks against its plain definition, from every position, over
        // texts of one to three blocks; and the runs of digits, across blocks too.
        let is_start = |bytes: &[u8], at: usize| bytes[at].is_ascii_digit() && (at == 0 || !is(bytes[at - 1], WORD | DOT));
        let ipv6_colon = |bytes: &[u8], at: usize| {
            bytes[at] == b':'
                && ((at > 0 && is(bytes[at - 1], IPV6)) || bytes.get(at + 1).is_some_and(|&next| is(next, IPV6)) || at % 64 == 63)
        };
        type Field = (fn(&Block) -> u64, fn(&[u8], usize) -> bool);
        let fields: [Field; 6] = [
            (|block| block.colons, ipv6_colon),
            (|block| block.starts, is_start),
            (|block| block.digits, |bytes, at| bytes[at].is_ascii_digit()),
            (|block| block.ats, |bytes, at| bytes[at] == b'@'),
            (|block| block.capital_as, |bytes, at| bytes[at] == b'A'),
            (
                |block| block.keyword_es,
                |bytes, at| {
                    (matches!(bytes[at], b'e' | b'E') && at > 0 && matches!(bytes[at - 1] | 0x20, b's' | b'b'))
                        || (matches!(bytes[at], b'e' | b'E') && (bytes.get(at + 1) == Some(&b'y') || at % 64 == 63))
                },
            ),
        ];
        let alphabet = b"0179aZ_.-: \xc3@AeEysbScf:e0123456789";
        for bytes in sluicegate_abi::testing::byte_strings(alphabet, 2_000, 0x2545_f491_4f6c_dd1du64) {
            let len = bytes.len();
            with_scan(&bytes, |scan| {
                for (bits, plain) in fields {
                    for from in 0..=len {
                        let expected = (from..len).find(|&at| plain(&bytes, at)).unwrap_or(len);
                        assert_eq!(scan.next(from, bits), expected, "{:?} from {from}", String::from_utf8_lossy(&bytes));
                    }
                }
                for at in (0..len).filter(|&at| bytes[at].is_ascii_digit()) {
                    let run_end = (at..len).find(|&end| !bytes[end].is_ascii_digit()).unwrap_or(len);
                    assert_eq!(scan.run_end(at), run_end, "{:?} at {at}", String::from_utf8_lossy(&bytes));
                }
            });
        }
        assert_eq!(with_scan(b"", |scan| scan.next(0, |block| block.starts)), 0);
        assert_eq!(with_scan(b"a7 .7 _7 7", |scan| scan.next(0, |block| block.starts)), 9);
    }
}
