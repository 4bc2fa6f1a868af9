//! The `extract` transform: turns structured log lines into fields.
//!
//! ```json
//! {
//!   "json": {"target": "app"},
//!   "logfmt": true,
//!   "lambda": true,
//!   "access_log": true,
//!   "patterns": [{"regex": "user=(?P<user>\\w+)"}],
//!   "level": ["level", "severity", "lvl"],
//!   "timestamp": "time"
//! }
//! ```
//!
//! The parsers run in this order and the first that recognises the line wins: Lambda platform
//! lines (`START`, `END`, `REPORT` with numbers in milliseconds and megabytes, and the runtime's
//! tab-separated `time, request id, LEVEL, text` lines), JSON objects, access logs (common or
//! combined), logfmt (`key=value`, at least two pairs). Each is on by default (`false` turns it
//! off; `{"target": "key"}` puts its fields under `key`). Every `patterns` regex is then tried and
//! its named captures become fields (the `regex` crate's syntax with ASCII-only `\w`, `\d`, `\s`,
//! `\b` and case folding; see the `pattern` crate). `log.level` is set (upper case) from the first
//! `level` key found; with `timestamp`, the event time is set from that field (RFC 3339 text, or
//! epoch seconds or milliseconds).

use pattern::Pattern;
use serde::Deserialize;
use std::borrow::Cow;

use sluicegate_sdk::{Error, Event, Map, Transform, Value, Verdict, json_scan};

/// The extract transform.
pub struct Extract {
    json: Parser,
    logfmt: Parser,
    lambda: bool,
    access_log: Parser,
    patterns: Vec<(Pattern, Option<String>)>,
    level_keys: Vec<String>,
    timestamp: Option<String>,
}

/// The configuration.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    json: ParserConfig,
    logfmt: ParserConfig,
    lambda: bool,
    access_log: ParserConfig,
    patterns: Vec<PatternConfig>,
    level: Vec<String>,
    timestamp: Option<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            json: ParserConfig::On(true),
            logfmt: ParserConfig::On(true),
            lambda: true,
            access_log: ParserConfig::On(true),
            patterns: Vec::new(),
            level: ["level", "severity", "lvl", "loglevel", "log_level"].map(str::to_owned).to_vec(),
            timestamp: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ParserConfig {
    On(bool),
    Target {
        #[serde(default)]
        target: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternConfig {
    regex: String,
    #[serde(default)]
    target: Option<String>,
}

/// Whether a parser runs, and under which key its fields go (`None`: the root).
enum Parser {
    Off,
    On(Option<String>),
}

impl From<ParserConfig> for Parser {
    fn from(config: ParserConfig) -> Parser {
        match config {
            ParserConfig::On(false) => Parser::Off,
            ParserConfig::On(true) => Parser::On(None),
            ParserConfig::Target { target } => Parser::On(target),
        }
    }
}

/// Puts `fields` at the root or under `target`.
fn put(event: &mut Event<'_>, target: &Option<String>, fields: Map<String, Value>) {
    match target {
        Some(target) => event.set_field(target, Value::Object(fields)),
        None => {
            let all = event.fields_mut();
            for (key, value) in fields {
                all.insert(key, value);
            }
        }
    }
}

/// Writes the JSON number `text` is, when it is a plain one (see [`typed`]), and says whether
/// it was. An integer is its own JSON text (plain numbers have no leading zeros or signs but
/// `-`), except `-0`; other numbers are written as the JSON value would be.
fn push_number(out: &mut String, text: &str) -> bool {
    // Most numbers in log lines are short plain integers: their text is their JSON, without
    // parsing them (18 digits always fit an i64; `-0` and leading zeros go the long way).
    let digits = text.strip_prefix('-').unwrap_or(text).as_bytes();
    if (1..=18).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) && (digits[0] != b'0' || digits.len() == 1) && text != "-0"
    {
        push_short(out, text);
        return true;
    }
    match number(text) {
        Some(number) if number.is_i64() && text != "-0" => out.push_str(text),
        Some(number) => {
            use std::fmt::Write;
            let _ = write!(out, "{number}");
        }
        None => return false,
    }
    true
}

/// `12`, `-3`, `1.5` become numbers; anything else (`0123`, `2.14.3`, `1e5x`) stays text.
fn typed(text: &str) -> Value {
    number(text).unwrap_or_else(|| Value::String(text.to_owned()))
}

/// The number `text` is, when it is a plain one (see [`typed`]); cheap for text that is not.
fn number(text: &str) -> Option<Value> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain_number = !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit() || byte == b'.')
        && digits.bytes().filter(|&byte| byte == b'.').count() <= 1
        && !digits.starts_with('.')
        && !digits.ends_with('.')
        && !(digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0."));
    if !plain_number {
        return None;
    }
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Value::from(integer));
    }
    text.parse::<f64>().ok().map(Value::from)
}

/// `text` split around the first `needle`, like `str::split_once`, for the short needles of the
/// parsers: a search for the needle's first byte and a comparison, without setting up a
/// substring searcher per call (which costs more than the search in these lines).
fn split_once_str<'t>(text: &'t str, needle: &str) -> Option<(&'t str, &'t str)> {
    let bytes = text.as_bytes();
    let needle_bytes = needle.as_bytes();
    let mut from = 0;
    while let Some(offset) = memchr::memchr(needle_bytes[0], &bytes[from..]) {
        let at = from + offset;
        if bytes[at..].starts_with(needle_bytes) {
            // The needle is text, so both ends are on character boundaries.
            return Some((&text[..at], &text[at + needle.len()..]));
        }
        from = at + 1;
    }
    None
}

/// `text.split_once(byte)` for an ASCII byte, with the memchr crate's search (Wasm SIMD):
/// core's `char` searcher reads a 32-bit word at a time on wasm32 and was, with its setup, more
/// than a tenth of extract's instructions on the standard corpus.
fn split_once_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    debug_assert!(byte.is_ascii());
    let at = memchr::memchr(byte, text.as_bytes())?;
    // An ASCII byte is a character of its own, so both sides are on character boundaries.
    Some((&text[..at], &text[at + 1..]))
}

/// `text.split(byte)` for an ASCII byte, searched as in [`split_once_byte`].
fn split_byte(text: &str, byte: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match split_once_byte(current, byte) {
            Some((piece, after)) => {
                rest = Some(after);
                Some(piece)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `text.trim_end_matches(suffix)` for a text pattern, without the substring searcher that
/// `trim_end_matches` sets up for one on every call (measured: more than the rest of a REPORT
/// line's parse).
fn strip_all_suffixes<'t>(mut text: &'t str, suffix: &str) -> &'t str {
    while let Some(rest) = text.strip_suffix(suffix) {
        text = rest;
    }
    text
}

/// `text.trim_start_matches(prefix)`, the same way as [`strip_all_suffixes`].
fn strip_all_prefixes<'t>(mut text: &'t str, prefix: &str) -> &'t str {
    while let Some(rest) = text.strip_prefix(prefix) {
        text = rest;
    }
    text
}

