//! The differential tests: every way extract writes a line's fields (as text for an event without
//! fields, merged into an event's own otherwise) against a plain reference of the rules, on
//! generated JSON and logfmt lines.

use serde_json::{Map, Value};
use sluicegate_sdk::testing::{Harness, TestEvent, TestOutcome};

use crate::{Extract, Wanted, event_time, logfmt_json, typed};

/// `key=value key="quoted value"`, a byte at a time into a map (a key given twice keeps its last
/// value); `None` unless the whole line is pairs, at least two: the plain definition
/// [`logfmt_json`] is tested against.
fn logfmt(message: &str) -> Option<Map<String, Value>> {
    let bytes = message.as_bytes();
    let mut fields = Map::new();
    let mut n_pairs = 0;
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
        n_pairs += 1;
    }
    (n_pairs >= 2).then_some(fields)
}

/// The level rule, plainly: the first level key (in the list's order) that the fields have
/// decides, and only text is a level.
fn reference_level(level_keys: &[&str], fields: &Map<String, Value>) -> Option<String> {
    let key = level_keys.iter().find(|key| fields.contains_key(**key))?;
    fields[*key].as_str().map(str::to_owned)
}

/// The merge rule, plainly: what `dest` has stays unless `src_wins`; objects merge key by key.
fn reference_merge(dest: &mut Map<String, Value>, src: &Map<String, Value>, src_wins: bool) {
    for (key, value) in src {
        match (dest.get_mut(key), value) {
            (None, _) => {
                dest.insert(key.clone(), value.clone());
            }
            (Some(Value::Object(dest_inner)), Value::Object(src_inner)) => reference_merge(dest_inner, src_inner, src_wins),
            (Some(existing), _) if src_wins => *existing = value.clone(),
            (Some(_), _) => {}
        }
    }
}

fn path_get<'v>(fields: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut value = fields.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// One configuration of the matrix.
#[derive(Debug, Clone)]
struct Case {
    /// The `target` of `json` and `logfmt` (`None`: not given).
    target: Option<&'static str>,
    level_keys: Vec<&'static str>,
    timestamp: Option<&'static str>,
    overwrite: bool,
}

impl Case {
    fn config(&self) -> String {
        let mut config = serde_json::json!({"overwrite": self.overwrite, "level": self.level_keys});
        if let Some(target) = self.target {
            config["json"] = serde_json::json!({ "target": target });
            config["logfmt"] = serde_json::json!({ "target": target });
        }
        if let Some(timestamp) = self.timestamp {
            config["timestamp"] = Value::from(timestamp);
        }
        config.to_string()
    }

