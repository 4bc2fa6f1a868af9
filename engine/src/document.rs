//! Elasticsearch documents in the Elastic Common Schema shape, written straight to bytes.
//!
//! No JSON tree is built in the common cases: no fields added by transforms, fields with new
//! top-level keys, and an `aws` object with new keys (Lambda lines). Fields that collide with
//! the document otherwise take a slower path that merges the objects.

use sluicegate_abi::json_scan::{Member, object_members};

use crate::event::{Context, Event};
use crate::time::Civil;

/// Appends `text` as a JSON string literal, quotes included (the ABI crate's escaper, shared with
/// guests: this function is most of the cost of writing a document).
pub fn write_json_str(out: &mut Vec<u8>, text: &str) {
    sluicegate_abi::json_text::write_str(out, text);
}

/// Appends the event's document: ECS fields, then whatever transforms added.
///
/// Returns an error only when the transform fields are not a JSON object; the pipeline turns
/// that into a dead letter for the event.
pub fn write_document(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>) -> Result<(), String> {
    write_document_with(out, event, context, &context_fragment(context))
}

/// The end of every document of one context, from the close of `event` on: written once per
/// context and copied into each document, since it is the same for all its events.
pub fn context_fragment(context: &Context<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + context.log_group.len() + context.log_stream.len());
    out.extend_from_slice(b"},\"aws\":{\"cloudwatch\":{\"log_group\":");
    write_json_str(&mut out, &context.log_group);
    out.extend_from_slice(b",\"log_stream\":");
    write_json_str(&mut out, &context.log_stream);
    out.extend_from_slice(b"}},\"cloud\":{\"account\":{\"id\":");
    write_json_str(&mut out, &context.owner);
    out.extend_from_slice(b"}}}");
    out
}

/// Like [`write_document`], with the context's [`context_fragment`] already made.
pub fn write_document_with(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>, fragment: &[u8]) -> Result<(), String> {
    match &event.fields {
        None => {
            write_base_document(out, event, fragment);
            Ok(())
        }
        Some(fields) => write_merged_document(out, event, context, fragment, fields),
    }
}

fn write_base_document(out: &mut Vec<u8>, event: &Event<'_>, fragment: &[u8]) {
    write_document_head(out, event);
    out.extend_from_slice(fragment);
}

/// The document up to the context fragment: `@timestamp`, `message` and `event.id`.
fn write_document_head(out: &mut Vec<u8>, event: &Event<'_>) {
    out.extend_from_slice(b"{\"@timestamp\":\"");
    Civil::from_millis(event.timestamp).write_rfc3339(out);
    out.extend_from_slice(b"\",\"message\":");
    write_json_str(out, &event.message);
    out.extend_from_slice(b",\"event\":{\"id\":");
    write_json_str(out, &event.id);
}

fn write_merged_document(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>, fragment: &[u8], fields: &str) -> Result<(), String> {
    // Fast path: the fields are checked and their top-level members found in one pass (nothing
    // built, nothing allocated), then copied as text after the base document; an `aws` object
    // whose keys are new to the document's `aws` (the `aws.lambda` fields of Lambda lines) is
    // spliced into it. Anything else that collides takes the slow path, which merges trees.
    let fast = MEMBERS.with(|cell| {
        let mut members = cell.take();
        members.clear();
        let fast = match copyable_members(fields, &mut members) {
            Ok(Copyable::Yes { aws_idx, line_breaks }) => {
                let split = aws_idx.and_then(|_| cloud_split(fragment, &context.owner));
                write_members(out, event, fragment, split, fields, &members, aws_idx, line_breaks);
                Ok(true)
            }
            Ok(Copyable::No) => Ok(false),
            Err(error) => Err(error),
        };
        cell.set(members);
        fast
    })?;
    if fast {
        return Ok(());
    }
    write_merged_trees(out, event, context, fields)
}