fn lambda_platform(message: &str) -> Option<FieldsText> {
    // The kind is the whole first word, so the first ` RequestId: ` must follow it directly.
    let (kind, rest) = if let Some(rest) = message.strip_prefix("START RequestId: ") {
        ("start", rest)
    } else if let Some(rest) = message.strip_prefix("END RequestId: ") {
        ("end", rest)
    } else if let Some(rest) = message.strip_prefix("REPORT RequestId: ") {
        ("report", rest)
    } else {
        return None;
    };
    let mut fields = FieldsText::for_line(message.len());
    fields.str(Path::AwsLambdaType, kind);
    let mut parts = split_byte(rest, b'\t');
    let head = parts.next()?.trim();
    let (request_id, version) = match split_once_str(head, " Version: ") {
        Some((request_id, version)) => (request_id, Some(version)),
        None => (head, None),
    };
    fields.str(Path::AwsLambdaRequestId, request_id.trim());
    if let Some(version) = version {
        fields.str(Path::AwsLambdaVersion, version.trim());
    }
    for part in parts {
        let Some((name, value)) = split_once_str(part, ": ") else {
            continue;
        };
        let path = match name.trim() {
            "Duration" => Path::AwsLambdaDurationMs,
            "Billed Duration" => Path::AwsLambdaBilledDurationMs,
            "Memory Size" => Path::AwsLambdaMemorySizeMb,
            "Max Memory Used" => Path::AwsLambdaMaxMemoryUsedMb,
            "Init Duration" => Path::AwsLambdaInitDurationMs,
            _ => continue,
        };
        let number = strip_all_suffixes(strip_all_suffixes(value.trim(), " ms"), " MB");
        fields.typed(path, number);
    }
    Some(fields)
}

/// The Lambda runtimes' own lines: `time \t request id \t LEVEL \t text`.
fn lambda_runtime(message: &str) -> Option<(&str, &str)> {
    // The time comes first (`2025-…`, checked below): without its dash the line is not one of
    // these, and the search for tabs through the whole line is skipped.
    if message.as_bytes().get(4) != Some(&b'-') {
        return None;
    }
    // The fourth part is whatever follows the third tab; only whether it exists matters.
    let mut parts = split_byte(message, b'\t');
    let time = parts.next()?;
    let request_id = parts.next()?;
    let level = parts.next()?;
    parts.next()?;
    let looks_right = time.len() >= 20
        && time.as_bytes()[4] == b'-'
        && request_id.len() == 36
        && request_id.bytes().all(|byte| byte.is_ascii_hexdigit() || byte == b'-')
        && !level.is_empty()
        && level.bytes().all(|byte| byte.is_ascii_uppercase());
    looks_right.then_some((request_id, level))
}

/// Common or combined access log: `host ident user [time] "request" status bytes ["referrer" "agent"]`.
fn access_log(message: &str) -> Option<FieldsText> {
    let (host, rest) = split_once_byte(message, b' ')?;
    let (ident, rest) = split_once_byte(rest, b' ')?;
    let (user, rest) = split_once_byte(rest, b' ')?;
    let rest = rest.strip_prefix('[')?;
    let (_time, rest) = split_once_str(rest, "] \"")?;
    let (request, rest) = split_once_str(rest, "\" ")?;
    let mut words = split_byte(rest, b' ');
    let status: u16 = words.next()?.parse().ok()?;
    let bytes = words.next()?;
    let mut fields = FieldsText::for_line(message.len());
    fields.str(Path::SourceAddress, host);
    if ident != "-" {
        fields.str(Path::Ident, ident);
    }
    if user != "-" {
        fields.str(Path::UserName, user);
    }
    let mut request_parts = split_byte(request, b' ');
    if let (Some(method), Some(url), Some(version)) = (request_parts.next(), request_parts.next(), request_parts.next()) {
        fields.str(Path::HttpRequestMethod, method);
        fields.str(Path::UrlOriginal, url);
        fields.str(Path::HttpVersion, strip_all_prefixes(version, "HTTP/"));
    }
    fields.literal(Path::HttpResponseStatusCode, status);
    if let Ok(n_bytes) = bytes.parse::<u64>() {
        fields.literal(Path::HttpResponseBodyBytes, n_bytes);
    }
    let mut quoted = split_byte(rest, b'"');
    if let (Some(_), Some(referrer), Some(_), Some(agent)) = (quoted.next(), quoted.next(), quoted.next(), quoted.next()) {
        if referrer != "-" {
            fields.str(Path::HttpRequestReferrer, referrer);
        }
        fields.str(Path::UserAgentOriginal, agent);
    }
    Some(fields)
}

/// The fields the parsers of fixed shapes write, declared in the order their paths sort (the
/// order a map writes its keys), so that sorting them is sorting small numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Path {
    AwsLambdaBilledDurationMs,
    AwsLambdaDurationMs,
    AwsLambdaInitDurationMs,
    AwsLambdaMaxMemoryUsedMb,
    AwsLambdaMemorySizeMb,
    AwsLambdaRequestId,
    AwsLambdaType,
    AwsLambdaVersion,
    HttpRequestMethod,
    HttpRequestReferrer,
    HttpResponseBodyBytes,
    HttpResponseStatusCode,
    HttpVersion,
    Ident,
    LogLevel,
    SourceAddress,
    UrlOriginal,
    UserName,
    UserAgentOriginal,
}

impl Path {
    const ALL: [Path; 19] = [
        Path::AwsLambdaBilledDurationMs,
        Path::AwsLambdaDurationMs,
        Path::AwsLambdaInitDurationMs,
        Path::AwsLambdaMaxMemoryUsedMb,
        Path::AwsLambdaMemorySizeMb,
        Path::AwsLambdaRequestId,
        Path::AwsLambdaType,
        Path::AwsLambdaVersion,
        Path::HttpRequestMethod,
        Path::HttpRequestReferrer,
        Path::HttpResponseBodyBytes,
        Path::HttpResponseStatusCode,
        Path::HttpVersion,
        Path::Ident,
        Path::LogLevel,
        Path::SourceAddress,
        Path::UrlOriginal,
        Path::UserName,
        Path::UserAgentOriginal,
    ];

    /// The path's keys, from the root. None of them needs escaping in JSON.
    fn parts(self) -> &'static [&'static str] {
        match self {
            Path::AwsLambdaBilledDurationMs => &["aws", "lambda", "billed_duration_ms"],
            Path::AwsLambdaDurationMs => &["aws", "lambda", "duration_ms"],
            Path::AwsLambdaInitDurationMs => &["aws", "lambda", "init_duration_ms"],
            Path::AwsLambdaMaxMemoryUsedMb => &["aws", "lambda", "max_memory_used_mb"],
            Path::AwsLambdaMemorySizeMb => &["aws", "lambda", "memory_size_mb"],
            Path::AwsLambdaRequestId => &["aws", "lambda", "request_id"],
            Path::AwsLambdaType => &["aws", "lambda", "type"],
            Path::AwsLambdaVersion => &["aws", "lambda", "version"],
            Path::HttpRequestMethod => &["http", "request", "method"],
            Path::HttpRequestReferrer => &["http", "request", "referrer"],
            Path::HttpResponseBodyBytes => &["http", "response", "body", "bytes"],
            Path::HttpResponseStatusCode => &["http", "response", "status_code"],
            Path::HttpVersion => &["http", "version"],
            Path::Ident => &["ident"],
            Path::LogLevel => &["log", "level"],
            Path::SourceAddress => &["source", "address"],
            Path::UrlOriginal => &["url", "original"],
            Path::UserName => &["user", "name"],
            Path::UserAgentOriginal => &["user_agent", "original"],
        }
    }
}

