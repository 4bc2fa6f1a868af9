//! The event model: one CloudWatch log event with the context of the message it came in.

use std::borrow::Cow;

/// What the events of one CloudWatch Logs subscription message share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context<'a> {
    /// The AWS account id that owns the log group.
    pub owner: Cow<'a, str>,
    /// The log group name.
    pub log_group: Cow<'a, str>,
    /// The log stream name.
    pub log_stream: Cow<'a, str>,
}

/// One log event on its way through the pipeline.
///
/// Text borrows from the inflated record where it can; transforms that change it make it owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// Index of the Kinesis record the event came in, in the batch.
    pub record_idx: u32,
    /// Index of the event's [`Context`] in the batch.
    pub context_idx: u32,
    /// The CloudWatch event id; it becomes the document `_id`.
    pub id: Cow<'a, str>,
    /// Event time in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line.
    pub message: Cow<'a, str>,
    /// Fields that transforms added, as the text of one JSON object; merged into the document.
    pub fields: Option<String>,
    /// The index a transform chose for this event, instead of the template's.
    pub index: Option<String>,
}