    /// The event's fields and time after extract, by the rules written plainly; an error for a
    /// time that is none.
    fn expected(&self, message: &str, existing: Option<&str>, timestamp: i64) -> Result<(Map<String, Value>, i64), String> {
        let mut fields: Map<String, Value> = existing.map(|text| serde_json::from_str(text).unwrap()).unwrap_or_default();
        let trimmed = message.trim();
        let own = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(object)) if trimmed.starts_with('{') => Some(object),
            _ if trimmed.contains('=') => logfmt(trimmed),
            _ => None,
        };
        let mut time = None;
        if let Some(own) = own.as_ref().filter(|own| !own.is_empty()) {
            let mut new = match self.target.unwrap_or("attributes") {
                "" => own.clone(),
                target => {
                    let mut wrapped = Value::Object(own.clone());
                    for part in target.split('.').rev() {
                        wrapped = Value::Object(Map::from_iter([(part.to_owned(), wrapped)]));
                    }
                    wrapped.as_object().unwrap().clone()
                }
            };
            if let Some(level) = reference_level(&self.level_keys, own) {
                let level = Map::from_iter([("log".to_owned(), serde_json::json!({ "level": level.to_ascii_uppercase() }))]);
                reference_merge(&mut new, &level, false);
            }
            reference_merge(&mut fields, &new, self.overwrite);
            time = self.timestamp.and_then(|path| path_get(own, path).cloned());
        }
        let time = match (self.timestamp, time) {
            (Some(path), None) => path_get(&fields, path).cloned(),
            (_, time) => time,
        };
        let timestamp = match (self.timestamp, time) {
            (Some(path), Some(value)) => event_time(path, &value).map_err(|error| error.to_string())?,
            _ => timestamp,
        };
        Ok((fields, timestamp))
    }
}

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// JSON object lines: several level keys (some escaped), numbers, nested objects and lists,
/// escapes, keys given twice, `log` keys, times good and bad.
fn json_line(rng: &mut Rng) -> String {
    const KEYS: [&str; 14] =
        ["level", "severity", "lvl", "loglevel", "log_level", "msg", "n", "user", "log", "time", "a", "l\\u0065vel", "m\\u0073g", "t\\\"q"];
    const VALUES: [&str; 24] = [
        r#""warn""#,
        r#""Info""#,
        r#""debug""#,
        r#""x y""#,
        r#""q\"uote""#,
        r#""\u00e9t\u00e9""#,
        r#""tab\there""#,
        "5",
        "-3",
        "1.5",
        "0",
        "12345678901234567890",
        "true",
        "null",
        r#"{"level":"x","n":[1,2]}"#,
        r#"{"a":{"b":"c"},"level":"inner"}"#,
        r#"["warn",2]"#,
        r#""2025-11-28T10:00:00.123Z""#,
        "1764320400",
        "1764320400123",
        r#""yesterday""#,
        "{}",
        r#""""#,
        r#""\ud83d\ude00""#,
    ];
    let n_members = rng.below(7);
    let members: Vec<String> = (0..n_members)
        .map(|_| {
            let space = if rng.below(5) == 0 { " " } else { "" };
            format!("\"{}\"{space}:{space}{}", rng.pick(&KEYS), rng.pick(&VALUES))
        })
        .collect();
    let space = if rng.below(6) == 0 { " " } else { "" };
    format!("{{{space}{}{space}}}", members.join(","))
}

/// Logfmt lines: several level keys, numbers and number-like text, quoted values with escapes,
/// keys given twice, `log` keys, times good and bad; some with one pair only (not logfmt).
fn logfmt_line(rng: &mut Rng) -> String {
    const KEYS: [&str; 11] = ["level", "severity", "lvl", "loglevel", "msg", "n", "user", "log", "time", "a", "a.b"];
    const VALUES: [&str; 19] = [
        "warn",
        "Info",
        "debug",
        "5",
        "-3",
        "1.5",
        "0123",
        "2.14.3",
        r#""x y""#,
        r#""q\"uote""#,
        r#""é\ü""#,
        r#""""#,
        r#""5""#,
        "2025-11-28T10:00:00Z",
        "1764320400",
        "yesterday",
        "true",
        "é",
        "a\tb",
    ];
    let n_pairs = 1 + rng.below(6);
    let pairs: Vec<String> = (0..n_pairs).map(|_| format!("{}={}", rng.pick(&KEYS), rng.pick(&VALUES))).collect();
    let separator = if rng.below(5) == 0 { "  " } else { " " };
    pairs.join(separator)
}

/// Whether any object in `text` gives a key twice (the index would refuse the document).
fn has_repeated_key(text: &str) -> bool {
    let mut keys = Vec::new();
    let mut values = Vec::new();
    sluicegate_abi::json_scan::object_members(text, |member| {
        keys.push(member.decoded_key(text).into_owned());
        values.push(member.value(text).to_owned());
    })
    .unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    sorted.len() != keys.len() || values.iter().any(|value| value.starts_with('{') && has_repeated_key(value))
}