/// Fields as (path, JSON literal) pairs, written as one JSON object text with nested objects in
/// key order (the order a map writes them), without building a map: the parsers of fixed shapes
/// (Lambda lines, access logs) write their fields this way.
struct FieldsText {
    entries: Entries,
    literals: String,
}

/// A [`FieldsText`]'s entries: each field's path and where its literal is.
type Entries = Vec<(Path, std::ops::Range<usize>)>;

thread_local! {
    /// The buffers of the last [`FieldsText`] dropped, taken by the next one: two allocations
    /// fewer on every Lambda and access-log line.
    static SPARE_FIELDS_TEXT: std::cell::Cell<(Entries, String)> = const { std::cell::Cell::new((Vec::new(), String::new())) };
}

impl Drop for FieldsText {
    fn drop(&mut self) {
        SPARE_FIELDS_TEXT.set((std::mem::take(&mut self.entries), std::mem::take(&mut self.literals)));
    }
}

impl FieldsText {
    /// Room for the fields of one line of `n_bytes`, so that filling it does not grow it.
    fn for_line(n_bytes: usize) -> FieldsText {
        let (mut entries, mut literals) = SPARE_FIELDS_TEXT.take();
        entries.clear();
        entries.reserve(12);
        literals.clear();
        literals.reserve(n_bytes + 16);
        FieldsText { entries, literals }
    }

    fn str(&mut self, path: Path, text: &str) {
        let start = self.literals.len();
        push_json_str(&mut self.literals, text);
        self.entries.push((path, start..self.literals.len()));
    }

    fn literal(&mut self, path: Path, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let start = self.literals.len();
        let _ = write!(self.literals, "{value}");
        self.entries.push((path, start..self.literals.len()));
    }

    /// A number when the text is one (see [`typed`]), else a string.
    fn typed(&mut self, path: Path, text: &str) {
        let start = self.literals.len();
        if push_number(&mut self.literals, text) {
            self.entries.push((path, start..self.literals.len()));
        } else {
            self.str(path, text);
        }
    }

    /// The JSON object text. Paths must not be prefixes of one another.
    fn json(&mut self) -> String {
        // Stable: a field given twice is written twice, in the order given.
        self.entries.sort_by_key(|(path, _)| *path);
        let table = transitions();
        let mut out = String::with_capacity(self.literals.len() * 2 + 16);
        let mut last = None;
        for (path, literal) in &self.entries {
            push_short(&mut out, &table.between[last.map_or(0, |last: Path| last as usize + 1)][*path as usize]);
            push_short(&mut out, &self.literals[literal.clone()]);
            last = Some(*path);
        }
        push_short(&mut out, last.map_or("{}", |last| &table.close[last as usize]));
        out
    }

    /// Sets the fields on the event: as text when the event has none yet and they go to the
    /// root, else merged as a map (at the root, or under `target`).
    fn put(mut self, event: &mut Event<'_>, target: &Option<String>) {
        let json = self.json();
        if target.is_none() && event.has_no_fields() {
            event.set_fields_json(json);
            return;
        }
        // Text this writer made is a JSON object.
        if let Ok(fields) = serde_json::from_str::<Map<String, Value>>(&json) {
            put(event, target, fields);
        }
    }
}

/// The text between the literals of [`FieldsText::json`], for every pair of paths in order:
/// what closes the objects the first path opened that the second does not share, the comma,
/// what opens the second's own, and its key. The objects nest in key order, as a map writes
/// them, so the walk that finds this text is the same for every line and is done once.
struct Transitions {
    /// `between[0][next]` starts the object; `between[last + 1][next]` follows `last`.
    between: Vec<Vec<String>>,
    /// What closes the object after `last`.
    close: Vec<String>,
}

fn transitions() -> &'static Transitions {
    static TABLE: std::sync::OnceLock<Transitions> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let row = |last: Option<Path>| Path::ALL.iter().map(|&next| transition(last, Some(next))).collect();
        Transitions {
            between: std::iter::once(row(None)).chain(Path::ALL.iter().map(|&last| row(Some(last)))).collect(),
            close: Path::ALL.iter().map(|&last| transition(Some(last), None)).collect(),
        }
    })
}

/// The text from `last`'s literal (or the start) to `next`'s (or the end): see [`Transitions`].
fn transition(last: Option<Path>, next: Option<Path>) -> String {
    let mut out = String::new();
    let open: &[&str] = last.map_or(&[], |last| {
        let parts = last.parts();
        &parts[..parts.len() - 1]
    });
    let Some(next) = next else {
        for _ in 0..open.len() {
            out.push('}');
        }
        out.push('}');
        return out;
    };
    let (parents, key) = next.parts().split_at(next.parts().len() - 1);
    let common = open.iter().zip(parents).take_while(|(left, right)| left == right).count();
    let mut need_comma = last.is_some();
    if last.is_none() {
        out.push('{');
    }
    for _ in common..open.len() {
        out.push('}');
        need_comma = true;
    }
    for parent in &parents[common..] {
        if need_comma {
            out.push(',');
        }
        push_key(&mut out, parent);
        out.push('{');
        need_comma = false;
    }
    if need_comma {
        out.push(',');
    }
    push_key(&mut out, key[0]);
    out
}

/// `"key":` for a key of [`Path::parts`] (no escaping needed, as a test checks).
#[inline(always)]
fn push_key(out: &mut String, key: &str) {
    out.push('"');
    push_short(out, key);
    push_short(out, "\":");
}

/// `key=value key="quoted value"`; `None` unless the whole line is pairs, at least two.
fn logfmt(message: &str) -> Option<Map<String, Value>> {
    let bytes = message.as_bytes();
    let mut fields = Map::new();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at] == b' ' {
            at += 1;
        }
        if at == bytes.len() {
            break;
        }
        let key_start = at;
        while at < bytes.len() && bytes[at] != b'=' && bytes[at] != b' ' {
            at += 1;
        }
        if at == bytes.len() || bytes[at] != b'=' || at == key_start {
            return None;
        }
        let key = &message[key_start..at];
        at += 1;
        let value = if bytes.get(at) == Some(&b'"') {
            at += 1;
            let mut value = String::new();
            let mut closed = false;
            while at < bytes.len() {
                match bytes[at] {
                    b'\\' if at + 1 < bytes.len() => {
                        // The escaped character, whole (a byte of a longer one would split it).
                        let escaped = message[at + 1..].chars().next().expect("a character follows");
                        value.push(escaped);
                        at += 1 + escaped.len_utf8();
                    }
                    b'"' => {
                        at += 1;
                        closed = true;
                        break;
                    }
                    _ => {
                        let char_len = message[at..].chars().next().map_or(1, char::len_utf8);
                        value.push_str(&message[at..at + char_len]);
                        at += char_len;
                    }
                }
            }
            if !closed {
                return None;
            }
            Value::String(value)
        } else {
            let value_start = at;
            while at < bytes.len() && bytes[at] != b' ' {
                at += 1;
            }
            typed(&message[value_start..at])
        };
        fields.insert(key.to_owned(), value);
    }
    (fields.len() >= 2).then_some(fields)
}

