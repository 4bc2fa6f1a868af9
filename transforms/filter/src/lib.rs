//! The `filter` transform: keep or drop events by message regex, field value, log group glob, and
//! sample the rest at a rate with a stable hash.
//!
//! ```json
//! {
//!   "drop": [{"field": "log.level", "in": ["DEBUG", "TRACE"]}, {"message": "GET /healthz"}],
//!   "keep": [{"log_group": "/aws/lambda/*"}, {"field": "service", "equals": "payments"}],
//!   "sample": {"rate": 0.25, "field": "trace_id"}
//! }
//! ```
//!
//! An event is dropped when any `drop` condition matches; otherwise, when `keep` has conditions,
//! it must match one of them; then `sample` keeps the given share, chosen by a stable hash of the
//! field (the event id when the field is absent), so every replay keeps the same events.
//! A `field` is looked up in the fields earlier transforms added, then in the message when the
//! message is a JSON object.
//!
//! A `message` regex has the `regex` crate's syntax with ASCII-only `\w`, `\d`, `\s`, `\b` and
//! case folding (see the `pattern` crate).

use std::borrow::Cow;

use pattern::Pattern;
use serde::Deserialize;
use sluicegate_abi::json_scan;
use sluicegate_sdk::{Error, Event, Transform, Value, Verdict};

/// The filter.
pub struct Filter {
    drop: Vec<Condition>,
    keep: Vec<Condition>,
    sample: Option<Sample>,
}

/// The filter's configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    drop: Vec<ConditionConfig>,
    keep: Vec<ConditionConfig>,
    sample: Option<SampleConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionConfig {
    message: Option<String>,
    field: Option<String>,
    equals: Option<Value>,
    #[serde(rename = "in")]
    one_of: Option<Vec<Value>>,
    log_group: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SampleConfig {
    rate: f64,
    field: Option<String>,
}

enum Condition {
    Message(Pattern),
    FieldIn { path: String, values: Vec<Value> },
    LogGroup(String),
}

struct Sample {
    /// Keep when the hash modulo one million is below this.
    threshold: u64,
    field: Option<String>,
}

impl Condition {
    fn new(config: ConditionConfig) -> Result<Condition, Error> {
        match config {
            ConditionConfig { message: Some(pattern), field: None, equals: None, one_of: None, log_group: None } => {
                let regex = Pattern::new(&pattern).map_err(|error| Error::msg(format!("message regex {pattern:?}: {error}")))?;
                Ok(Condition::Message(regex))
            }
            ConditionConfig { field: Some(path), equals: Some(value), one_of: None, message: None, log_group: None } => {
                Ok(Condition::FieldIn { path, values: vec![value] })
            }
            ConditionConfig { field: Some(path), one_of: Some(values), equals: None, message: None, log_group: None } => {
                Ok(Condition::FieldIn { path, values })
            }
            ConditionConfig { log_group: Some(glob), message: None, field: None, equals: None, one_of: None } => {
                Ok(Condition::LogGroup(glob))
            }
            other => Err(Error::msg(format!(
                "a condition is one of {{\"message\": regex}}, {{\"field\": path, \"equals\": value}}, {{\"field\": path, \"in\": [values]}}, {{\"log_group\": glob}}; got {other:?}"
            ))),
        }
    }

    fn matches(&self, event: &Event<'_>) -> bool {
        match self {
            Condition::Message(regex) => regex.is_match(event.message()),
            Condition::FieldIn { path, values } => {
                let Some(found) = lookup(event, path) else {
                    return false;
                };
                // `"5"` in the configuration also matches the number 5, and `"true"` the boolean.
                let found = found.as_ref();
                values.iter().any(|value| {
                    value == found
                        || matches!((value, found), (Value::String(text), Value::Number(_) | Value::Bool(_))
                            if serde_json::from_str::<Value>(text).is_ok_and(|parsed| parsed == *found))
                })
            }
            Condition::LogGroup(glob) => glob_match(glob.as_bytes(), event.log_group().as_bytes()),
        }
    }
}

/// The field at `path`: from the fields earlier transforms set, else from the message when it is
/// a JSON object (a key named `path` itself, else the dotted path).
fn lookup<'e>(event: &'e Event<'_>, path: &str) -> Option<Cow<'e, Value>> {
    if let Some(value) = event.field(path) {
        return Some(Cow::Borrowed(value));
    }
    let message = event.message().trim_start();
    if !message.starts_with('{') {
        return None;
    }
    if let Some(value) = find_in_json(message, &[path]) {
        return Some(Cow::Owned(value));
    }
    if !path.contains('.') {
        return None;
    }
    find_in_json(message, &path.split('.').collect::<Vec<_>>()).map(Cow::Owned)
}

/// The value at `segments` in the JSON text, building only that value: `json_scan` reads
/// the whole text (so text that is not JSON finds nothing) and reports where the members are,
/// and only the value found is parsed. A key given twice reads as its last value, as a parsed map
/// would.
fn find_in_json(text: &str, segments: &[&str]) -> Option<Value> {
    let (first, rest) = segments.split_first()?;
    let mut found = None;
    json_scan::object_members(text, |member| {
        if member.key_is(text, first) {
            found = Some(member);
        }
    })
    .ok()?;
    let value = found?.value(text);
    if rest.is_empty() {
        serde_json::from_str(value).ok()
    } else if value.starts_with('{') {
        find_in_json(value, rest)
    } else {
        None
    }
}

/// `*` matches any run of bytes, `?` one byte; everything else itself.
fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    let (mut glob_at, mut text_at) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while text_at < text.len() {
        match glob.get(glob_at) {
            Some(b'*') => {
                backtrack = Some((glob_at, text_at));
                glob_at += 1;
            }
            Some(&byte) if byte == b'?' || byte == text[text_at] => {
                glob_at += 1;
                text_at += 1;
            }
            _ => match backtrack {
                Some((star_at, star_text_at)) => {
                    glob_at = star_at + 1;
                    text_at = star_text_at + 1;
                    backtrack = Some((star_at, star_text_at + 1));
                }
                None => return false,
            },
        }
    }
    glob[glob_at..].iter().all(|&byte| byte == b'*')
}