#[test]
fn every_path_writes_the_same_fields_as_the_rules_say() {
    let mut rng = Rng(0x5eed_1e55);
    let mut lines: Vec<String> = (0..300).map(|_| json_line(&mut rng)).collect();
    lines.extend((0..300).map(|_| logfmt_line(&mut rng)));
    let existing_fields = [
        None,
        Some(r#"{"zz":1}"#),
        Some(
            r#"{"service":"checkout","attributes":{"level":"kept","n":0},"log":{"level":"EARLIER"},"app":"not an object","time":"2025-01-01T00:00:00Z"}"#,
        ),
        Some(r#"{"a":{"b":{"x":1}},"log":"flat","level":"earlier","msg":"earlier"}"#),
    ];
    let mut n_checked = 0;
    for target in [None, Some(""), Some("app"), Some("a.b"), Some("log")] {
        for level_keys in [vec!["level", "severity", "lvl", "loglevel", "log_level"], vec!["lvl", "level"]] {
            for timestamp in [None, Some("time")] {
                for overwrite in [false, true] {
                    let case = Case { target, level_keys: level_keys.clone(), timestamp, overwrite };
                    let mut harness = Harness::<Extract>::new(&case.config()).unwrap();
                    for existing in existing_fields {
                        let events: Vec<TestEvent> = lines
                            .iter()
                            .map(|line| {
                                let mut event = TestEvent::new(line.as_str());
                                event.fields = existing.map(str::to_owned);
                                event
                            })
                            .collect();
                        for (event, outcome) in events.iter().zip(harness.run(&events)) {
                            let expected = case.expected(&event.message, existing, event.timestamp);
                            let actual = match &outcome {
                                TestOutcome::Kept => Ok((event.fields.clone(), event.timestamp)),
                                TestOutcome::Changed(changed) => Ok((changed.fields.clone(), changed.timestamp)),
                                TestOutcome::Failed(reason) => Err(reason.clone()),
                                TestOutcome::Dropped => panic!("extract dropped {:?}", event.message),
                            };
                            let actual = actual.map(|(fields, timestamp)| {
                                let text = fields.unwrap_or_else(|| "{}".to_owned());
                                assert!(!has_repeated_key(&text), "{case:?} {existing:?} {:?}: a key given twice in {text}", event.message);
                                (serde_json::from_str::<Map<String, Value>>(&text).unwrap(), timestamp)
                            });
                            assert_eq!(actual, expected, "{case:?}, fields {existing:?}, line {:?}", event.message);
                            n_checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(n_checked, 40 * 4 * 600);
}

#[test]
fn the_logfmt_writer_reads_what_the_plain_parser_reads() {
    let level_keys: Vec<String> = ["level", "lvl", "a"].map(str::to_owned).to_vec();
    let time = vec!["b".to_owned()];
    let wanted = Wanted { level_keys: &level_keys, level_bits: u64::MAX, time: Some(&time), any_bits: u64::MAX };
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut n_logfmt = 0;
    for _ in 0..20_000 {
        const KEYS: [&str; 9] = ["a", "b", "lvl", "level", "log", "é", "a\"b", "x\\y", ""];
        const VALUES: [&str; 14] =
            ["1", "-2", "1.5", "0123", "x", r#""q\"u""#, r#""""#, r#""é\ü""#, r#""open"#, "é\tb", "=", "", r#""a b""#, "\\"];
        const SEPARATORS: [&str; 4] = [" ", "  ", " ", ""];
        let n_pairs = rng.below(6);
        let line: String = (0..n_pairs)
            .map(|_| format!("{}={}{}", rng.pick(&KEYS), rng.pick(&VALUES), rng.pick(&SEPARATORS)))
            .collect::<String>()
            .trim_end()
            .to_owned();
        let written = logfmt_json(&line, &wanted, "");
        let plain = logfmt(&line);
        assert_eq!(written.is_some(), plain.is_some(), "{line:?}");
        let (Some((json, probe)), Some(plain)) = (written, plain) else { continue };
        n_logfmt += 1;
        assert_eq!(serde_json::from_str::<Map<String, Value>>(&json).unwrap(), plain, "{line:?} gave {json}");
        let keys: Vec<&str> = level_keys.iter().map(String::as_str).collect();
        assert_eq!(probe.level.flatten().map(|level| level.into_owned()), reference_level(&keys, &plain), "{line:?}");
        assert_eq!(probe.time, plain.get("b").cloned(), "{line:?}");
        assert_eq!(probe.has_log_key, plain.contains_key("log"));
        // A repeated key is never missed (a false alarm only costs the merging path).
        let mut n_members = 0;
        sluicegate_abi::json_scan::object_members(&json, |_| n_members += 1).unwrap();
        assert!(probe.repeated_keys || n_members == plain.len(), "{line:?}");
    }
    assert!(n_logfmt > 5000, "{n_logfmt} logfmt lines");
}
