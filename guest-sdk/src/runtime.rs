//! Runs a transform over one frame and writes the reply: the same code in Wasm and in the native
//! test harness.

use sluicegate_abi::{Changes, Frame, ReplyWriter};

use crate::{Error, Event, Transform, Verdict};

/// A configured transform and its reply buffer.
#[derive(Debug)]
pub struct Runtime<T> {
    transform: T,
    reply: ReplyWriter,
    fields: String,
}

impl<T: Transform> Runtime<T> {
    /// Reads the JSON configuration (empty means `null`) and makes the transform.
    pub fn init(config: &[u8]) -> Result<Runtime<T>, Error> {
        // No configuration (empty or `null`) reads as `{}` when the type does not take `null`, so
        // configurations whose fields all have defaults need none.
        let config = if config.iter().all(u8::is_ascii_whitespace) { b"null".as_slice() } else { config };
        let config = match serde_json::from_slice::<T::Config>(config) {
            Err(_) if config.trim_ascii() == b"null" => serde_json::from_slice::<T::Config>(b"{}").map_err(|error| {
                // The line and column would point into the `{}` read in its place, which the
                // author never wrote.
                let position = format!(" at line {} column {}", error.line(), error.column());
                let error = error.to_string();
                let error = error.strip_suffix(&position).unwrap_or(&error);
                Error::msg(format!("bad configuration: {error} (the transform got no configuration)"))
            })?,
            parsed => parsed.map_err(|error| Error::msg(format!("bad configuration: {error}")))?,
        };
        let transform = T::new(config)?;
        Ok(Runtime { transform, reply: ReplyWriter::default(), fields: String::new() })
    }

    /// Runs the transform over every event of `frame` and returns the reply.
    pub fn process(&mut self, frame: &[u8]) -> Result<&[u8], Error> {
        let frame = Frame::parse(frame)?;
        let mut contexts = Vec::with_capacity(frame.n_contexts());
        for context_idx in 0..frame.n_contexts() {
            contexts.push(frame.context(context_idx)?);
        }
        self.reply.begin(frame.n_events());
        for event_idx in 0..frame.n_events() {
            let frame_event = frame.event(event_idx)?;
            let mut event = Event::new(frame_event, contexts[frame_event.context_idx as usize]);
            match self.transform.process(&mut event) {
                Ok(Verdict::Drop) => self.reply.drop_event(event_idx),
                Ok(Verdict::Keep) if event.is_changed() => {
                    let fields = event.changed_fields(&mut self.fields);
                    let changes = Changes {
                        timestamp: event.changed_timestamp(),
                        message: event.changed_message(),
                        fields,
                        index: event.changed_index(),
                    };
                    self.reply.modify(event_idx, changes);
                }
                Ok(Verdict::Keep) => {}
                Err(error) => self.reply.fail(event_idx, error.message()),
            }
        }
        Ok(self.reply.finish())
    }
}