/// FNV-1a, 64 bits: stable across versions and platforms, unlike std's hasher.
fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

impl Transform for Filter {
    type Config = Config;

    fn new(config: Config) -> Result<Self, Error> {
        let drop = config.drop.into_iter().map(Condition::new).collect::<Result<_, _>>()?;
        let keep = config.keep.into_iter().map(Condition::new).collect::<Result<_, _>>()?;
        let sample = match config.sample {
            Some(SampleConfig { rate, field }) => {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(Error::msg(format!("sample rate {rate} is not between 0 and 1")));
                }
                Some(Sample { threshold: (rate * 1_000_000.0).round() as u64, field })
            }
            None => None,
        };
        Ok(Filter { drop, keep, sample })
    }

    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error> {
        if self.drop.iter().any(|condition| condition.matches(event)) {
            return Ok(Verdict::Drop);
        }
        if !self.keep.is_empty() && !self.keep.iter().any(|condition| condition.matches(event)) {
            return Ok(Verdict::Drop);
        }
        if let Some(sample) = &self.sample {
            let hash = match sample.field.as_deref().and_then(|path| lookup(event, path)).as_deref() {
                Some(Value::String(text)) => stable_hash(text.as_bytes()),
                Some(other) => stable_hash(other.to_string().as_bytes()),
                None => stable_hash(event.id().as_bytes()),
            };
            if hash % 1_000_000 >= sample.threshold {
                return Ok(Verdict::Drop);
            }
        }
        Ok(Verdict::Keep)
    }
}

sluicegate_sdk::export!(Filter);

#[cfg(test)]
mod tests {
    use super::*;
    use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