/// The slow path, and the plain reference the fast one is tested against: the fields parsed
/// into a tree and merged into the base document's tree.
fn write_merged_trees(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>, fields: &str) -> Result<(), String> {
    let fields: serde_json::Value = serde_json::from_str(fields).map_err(|error| format!("transform fields are not json: {error}"))?;
    let serde_json::Value::Object(fields) = fields else {
        return Err("transform fields are not a json object".to_owned());
    };
    let mut base = Vec::with_capacity(256 + event.message.len());
    write_base_document(&mut base, event, &context_fragment(context));
    let mut document: serde_json::Value = serde_json::from_slice(&base).expect("the base document is valid json");
    merge(&mut document, serde_json::Value::Object(fields));
    // Where the event came from is the record's to say, not the log line's: a JSON message
    // extracted at the root must not forge the id, account, log group or stream, which access
    // rules and audits key on.
    set_path(&mut document, &["event", "id"], event.id.as_ref());
    set_path(&mut document, &["aws", "cloudwatch", "log_group"], context.log_group.as_ref());
    set_path(&mut document, &["aws", "cloudwatch", "log_stream"], context.log_stream.as_ref());
    set_path(&mut document, &["cloud", "account", "id"], context.owner.as_ref());
    serde_json::to_writer(out, &document).expect("writing to a vec cannot fail");
    Ok(())
}

/// Appends valid JSON `text` on one line: a raw line break in valid JSON can only be whitespace
/// between tokens (inside strings it must be escaped), so it becomes a space. A guest's fields
/// written with line breaks would otherwise split a document over two NDJSON lines, and the
/// `_bulk` request carrying it would fail whole, on every retry. `line_breaks` is what the check
/// of the fields saw
/// ([`has_line_breaks`](sluicegate_abi::json_scan::Scanned::has_line_breaks)): when false,
/// there is nothing to look for.
fn push_one_line(out: &mut Vec<u8>, text: &str, line_breaks: bool) {
    let start = out.len();
    out.extend_from_slice(text.as_bytes());
    if line_breaks && has_line_break(text.as_bytes()) {
        for byte in &mut out[start..] {
            if *byte == b'\n' || *byte == b'\r' {
                *byte = b' ';
            }
        }
    }
}

/// Whether `bytes` hold a `\n` or `\r`, eight bytes at a time: every transform field is scanned
/// on every document, and a byte-at-a-time loop with an early exit does not vectorise.
fn has_line_break(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Non-zero exactly when some byte of `x` is zero (exact as a yes or no, which is all this
    // asks).
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        if has_zero_byte(word ^ (ONES * u64::from(b'\n'))) | has_zero_byte(word ^ (ONES * u64::from(b'\r'))) != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&byte| byte == b'\n' || byte == b'\r')
}

/// Where the `aws` object of a [`context_fragment`] ends: JSON string contents cannot hold this
/// text (their quotes are escaped), so its last occurrence is the real one.
const CLOUD_KEY: &[u8] = b"},\"cloud\":{";

/// Where [`CLOUD_KEY`] starts in a [`context_fragment`] for `owner`. Its tail is fixed but for
/// the owner's text, so an owner that needs no escaping (an account id always) gives the place
/// at once; any other is searched for, from the end.
fn cloud_split(fragment: &[u8], owner: &str) -> Option<usize> {
    const ACCOUNT_KEY: &[u8] = b"\"account\":{\"id\":";
    let plain = owner.bytes().all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\');
    let tail = CLOUD_KEY.len() + ACCOUNT_KEY.len() + owner.len() + 2 + b"}}}".len();
    match fragment.len().checked_sub(tail) {
        Some(split) if plain && fragment[split..].starts_with(CLOUD_KEY) => Some(split),
        _ => fragment.windows(CLOUD_KEY.len()).rposition(|window| window == CLOUD_KEY),
    }
}

/// The members of an object's text between its braces, trimmed (empty for `{}`).
fn object_inner(object: &str) -> &str {
    let object = object.trim();
    object.get(1..object.len().saturating_sub(1)).unwrap_or_default().trim()
}

