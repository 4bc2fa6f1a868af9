//! The `extract` transform: turns structured log lines into fields.
//!
//! ```json
//! {
//!   "json": true,
//!   "logfmt": {"target": "kv"},
//!   "lambda": true,
//!   "access_log": true,
//!   "patterns": [{"regex": "took (?P<took_ms>\\d+)ms"}],
//!   "level": ["level", "severity", "lvl"],
//!   "timestamp": "time",
//!   "promote": {"order.total": "double", "tier": "keyword"},
//!   "overwrite": false
//! }
//! ```
//!
//! The parsers run in this order and the first that recognises the line wins: Lambda platform
//! lines (`START`, `END`, `REPORT` with numbers in milliseconds and megabytes, and the runtime's
//! tab-separated `time, request id, LEVEL, text` lines), JSON objects, access logs (common or
//! combined), logfmt (`key=value`, at least two pairs). Each is on by default (`false` turns it
//! off). Every `patterns` regex is then tried and its named captures become fields (the `regex`
//! crate's syntax with ASCII-only `\w`, `\d`, `\s`, `\b` and case folding; see the `pattern`
//! crate).
//!
//! **Where fields go.** A line's own fields (a JSON line's members, logfmt pairs, a pattern's
//! captures; a key given twice keeps its last value, and `{}` adds none) go under `attributes` by
//! default: the index template maps that object as one flattened field, so services that disagree
//! on a key's type (`user` a string in one, an object in another) never conflict, and a service
//! that logs a new key per metric never exhausts the field limit. `{"target": "key"}` (on `json`,
//! `logfmt`, `access_log` or a pattern) puts them under another object (a dotted path);
//! `{"target": ""}` puts them at the root of the document, where the first document to carry a key
//! decides its type for the whole index: the choice that conflicts. A target on or inside a field
//! the engine writes (`event`, `cloud.account`; the list is `promote`'s below, `attributes` aside)
//! is refused when the transform starts. The fields whose type extract
//! knows are typed fields at the root, whatever the line's target: Lambda lines' `aws.lambda.*`,
//! access logs' `http.*`, `url.original`, `source.address`, `user.name`, `user_agent.original` and
//! `ident` (the access log's own `target` is the root unless set), and `log.level`.
//!
//! **Level and time.** `log.level` is set, upper case, from the parsed fields (the line's, then
//! each pattern's captures), wherever they went: the first key of `level`, in that list's order,
//! that the fields have decides, and only text is a level (`level=5` and `{"level":30}` give
//! none). With `timestamp`, the event time is set from the field at that path inside the parsed
//! fields (`time`, `ts.unix`) or, when they have none, in the event's fields as extract leaves
//! them: RFC 3339 text, or epoch seconds or milliseconds.
//!
//! **`promote`** moves fields from the parsed fields (`order.total` is `attributes.order.total`
//! by default) to typed root fields of the same path (`order.total`), converting the value:
//! `keyword` and `text` take any scalar as text, `long` an integer or integer text, `double` a
//! number or numeric text, `boolean` `true`/`false` or their text, `date` RFC 3339 text or an
//! epoch number, `ip` an IPv4 or IPv6 address as text. A value that does not convert stays where
//! it was, still searchable there. `sluicegate setup` maps the promoted fields from this same
//! object with the same type names. A path onto a field the engine writes (`@timestamp`,
//! `message`, `event.*`, `aws.cloudwatch.*`, `cloud.*`, `log.level`, `attributes.*`) is refused.
//!
//! **Fields already there.** A field extract would write (at the root, under a target, or
//! promoted) that the event already has when extract runs is kept as it is: a chain's earlier
//! transforms (one that sets `service` from the log group, say) must not be undone by whatever a
//! line happens to contain. `"overwrite": true` lets the line's fields replace them instead.
//! Objects on both sides merge key by key. Among extract's own fields the first written stays:
//! the typed fields, then promoted fields, then the line's fields, then each pattern's captures
//! in order, then `log.level` (so a line's own `log.level`, at the root, beats its level key).

mod fields;
mod promote;

use std::borrow::Cow;
use std::mem::MaybeUninit;

use pattern::Pattern;
use serde::Deserialize;
use sluicegate_abi::json_scan;
use sluicegate_abi::json_text::{push_short, push_str as push_json_str};
use sluicegate_sdk::{Error, Event, Map, Transform, Value, Verdict};

use fields::{ROOT, Target};
use promote::Promotion;

/// The object a line's own fields go under by default (the template's flattened object).
const ATTRIBUTES: &str = "attributes";

/// The extract transform.
pub struct Extract {
    json: Parser,
    logfmt: Parser,
    lambda: bool,
    access_log: Parser,
    patterns: Vec<(Pattern, Target)>,
    level_keys: Vec<String>,
    /// A bit per level key's [`key_bit`] (see [`Wanted::level_bits`]).
    level_bits: u64,
    /// The [`key_bit`] of the `timestamp` path's first key (none without one).
    time_bit: u64,
    timestamp: Option<TimestampPath>,
    promote: Vec<Promotion>,
    overwrite: bool,
}

/// The configured `timestamp` path.
struct TimestampPath {
    text: String,
    parts: Vec<String>,
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
    promote: Value,
    overwrite: bool,
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
            promote: Value::Object(Map::new()),
            overwrite: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ParserConfig {
    On(bool),
    With(ParserOptions),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParserOptions {
    #[serde(default)]
    target: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternConfig {
    regex: String,
    #[serde(default)]
    target: Option<String>,
}

/// Whether a parser runs, and where its fields go.
enum Parser {
    Off,
    On(Target),
}

impl Parser {
    /// The parser as configured; without a `target`, its fields go to `default`.
    fn new(config: ParserConfig, default: &str) -> Parser {
        match config {
            ParserConfig::On(false) => Parser::Off,
            ParserConfig::On(true) | ParserConfig::With(ParserOptions { target: None }) => Parser::On(Target::new(default)),
            ParserConfig::With(ParserOptions { target: Some(target) }) => Parser::On(Target::new(&target)),
        }
    }

    fn target(&self) -> Option<&Target> {
        match self {
            Parser::Off => None,
            Parser::On(target) => Some(target),
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
    // Digits past a double's range parse as infinity, which is no JSON number: they stay text.
    text.parse::<f64>().ok().filter(|float| float.is_finite()).map(Value::from)
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

/// What the level keys of some parsed fields say, by the one rule every parser follows: the
/// first level key (in the configured order) that the fields have decides, and only text is a
/// level. `None`: the fields have none of the keys; `Some(None)`: the first they have is not
/// text.
type Level<'t> = Option<Option<Cow<'t, str>>>;

/// [`Level`] from what the fields hold under each level key, in the keys' order (for a key given
/// twice, its last value, as a map keeps it): `Some(None)` for a value that is not text.
fn decide_level<'t>(found: impl IntoIterator<Item = Level<'t>>) -> Level<'t> {
    found.into_iter().flatten().next()
}

/// [`decide_level`] over a map of fields.
fn level_in<'v>(level_keys: &[String], fields: &'v Map<String, Value>) -> Level<'v> {
    decide_level(level_keys.iter().map(|key| fields.get(key).map(|value| value.as_str().map(Cow::Borrowed))))
}

/// The keys the parsers of a line's own fields look for while they read it.
struct Wanted<'c> {
    level_keys: &'c [String],
    /// A bit per level key's [`key_bit`]: most keys have none of these bits, and are passed
    /// over without a comparison.
    level_bits: u64,
    /// The `timestamp` path's keys.
    time: Option<&'c [String]>,
    /// [`Wanted::level_bits`] and the [`key_bit`] of the `timestamp` path's first key: a key
    /// without any of them is none of the keys looked for, found with one test.
    any_bits: u64,
}

impl Wanted<'_> {
    /// Which level key `key` is.
    #[inline]
    fn level_idx(&self, key: &str, bit: u64) -> Option<usize> {
        if self.level_bits & bit == 0 {
            return None;
        }
        self.level_keys.iter().position(|level_key| level_key == key)
    }
}

