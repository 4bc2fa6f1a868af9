//! The degraded form of a document the index refused for its shape (a field mapped as another
//! type, more fields than the index allows): the fields Sluicegate owns, which the index template
//! types, and everything else as one JSON text, so the event is still searchable by its message,
//! time, log group and id, and nothing of it is lost.
//!
//! ```json
//! {"@timestamp": "...", "message": "...", "log": {"level": "ERROR"},
//!  "event": {"id": "...", "original": "{\"status\":\"ok\",\"user\":{\"id\":5}}", "ingest_error": "mapper_parsing_exception: ..."},
//!  "aws": {"cloudwatch": {"log_group": "...", "log_stream": "..."}}, "cloud": {"account": {"id": "..."}}}
//! ```
//!
//! `event.original` is ECS's field for the event as it was before it was split into fields;
//! `event.ingest_error` says why the document was degraded. Both are in the index template
//! `sluicegate setup` installs (`event.original` as text, `event.ingest_error` as keyword).

use serde_json::{Map, Value};

/// Longest `event.ingest_error` kept, in bytes.
const MAX_REASON_BYTES: usize = 1024;

/// The fields kept typed in a degraded document, as paths; the rest goes into `event.original`.
const KEPT: [&[&str]; 7] = [
    &["@timestamp"],
    &["message"],
    &["event", "id"],
    &["log", "level"],
    &["aws", "cloudwatch", "log_group"],
    &["aws", "cloudwatch", "log_stream"],
    &["cloud", "account", "id"],
];

/// The fields every document the engine writes has, so that an index that took any of its
/// documents has them mapped already.
const ALWAYS: [&[&str]; 6] = [
    &["@timestamp"],
    &["message"],
    &["event", "id"],
    &["aws", "cloudwatch", "log_group"],
    &["aws", "cloudwatch", "log_stream"],
    &["cloud", "account", "id"],
];

/// The last form of a document refused for its shape even degraded: the fields every document
/// has and nothing else, so it adds no field to the index (one at its field limit refuses even
/// `event.original`). The event stays searchable by its message, time, log group and id; what
/// else it had is in the message it was parsed from, and in the archive.
pub fn degrade_to_base(document: &[u8]) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut rest)) = serde_json::from_slice::<Value>(document) else {
        return None;
    };
    let mut kept = Map::new();
    for path in ALWAYS {
        if let Some(text) = take_text(&mut rest, path) {
            put(&mut kept, path, Value::String(text));
        }
    }
    serde_json::to_vec(&Value::Object(kept)).ok()
}

/// The degraded form of `document` (one JSON object, as shipped) refused for `reason`; `None`
/// when the document is not a JSON object (it cannot have come from the engine).
pub fn degrade(document: &[u8], reason: &str) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut rest)) = serde_json::from_slice::<Value>(document) else {
        return None;
    };
    let mut kept = Map::new();
    for path in KEPT {
        // Only text is kept typed: an engine field that a transform turned into something else
        // may be what the index refused.
        if let Some(text) = take_text(&mut rest, path) {
            put(&mut kept, path, Value::String(text));
        }
    }
    if !rest.is_empty() {
        put(&mut kept, &["event", "original"], Value::String(Value::Object(rest).to_string()));
    }
    put(&mut kept, &["event", "ingest_error"], Value::String(truncate(reason).to_owned()));
    serde_json::to_vec(&Value::Object(kept)).ok()
}

/// Removes the text at `path` from `object`, and any object left empty on the way; a value of
/// another kind stays where it is.
fn take_text(object: &mut Map<String, Value>, path: &[&str]) -> Option<String> {
    match path {
        [] => None,
        [last] => match object.get(*last) {
            Some(Value::String(_)) => match object.remove(*last) {
                Some(Value::String(text)) => Some(text),
                _ => None,
            },
            _ => None,
        },
        [first, rest @ ..] => {
            let Some(Value::Object(inner)) = object.get_mut(*first) else {
                return None;
            };
            let taken = take_text(inner, rest);
            if inner.is_empty() {
                object.remove(*first);
            }
            taken
        }
    }
}

fn put(object: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            object.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let inner = object.entry(*first).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                put(inner, rest, value);
            }
        }
    }
}

fn truncate(text: &str) -> &str {
    if text.len() <= MAX_REASON_BYTES {
        return text;
    }
    let mut end = MAX_REASON_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::degrade;

    #[test]
    fn engine_fields_stay_typed_and_the_rest_becomes_text() {
        let document = br#"{"@timestamp":"2026-12-07T10:00:00.000Z","message":"paid","event":{"id":"42","duration":5},"aws":{"cloudwatch":{"log_group":"/ecs/pay","log_stream":"s"},"region":"eu"},"cloud":{"account":{"id":"1"}},"log":{"level":{"nested":true}},"user":{"id":5},"status":"ok"}"#;
        let degraded = String::from_utf8(degrade(document, "mapper_parsing_exception: failed to parse field [user]").unwrap()).unwrap();
        expect![[r#"{"@timestamp":"2026-12-07T10:00:00.000Z","aws":{"cloudwatch":{"log_group":"/ecs/pay","log_stream":"s"}},"cloud":{"account":{"id":"1"}},"event":{"id":"42","ingest_error":"mapper_parsing_exception: failed to parse field [user]","original":"{\"aws\":{\"region\":\"eu\"},\"event\":{\"duration\":5},\"log\":{\"level\":{\"nested\":true}},\"status\":\"ok\",\"user\":{\"id\":5}}"},"message":"paid"}"#]]
            .assert_eq(&degraded);
        // Nothing is lost: the kept fields and event.original together hold every value.
        let value: serde_json::Value = serde_json::from_str(&degraded).unwrap();
        let original: serde_json::Value = serde_json::from_str(value["event"]["original"].as_str().unwrap()).unwrap();
        assert_eq!(original["user"]["id"], 5);
        assert_eq!(original["log"]["level"]["nested"], true);
    }

    #[test]
    fn the_base_form_adds_no_field() {
        let document = br#"{"@timestamp":"t","message":"m","event":{"id":"1","original":"{}","ingest_error":"x"},"log":{"level":"E"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"1"}}}"#;
        expect![[r#"{"@timestamp":"t","aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"1"}},"event":{"id":"1"},"message":"m"}"#]]
            .assert_eq(std::str::from_utf8(&super::degrade_to_base(document).unwrap()).unwrap());
    }

    #[test]
    fn a_document_of_engine_fields_only_has_no_original_and_long_reasons_are_cut() {
        let degraded = degrade(br#"{"message":"x","event":{"id":"1"}}"#, &"é".repeat(1000)).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&degraded).unwrap();
        assert!(value["event"].get("original").is_none(), "{value}");
        assert_eq!(value["event"]["ingest_error"].as_str().unwrap().len(), 1024);
        assert_eq!(degrade(b"[1]", "r"), None);
        assert_eq!(degrade(b"{", "r"), None);
    }
}