thread_local! {
    /// The members of the document being written, kept between documents so that finding them
    /// allocates nothing.
    static MEMBERS: std::cell::Cell<Vec<Member>> = const { std::cell::Cell::new(Vec::new()) };
}

/// More top-level members than this take the merging path: the fast path's check for repeated
/// keys compares every pair.
const MAX_COPIED_MEMBERS: usize = 64;

/// Whether a transform's fields can be copied as text, and where their `aws` member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copyable {
    /// A key repeats or collides: the trees are merged.
    No,
    /// Every member is copied; the one at `aws_idx` is spliced into the document's `aws`.
    /// `line_breaks`: whether the fields hold raw line breaks (between tokens) to replace.
    Yes { aws_idx: Option<usize>, line_breaks: bool },
}

/// Finds the members of `fields` into `members`, and says whether they can be copied as text:
/// not when a top-level key repeats or collides with the base document (other than an `aws`
/// object whose own keys are distinct and not `cloudwatch`). An error when `fields` is not a JSON
/// object.
fn copyable_members(fields: &str, members: &mut Vec<Member>) -> Result<Copyable, String> {
    let scanned = object_members(fields, |member| members.push(member)).map_err(|error| {
        if error.is_not_an_object() {
            "transform fields are not a json object".to_owned()
        } else {
            format!("transform fields are not json: {error}")
        }
    })?;
    if members.len() > MAX_COPIED_MEMBERS || has_repeated_key(fields, members) {
        return Ok(Copyable::No);
    }
    let mut aws_idx = None;
    for (member_idx, member) in members.iter().enumerate() {
        match member.decoded_key(fields).as_ref() {
            "aws" => {
                // The `aws` value must itself be an object with distinct keys new to `aws`.
                // Up to a few of them, kept on the stack.
                let aws = member.value(fields);
                let mut inner = [None; 16];
                let mut n_inner = 0;
                let scanned = object_members(aws, |found| {
                    if let Some(slot) = inner.get_mut(n_inner) {
                        *slot = Some(found);
                    }
                    n_inner += 1;
                });
                if scanned.is_err() || n_inner > inner.len() {
                    return Ok(Copyable::No);
                }
                let inner_keys = || inner[..n_inner].iter().flatten().map(|found| found.decoded_key(aws));
                let clash = inner_keys()
                    .enumerate()
                    .any(|(idx, inner_key)| inner_key == "cloudwatch" || inner_keys().take(idx).any(|earlier| earlier == inner_key));
                if clash {
                    return Ok(Copyable::No);
                }
                aws_idx = Some(member_idx);
            }
            "@timestamp" | "message" | "event" | "cloud" => return Ok(Copyable::No),
            _ => {}
        }
    }
    Ok(Copyable::Yes { aws_idx, line_breaks: scanned.has_line_breaks() })
}

/// Whether two of `members` have the same key. A bit per key hash sends only keys whose bit is
/// taken to the byte comparisons, so distinct keys cost one pass; keys with escapes are compared
/// decoded, pair by pair.
fn has_repeated_key(fields: &str, members: &[Member]) -> bool {
    if members.iter().any(Member::key_is_escaped) {
        return members.iter().enumerate().any(|(member_idx, member)| {
            members[..member_idx].iter().any(|earlier| earlier.decoded_key(fields) == member.decoded_key(fields))
        });
    }
    let key = |member: &Member| member.key(fields).as_bytes();
    let mut seen = 0u64;
    for (member_idx, member) in members.iter().enumerate() {
        let this = key(member);
        let hash =
            this.len() ^ this.first().map_or(0, |&byte| usize::from(byte) << 1) ^ this.last().map_or(0, |&byte| usize::from(byte) << 3);
        let bit = 1u64 << (hash % 64);
        if seen & bit != 0 && members[..member_idx].iter().any(|earlier| key(earlier) == this) {
            return true;
        }
        seen |= bit;
    }
    false
}