/// One of 64 bits for a key, from its length and its first and last bytes: two keys with
/// different bits differ. Computed once per key of a line, for [`Wanted::level_idx`] and
/// [`KeySet::insert`].
#[inline]
fn key_bit(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let first = usize::from(bytes.first().copied().unwrap_or(0));
    let last = usize::from(bytes.last().copied().unwrap_or(0));
    1 << ((bytes.len().wrapping_mul(31) ^ first ^ (last << 2)) & 63)
}

/// What a parser of a line's own fields (JSON, logfmt) learnt while reading them.
#[derive(Debug)]
struct Probe<'t> {
    level: Level<'t>,
    /// The value at the `timestamp` path, when the fields have one.
    time: Option<Value>,
    /// Whether the fields have a top-level `log` key.
    has_log_key: bool,
    /// Whether the fields have no members.
    is_empty: bool,
    /// Whether a top-level key may be given twice (see [`KeySet`]).
    repeated_keys: bool,
}

/// Whether a key repeats among an object's top-level keys, found as they come: a bit per key
/// ([`key_bit`]) and the first key of each bit; a key whose bit is taken is compared with that
/// key and the others whose bit was taken (few). Past the ones it keeps, a taken bit counts as a
/// repeat (a false alarm costs only the merging path).
///
/// A key given twice would reach the document twice inside the target object, and the index
/// refuses a document with a repeated key; such lines take the merging path, where the last value
/// wins as it does in a map.
struct KeySet<'t> {
    bits: u64,
    /// The first key of each bit; only those whose bit is set are written (setting them all on
    /// every line costs more, in Wasm, than the rest of the set's work).
    first: [MaybeUninit<&'t str>; 64],
    /// The keys whose bit was already taken by another.
    others: [MaybeUninit<&'t str>; 8],
    n_others: usize,
    repeated: bool,
}

impl<'t> KeySet<'t> {
    fn new() -> KeySet<'t> {
        KeySet {
            bits: 0,
            first: [const { MaybeUninit::uninit() }; 64],
            others: [const { MaybeUninit::uninit() }; 8],
            n_others: 0,
            repeated: false,
        }
    }

    #[inline]
    fn insert(&mut self, key: &'t str, bit: u64) {
        let slot = &mut self.first[bit.trailing_zeros() as usize & 63];
        if self.bits & bit == 0 {
            self.bits |= bit;
            *slot = MaybeUninit::new(key);
            return;
        }
        if self.repeated {
            return;
        }
        // SAFETY: the slot of a set bit and the others below `n_others` were written.
        let others = &self.others[..self.n_others.min(self.others.len())];
        self.repeated = unsafe { slot.assume_init() } == key
            || others.iter().any(|other| unsafe { other.assume_init() } == key)
            || self.n_others >= self.others.len();
        if let Some(other) = self.others.get_mut(self.n_others) {
            *other = MaybeUninit::new(key);
            self.n_others += 1;
        }
    }
}