use sluicegate_sdk::json_text::{push_short, push_str as push_json_str};

/// [`logfmt`] written straight to JSON object text (no map), with the level if a level key is
/// present; `log.level` is added unless the line has a `log` key.
fn logfmt_json(message: &str, level_keys: &[String]) -> Option<(String, Option<String>)> {
    let bytes = message.as_bytes();
    let scan = LogfmtScan::new(bytes);
    let mut json = String::with_capacity(message.len() + message.len() / 2 + 32);
    json.push('{');
    let mut n_pairs = 0;
    let mut level = None;
    let mut has_log_key = false;
    let mut value = String::new();
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && bytes[at] == b' ' {
            at += 1;
        }
        if at == bytes.len() {
            break;
        }
        // Keys and bare values are read once: whether they need escaping is learnt on the way,
        // and those that do not (nearly all) are copied as they are.
        let key_start = at;
        let (end, plain) = scan.token(at, KEY_END);
        at = end;
        if at == bytes.len() || bytes[at] != b'=' || at == key_start {
            return None;
        }
        let key = &message[key_start..at];
        at += 1;
        if n_pairs > 0 {
            json.push(',');
        }
        push_json_text(&mut json, key, plain);
        json.push(':');
        let is_level_key = level.is_none() && level_keys.iter().any(|level_key| level_key == key);
        if bytes.get(at) == Some(&b'"') {
            at += 1;
            value.clear();
            let mut run_start = at;
            let mut closed = false;
            while at < bytes.len() {
                // Straight to the next quote or backslash.
                at = scan.next(at, QUOTE_OR_BACKSLASH);
                if at == bytes.len() {
                    break;
                }
                match bytes[at] {
                    b'\\' if at + 1 < bytes.len() => {
                        value.push_str(&message[run_start..at]);
                        // The escaped character, whole (a byte of a longer one would split it).
                        let escaped = message[at + 1..].chars().next().expect("a character follows");
                        value.push(escaped);
                        at += 1 + escaped.len_utf8();
                        run_start = at;
                    }
                    b'"' => {
                        value.push_str(&message[run_start..at]);
                        at += 1;
                        closed = true;
                        break;
                    }
                    _ => at += 1,
                }
            }
            if !closed {
                return None;
            }
            push_json_str(&mut json, &value);
            if is_level_key {
                level = Some(value.clone());
            }
        } else {
            let value_start = at;
            let (end, plain) = scan.token(at, VALUE_END);
            at = end;
            let text = &message[value_start..at];
            if !push_number(&mut json, text) {
                push_json_text(&mut json, text, plain);
            }
            if is_level_key {
                level = Some(text.to_owned());
            }
        }
        has_log_key |= key == "log";
        n_pairs += 1;
    }
    if n_pairs < 2 {
        return None;
    }
    if let Some(level) = &level
        && !has_log_key
    {
        json.push_str(",\"log\":{\"level\":");
        push_json_str_upper(&mut json, level);
        json.push('}');
    }
    json.push('}');
    Some((json, if has_log_key { level } else { None }))
}

/// Whether a byte cannot go into a JSON string literal as it is (the escaper would change it).
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// [`LOGFMT_CLASSES`] bit: the byte ends a key (`=` or a space).
const KEY_END: u8 = 1;
/// [`LOGFMT_CLASSES`] bit: the byte ends a bare value (a space).
const VALUE_END: u8 = 2;
/// [`LOGFMT_CLASSES`] bit: the byte [`needs_escape`].
const ESCAPE: u8 = 4;

/// Each byte's classes for [`LogfmtScan`]'s portable path (and [`scan_logfmt`]): one lookup per
/// byte answers where a token ends and whether it needs escaping.
static LOGFMT_CLASSES: [u8; 256] = {
    let mut classes = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut class = 0;
        if byte == b'=' as usize || byte == b' ' as usize {
            class |= KEY_END;
        }
        if byte == b' ' as usize {
            class |= VALUE_END;
        }
        if needs_escape(byte as u8) {
            class |= ESCAPE;
        }
        if byte == b'"' as usize || byte == b'\\' as usize {
            class |= QUOTE_OR_BACKSLASH;
        }
        classes[byte] = class;
        byte += 1;
    }
    classes
};

/// Where the token from `at` ends (the first byte of class `end`, or the end), and whether it
/// is plain (no byte that [`needs_escape`]): the byte-at-a-time definition that
/// [`LogfmtScan::token`] is tested against.
#[cfg(test)]
fn scan_logfmt(bytes: &[u8], mut at: usize, end: u8) -> (usize, bool) {
    let mut seen = 0;
    while let Some(&byte) = bytes.get(at) {
        let class = LOGFMT_CLASSES[byte as usize];
        if class & end != 0 {
            break;
        }
        seen |= class;
        at += 1;
    }
    (at, seen & ESCAPE == 0)
}

/// [`LOGFMT_CLASSES`] bit: a quote or a backslash, where a quoted value ends or escapes.
const QUOTE_OR_BACKSLASH: u8 = 8;

/// A line's bytes of each class of [`scan_logfmt`] (and quotes and backslashes), a bit per byte
/// in blocks of 64, found in one pass (sixteen bytes a step with Wasm SIMD): tokens then end
/// where a bit says, instead of after a lookup per byte.
struct LogfmtScan<'b> {
    bytes: &'b [u8],
    /// Per block, the bits of [`KEY_END`], [`VALUE_END`], [`ESCAPE`] and [`QUOTE_OR_BACKSLASH`].
    blocks: Vec<[u64; 4]>,
}

thread_local! {
    /// The last line's blocks, for their allocation.
    static SPARE_LOGFMT_BLOCKS: std::cell::Cell<Vec<[u64; 4]>> = const { std::cell::Cell::new(Vec::new()) };
}

impl Drop for LogfmtScan<'_> {
    fn drop(&mut self) {
        SPARE_LOGFMT_BLOCKS.set(std::mem::take(&mut self.blocks));
    }
}

/// The place of a class's bits in a [`LogfmtScan`] block.
const fn class_idx(class: u8) -> usize {
    match class {
        KEY_END => 0,
        VALUE_END => 1,
        ESCAPE => 2,
        _ => 3,
    }
}

impl<'b> LogfmtScan<'b> {
    fn new(bytes: &'b [u8]) -> LogfmtScan<'b> {
        let mut blocks = SPARE_LOGFMT_BLOCKS.take();
        blocks.clear();
        let mut base = 0;
        while base < bytes.len() {
            blocks.push(logfmt_block(bytes, base));
            base += 64;
        }
        LogfmtScan { bytes, blocks }
    }

    /// The first byte of `class` at or after `from` (or the length).
    fn next(&self, from: usize, class: u8) -> usize {
        let idx = class_idx(class);
        let mut block_idx = from / 64;
        let Some(block) = self.blocks.get(block_idx) else {
            return self.bytes.len();
        };
        let mut bits = block[idx] & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return block_idx * 64 + bits.trailing_zeros() as usize;
            }
            block_idx += 1;
            match self.blocks.get(block_idx) {
                Some(block) => bits = block[idx],
                None => return self.bytes.len(),
            }
        }
    }

    /// [`scan_logfmt`], from the bits.
    fn token(&self, at: usize, end: u8) -> (usize, bool) {
        let end = self.next(at, end);
        (end, self.next(at, ESCAPE) >= end)
    }
}