    fn kept(config: &str, events: Vec<TestEvent>) -> Vec<bool> {
        let mut harness = Harness::<Filter>::new(config).unwrap();
        harness.run(&events).into_iter().map(|outcome| outcome == TestOutcome::Kept).collect()
    }

    #[test]
    fn conditions() {
        let events = vec![
            TestEvent::new(r#"{"level":"DEBUG","msg":"x"}"#),
            TestEvent::new("GET /healthz 200"),
            TestEvent::new("level=info").fields(r#"{"log":{"level":"INFO"}}"#),
            TestEvent::new("other").log_group("/aws/lambda/orders"),
        ];
        let config = r#"{"drop":[{"field":"level","in":["DEBUG","TRACE"]},{"message":"healthz"}]}"#;
        assert_eq!(kept(config, events.clone()), [false, false, true, true]);
        let config = r#"{"keep":[{"log_group":"/aws/lambda/orders*"},{"field":"log.level","equals":"INFO"}]}"#;
        assert_eq!(kept(config, events), [false, false, true, true]);
    }

    #[test]
    fn fields_of_json_messages() {
        let config = r#"{"keep":[{"field":"a.b","equals":"yes"}]}"#;
        let events = vec![
            TestEvent::new(r#"{"a":{"b":"yes"}}"#),
            // A key named with the dotted path itself comes first.
            TestEvent::new(r#"{"a.b":"no","a":{"b":"yes"}}"#),
            TestEvent::new(r#"{"a":{"b":"no"},"a.b":"yes"}"#),
            // A key given twice reads as its last value.
            TestEvent::new(r#"{"a":{"b":"yes"},"a":{"b":"no"}}"#),
            // Not JSON, not an object on the way, or trailing text: no field.
            TestEvent::new(r#"{"a":{"b":"yes"}"#),
            TestEvent::new(r#"{"a":["b","yes"]}"#),
            TestEvent::new(r#"{"a":{"b":"yes"}} tail"#),
            TestEvent::new(r#"  {"x":[{"a":1}],"a":{"c":[1,{"b":"no"}],"b":"yes"}}"#),
            // Keys compare decoded; a lone surrogate anywhere makes the text not JSON.
            TestEvent::new(r#"{"\u0061":{"b":"yes"}}"#),
            TestEvent::new(r#"{"a":{"b":"yes"},"z":"\ud800"}"#),
        ];
        assert_eq!(kept(config, events), [true, false, true, false, false, false, false, true, true, false]);
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"/aws/*/orders-*", b"/aws/lambda/orders-api"));
        assert!(glob_match(b"*", b""));
        assert!(!glob_match(b"/app/?", b"/app/ab"));
        assert!(glob_match(b"*a*b", b"xxaxxab"));
    }

    #[test]
    fn sampling_is_stable_and_near_the_rate() {
        let events: Vec<TestEvent> = (0..2000).map(|i| TestEvent::new("x").fields(format!(r#"{{"trace_id":"t{}"}}"#, i % 1000))).collect();
        let first = kept(r#"{"sample":{"rate":0.25,"field":"trace_id"}}"#, events.clone());
        let n_kept = first.iter().filter(|kept| **kept).count();
        assert!((400..600).contains(&n_kept), "{n_kept} of 2000 kept at 25%");
        // The same trace id gets the same verdict, every time.
        assert_eq!(first[..1000], first[1000..]);
        assert_eq!(kept(r#"{"sample":{"rate":0.25,"field":"trace_id"}}"#, events), first);
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert!(Harness::<Filter>::new(r#"{"drop":[{"message":"("}]}"#).is_err());
        assert!(Harness::<Filter>::new(r#"{"drop":[{"field":"a"}]}"#).is_err());
        assert!(Harness::<Filter>::new(r#"{"sample":{"rate":2}}"#).is_err());
        assert!(Harness::<Filter>::new(r#"{"dorp":[]}"#).is_err());
    }
}