/// `key=value key="quoted value"` written straight to JSON object text (no map), after
/// `prefix`; `None` unless the whole line is pairs, at least two. Bare values that are plain
/// numbers (see [`typed`]) become numbers, everything else text.
// Out of line, as `probe_json`: inlined into `Extract::parse`, they made the other parsers'
// lines slower in Wasm.
#[inline(never)]
fn logfmt_json<'m>(message: &'m str, wanted: &Wanted<'_>, prefix: &str) -> Option<(String, Probe<'m>)> {
    let bytes = message.as_bytes();
    let scan = LogfmtScan::new(bytes);
    // Owned here, not borrowed from the caller, so that its length and capacity stay in locals
    // through the many short pushes (through a reference they are read and written in memory
    // on every one). Room for the pairs as JSON (quotes and commas added) and `log.level`.
    let mut json = String::with_capacity(prefix.len() + message.len() + message.len() / 2 + 64);
    json.push_str(prefix);
    json.push('{');
    // Per level key, its last value, on the stack for the usual few level keys.
    let mut on_stack: [Level<'m>; 8] = Default::default();
    let mut on_heap = Vec::new();
    let found: &mut [Level<'m>] = match on_stack.get_mut(..wanted.level_keys.len()) {
        Some(found) => found,
        None => {
            on_heap.resize(wanted.level_keys.len(), None);
            &mut on_heap
        }
    };
    // Logfmt keys are flat: only a one-key path can name one.
    let time_key = match wanted.time {
        Some([key]) => Some(key.as_str()),
        _ => None,
    };
    let mut time = None;
    let mut keys = KeySet::new();
    let mut n_pairs = 0;
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
        let bit = key_bit(key);
        let (level_idx, is_time_key) = match wanted.any_bits & bit {
            0 => (None, false),
            _ => (wanted.level_idx(key, bit), time_key == Some(key)),
        };
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
            if let Some(level_idx) = level_idx {
                found[level_idx] = Some(Some(Cow::Owned(value.clone())));
            }
            if is_time_key {
                time = Some(Value::String(value.clone()));
            }
        } else {
            let value_start = at;
            let (end, plain) = scan.token(at, VALUE_END);
            at = end;
            let text = &message[value_start..at];
            let is_number = push_number(&mut json, text);
            if !is_number {
                push_json_text(&mut json, text, plain);
            }
            if let Some(level_idx) = level_idx {
                found[level_idx] = Some((!is_number).then_some(Cow::Borrowed(text)));
            }
            if is_time_key {
                time = Some(typed(text));
            }
        }
        keys.insert(key, bit);
        has_log_key |= key == "log";
        n_pairs += 1;
    }
    if n_pairs < 2 {
        return None;
    }
    json.push('}');
    let level = decide_level(found.iter_mut().map(Option::take));
    Some((json, Probe { level, time, has_log_key, is_empty: false, repeated_keys: keys.repeated }))
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
pub(crate) fn parse_rfc3339(text: &str) -> Option<i64> {
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

/// Checks that `text` is one JSON object and finds what [`Probe`] says of it, without building
/// it: one pass of `json_scan`'s checker, which reports the top-level members where they are.
#[inline(never)]
fn probe_json<'t>(text: &'t str, wanted: &Wanted<'_>) -> Result<Probe<'t>, json_scan::Invalid> {
    // Per level key, its last member (a key given twice keeps its last value, as a map would),
    // on the stack for the usual few level keys: this runs on every JSON line.
    let mut on_stack = [None; 8];
    let mut on_heap = Vec::new();
    let found: &mut [Option<json_scan::Member>] = match on_stack.get_mut(..wanted.level_keys.len()) {
        Some(found) => found,
        None => {
            on_heap.resize(wanted.level_keys.len(), None);
            &mut on_heap
        }
    };
    let time_key = wanted.time.and_then(<[String]>::first).map(String::as_str);
    let mut time_member = None;
    let mut keys = KeySet::new();
    let mut has_log_key = false;
    let mut is_empty = true;
    json_scan::object_members(text, |member| {
        is_empty = false;
        let key = member.decoded_key(text);
        let bit = key_bit(&key);
        match key {
            Cow::Borrowed(key) => keys.insert(key, bit),
            // Not the line's text: whether it repeats a key is left to the merging path.
            Cow::Owned(_) => keys.repeated = true,
        }
        has_log_key |= key == "log";
        if wanted.any_bits & bit != 0 {
            if let Some(level_idx) = wanted.level_idx(&key, bit) {
                found[level_idx] = Some(member);
            }
            if time_key == Some(&*key) {
                time_member = Some(member);
            }
        }
    })?;
    let level = decide_level(found.iter().map(|member| member.map(|member| member.string_value(text))));
    let time = time_member.and_then(|member| {
        let value = serde_json::from_str(member.value(text)).ok()?;
        value_at(value, &wanted.time?[1..])
    });
    Ok(Probe { level, time, has_log_key, is_empty, repeated_keys: keys.repeated })
}

/// The value at the path `parts` inside `value` (`value` itself for no parts).
fn value_at(mut value: Value, parts: &[String]) -> Option<Value> {
    for part in parts {
        value = match value {
            Value::Object(mut object) => object.remove(part)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The event time a `timestamp` field gives: RFC 3339 text, or epoch seconds or milliseconds.
fn event_time(path: &str, value: &Value) -> Result<i64, Error> {
    Ok(match value {
        Value::String(text) => parse_rfc3339(text).ok_or_else(|| Error::msg(format!("field {path} is not an RFC 3339 time: {text:?}")))?,
        Value::Number(number) => match number.as_i64() {
            Some(millis) if millis > 100_000_000_000 => millis,
            Some(seconds) => seconds * 1000,
            None => (number.as_f64().unwrap_or_default() * 1000.0) as i64,
        },
        other => return Err(Error::msg(format!("field {path} is not a time: {other}"))),
    })
}

/// What the line parsers made of a message.
enum Line<'a> {
    /// No parser recognised it.
    Nothing,
    /// Typed fields (Lambda lines, access logs) and where they go.
    Typed(FieldsText, &'a Target),
    /// A line's own fields (JSON, logfmt) and where they go.
    Own(Own<'a>, &'a Target),
}

/// A line's own fields: JSON object text at `text[object_start..]` (a JSON line is its own text;
/// a logfmt line's is written after the target's [`Target::open`]), and what its parser learnt.
struct Own<'a> {
    text: Cow<'a, str>,
    object_start: usize,
    probe: Probe<'a>,
}

impl Line<'_> {
    /// Whether [`Line::into_text`] writes what [`Extract::new_fields`] would, so that an event
    /// without fields, without promotions and without pattern captures can take the text: not
    /// when a top-level key may repeat, nor when `log.level` would have to merge into an object
    /// of the line's (its own `log` at the root, or a target under `log`).
    fn can_be_written_as_text(&self, has_level: bool) -> bool {
        match self {
            Line::Nothing | Line::Typed(..) => true,
            Line::Own(own, target) => {
                let level_meets_line = match target.parts().first() {
                    None => own.probe.has_log_key,
                    Some(first) => first == "log",
                };
                !(own.probe.repeated_keys || (has_level && level_meets_line))
            }
        }
    }

    /// The fields as the JSON text an event without fields takes, with `log.level` when there is
    /// a level (see [`Line::can_be_written_as_text`]); nothing for no fields.
    fn into_text(self, level: Option<&str>) -> Option<String> {
        match self {
            Line::Nothing => None,
            Line::Typed(mut fields, target) => {
                let json = fields.json();
                if target.is_root() {
                    return Some(json);
                }
                let mut text = String::with_capacity(target.open().len() + json.len() + 8);
                text.push_str(target.open());
                text.push_str(&json);
                target.close(&mut text, false);
                Some(text)
            }
            Line::Own(own, _) if own.probe.is_empty => None,
            Line::Own(own, target) => {
                let mut json = match own.text {
                    // Written after the target's opening already.
                    Cow::Owned(text) => text,
                    Cow::Borrowed(line) => {
                        let mut json = String::with_capacity(target.open().len() + line.len() + 48);
                        json.push_str(target.open());
                        json.push_str(line);
                        json
                    }
                };
                if target.is_root() {
                    if let Some(level) = level {
                        // The object's closing brace makes way for `log`.
                        json.pop();
                        json.push_str(if own.probe.is_empty { "\"log\":{\"level\":" } else { ",\"log\":{\"level\":" });
                        push_json_str_upper(&mut json, level);
                        json.push_str("}}");
                    }
                } else {
                    target.close(&mut json, level.is_some());
                    if let Some(level) = level {
                        json.push_str(",\"log\":{\"level\":");
                        push_json_str_upper(&mut json, level);
                        json.push_str("}}");
                    }
                }
                Some(json)
            }
        }
    }
}

/// How the event's fields change.
enum Write {
    Nothing,
    /// The whole fields, as text, for an event that had none.
    Text(String),
    /// Fields to merge into the event's own.
    Merge(Map<String, Value>),
}

impl Extract {
    fn wanted(&self) -> Wanted<'_> {
        Wanted {
            level_keys: &self.level_keys,
            level_bits: self.level_bits,
            any_bits: self.level_bits | self.time_bit,
            time: self.timestamp.as_ref().map(|timestamp| timestamp.parts.as_slice()),
        }
    }

    /// Runs the parsers in order over the trimmed message; the first that recognises it wins.
    fn parse<'a>(&'a self, trimmed: &'a str) -> Line<'a> {
        if self.lambda {
            if let Some(fields) = lambda_platform(trimmed) {
                return Line::Typed(fields, &ROOT);
            }
            if let Some((request_id, level)) = lambda_runtime(trimmed) {
                let mut fields = FieldsText::for_line(64);
                fields.str(Path::AwsLambdaRequestId, request_id);
                // Upper case already: `lambda_runtime` takes no other level.
                fields.str(Path::LogLevel, level);
                return Line::Typed(fields, &ROOT);
            }
        }
        // A line that only starts like JSON (`{main} started`, or JSON that CloudWatch cut at its
        // size limit) is not a failure: the other parsers get it, and it ships as text.
        if let Parser::On(target) = &self.json
            && trimmed.starts_with('{')
            && let Ok(probe) = probe_json(trimmed, &self.wanted())
        {
            return Line::Own(Own { text: Cow::Borrowed(trimmed), object_start: 0, probe }, target);
        }
        if let Parser::On(target) = &self.access_log
            && let Some(fields) = access_log(trimmed)
        {
            return Line::Typed(fields, target);
        }
        if let Parser::On(target) = &self.logfmt
            && memchr::memchr(b'=', trimmed.as_bytes()).is_some()
            && let Some((text, probe)) = logfmt_json(trimmed, &self.wanted(), target.open())
        {
            return Line::Own(Own { object_start: target.open().len(), text: Cow::Owned(text), probe }, target);
        }
        Line::Nothing
    }

    /// Each matching pattern's named captures, and where they go.
    fn captures(&self, message: &str) -> Vec<(Map<String, Value>, &Target)> {
        let mut all = Vec::new();
        for (regex, target) in &self.patterns {
            if let Some(captures) = regex.captures(message) {
                let mut fields = Map::new();
                for name in regex.capture_names() {
                    if let Some(found) = captures.name(name) {
                        fields.insert(name.to_owned(), Value::from(found.as_str()));
                    }
                }
                all.push((fields, target));
            }
        }
        all
    }

    /// The fields an event gets, as a map to merge into its own: the typed fields, the promoted
    /// ones, the line's, each pattern's captures, then `log.level`, the first written staying.
    /// An event without fields gets the same as text when it can ([`Line::into_text`]).
    // Out of line: the event without fields, the usual case, does not carry its frame.
    #[inline(never)]
    fn new_fields(
        &self,
        line: Line<'_>,
        captures: Vec<(Map<String, Value>, &Target)>,
        level: Option<&str>,
        existing: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut new = Map::new();
        let mut parsed = Vec::with_capacity(captures.len() + 1);
        match line {
            Line::Nothing => {}
            Line::Typed(mut fields, target) => {
                // Text this writer made is a JSON object.
                if let Some(typed) = object(&fields.json()) {
                    put(&mut new, target, typed);
                }
            }
            Line::Own(own, target) => {
                // The parser checked the text; what a map cannot hold (a number beyond a double's
                // range) leaves the line as text.
                if let Some(own_fields) = object(&own.text[own.object_start..]) {
                    parsed.push((own_fields, target));
                }
            }
        }
        parsed.extend(captures);
        for promotion in &self.promote {
            if fields::occupied(&new, &promotion.parts) || (!self.overwrite && fields::occupied(existing, &promotion.parts)) {
                continue;
            }
            for (fields, _) in &mut parsed {
                if let Some(converted) = fields::get(fields, &promotion.parts).and_then(|value| promotion.field_type.convert(value)) {
                    fields::take(fields, &promotion.parts);
                    fields::merge_at(&mut new, &promotion.parts, converted, false);
                    break;
                }
            }
        }
        // A line with no fields (`{}`, or all promoted) leaves no empty object behind.
        for (fields, target) in parsed {
            if !fields.is_empty() {
                put(&mut new, target, fields);
            }
        }
        if let Some(level) = level {
            let mut log = Map::new();
            log.insert("level".to_owned(), Value::String(level.to_ascii_uppercase()));
            put(&mut new, &ROOT, Map::from_iter([("log".to_owned(), Value::Object(log))]));
        }
        new
    }
}

/// The object JSON `text` is (through the one deserializer of values the module has).
fn object(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

impl Extract {
    /// Sets the event time from the `timestamp` field: its value in the parsed fields (`time`)
    /// or, when they have none, in the event's fields.
    fn set_time(&self, event: &mut Event<'_>, time: Option<Value>) -> Result<(), Error> {
        if let Some(timestamp) = &self.timestamp {
            let value = match time {
                Some(value) => Some(value),
                None => event.field(&timestamp.text).cloned(),
            };
            if let Some(value) = value {
                event.set_timestamp(event_time(&timestamp.text, &value)?);
            }
        }
        Ok(())
    }
}

/// Merges `fields` into `new` at `target`, what is there staying.
fn put(new: &mut Map<String, Value>, target: &Target, fields: Map<String, Value>) {
    if target.is_root() {
        fields::merge(new, fields, false);
    } else {
        fields::merge_at(new, target.parts(), Value::Object(fields), false);
    }
}

/// A parser's `target` must be a field path (or `""`, the root) and must not put the line's
/// fields on or inside a field the engine writes: `{"target": "event"}` would mix a line's `id`
/// or `original` into the engine's own. `attributes` and objects under it are where the line's
/// fields belong; `log` (beside `log.level`) is a line's own.
fn check_target(parser: &str, target: &Target) -> Result<(), Error> {
    let parts = target.parts();
    if parts.iter().any(String::is_empty) {
        return Err(Error::msg(format!("{parser}: target {:?} is not a field path (keys joined by single dots)", parts.join("."))));
    }
    let path = parts.join(".");
    let engine_owned = promote::ENGINE_FIELDS
        .iter()
        .filter(|owned| **owned != ATTRIBUTES)
        .find(|owned| path == **owned || path.strip_prefix(**owned).is_some_and(|rest| rest.starts_with('.')));
    match engine_owned {
        Some(owned) => {
            Err(Error::msg(format!("{parser}: target {path:?} would put the line's fields in {owned}, a field the engine writes")))
        }
        None => Ok(()),
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
                let target = Target::new(pattern.target.as_deref().unwrap_or(ATTRIBUTES));
                check_target(&format!("pattern {:?}", pattern.regex), &target)?;
                Ok((regex, target))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let json = Parser::new(config.json, ATTRIBUTES);
        let logfmt = Parser::new(config.logfmt, ATTRIBUTES);
        let access_log = Parser::new(config.access_log, "");
        for (parser, target) in [("json", json.target()), ("logfmt", logfmt.target()), ("access_log", access_log.target())] {
            if let Some(target) = target {
                check_target(parser, target)?;
            }
        }
        let mut targets: Vec<(&str, &Target)> = Vec::new();
        targets.extend(json.target().map(|target| ("json", target)));
        targets.extend(logfmt.target().map(|target| ("logfmt", target)));
        targets.extend(patterns.iter().map(|(_, target)| ("pattern", target)));
        let promote = promote::promotions(config.promote, &targets)?;
        let level_bits = config.level.iter().fold(0, |bits, key| bits | key_bit(key));
        let time_bit = config.timestamp.as_deref().map_or(0, |path| key_bit(path.split('.').next().unwrap_or_default()));
        Ok(Extract {
            json,
            logfmt,
            lambda: config.lambda,
            access_log,
            patterns,
            level_keys: config.level,
            level_bits,
            time_bit,
            timestamp: config.timestamp.map(|text| TimestampPath { parts: text.split('.').map(str::to_owned).collect(), text }),
            promote,
            overwrite: config.overwrite,
        })
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        // The usual event, without fields and with neither patterns nor promotions configured:
        // the parser's text is the event's fields, unless it has to merge (then the line is
        // read again below).
        if self.patterns.is_empty() && self.promote.is_empty() && event.has_no_fields() {
            let text = {
                let mut line = self.parse(event.message().trim());
                if let Line::Typed(fields, target) = &mut line
                    && target.is_root()
                {
                    // Lambda lines and access logs, most lines: their fields' text as it is.
                    Some((Some(fields.json()), None))
                } else {
                    let (level, time) = match &mut line {
                        Line::Own(own, _) => (own.probe.level.take().flatten(), own.probe.time.take()),
                        _ => (None, None),
                    };
                    line.can_be_written_as_text(level.is_some()).then(|| (line.into_text(level.as_deref()), time))
                }
            };
            if let Some((text, time)) = text {
                if let Some(text) = text {
                    event.set_fields_json(text);
                }
                self.set_time(event, time)?;
                return Ok(Verdict::Keep);
            }
        }
        // The parsers read the message in place and what they hand back owns what it keeps, so
        // the message is not copied first.
        let (write, time) = {
            let message = event.message();
            let captures = self.captures(message);
            let mut line = self.parse(message.trim());
            let probe = match &mut line {
                Line::Own(own, _) => Some(&mut own.probe),
                _ => None,
            };
            let (mut level, mut time) = probe.map_or((None, None), |probe| (probe.level.take(), probe.time.take()));
            for (fields, _) in &captures {
                if level.is_none() {
                    level = level_in(&self.level_keys, fields).map(|found| found.map(|text| Cow::Owned(text.into_owned())));
                }
                if time.is_none()
                    && let Some(timestamp) = &self.timestamp
                {
                    time = fields::get(fields, &timestamp.parts).cloned();
                }
            }
            let level = level.flatten();
            let write = if matches!(line, Line::Nothing) && captures.is_empty() {
                Write::Nothing
            } else if event.has_no_fields()
                && self.promote.is_empty()
                && captures.is_empty()
                && line.can_be_written_as_text(level.is_some())
            {
                line.into_text(level.as_deref()).map_or(Write::Nothing, Write::Text)
            } else {
                Write::Merge(self.new_fields(line, captures, level.as_deref(), event.fields()))
            };
            (write, time)
        };
        match write {
            Write::Nothing => {}
            Write::Text(text) => event.set_fields_json(text),
            Write::Merge(new) => {
                if !new.is_empty() {
                    fields::merge(event.fields_mut(), new, self.overwrite);
                }
            }
        }
        self.set_time(event, time)?;
        Ok(Verdict::Keep)
    }
}

sluicegate_sdk::export!(Extract);

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    /// The event's fields and time after extract, for `message` on an event with `fields` from
    /// earlier transforms (or none).
    fn run(config: &str, message: &str, fields: Option<&str>) -> String {
        let mut harness = Harness::<Extract>::new(config).unwrap();
        let mut event = TestEvent::new(message);
        event.fields = fields.map(str::to_owned);
        match harness.run_one(event) {
            TestOutcome::Kept => "kept".to_owned(),
            TestOutcome::Changed(event) => format!("{} @{}", event.fields.unwrap_or_default(), event.timestamp),
            TestOutcome::Failed(reason) => format!("failed: {reason}"),
            TestOutcome::Dropped => "dropped".to_owned(),
        }
    }

    fn fields(config: &str, message: &str) -> String {
        run(config, message, None)
    }

    /// What an event with fields from an earlier transform gets, sorted as a map writes them,
    /// with the earlier field (`{"zz":1}`, which nothing here writes) taken out: the merging path.
    fn merged(config: &str, message: &str) -> String {
        let mut harness = Harness::<Extract>::new(config).unwrap();
        match harness.run_one(TestEvent::new(message).fields(r#"{"zz":1}"#)) {
            TestOutcome::Changed(event) => {
                let mut fields: Map<String, Value> = serde_json::from_str(&event.fields.unwrap()).unwrap();
                assert_eq!(fields.remove("zz"), Some(Value::from(1)));
                format!("{} @{}", Value::Object(fields), event.timestamp)
            }
            other => format!("{other:?}"),
        }
    }

    /// [`fields`] sorted as a map writes them, to compare with [`merged`].
    fn sorted(config: &str, message: &str) -> String {
        let text = fields(config, message);
        match text.split_once(" @") {
            Some((json, time)) => format!("{} @{time}", serde_json::from_str::<Value>(json).unwrap()),
            None => text,
        }
    }

    #[test]
    fn many_level_keys_find_the_first_in_their_order() {
        let keys: Vec<String> = (0..12).map(|idx| format!("\"k{idx}\"")).collect();
        let config = format!(r#"{{"level":[{}]}}"#, keys.join(","));
        assert_eq!(
            fields(&config, r#"{"k11":"warn","x":1}"#),
            r#"{"attributes":{"k11":"warn","x":1},"log":{"level":"WARN"}} @1700000000000"#
        );
        assert_eq!(
            fields(&config, r#"{"k11":"warn","k9":"debug"}"#),
            r#"{"attributes":{"k11":"warn","k9":"debug"},"log":{"level":"DEBUG"}} @1700000000000"#
        );
        // A key given twice: its last value, once.
        assert_eq!(
            fields(&config, r#"{"k3":"info","k3":"error"}"#),
            r#"{"attributes":{"k3":"error"},"log":{"level":"ERROR"}} @1700000000000"#
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
            (
                r#"{"level":"info","n":2,"msg":"hi"}"#,
                r#"{"attributes":{"level":"info","n":2,"msg":"hi"},"log":{"level":"INFO"}} @1700000000000"#,
            ),
            (
                r#"{"level":"info","log":{"origin":"x"}}"#,
                r#"{"attributes":{"level":"info","log":{"origin":"x"}},"log":{"level":"INFO"}} @1700000000000"#,
            ),
            ("a=1 a=2 log=x level=warn", r#"{"attributes":{"a":2,"level":"warn","log":"x"},"log":{"level":"WARN"}} @1700000000000"#),
            (
                r#"10.0.0.7 - bob [28/Nov/2025:10:01:02 +0000] "GET /a?b=1 HTTP/1.1" 404 512 "https://x.example/" "curl/8.5.0""#,
                r#"{"http":{"request":{"method":"GET","referrer":"https://x.example/"},"response":{"body":{"bytes":512},"status_code":404},"version":"1.1"},"source":{"address":"10.0.0.7"},"url":{"original":"/a?b=1"},"user":{"name":"bob"},"user_agent":{"original":"curl/8.5.0"}} @1700000000000"#,
            ),
            (
                r#"level=warn msg="stock \"low\"" qty=5 version=2.14.3 id=0123 ratio=0.5"#,
                r#"{"attributes":{"level":"warn","msg":"stock \"low\"","qty":5,"version":"2.14.3","id":"0123","ratio":0.5},"log":{"level":"WARN"}} @1700000000000"#,
            ),
            // The level keys' order decides, not the message's; the first level key the line has
            // decides even when it is not text.
            (r#"{"severity":"x","level":"y"}"#, r#"{"attributes":{"severity":"x","level":"y"},"log":{"level":"Y"}} @1700000000000"#),
            (r#"{"level":{"n":3},"severity":"err"}"#, r#"{"attributes":{"level":{"n":3},"severity":"err"}} @1700000000000"#),
            (r#"{"level":"a","level":2}"#, r#"{"attributes":{"level":2}} @1700000000000"#),
            ("{}", "kept"),
            (r#"{"level":"a","level":2,"lvl":"dbg"}"#, r#"{"attributes":{"level":2,"lvl":"dbg"}} @1700000000000"#),
            // Keys and values are read with their escapes decoded.
            (r#"{"l\u0065vel":"w\u0061rn"}"#, r#"{"attributes":{"level":"warn"},"log":{"level":"WARN"}} @1700000000000"#),
            (r#"{"lo\u0067":{},"level":"x"}"#, r#"{"attributes":{"level":"x","log":{}},"log":{"level":"X"}} @1700000000000"#),
            // Lone surrogates are not JSON a document can carry: the line ships as text.
            (r#"{"a":"\ud800"}"#, "kept"),
            // Regression: lines that only start like JSON failed, and the default policy
            // dead-lettered ordinary log lines.
            (r#"{"a":1} x"#, "kept"),
            ("just text = not logfmt", "kept"),
            ("{not json", "kept"),
            ("{main} started", "kept"),
            (r#"{"cut":"at the size li"#, "kept"),
            // Digits past a double's range stay text instead of becoming null.
            (&format!("a=1{} b=2", "0".repeat(400)), &format!(r#"{{"attributes":{{"a":"1{}","b":2}}}} @1700000000000"#, "0".repeat(400))),
        ];
        for (message, expected) in cases {
            assert_eq!(fields("{}", message), expected, "message {message:?}");
            if expected != "kept" {
                assert_eq!(merged("{}", message), sorted("{}", message), "message {message:?}");
            }
        }
    }

    #[test]
    fn a_lines_own_fields_go_under_attributes_and_typed_fields_stay_at_the_root() {
        // Two services that disagree on `user` and `status`: both under `attributes`.
        assert_eq!(fields("{}", r#"{"user":"bob","status":200}"#), r#"{"attributes":{"user":"bob","status":200}} @1700000000000"#);
        assert_eq!(
            fields("{}", r#"{"user":{"id":5},"status":["retry","failed"]}"#),
            r#"{"attributes":{"user":{"id":5},"status":["retry","failed"]}} @1700000000000"#
        );
        assert_eq!(fields("{}", "user=bob status=denied"), r#"{"attributes":{"user":"bob","status":"denied"}} @1700000000000"#);
        assert_eq!(
            fields(r#"{"patterns":[{"regex":"took (?P<took>\\d+)ms"}]}"#, "job took 15ms"),
            r#"{"attributes":{"took":"15"}} @1700000000000"#
        );
        // An access log's typed fields are the root's, whatever the line parsers' target.
        assert_eq!(
            fields(r#"{"json":{"target":"app"}}"#, r#"10.0.0.7 - - [28/Nov/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 5"#),
            r#"{"http":{"request":{"method":"GET"},"response":{"body":{"bytes":5},"status_code":200},"version":"1.1"},"source":{"address":"10.0.0.7"},"url":{"original":"/"}} @1700000000000"#
        );
    }

    #[test]
    fn a_target_chooses_the_object_and_an_empty_one_the_root() {
        let cases = [
            (
                r#"{"json":{"target":"app"}}"#,
                r#"{"a":1,"level":"warn"}"#,
                r#"{"app":{"a":1,"level":"warn"},"log":{"level":"WARN"}} @1700000000000"#,
            ),
            (r#"{"json":{"target":"app.line"}}"#, r#"{"a":1}"#, r#"{"app":{"line":{"a":1}}} @1700000000000"#),
            (r#"{"json":{"target":""}}"#, r#"{"a":1,"level":"warn"}"#, r#"{"a":1,"level":"warn","log":{"level":"WARN"}} @1700000000000"#),
            // The line's own `log.level` at the root stays; its level key does not replace it.
            (
                r#"{"json":{"target":""}}"#,
                r#"{"log":{"level":"debug"},"level":"warn"}"#,
                r#"{"level":"warn","log":{"level":"debug"}} @1700000000000"#,
            ),
            (
                r#"{"json":{"target":""}}"#,
                r#"{"level":"info","log":{"origin":"x"}}"#,
                r#"{"level":"info","log":{"level":"INFO","origin":"x"}} @1700000000000"#,
            ),
            (r#"{"json":{}}"#, r#"{"a":1}"#, r#"{"attributes":{"a":1}} @1700000000000"#),
            (r#"{"logfmt":{"target":""}}"#, "a=1 level=warn", r#"{"a":1,"level":"warn","log":{"level":"WARN"}} @1700000000000"#),
            (r#"{"logfmt":{"target":"kv"}}"#, "a=1 b=x", r#"{"kv":{"a":1,"b":"x"}} @1700000000000"#),
            // Under `log`, the level merges into the line's object.
            (r#"{"logfmt":{"target":"log"}}"#, "a=1 lvl=warn", r#"{"log":{"a":1,"level":"WARN","lvl":"warn"}} @1700000000000"#),
            (r#"{"patterns":[{"regex":"took (?P<took>\\d+)ms","target":""}]}"#, "job took 15ms", r#"{"took":"15"} @1700000000000"#),
            (
                r#"{"access_log":{"target":"web"}}"#,
                r#"10.0.0.7 - - [28/Nov/2025:10:01:02 +0000] "GET / HTTP/1.1" 200 5"#,
                r#"{"web":{"http":{"request":{"method":"GET"},"response":{"body":{"bytes":5},"status_code":200},"version":"1.1"},"source":{"address":"10.0.0.7"},"url":{"original":"/"}}} @1700000000000"#,
            ),
            (r#"{"json":false,"logfmt":false}"#, r#"{"a":1}"#, "kept"),
        ];
        for (config, message, expected) in cases {
            assert_eq!(sorted(config, message), sorted_text(expected), "{config} {message:?}");
            if expected != "kept" {
                assert_eq!(merged(config, message), sorted_text(expected), "{config} {message:?}");
            }
        }
        assert!(Harness::<Extract>::new(r#"{"json":{"targt":"x"}}"#).is_err());
        assert!(Harness::<Extract>::new(r#"{"patterns":[{"regex":"no names"}]}"#).is_err());
    }

    fn sorted_text(text: &str) -> String {
        match text.split_once(" @") {
            Some((json, time)) => format!("{} @{time}", serde_json::from_str::<Value>(json).unwrap()),
            None => text.to_owned(),
        }
    }

    #[test]
    fn the_first_level_key_in_list_order_decides_and_only_text_is_a_level() {
        // Regression: the text path took the first level key in the line (DEBUG), the merging
        // path the first in the list (WARN); `level=5` got a level on one of them only.
        let cases = [
            ("{}", "lvl=debug level=warn", Some("WARN")),
            ("{}", r#"{"lvl":"debug","level":"warn"}"#, Some("WARN")),
            (r#"{"level":["lvl","level"]}"#, "level=warn lvl=debug", Some("DEBUG")),
            ("{}", "level=5 msg=x", None),
            ("{}", "level=5 severity=warn", None),
            ("{}", r#"level="5" msg=x"#, Some("5")),
            ("{}", r#"{"level":30,"severity":"warn"}"#, None),
            ("{}", r#"{"level":null,"severity":"warn"}"#, None),
            ("{}", r#"{"level":"30"}"#, Some("30")),
            ("{}", r#"{"severity":"warn","level":{"name":"x"}}"#, None),
            ("{}", "level=info level=error", Some("ERROR")),
            ("{}", "level=info level=7", None),
        ];
        for (config, message, level) in cases {
            for (path, text) in [("text", sorted(config, message)), ("merging", merged(config, message))] {
                let (json, _) = text.split_once(" @").unwrap();
                let fields: Value = serde_json::from_str(json).unwrap();
                assert_eq!(fields["log"]["level"].as_str(), level, "{path} path, {config} {message:?}: {text}");
            }
        }
    }

    #[test]
    fn promote_moves_converted_values_to_typed_root_fields() {
        let config = r#"{"promote":{"order.total":"double","tier":"keyword","n":"long","ok":"boolean","at":"date","peer":"ip"}}"#;
        assert_eq!(
            fields(
                config,
                r#"{"order":{"total":"12.5","id":"a"},"tier":3,"n":"42","ok":"true","at":"2025-11-28T10:00:00Z","peer":"10.0.0.1","x":1}"#
            ),
            sorted_text(
                r#"{"at":"2025-11-28T10:00:00Z","attributes":{"order":{"id":"a"},"x":1},"n":42,"ok":true,"order":{"total":12.5},"peer":"10.0.0.1","tier":"3"} @1700000000000"#
            )
        );
        // What does not convert stays where it was, still searchable there.
        assert_eq!(
            fields(config, r#"{"order":{"total":"lots"},"tier":{"a":1},"n":"4.2","ok":"yes","at":"soon","peer":"localhost"}"#),
            r#"{"attributes":{"at":"soon","n":"4.2","ok":"yes","order":{"total":"lots"},"peer":"localhost","tier":{"a":1}}} @1700000000000"#
        );
        assert_eq!(fields(config, "tier=gold n=7"), r#"{"n":7,"tier":"gold"} @1700000000000"#);
        // From pattern captures too, and at the root the value changes type in place.
        assert_eq!(
            fields(r#"{"patterns":[{"regex":"took (?P<took>\\d+)ms"}],"promote":{"took":"long"}}"#, "job took 15ms"),
            r#"{"took":15} @1700000000000"#
        );
        assert_eq!(fields(r#"{"json":{"target":""},"promote":{"n":"long"}}"#, r#"{"n":"5","m":"6"}"#), r#"{"m":"6","n":5} @1700000000000"#);
        // A root field an earlier transform set stays, and the line's value stays where it was.
        assert_eq!(
            run(config, r#"{"tier":"gold"}"#, Some(r#"{"tier":"platinum"}"#)),
            r#"{"attributes":{"tier":"gold"},"tier":"platinum"} @1700000000000"#
        );
        assert_eq!(
            run(&config.replace("{\"promote\"", "{\"overwrite\":true,\"promote\""), r#"{"tier":"gold"}"#, Some(r#"{"tier":"platinum"}"#)),
            r#"{"tier":"gold"} @1700000000000"#
        );
    }

    #[test]
    fn init_refuses_promotions_it_cannot_make_naming_the_key() {
        let error = |config: &str| Harness::<Extract>::new(config).err().map(|error| error.to_string()).unwrap_or_default();
        assert!(error(r#"{"promote":{"tier":"integer"}}"#).contains(r#"promote.tier: unknown field type "integer""#));
        for engine_field in
            ["@timestamp", "message", "event.id", "aws.cloudwatch.log_group", "cloud.account.id", "log.level", "attributes.user"]
        {
            assert!(
                error(&format!(r#"{{"promote":{{"{engine_field}":"keyword"}}}}"#))
                    .contains(&format!("promote.{engine_field} would replace a field the engine writes")),
                "{engine_field}"
            );
        }
        assert!(error(r#"{"json":{"target":"app"},"promote":{"app":"keyword"}}"#).contains("promote.app would land in or on app"));
    }

    #[test]
    fn init_refuses_targets_on_the_engines_fields_naming_the_parser() {
        let error = |config: &str| Harness::<Extract>::new(config).err().map(|error| error.to_string()).unwrap_or_default();
        for (parser, target, owned) in [
            ("json", "event", "event"),
            ("logfmt", "cloud.account", "cloud"),
            ("access_log", "@timestamp", "@timestamp"),
            ("json", "aws.cloudwatch.extra", "aws.cloudwatch"),
            ("logfmt", "message", "message"),
            ("json", "log.level", "log.level"),
        ] {
            let message = error(&format!(r#"{{"{parser}":{{"target":"{target}"}}}}"#));
            assert!(
                message.contains(&format!("{parser}: target {target:?} would put the line's fields in {owned}, a field the engine writes")),
                "{parser} {target}: {message}"
            );
        }
        let message = error(r#"{"patterns":[{"regex":"id=(?P<id>\\d+)","target":"event"}]}"#);
        assert!(message.contains("target \"event\" would put the line's fields in event"), "{message}");
        assert!(error(r#"{"json":{"target":"a..b"}}"#).contains(r#"json: target "a..b" is not a field path"#));
        // Beside the engine's fields, under attributes, and at the root are where fields go.
        for target in ["", "app", "attributes", "attributes.app", "log", "aws.lambda", "events", "cloudy"] {
            assert_eq!(error(&format!(r#"{{"json":{{"target":"{target}"}},"logfmt":{{"target":"{target}"}}}}"#)), "", "{target}");
        }
    }

    #[test]
    fn engine_fields_are_the_templates() {
        // `sluicegate setup` refuses the same promotions from the template's list.
        let mapping = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../engine/src/mapping.rs")).unwrap();
        let line = mapping.lines().find(|line| line.starts_with("pub const ENGINE_FIELDS")).unwrap();
        let listed = line.split_once("= &[").unwrap().1.split_once(']').unwrap().0;
        let names: Vec<&str> = listed.split(',').map(|name| name.trim().trim_matches('"')).collect();
        let ours: Vec<&str> = promote::ENGINE_FIELDS.iter().map(|name| if *name == ATTRIBUTES { "ATTRIBUTES" } else { name }).collect();
        assert_eq!(names, ours);
    }

    #[test]
    fn fields_already_there_are_kept_unless_overwrite() {
        let earlier =
            r#"{"service":"checkout","attributes":{"user":"from-earlier"},"log":{"level":"NOTICE"},"aws":{"lambda":{"type":"mine"}}}"#;
        // Regression: extract replaced `service` (and the whole target object) set by an
        // earlier transform with what the line held.
        assert_eq!(
            run(r#"{"json":{"target":""}}"#, r#"{"service":"other","level":"warn","x":1}"#, Some(earlier)),
            sorted_text(
                r#"{"attributes":{"user":"from-earlier"},"aws":{"lambda":{"type":"mine"}},"level":"warn","log":{"level":"NOTICE"},"service":"checkout","x":1} @1700000000000"#
            )
        );
        assert_eq!(
            run("{}", r#"{"user":"bob","id":7,"level":"warn"}"#, Some(earlier)),
            sorted_text(
                r#"{"attributes":{"id":7,"level":"warn","user":"from-earlier"},"aws":{"lambda":{"type":"mine"}},"log":{"level":"NOTICE"},"service":"checkout"} @1700000000000"#
            )
        );
        assert_eq!(
            run("{}", "END RequestId: 3f1c", Some(earlier)),
            sorted_text(
                r#"{"attributes":{"user":"from-earlier"},"aws":{"lambda":{"request_id":"3f1c","type":"mine"}},"log":{"level":"NOTICE"},"service":"checkout"} @1700000000000"#
            )
        );
        // With `overwrite`, what the line says wins.
        assert_eq!(
            run(r#"{"overwrite":true,"json":{"target":""}}"#, r#"{"service":"other","level":"warn"}"#, Some(earlier)),
            sorted_text(
                r#"{"attributes":{"user":"from-earlier"},"aws":{"lambda":{"type":"mine"}},"level":"warn","log":{"level":"WARN"},"service":"other"} @1700000000000"#
            )
        );
        assert_eq!(
            run(r#"{"overwrite":true}"#, "END RequestId: 3f1c", Some(earlier)),
            sorted_text(
                r#"{"attributes":{"user":"from-earlier"},"aws":{"lambda":{"request_id":"3f1c","type":"end"}},"log":{"level":"NOTICE"},"service":"checkout"} @1700000000000"#
            )
        );
        // A value in the way of an object is kept too.
        assert_eq!(run("{}", "a=1 b=2", Some(r#"{"attributes":"x"}"#)), r#"{"attributes":"x"} @1700000000000"#);
        assert_eq!(
            run(r#"{"overwrite":true}"#, "a=1 b=2", Some(r#"{"attributes":"x"}"#)),
            r#"{"attributes":{"a":1,"b":2}} @1700000000000"#
        );
    }

    #[test]
    fn repeated_keys_reach_the_document_once() {
        // The index refuses a document with a key given twice; the last value wins, as in a map.
        for (message, expected) in [
            ("a=1 b=2 a=3", r#"{"attributes":{"a":3,"b":2}} @1700000000000"#),
            (r#"{"a":1,"b":2,"a":3}"#, r#"{"attributes":{"a":3,"b":2}} @1700000000000"#),
            (r#"{"a":1,"\u0061":3}"#, r#"{"attributes":{"a":3}} @1700000000000"#),
        ] {
            assert_eq!(fields("{}", message), expected, "{message:?}");
        }
        // Many keys, past the ones the text path keeps to compare: still written once each.
        let many: Vec<String> = (0..40).map(|idx| format!("k{idx}={idx}")).collect();
        let text = fields("{}", &(many.join(" ") + " k3=x"));
        assert_eq!(text.matches("\"k3\"").count(), 1, "{text}");
        let text = fields("{}", &many.join(" "));
        assert_eq!(text.matches("\"k39\"").count(), 1, "{text}");
    }

    #[test]
    fn timestamps_are_found_in_the_parsed_fields_wherever_they_went() {
        assert_eq!(
            fields(r#"{"timestamp":"time"}"#, r#"{"time":"2025-11-28T10:00:00.123+01:00"}"#),
            r#"{"attributes":{"time":"2025-11-28T10:00:00.123+01:00"}} @1764320400123"#
        );
        assert_eq!(fields(r#"{"timestamp":"t"}"#, r#"{"t":1764320400}"#), r#"{"attributes":{"t":1764320400}} @1764320400000"#);
        assert_eq!(
            fields(r#"{"timestamp":"t.unix"}"#, r#"{"t":{"unix":1764320400123}}"#),
            r#"{"attributes":{"t":{"unix":1764320400123}}} @1764320400123"#
        );
        assert_eq!(fields(r#"{"timestamp":"t"}"#, "t=1764320400 a=1"), r#"{"attributes":{"t":1764320400,"a":1}} @1764320400000"#);
        assert_eq!(
            fields(r#"{"timestamp":"at","patterns":[{"regex":"at (?P<at>\\S+)"}]}"#, "done at 2025-11-28T10:00:00Z"),
            r#"{"attributes":{"at":"2025-11-28T10:00:00Z"}} @1764324000000"#
        );
        // A path from the root still finds a field there: the line's target, or an earlier
        // transform's field.
        assert_eq!(fields(r#"{"timestamp":"attributes.t"}"#, r#"{"t":1764320400}"#), r#"{"attributes":{"t":1764320400}} @1764320400000"#);
        assert_eq!(run(r#"{"timestamp":"t"}"#, "plain text", Some(r#"{"t":1764320400}"#)), r#"{"t":1764320400} @1764320400000"#);
        assert!(fields(r#"{"timestamp":"t"}"#, r#"{"t":"yesterday"}"#).starts_with("failed: field t is not an RFC 3339 time"));
        assert!(fields(r#"{"timestamp":"t"}"#, "t=yesterday a=1").starts_with("failed: field t is not an RFC 3339 time"));
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
        assert_eq!(fields("{}", r#"a="\é" b=1"#), r#"{"attributes":{"a":"é","b":1}} @1700000000000"#);
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
        for bytes in sluicegate_abi::testing::byte_strings(alphabet, 2_000, 0x9e37_79b9_7f4a_7c15u64) {
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
}