/// The bits of one block of [`LogfmtScan`]; bits past the end of `bytes` are clear.
fn logfmt_block(bytes: &[u8], base: usize) -> [u64; 4] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if bytes.len() >= 16 {
        use core::arch::wasm32::{u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128_load, v128_or};
        let mut block = [0u64; 4];
        for chunk_at in [base, base + 16, base + 32, base + 48] {
            if chunk_at >= bytes.len() {
                break;
            }
            // A chunk that would run past the end is loaded to end at the end, its lanes shifted.
            let load_at = chunk_at.min(bytes.len() - 16);
            // SAFETY: `load_at + 16 <= bytes.len()`; v128_load reads unaligned.
            let chunk = unsafe { v128_load(bytes.as_ptr().add(load_at).cast()) };
            let bits = |lanes| (u64::from(u8x16_bitmask(lanes)) >> (chunk_at - load_at)) << (chunk_at - base);
            let is = |byte: u8| u8x16_eq(chunk, u8x16_splat(byte));
            let space = is(b' ');
            let quote_or_backslash = v128_or(is(b'"'), is(b'\\'));
            block[0] |= bits(v128_or(space, is(b'=')));
            block[1] |= bits(space);
            block[2] |= bits(v128_or(quote_or_backslash, u8x16_lt(chunk, u8x16_splat(0x20))));
            block[3] |= bits(quote_or_backslash);
        }
        return block;
    }
    let mut block = [0u64; 4];
    for (idx, &byte) in bytes[base..].iter().take(64).enumerate() {
        let class = LOGFMT_CLASSES[byte as usize];
        for (place, class_bit) in [KEY_END, VALUE_END, ESCAPE, QUOTE_OR_BACKSLASH].into_iter().enumerate() {
            block[place] |= u64::from(class & class_bit != 0) << idx;
        }
    }
    block
}

/// `text` upper-cased (ASCII) as a JSON string literal: in place after escaping when nothing
/// needed escaping (nearly always: a level), so no upper-cased copy is made.
fn push_json_str_upper(out: &mut String, text: &str) {
    if text.bytes().any(needs_escape) {
        // An escape's letters (`\n`) must not be upper-cased: the text is, before escaping.
        push_json_str(out, &text.to_ascii_uppercase());
    } else {
        let start = out.len();
        push_json_str(out, text);
        out[start..].make_ascii_uppercase();
    }
}

/// `text` as a JSON string literal; `plain` says it has no byte that [`needs_escape`], so it is
/// copied between quotes without the escaper's scan.
fn push_json_text(out: &mut String, text: &str, plain: bool) {
    if plain {
        out.push('"');
        push_short(out, text);
        out.push('"');
    } else {
        push_json_str(out, text);
    }
}

/// Milliseconds since the epoch from RFC 3339 text (`2025-11-28T10:00:00.123Z`, offsets allowed).
fn parse_rfc3339(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|byte| byte.is_ascii_digit()).then(|| part.parse().ok())?
    };
    if bytes.len() < 19
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        let fraction = text.get(start..at)?;
        if fraction.is_empty() {
            return None;
        }
        let padded = format!("{fraction:0<3}");
        millis = padded[..3].parse::<i64>().ok()?;
    }
    let offset_minutes = match text.get(at..)? {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') && zone.as_bytes()[3] == b':' => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (number(at + 1..at + 3)? * 60 + number(at + 4..at + 6)?)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60) * 1000) + millis)
}

/// What [`probe_json`] learns about a JSON object message.
#[derive(Debug, Default)]
struct JsonProbe<'t> {
    /// The first of the level keys (in their order) whose value is a string.
    level: Option<Cow<'t, str>>,
    /// Whether the object has a top-level `log` key.
    has_log_key: bool,
    /// Whether the object has no members.
    is_empty: bool,
}

/// Checks that `text` is one JSON object and finds its level and `log` key, without building it:
/// one pass of the SDK's checker, which reports the top-level members where they are.
fn probe_json<'t>(text: &'t str, level_keys: &[String]) -> Result<JsonProbe<'t>, json_scan::Invalid> {
    let mut probe = JsonProbe { is_empty: true, ..JsonProbe::default() };
    // Per level key, its last member (a key given twice keeps its last value, as a map would),
    // on the stack for the usual few level keys: this runs on every JSON line.
    let mut on_stack = [None; 8];
    let mut on_heap = Vec::new();
    let found: &mut [Option<json_scan::Member>] = match on_stack.get_mut(..level_keys.len()) {
        Some(found) => found,
        None => {
            on_heap.resize(level_keys.len(), None);
            &mut on_heap
        }
    };
    json_scan::object_members(text, |member| {
        probe.is_empty = false;
        let key = member.decoded_key(text);
        probe.has_log_key |= key == "log";
        if let Some(key_idx) = level_keys.iter().position(|level_key| *level_key == key) {
            found[key_idx] = Some(member);
        }
    })?;
    // The first level key, in their order, whose value is a string.
    probe.level = found.iter().flatten().find_map(|member| member.string_value(text));
    Ok(probe)
}

