//! Elasticsearch documents in the Elastic Common Schema shape, written straight to bytes.
//!
//! The common case (no fields added by transforms) is written without building a JSON tree;
//! events with transform fields take a slower path that merges the objects.

use crate::event::{Context, Event};
use crate::time::Civil;

/// Appends `text` as a JSON string literal, quotes included.
pub fn write_json_str(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(byte >> 4) as usize]);
                out.push(HEX[(byte & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends the event's document: ECS fields, then whatever transforms added.
///
/// Returns an error only when the transform fields are not a JSON object; the pipeline turns
/// that into a dead letter for the event.
pub fn write_document(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>) -> Result<(), String> {
    match &event.fields {
        None => {
            write_base_document(out, event, context);
            Ok(())
        }
        Some(fields) => write_merged_document(out, event, context, fields),
    }
}

fn write_base_document(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>) {
    out.extend_from_slice(b"{\"@timestamp\":\"");
    Civil::from_millis(event.timestamp).write_rfc3339(out);
    out.extend_from_slice(b"\",\"message\":");
    write_json_str(out, &event.message);
    out.extend_from_slice(b",\"event\":{\"id\":");
    write_json_str(out, &event.id);
    out.extend_from_slice(b"},\"aws\":{\"cloudwatch\":{\"log_group\":");
    write_json_str(out, &context.log_group);
    out.extend_from_slice(b",\"log_stream\":");
    write_json_str(out, &context.log_stream);
    out.extend_from_slice(b"}},\"cloud\":{\"account\":{\"id\":");
    write_json_str(out, &context.owner);
    out.extend_from_slice(b"}}}");
}

fn write_merged_document(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>, fields: &str) -> Result<(), String> {
    let fields: serde_json::Value = serde_json::from_str(fields).map_err(|error| format!("transform fields are not json: {error}"))?;
    let serde_json::Value::Object(fields) = fields else {
        return Err("transform fields are not a json object".to_owned());
    };
    let mut base = Vec::with_capacity(256 + event.message.len());
    write_base_document(&mut base, event, context);
    let mut document: serde_json::Value = serde_json::from_slice(&base).expect("the base document is valid json");
    merge(&mut document, serde_json::Value::Object(fields));
    serde_json::to_writer(out, &document).expect("writing to a vec cannot fail");
    Ok(())
}

/// Merges `patch` into `target`: objects merge key by key, anything else replaces.
fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Appends the event as a raw CloudWatch-shaped JSON line (the archive's `raw` stage, and the
/// input format of `sluicegate check`): `owner`, `logGroup`, `logStream`, `id`, `timestamp`,
/// `message`.
pub fn write_raw_event(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>) {
    out.extend_from_slice(b"{\"owner\":");
    write_json_str(out, &context.owner);
    out.extend_from_slice(b",\"logGroup\":");
    write_json_str(out, &context.log_group);
    out.extend_from_slice(b",\"logStream\":");
    write_json_str(out, &context.log_stream);
    out.extend_from_slice(b",\"id\":");
    write_json_str(out, &event.id);
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(event.timestamp.to_string().as_bytes());
    out.extend_from_slice(b",\"message\":");
    write_json_str(out, &event.message);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn event(message: &str, fields: Option<&str>) -> (Event<'static>, Context<'static>) {
        let event = Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Borrowed("3195310"),
            timestamp: 1_510_109_208_016,
            message: Cow::Owned(message.to_owned()),
            fields: fields.map(str::to_owned),
            index: None,
        };
        let context = Context { owner: "123456789012".into(), log_group: "/aws/lambda/app".into(), log_stream: "s".into() };
        (event, context)
    }

    #[test]
    fn escapes_every_control_character() {
        let all: String = (0u8..0x80).map(char::from).collect::<String>() + "é\u{2028}";
        let mut out = Vec::new();
        write_json_str(&mut out, &all);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn transform_fields_merge_into_ecs_objects() {
        let (event, context) = event("GET /", Some(r#"{"log":{"level":"info"},"aws":{"cloudwatch":{"extra":1}}}"#));
        let mut out = Vec::new();
        write_document(&mut out, &event, &context).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["log"]["level"], "info");
        assert_eq!(doc["aws"]["cloudwatch"]["extra"], 1);
        assert_eq!(doc["aws"]["cloudwatch"]["log_group"], "/aws/lambda/app");
    }

    #[test]
    fn fields_that_are_not_an_object_are_an_error() {
        let (event, context) = event("x", Some("[1]"));
        assert!(write_document(&mut Vec::new(), &event, &context).is_err());
    }
}