/// Writes the document with `fields`' members (checked by [`copyable_members`]) copied in as
/// text: an `aws` member into the document's `aws`, the others after the base document, in runs
/// of neighbouring members copied in one go.
#[allow(clippy::too_many_arguments)]
fn write_members(
    out: &mut Vec<u8>,
    event: &Event<'_>,
    fragment: &[u8],
    split: Option<usize>,
    fields: &str,
    members: &[Member],
    aws_idx: Option<usize>,
    line_breaks: bool,
) {
    match (aws_idx, split) {
        (Some(aws_idx), Some(split)) => {
            write_document_head(out, event);
            out.extend_from_slice(&fragment[..split]);
            let aws_inner = object_inner(members[aws_idx].value(fields));
            if !aws_inner.is_empty() {
                out.push(b',');
                push_one_line(out, aws_inner, line_breaks);
            }
            out.extend_from_slice(&fragment[split..]);
        }
        _ => write_base_document(out, event, fragment),
    }
    out.pop();
    let runs = match aws_idx {
        Some(aws_idx) => [&members[..aws_idx], &members[aws_idx + 1..]],
        None => [members, &[]],
    };
    for run in runs {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            out.push(b',');
            // The text between them is commas and whitespace.
            push_one_line(out, &fields[first.start()..last.end()], line_breaks);
        }
    }
    out.push(b'}');
}