/// What the parsers made of a message, owned, to be put on the event.
enum Parsed<'s> {
    /// No parser recognised the line.
    Nothing,
    /// A Lambda platform line's fields.
    Platform(FieldsText),
    /// Fields written as text, at the root or under a target.
    Text(FieldsText, &'s Option<String>),
    /// A Lambda runtime line for an event that already has fields.
    RuntimeNextToFields { request_id: String, level: String },
    /// The event's whole fields as JSON text, and the level to set if there was no room in it.
    Json { json: String, level: Option<String> },
    /// Fields as a map, at the root or under a target.
    Map { fields: Map<String, Value>, target: &'s Option<String>, level: Option<String> },
}

impl Extract {
    /// Runs the parsers in order over the trimmed message; the first that recognises it wins.
    /// `has_no_fields` is the event's state before any change.
    fn parse(&self, trimmed: &str, has_no_fields: bool) -> Result<Parsed<'_>, Error> {
        if self.lambda {
            if let Some(fields) = lambda_platform(trimmed) {
                return Ok(Parsed::Platform(fields));
            }
            if let Some((request_id, runtime_level)) = lambda_runtime(trimmed) {
                if has_no_fields {
                    let mut fields = FieldsText::for_line(64);
                    fields.str(Path::AwsLambdaRequestId, request_id);
                    fields.str(Path::LogLevel, &runtime_level.to_ascii_uppercase());
                    return Ok(Parsed::Text(fields, &None));
                }
                return Ok(Parsed::RuntimeNextToFields { request_id: request_id.to_owned(), level: runtime_level.to_owned() });
            }
        }
        // A line that only starts like JSON (`{main} started`, or JSON that CloudWatch cut at its
        // size limit) is not a failure: the other parsers get it, and it ships as text.
        if let Parser::On(None) = &self.json
            && trimmed.starts_with('{')
            && has_no_fields
            && let Ok(probe) = probe_json(trimmed, &self.level_keys)
        {
            // The message is already the fields' JSON text: it is checked and searched for
            // its level without building a map, and goes as it is, with `log.level` spliced
            // in.
            let mut level = None;
            let mut json = String::with_capacity(trimmed.len() + 32);
            json.push_str(trimmed);
            if let Some(found) = &probe.level
                && !probe.has_log_key
            {
                json.pop();
                json.push_str(if probe.is_empty { "\"log\":{\"level\":" } else { ",\"log\":{\"level\":" });
                push_json_str_upper(&mut json, found);
                json.push_str("}}");
            } else if probe.level.is_some() {
                level = probe.level.map(Cow::into_owned);
            }
            return Ok(Parsed::Json { json, level });
        }
        if let Parser::On(target) = &self.json
            && trimmed.starts_with('{')
            && let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(trimmed)
        {
            let level = self.level_keys.iter().find_map(|key| fields.get(key)?.as_str().map(str::to_owned));
            return Ok(Parsed::Map { fields, target, level });
        }
        if let Parser::On(target) = &self.access_log
            && let Some(fields) = access_log(trimmed)
        {
            return Ok(Parsed::Text(fields, target));
        }
        if let Parser::On(None) = &self.logfmt
            && has_no_fields
            && memchr::memchr(b'=', trimmed.as_bytes()).is_some()
            && let Some((json, level)) = logfmt_json(trimmed, &self.level_keys)
        {
            return Ok(Parsed::Json { json, level });
        }
        if let Parser::On(target) = &self.logfmt
            && memchr::memchr(b'=', trimmed.as_bytes()).is_some()
            && let Some(fields) = logfmt(trimmed)
        {
            let level = self.level_keys.iter().find_map(|key| fields.get(key)?.as_str().map(str::to_owned));
            return Ok(Parsed::Map { fields, target, level });
        }
        Ok(Parsed::Nothing)
    }
}

impl Transform for Extract {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        let patterns = config
            .patterns
            .into_iter()
            .map(|pattern| {
                let regex = Pattern::new(&pattern.regex).map_err(|error| Error::msg(format!("pattern {:?}: {error}", pattern.regex)))?;
                if regex.capture_names().next().is_none() {
                    return Err(Error::msg(format!("pattern {:?} has no named capture", pattern.regex)));
                }
                Ok((regex, pattern.target))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Extract {
            json: config.json.into(),
            logfmt: config.logfmt.into(),
            lambda: config.lambda,
            access_log: config.access_log.into(),
            patterns,
            level_keys: config.level,
            timestamp: config.timestamp,
        })
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        // The parsers read the message in place and hand back what they made (owned), so the
        // message is not copied first.
        let level = match self.parse(event.message().trim(), event.has_no_fields())? {
            Parsed::Nothing => None,
            Parsed::Platform(mut fields) => {
                if event.has_no_fields() {
                    fields.put(event, &None);
                } else if let Ok(Value::Object(mut all)) = serde_json::from_str::<Value>(&fields.json())
                    && let Some(lambda) = all.get_mut("aws").and_then(|aws| aws.get_mut("lambda"))
                {
                    // Next to fields an earlier transform set, replacing only `aws.lambda`.
                    event.set_field("aws.lambda", lambda.take());
                }
                None
            }
            Parsed::Text(fields, target) => {
                fields.put(event, target);
                None
            }
            Parsed::RuntimeNextToFields { request_id, level } => {
                event.set_field("aws.lambda.request_id", request_id);
                Some(level)
            }
            Parsed::Json { json, level } => {
                event.set_fields_json(json);
                level
            }
            Parsed::Map { fields, target, level } => {
                put(event, target, fields);
                level
            }
        };
        // Patterns read the message as it came (extract does not change it), while the event
        // changes: the one place it is copied, and only when there are patterns.
        let message = if self.patterns.is_empty() { String::new() } else { event.message().to_owned() };
        for (regex, target) in &self.patterns {
            if let Some(captures) = regex.captures(&message) {
                let mut fields = Map::new();
                for name in regex.capture_names() {
                    if let Some(found) = captures.name(name) {
                        fields.insert(name.to_owned(), Value::from(found.as_str()));
                    }
                }
                put(event, target, fields);
            }
        }
        if let Some(level) = level
            && event.field("log.level").is_none()
        {
            event.set_field("log.level", level.to_ascii_uppercase());
        }
        if let Some(path) = &self.timestamp
            && let Some(value) = event.field(path)
        {
            let timestamp = match value {
                Value::String(text) => {
                    parse_rfc3339(text).ok_or_else(|| Error::msg(format!("field {path} is not an RFC 3339 time: {text:?}")))?
                }
                Value::Number(number) => match number.as_i64() {
                    Some(millis) if millis > 100_000_000_000 => millis,
                    Some(seconds) => seconds * 1000,
                    None => (number.as_f64().unwrap_or_default() * 1000.0) as i64,
                },
                other => return Err(Error::msg(format!("field {path} is not a time: {other}"))),
            };
            event.set_timestamp(timestamp);
        }
        Ok(Verdict::Keep)
    }
}

