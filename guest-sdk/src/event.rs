//! The event a transform sees: views into the host's frame, with changes tracked for the reply.

use std::cell::OnceCell;

use serde_json::{Map, Value};
use sluicegate_abi::{FrameContext, FrameEvent};

/// One log event, as a transform sees it.
///
/// Text borrows from the batch the host wrote; nothing is copied or parsed until a transform
/// asks for it. Fields (JSON added by earlier transforms) are parsed on first use. Only what a
/// transform changes travels back to the host.
#[derive(Debug)]
pub struct Event<'a> {
    event: FrameEvent<'a>,
    context: FrameContext<'a>,
    timestamp: Option<i64>,
    message: Option<String>,
    fields: OnceCell<Map<String, Value>>,
    /// Fields set as JSON text, sent as they are unless a transform then changes them as a map.
    raw_fields: Option<String>,
    fields_changed: bool,
    index: Option<Option<String>>,
}

impl<'a> Event<'a> {
    pub(crate) fn new(event: FrameEvent<'a>, context: FrameContext<'a>) -> Event<'a> {
        Event {
            event,
            context,
            timestamp: None,
            message: None,
            fields: OnceCell::new(),
            raw_fields: None,
            fields_changed: false,
            index: None,
        }
    }

    /// The CloudWatch event id (the document `_id`).
    pub fn id(&self) -> &str {
        self.event.id
    }

    /// Event time in milliseconds since the Unix epoch (the document `@timestamp`).
    pub fn timestamp(&self) -> i64 {
        self.timestamp.unwrap_or(self.event.timestamp)
    }

    /// Sets the event time, in milliseconds since the Unix epoch.
    pub fn set_timestamp(&mut self, timestamp: i64) {
        self.timestamp = (timestamp != self.event.timestamp).then_some(timestamp);
    }

    /// The log line.
    pub fn message(&self) -> &str {
        self.message.as_deref().unwrap_or(self.event.message)
    }

    /// Replaces the log line.
    pub fn set_message(&mut self, message: impl Into<String>) {
        let message = message.into();
        self.message = (message != self.event.message).then_some(message);
    }

    /// The log group the event came from.
    pub fn log_group(&self) -> &str {
        self.context.log_group
    }

    /// The log stream the event came from.
    pub fn log_stream(&self) -> &str {
        self.context.log_stream
    }

    /// The AWS account id that owns the log group.
    pub fn owner(&self) -> &str {
        self.context.owner
    }

    /// The index the event goes to, when a transform chose one (otherwise the pipeline's template
    /// decides).
    pub fn target_index(&self) -> Option<&str> {
        match &self.index {
            Some(index) => index.as_deref(),
            None => self.event.index,
        }
    }

    /// Sends the event to `index` instead of the template's index (`None` restores the template).
    pub fn set_target_index(&mut self, index: Option<&str>) {
        self.index = (index != self.event.index).then(|| index.map(str::to_owned));
    }

    /// All fields added so far, as one JSON object.
    pub fn fields(&self) -> &Map<String, Value> {
        self.fields.get_or_init(|| parse_fields(self.raw_fields.as_deref().or(self.event.fields)))
    }

    /// The field at a dotted path (`"log.level"`), if there is one.
    pub fn field(&self, path: &str) -> Option<&Value> {
        // An event without fields (as every event is for the first transform) has none to find,
        // and needs no parse and no split of the path to say so.
        if self.fields.get().is_none() && self.raw_fields.is_none() && self.event.fields.is_none() {
            return None;
        }
        let mut parts = split_path(path);
        let mut value = self.fields().get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        Some(value)
    }

    /// The field at a dotted path as text, if it is a string.
    pub fn field_str(&self, path: &str) -> Option<&str> {
        self.field(path)?.as_str()
    }

    /// Sets the field at a dotted path, making the objects on the way (and replacing values on
    /// the way that are not objects).
    pub fn set_field(&mut self, path: &str, value: impl Into<Value>) {
        let mut object = self.fields_mut();
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                object.insert(part.to_owned(), value.into());
                return;
            }
            let slot = object.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            object = slot.as_object_mut().expect("made an object just above");
        }
    }

    /// Removes the field at a dotted path and returns it.
    pub fn remove_field(&mut self, path: &str) -> Option<Value> {
        self.field(path)?;
        let mut object = self.fields_mut();
        let (parents, last) = match path.rsplit_once('.') {
            Some((parents, last)) => (Some(parents), last),
            None => (None, path),
        };
        for part in parents.into_iter().flat_map(|parents| parents.split('.')) {
            object = object.get_mut(part)?.as_object_mut()?;
        }
        object.remove(last)
    }

    /// Changes several fields at once, with the whole object in hand.
    pub fn fields_mut(&mut self) -> &mut Map<String, Value> {
        self.fields();
        self.fields_changed = true;
        self.raw_fields = None;
        self.fields.get_mut().expect("initialised just above")
    }

    /// Replaces all fields with JSON object text, which travels to the host as it is: the fast way
    /// for a transform that writes its fields as text. The text must be one JSON object; the host
    /// dead-letters an event whose fields are not. Reading or changing fields afterwards parses it.
    pub fn set_fields_json(&mut self, json: String) {
        self.fields = OnceCell::new();
        self.raw_fields = Some(json);
        self.fields_changed = true;
    }

    /// Whether the event has no fields yet (cheap: nothing is parsed).
    pub fn has_no_fields(&self) -> bool {
        match (&self.raw_fields, self.fields.get()) {
            (Some(raw), _) => raw.trim() == "{}",
            (None, Some(fields)) => fields.is_empty(),
            (None, None) => self.event.fields.is_none(),
        }
    }

    /// Whether the transform changed anything.
    pub fn is_changed(&self) -> bool {
        self.timestamp.is_some() || self.message.is_some() || self.fields_changed || self.index.is_some()
    }

    pub(crate) fn changed_timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    pub(crate) fn changed_message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The new fields text when they changed (`Some(None)` means removed): text set with
    /// [`Event::set_fields_json`] as it is, a changed map serialised into `out`.
    pub(crate) fn changed_fields<'s>(&'s self, out: &'s mut String) -> Option<Option<&'s str>> {
        if !self.fields_changed {
            return None;
        }
        if let Some(raw) = &self.raw_fields {
            return Some(Some(raw));
        }
        let fields = self.fields.get()?;
        if fields.is_empty() {
            return Some(None);
        }
        // Serialising a map of JSON values into a String cannot fail.
        *out = serde_json::to_string(fields).unwrap_or_default();
        Some(Some(out.as_str()))
    }

    pub(crate) fn changed_index(&self) -> Option<Option<&str>> {
        self.index.as_ref().map(|index| index.as_deref())
    }
}

fn parse_fields(text: Option<&str>) -> Map<String, Value> {
    // Fields that are not a JSON object (only a misbehaving earlier transform writes those) read as
    // empty; setting a field then replaces them.
    text.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
}

/// The parts of a dotted path, split on the byte `.` (core's `char` search sets itself up on
/// every call, which costs more than these short paths take to split).
fn split_path(path: &str) -> impl Iterator<Item = &str> {
    path.as_bytes().split(|&byte| byte == b'.').map(|part| {
        // SAFETY: the path is UTF-8 and each part is cut at an ASCII byte, so is UTF-8 too.
        unsafe { std::str::from_utf8_unchecked(part) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_as_str_split_does() {
        for path in ["", ".", "a", "a.b", "a..b", ".a.", "log.level", "é.ü.ß", "ü."] {
            assert_eq!(split_path(path).collect::<Vec<_>>(), path.split('.').collect::<Vec<_>>(), "{path:?}");
        }
    }
}