/// Sets the string at `path`, making every step an object (a value that is not one is replaced).
fn set_path(target: &mut serde_json::Value, path: &[&str], value: &str) {
    let mut target = target;
    for key in path {
        if !target.is_object() {
            *target = serde_json::Value::Object(serde_json::Map::new());
        }
        let serde_json::Value::Object(object) = target else { unreachable!("made an object above") };
        target = object.entry(key.to_string()).or_insert(serde_json::Value::Null);
    }
    *target = serde_json::Value::String(value.to_owned());
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

/// [`write_raw_event`] without the message's text: where the event came from, its id and time,
/// and the message's length in bytes (`messageBytes`), for dead letters that must not hold log
/// text a redactor did not get to.
pub fn write_event_metadata(out: &mut Vec<u8>, event: &Event<'_>, context: &Context<'_>) {
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
    out.extend_from_slice(b",\"messageBytes\":");
    out.extend_from_slice(event.message.len().to_string().as_bytes());
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
    fn escapes_each_special_byte_at_every_position_of_a_word() {
        // Regression guard for the eight-byte scan: a special byte at any offset, next to
        // high-bit (UTF-8) bytes, must still be found.
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
            for position in 0..17 {
                let mut text: String = "aé日bcdefghijklmnopq".chars().take(17).collect();
                let at = text.char_indices().nth(position).map_or(text.len(), |(i, _)| i);
                text.insert(at, special);
                let mut out = Vec::new();
                write_json_str(&mut out, &text);
                assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), text);
            }
        }
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
    fn finds_a_line_break_at_every_position() {
        // Regression guard for the eight-byte scan: a break at any offset, next to bytes one
        // above or below it and high-bit bytes, must still be found, and none reported otherwise.
        for len in 0..20 {
            let plain: Vec<u8> = (0..len).map(|at| [b'\x0b', b'\x0c', b'\x0e', b'\t', 0xc3, b'a'][at % 6]).collect();
            assert!(!has_line_break(&plain), "{plain:?}");
            for at in 0..len {
                for byte in [b'\n', b'\r'] {
                    let mut text = plain.clone();
                    text[at] = byte;
                    assert!(has_line_break(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn fields_that_are_not_an_object_are_an_error() {
        let (event, context) = event("x", Some("[1]"));
        assert!(write_document(&mut Vec::new(), &event, &context).is_err());
    }
}

#[cfg(test)]
mod merge_tests {
    use std::borrow::Cow;

    use super::*;

    fn document(fields: &str) -> Result<String, String> {
        let event = Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Borrowed("1"),
            timestamp: 0,
            message: Cow::Borrowed("m"),
            fields: Some(fields.to_owned()),
            index: None,
        };
        let context = Context { owner: Cow::Borrowed("o"), log_group: Cow::Borrowed("g"), log_stream: Cow::Borrowed("s") };
        let mut out = Vec::new();
        write_document(&mut out, &event, &context)?;
        Ok(String::from_utf8(out).unwrap())
    }

    /// Random fields over keys chosen to collide with the document's (`aws`, `event`, `cloud`,
    /// `message`, the keys below them, escaped spellings) and each other.
    fn random_fields(rng: &mut crate::corpus::Rng, depth: u32) -> String {
        const KEYS: [&str; 12] =
            ["aws", "event", "cloud", "message", "cloudwatch", "lambda", "id", "log_group", "\\u0061ws", "a", "b", "line\\nbreak"];
        let n_members = rng.below(5);
        let mut out = String::from("{");
        for member_idx in 0..n_members {
            if member_idx > 0 {
                out.push(if rng.below(8) == 0 { '\n' } else { ',' });
                if out.ends_with('\n') {
                    out.pop();
                    out.push_str(",\n");
                }
            }
            out.push_str(&format!("\"{}\":", KEYS[rng.below(KEYS.len() as u64) as usize]));
            match rng.below(if depth < 3 { 5 } else { 4 }) {
                0 => out.push_str(&rng.below(1000).to_string()),
                1 => out.push_str("\"t\\\"x\""),
                2 => out.push_str("[1,{\"k\":null}]"),
                3 => out.push_str("true"),
                _ => out.push_str(&random_fields(rng, depth + 1)),
            }
        }
        out.push('}');
        out
    }

    /// The fast path (copying members as text, splicing `aws`) and the plain tree merge give the
    /// same document for any fields, on one line.
    #[test]
    fn the_copy_path_and_the_merge_path_agree() {
        let mut rng = crate::corpus::Rng::new(17);
        let context = Context { owner: Cow::Borrowed("o"), log_group: Cow::Borrowed("g"), log_stream: Cow::Borrowed("s") };
        let mut n_fast = 0;
        for _ in 0..20_000 {
            let fields = random_fields(&mut rng, 0);
            let event = Event {
                record_idx: 0,
                context_idx: 0,
                id: Cow::Borrowed("1"),
                timestamp: 0,
                message: Cow::Borrowed("m"),
                fields: Some(fields.clone()),
                index: None,
            };
            let mut fast = Vec::new();
            let fast_result = write_document(&mut fast, &event, &context);
            let mut reference = Vec::new();
            let reference_result = write_merged_trees(&mut reference, &event, &context, &fields);
            assert_eq!(fast_result.is_ok(), reference_result.is_ok(), "{fields}");
            if fast_result.is_err() {
                continue;
            }
            assert!(!fast.contains(&b'\n'), "one line: {fields}");
            let fast_value: serde_json::Value = serde_json::from_slice(&fast).unwrap();
            let reference_value: serde_json::Value = serde_json::from_slice(&reference).unwrap();
            assert_eq!(fast_value, reference_value, "{fields}");
            n_fast += usize::from(fast != reference);
        }
        // Most inputs take the fast path (their text differs from the merge's sorted keys).
        assert!(n_fast > 1_000, "{n_fast}");
    }

    #[test]
    fn fields_splice_or_merge() {
        let base = r#"{"@timestamp":"1970-01-01T00:00:00.000Z","message":"m","event":{"id":"1"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"o"}}"#;
        // New keys are spliced in as they are.
        assert_eq!(document(r#"{"a":1,"b":{"c":"\"x\""}}"#).unwrap(), format!(r#"{base},"a":1,"b":{{"c":"\"x\""}}}}"#));
        assert_eq!(document(" { } ").unwrap(), format!("{base}}}"));
        // A base key merges (and sorts the keys, as the slow path writes them).
        let merged: serde_json::Value = serde_json::from_str(&document(r#"{"aws":{"lambda":{"x":1}}}"#).unwrap()).unwrap();
        assert_eq!(merged["aws"]["lambda"]["x"], 1);
        assert_eq!(merged["aws"]["cloudwatch"]["log_group"], "g");
        // An `aws` object with new keys is spliced into the document's `aws`, in place.
        assert_eq!(
            document(r#"{"aws": {"lambda":{"x":1}} ,"log":{"level":"INFO"}}"#).unwrap(),
            r#"{"@timestamp":"1970-01-01T00:00:00.000Z","message":"m","event":{"id":"1"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"},"lambda":{"x":1}},"cloud":{"account":{"id":"o"}},"log":{"level":"INFO"}}"#
        );
        // Keys are escaped again as they are written.
        assert_eq!(document(r#"{"a\"b":1}"#).unwrap(), format!(r#"{base},"a\"b":1}}"#));
        // An `aws` that is not an object, or names `cloudwatch`, merges.
        let merged: serde_json::Value = serde_json::from_str(&document(r#"{"aws":{"cloudwatch":{"x":1}}}"#).unwrap()).unwrap();
        assert_eq!((merged["aws"]["cloudwatch"]["x"].clone(), merged["aws"]["cloudwatch"]["log_group"].clone()), (1.into(), "g".into()));
        // An `aws` that is not an object cannot take the document's `aws.cloudwatch` away.
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&document(r#"{"aws":3}"#).unwrap()).unwrap()["aws"]["cloudwatch"]["log_group"],
            "g"
        );
        // A key given twice takes the merging path, which keeps the last.
        let merged: serde_json::Value = serde_json::from_str(&document(r#"{"a":1,"a":2}"#).unwrap()).unwrap();
        assert_eq!(merged["a"], 2);
        assert_eq!(document("[1]").unwrap_err(), "transform fields are not a json object");
        assert!(document(r#"{"a":1} x"#).unwrap_err().starts_with("transform fields are not json"));
        assert!(document(r#"{"a":"#).unwrap_err().starts_with("transform fields are not json"));
    }

    #[test]
    fn keys_compare_decoded_and_many_members_merge() {
        // A key that only looks new, once its escapes are decoded, repeats or collides.
        let merged: serde_json::Value = serde_json::from_str(&document(r#"{"a":1,"\u0061":2}"#).unwrap()).unwrap();
        assert_eq!(merged["a"], 2);
        let merged: serde_json::Value =
            serde_json::from_str(&document(r#"{"\u0061ws":{"cloudwatch":{"log_group":"x"}}}"#).unwrap()).unwrap();
        assert_eq!(merged["aws"]["cloudwatch"]["log_group"], "g");
        let merged: serde_json::Value = serde_json::from_str(&document(r#"{"aws":{"lambda":1,"l\u0061mbda":2}}"#).unwrap()).unwrap();
        assert_eq!(merged["aws"]["lambda"], 2);
        // Past the members the fast path takes, the same document comes out of the merge.
        for n_members in [MAX_COPIED_MEMBERS, MAX_COPIED_MEMBERS + 1] {
            let fields = format!("{{{}}}", (0..n_members).map(|idx| format!(r#""k{idx}":{idx}"#)).collect::<Vec<_>>().join(","));
            let shipped: serde_json::Value = serde_json::from_str(&document(&fields).unwrap()).unwrap();
            assert_eq!(shipped.as_object().unwrap().len(), 5 + n_members);
            assert_eq!(shipped[format!("k{}", n_members - 1)], n_members - 1);
        }
        assert!(document(r#"{"a":"\ud800"}"#).unwrap_err().contains("lone surrogate"));
    }

    #[test]
    fn a_repeated_key_is_found_wherever_it_is() {
        // Sixty distinct keys share the hash's 64 bits, so many of them collide without
        // repeating: none of those may count as a repeat, and every real repeat must.
        let keys: Vec<String> = (0..60).map(|idx| format!("k{idx}")).collect();
        let members_of = |fields: &str| {
            let mut members = Vec::new();
            object_members(fields, |member| members.push(member)).unwrap();
            members
        };
        let object = |keys: &[&str]| format!("{{{}}}", keys.iter().map(|key| format!(r#""{key}":1"#)).collect::<Vec<_>>().join(","));
        let distinct: Vec<&str> = keys.iter().map(String::as_str).collect();
        let fields = object(&distinct);
        assert!(!has_repeated_key(&fields, &members_of(&fields)));
        for repeated in [0, 1, 30, 59] {
            for at in [0, 31, 60] {
                let mut with_repeat = distinct.clone();
                with_repeat.insert(at, distinct[repeated]);
                let fields = object(&with_repeat);
                assert!(has_repeated_key(&fields, &members_of(&fields)), "k{repeated} again at {at}");
            }
        }
        // The same text under an escape is the same key; a different one is not.
        for (fields, repeats) in [(r#"{"k1":1,"k\u0031":2}"#, true), (r#"{"k1":1,"k\u0032":2}"#, false)] {
            assert_eq!(has_repeated_key(fields, &members_of(fields)), repeats, "{fields}");
        }
    }

    // Regression: a JSON log line extracted at the root replaced the document's id, account,
    // log group and stream with whatever the line said.
    #[test]
    fn fields_cannot_forge_where_the_event_came_from() {
        let forged = r#"{"event":{"id":"x","action":"login"},"cloud":{"account":{"id":"999"}},"aws":{"cloudwatch":{"log_group":"other","extra":1}}}"#;
        let shipped: serde_json::Value = serde_json::from_str(&document(forged).unwrap()).unwrap();
        assert_eq!(shipped["event"], serde_json::json!({"id": "1", "action": "login"}));
        assert_eq!(shipped["cloud"]["account"]["id"], "o");
        assert_eq!(shipped["aws"]["cloudwatch"], serde_json::json!({"log_group": "g", "log_stream": "s", "extra": 1}));
        let shipped: serde_json::Value = serde_json::from_str(&document(r#"{"event":"login","cloud":3}"#).unwrap()).unwrap();
        assert_eq!((shipped["event"]["id"].clone(), shipped["cloud"]["account"]["id"].clone()), ("1".into(), "o".into()));
    }

    // Regression: fields written by a guest with line breaks between tokens (pretty-printed
    // JSON) were copied as they came and split the document over two `_bulk` lines, so the whole
    // request failed on every retry and the record blocked its shard.
    #[test]
    fn the_cloud_split_is_where_a_search_finds_it() {
        for owner in ["123456789012", "", "o\"wner", "a\\b", "x\ny", "},\"cloud\":{", "é"] {
            for log_stream in ["s", "},\"cloud\":{"] {
                let context = Context { owner: owner.into(), log_group: "g".into(), log_stream: log_stream.into() };
                let fragment = context_fragment(&context);
                let searched = fragment.windows(CLOUD_KEY.len()).rposition(|window| window == CLOUD_KEY);
                assert!(searched.is_some());
                assert_eq!(cloud_split(&fragment, owner), searched, "{owner:?} {log_stream:?}");
            }
        }
    }

    #[test]
    fn fields_with_line_breaks_stay_on_one_line() {
        for fields in ["{\n  \"a\": {\r\n    \"b\": 1\n  }\n}", "{\"aws\":\n{\"lambda\":\n{\"x\":\"y\\nz\"}},\n\"c\":[1,\n2]}"] {
            let document = document(fields).unwrap();
            assert!(!document.contains('\n') && !document.contains('\r'), "{document}");
            let parsed: serde_json::Value = serde_json::from_str(&document).unwrap();
            let fields: serde_json::Value = serde_json::from_str(fields).unwrap();
            for (key, value) in fields.as_object().unwrap() {
                let shipped = if key == "aws" { &parsed["aws"]["lambda"] } else { &parsed[key] };
                let expected = if key == "aws" { &value["lambda"] } else { value };
                assert_eq!(shipped, expected, "{key} in {document}");
            }
        }
    }
}