sluicegate_sdk::export!(Extract);

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    fn fields(config: &str, message: &str) -> String {
        let mut harness = Harness::<Extract>::new(config).unwrap();
        match harness.run_one(TestEvent::new(message)) {
            TestOutcome::Kept => "kept".to_owned(),
            TestOutcome::Changed(event) => format!("{} @{}", event.fields.unwrap_or_default(), event.timestamp),
            TestOutcome::Failed(reason) => format!("failed: {reason}"),
            TestOutcome::Dropped => "dropped".to_owned(),
        }
    }

    #[test]
    fn many_level_keys_find_the_first_in_their_order() {
        let keys: Vec<String> = (0..12).map(|idx| format!("\"k{idx}\"")).collect();
        let config = format!(r#"{{"level":[{}]}}"#, keys.join(","));
        assert_eq!(fields(&config, r#"{"k11":"warn","x":1}"#), r#"{"k11":"warn","x":1,"log":{"level":"WARN"}} @1700000000000"#);
        assert_eq!(
            fields(&config, r#"{"k11":"warn","k9":"debug"}"#),
            r#"{"k11":"warn","k9":"debug","log":{"level":"DEBUG"}} @1700000000000"#
        );
        assert_eq!(
            fields(&config, r#"{"k3":"info","k3":"error"}"#),
            r#"{"k3":"info","k3":"error","log":{"level":"ERROR"}} @1700000000000"#
        );
    }

    #[test]
    fn parsers() {
        let cases = [
            (
                "REPORT RequestId: 3f1c\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 512 MB\tMax Memory Used: 74 MB\t",
                r#"{"aws":{"lambda":{"billed_duration_ms":103,"duration_ms":102.25,"max_memory_used_mb":74,"memory_size_mb":512,"request_id":"3f1c","type":"report"}}} @1700000000000"#,
            ),
            (
                "START RequestId: 3f1c Version: $LATEST",
                r#"{"aws":{"lambda":{"request_id":"3f1c","type":"start","version":"$LATEST"}}} @1700000000000"#,
            ),
            (
                "2025-11-28T10:00:00.000Z\t0a1b2c3d-0000-1111-2222-333344445555\tWARN\tslow",
                r#"{"aws":{"lambda":{"request_id":"0a1b2c3d-0000-1111-2222-333344445555"}},"log":{"level":"WARN"}} @1700000000000"#,
            ),
            (r#"{"level":"info","n":2,"msg":"hi"}"#, r#"{"level":"info","n":2,"msg":"hi","log":{"level":"INFO"}} @1700000000000"#),
            (r#"{"level":"info","log":{"origin":"x"}}"#, r#"{"level":"info","log":{"level":"INFO","origin":"x"}} @1700000000000"#),
            ("a=1 a=2 log=x level=warn", r#"{"a":2,"level":"warn","log":{"level":"WARN"}} @1700000000000"#),
            (
                r#"10.0.0.7 - bob [28/Nov/2025:10:01:02 +0000] "GET /a?b=1 HTTP/1.1" 404 512 "https://x.example/" "curl/8.5.0""#,
                r#"{"http":{"request":{"method":"GET","referrer":"https://x.example/"},"response":{"body":{"bytes":512},"status_code":404},"version":"1.1"},"source":{"address":"10.0.0.7"},"url":{"original":"/a?b=1"},"user":{"name":"bob"},"user_agent":{"original":"curl/8.5.0"}} @1700000000000"#,
            ),
            (
                r#"level=warn msg="stock \"low\"" qty=5 version=2.14.3 id=0123 ratio=0.5"#,
                r#"{"level":"warn","msg":"stock \"low\"","qty":5,"version":"2.14.3","id":"0123","ratio":0.5,"log":{"level":"WARN"}} @1700000000000"#,
            ),
            // The level keys' order decides, not the message's; a key that is not text is skipped.
            (r#"{"severity":"x","level":"y"}"#, r#"{"severity":"x","level":"y","log":{"level":"Y"}} @1700000000000"#),
            (r#"{"level":{"n":3},"severity":"err"}"#, r#"{"level":{"n":3},"severity":"err","log":{"level":"ERR"}} @1700000000000"#),
            (r#"{"level":"a","level":2}"#, r#"{"level":"a","level":2} @1700000000000"#),
            ("{}", r#"{} @1700000000000"#),
            (r#"{"level":"a","level":2,"lvl":"dbg"}"#, r#"{"level":"a","level":2,"lvl":"dbg","log":{"level":"DBG"}} @1700000000000"#),
            // Keys and values are read with their escapes decoded.
            (r#"{"l\u0065vel":"w\u0061rn"}"#, r#"{"l\u0065vel":"w\u0061rn","log":{"level":"WARN"}} @1700000000000"#),
            (r#"{"lo\u0067":{},"level":"x"}"#, r#"{"level":"x","log":{"level":"X"}} @1700000000000"#),
            // Lone surrogates are not JSON a document can carry: the line ships as text.
            (r#"{"a":"\ud800"}"#, "kept"),
            // Regression: lines that only start like JSON failed, and the default policy
            // dead-lettered ordinary log lines.
            (r#"{"a":1} x"#, "kept"),
            ("just text = not logfmt", "kept"),
            ("{not json", "kept"),
            ("{main} started", "kept"),
            (r#"{"cut":"at the size li"#, "kept"),
        ];
        for (message, expected) in cases {
            assert_eq!(fields("{}", message), expected, "message {message:?}");
        }
    }

    #[test]
    fn fields_text_writes_what_a_map_writes() {
        // Every pair of paths, and some longer runs: the text from the table of transitions
        // against the same fields put into a map and written by serde_json.
        let mut sets: Vec<Vec<Path>> = Path::ALL.iter().flat_map(|&a| Path::ALL.iter().map(move |&b| vec![a, b])).collect();
        sets.extend(Path::ALL.windows(5).map(<[Path]>::to_vec));
        sets.push(Path::ALL.to_vec());
        sets.push(vec![]);
        for paths in sets {
            let mut fields = FieldsText::for_line(64);
            let mut map = Map::new();
            for (idx, &path) in paths.iter().enumerate() {
                if map_contains(&map, path.parts()) {
                    continue;
                }
                fields.literal(path, idx);
                map_insert(&mut map, path.parts(), Value::from(idx));
            }
            let text = fields.json();
            assert_eq!(text, serde_json::to_string(&map).unwrap(), "{paths:?}");
        }
    }

    fn map_contains(map: &Map<String, Value>, parts: &[&str]) -> bool {
        let mut value = map.get(parts[0]);
        for part in &parts[1..] {
            value = value.and_then(|value| value.get(part));
        }
        value.is_some()
    }

    fn map_insert(map: &mut Map<String, Value>, parts: &[&str], value: Value) {
        let (last, parents) = parts.split_last().unwrap();
        let mut object = map;
        for parent in parents {
            object = object.entry(*parent).or_insert_with(|| Value::Object(Map::new())).as_object_mut().unwrap();
        }
        object.insert((*last).to_owned(), value);
    }

    #[test]
    fn paths_are_declared_in_key_order_and_need_no_escaping() {
        for pair in Path::ALL.windows(2) {
            assert!(pair[0] < pair[1] && pair[0].parts() < pair[1].parts(), "{pair:?}");
            assert!(!pair[1].parts().starts_with(pair[0].parts()), "{pair:?}: a path is a prefix of the next");
        }
        for path in Path::ALL {
            for key in path.parts() {
                assert!(key.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'_'), "{key:?}");
            }
        }
    }

    #[test]
    fn an_escaped_character_that_is_not_ascii_is_kept_whole() {
        // Regression: a backslash before a character of more than one byte in a quoted logfmt
        // value panicked (the value was cut inside the character), trapping the module.
        assert_eq!(fields("{}", r#"a="\é" b=1"#), r#"{"a":"é","b":1} @1700000000000"#);
        assert_eq!(fields(r#"{"logfmt":{"target":"kv"}}"#, r#"a="x\ü\"y" b=1"#), r#"{"kv":{"a":"xü\"y","b":1}} @1700000000000"#);
    }

    #[test]
    fn the_logfmt_scan_ends_tokens_and_flags_escapes_as_the_byte_rules_say() {
        for byte in 0..=255u8 {
            let bytes = [b'a', byte, b'b'];
            let ends_key = byte == b'=' || byte == b' ';
            assert_eq!(scan_logfmt(&bytes, 0, KEY_END), if ends_key { (1, true) } else { (3, !needs_escape(byte)) }, "byte {byte:#x}");
            assert_eq!(
                scan_logfmt(&bytes, 0, VALUE_END),
                if byte == b' ' { (1, true) } else { (3, !needs_escape(byte)) },
                "byte {byte:#x}"
            );
        }
    }

    #[test]
    fn the_block_scan_ends_tokens_where_the_byte_scan_does() {
        let alphabet = b"ab= \"\\\t\xc3x=yz ";
        for bytes in sluicegate_sdk::testing::byte_strings(alphabet, 2_000, 0x9e37_79b9_7f4a_7c15u64) {
            let len = bytes.len();
            let scan = LogfmtScan::new(&bytes);
            for at in 0..=len {
                for end in [KEY_END, VALUE_END] {
                    assert_eq!(scan.token(at, end), scan_logfmt(&bytes, at, end), "{:?} from {at}", String::from_utf8_lossy(&bytes));
                }
                let quote = (at..len).find(|&idx| matches!(bytes[idx], b'"' | b'\\')).unwrap_or(len);
                assert_eq!(scan.next(at, QUOTE_OR_BACKSLASH), quote);
            }
        }
    }

    #[test]
    fn the_integer_shortcut_writes_what_the_number_parser_would() {
        let texts = [
            "0",
            "-0",
            "7",
            "-7",
            "012",
            "-012",
            "00",
            "123456789012345678",
            "1234567890123456789",
            "-9223372036854775808",
            "99999999999999999999",
            "1.5",
            "-0.0",
            "2.14.3",
            ".5",
            "5.",
            "1e5",
            "-",
            "",
            "+5",
            "12ms",
            "0x10",
        ];
        for text in texts {
            let mut shortcut = String::new();
            let pushed = push_number(&mut shortcut, text);
            let parsed = number(text);
            assert_eq!(pushed, parsed.is_some(), "{text:?}");
            if let Some(value) = parsed {
                assert_eq!(shortcut, value.to_string(), "{text:?}");
            }
        }
    }

    #[test]
    fn the_unit_and_prefix_strips_match_the_standard_trims() {
        for text in ["5 ms", "5 ms ms", "5", " ms", "", "5 MB", "5 msx"] {
            assert_eq!(strip_all_suffixes(text, " ms"), text.trim_end_matches(" ms"), "{text:?}");
        }
        for text in ["HTTP/1.1", "HTTP/HTTP/2", "1.0", "", "http/1.1"] {
            assert_eq!(strip_all_prefixes(text, "HTTP/"), text.trim_start_matches("HTTP/"), "{text:?}");
        }
    }

    #[test]
    fn plain_text_is_what_the_escaper_leaves_alone() {
        for byte in 0..=127u8 {
            let text = char::from(byte).to_string();
            let mut escaped = String::new();
            push_json_str(&mut escaped, &text);
            assert_eq!(escaped == format!("\"{text}\""), !needs_escape(byte), "byte {byte:#x}");
        }
        let mut escaped = String::new();
        push_json_str(&mut escaped, "é日本");
        assert_eq!(escaped, "\"é日本\"", "bytes of longer characters need nothing");
    }

    #[test]
    fn numbers_are_written_as_their_json_values() {
        for text in [
            "0",
            "-0",
            "7",
            "-12",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "2.50",
            "0.0",
            "-0.5",
            "1.0000000000000001",
            "007",
            "1.2.3",
            "x",
        ] {
            let mut written = String::new();
            let is_number = push_number(&mut written, text);
            assert_eq!(is_number.then_some(written), number(text).map(|value| value.to_string()), "{text:?}");
        }
    }

    #[test]
    fn split_once_str_is_str_split_once() {
        let texts = ["", ":", ": ", "a: b: c", "::  x", "] \"GET\" 200", "x] ]\" \"\" ", "é: ü", "Duration: 1 ms", "ab"];
        for text in texts {
            for needle in [": ", "] \"", "\" ", " Version: ", "b"] {
                assert_eq!(split_once_str(text, needle), text.split_once(needle), "{text:?} {needle:?}");
            }
        }
    }

    #[test]
    fn upper_cased_literals_escape_what_the_upper_cased_text_needs() {
        for text in ["info", "Warn", "", "é-debug", "a\nb", "q\"x", "t\u{1}"] {
            let mut ours = String::from("x");
            push_json_str_upper(&mut ours, text);
            let mut plain = String::from("x");
            push_json_str(&mut plain, &text.to_ascii_uppercase());
            assert_eq!(ours, plain, "{text:?}");
        }
    }

    #[test]
    fn byte_splits_are_str_splits() {
        let texts = ["", " ", "  ", "a", "a b", " a ", "a  b ", "1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200", "é ü\tö", "\t\t", "\"a\" \"\""];
        for text in texts {
            for byte in [b' ', b'\t', b'"', b'='] {
                assert_eq!(split_once_byte(text, byte), text.split_once(char::from(byte)), "{text:?} {byte}");
                assert_eq!(split_byte(text, byte).collect::<Vec<_>>(), text.split(char::from(byte)).collect::<Vec<_>>(), "{text:?} {byte}");
            }
        }
    }

    #[test]
    fn platform_lines_need_the_kind_as_the_whole_first_word() {
        for message in
            ["START  RequestId: 1", "STARTED RequestId: 1", "END START RequestId: 1", "REPORT x RequestId: 1", "START RequestId:1"]
        {
            assert_eq!(lambda_platform(message).map(|mut fields| fields.json()), None, "{message:?}");
        }
        assert!(lambda_platform("END RequestId: ").is_some());
    }

    #[test]
    fn fields_of_earlier_transforms_stay() {
        let mut harness = Harness::<Extract>::new("{}").unwrap();
        let with_fields = |message: &str| TestEvent::new(message).fields(r#"{"aws":{"other":1},"team":"a"}"#);
        let TestOutcome::Changed(event) = harness.run_one(with_fields("END RequestId: 3f1c")) else { panic!("not changed") };
        assert_eq!(event.fields.unwrap(), r#"{"aws":{"lambda":{"request_id":"3f1c","type":"end"},"other":1},"team":"a"}"#);
        let TestOutcome::Changed(event) =
            harness.run_one(with_fields("2025-11-28T10:00:00.000Z\t0a1b2c3d-0000-1111-2222-333344445555\tWARN\tx"))
        else {
            panic!("not changed")
        };
        assert_eq!(
            event.fields.unwrap(),
            r#"{"aws":{"lambda":{"request_id":"0a1b2c3d-0000-1111-2222-333344445555"},"other":1},"log":{"level":"WARN"},"team":"a"}"#
        );
    }

    #[test]
    fn targets_patterns_and_timestamps() {
        assert_eq!(fields(r#"{"json":{"target":"app"}}"#, r#"{"a":1}"#), r#"{"app":{"a":1}} @1700000000000"#);
        assert_eq!(fields(r#"{"json":false,"logfmt":false}"#, r#"{"a":1}"#), "kept");
        assert_eq!(fields(r#"{"patterns":[{"regex":"took (?P<took>\\d+)ms"}]}"#, "job took 15ms"), r#"{"took":"15"} @1700000000000"#);
        assert_eq!(
            fields(r#"{"timestamp":"time"}"#, r#"{"time":"2025-11-28T10:00:00.123+01:00"}"#),
            r#"{"time":"2025-11-28T10:00:00.123+01:00"} @1764320400123"#
        );
        assert_eq!(fields(r#"{"timestamp":"t"}"#, r#"{"t":1764320400}"#), r#"{"t":1764320400} @1764320400000"#);
        assert!(fields(r#"{"timestamp":"t"}"#, r#"{"t":"yesterday"}"#).starts_with("failed: field t is not an RFC 3339 time"));
        assert!(Harness::<Extract>::new(r#"{"patterns":[{"regex":"no names"}]}"#).is_err());
    }
}
