//! The trait a transform implements, and what it answers for each event.

use serde::de::DeserializeOwned;

use crate::{Error, Event};

/// What a transform decides for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ship the event, with whatever changes the transform made to it.
    Keep,
    /// Do not ship the event.
    Drop,
}

/// A configuration for transforms that take none: it accepts any JSON (or none).
pub type NoConfig = serde::de::IgnoredAny;

/// A transform: made once per instance from its configuration, then handed every event.
///
/// Export it from a `cdylib` crate with [`export!`](crate::export).
pub trait Transform: Sized + 'static {
    /// The configuration, read from the `config` of the transform in the pipeline file.
    type Config: DeserializeOwned;

    /// Makes the transform; an error here stops the pipeline from starting, with its message.
    fn new(config: Self::Config) -> Result<Self, Error>;

    /// Looks at one event and may change it. An error fails this event (the pipeline applies the
    /// transform's `on_error` policy) and the batch goes on.
    fn process(&mut self, event: &mut Event<'_>) -> Result<Verdict, Error>;
}
