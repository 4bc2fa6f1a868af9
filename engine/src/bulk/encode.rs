//! NDJSON `_bulk` bodies, split at a size limit, that remember which record each item came from.

use std::ops::Range;
use std::str::FromStr;

use crate::document::write_json_str;

/// Default size limit of one `_bulk` body: 5 MiB, well under the 10 MiB request limit of the
/// smallest Amazon OpenSearch Service instances.
pub const DEFAULT_BULK_MAX_BYTES: usize = 5 << 20;

/// The `_bulk` action for each document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BulkAction {
    /// `index`: a replay overwrites the document with the same `_id`.
    #[default]
    Index,
    /// `create`, as data streams need: a replay gets 409, which counts as delivered.
    Create,
}

impl BulkAction {
    /// The action's name in the `_bulk` body.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Index => "index",
            BulkAction::Create => "create",
        }
    }
}

impl FromStr for BulkAction {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "index" => Ok(BulkAction::Index),
            "create" => Ok(BulkAction::Create),
            other => Err(format!("unknown bulk action {other:?} (expected index or create)")),
        }
    }
}

/// One `_bulk` request body and, for each item in it, where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkBody {
    /// The NDJSON body: an action line and a source line per item.
    pub body: Vec<u8>,
    /// The items in body order.
    pub items: Vec<BulkItem>,
}

/// One document in a [`BulkBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkItem {
    /// The Kinesis record the document's event came in.
    pub record_idx: u32,
    /// The byte range of the item's two lines (action and source) in the body.
    pub range: Range<usize>,
}

impl BulkBody {
    /// A body made of the given items of this one, in order: for retrying some items.
    pub fn subset(&self, item_idxs: &[usize]) -> BulkBody {
        let mut subset = BulkBody::default();
        for &item_idx in item_idxs {
            let item = &self.items[item_idx];
            let start = subset.body.len();
            subset.body.extend_from_slice(&self.body[item.range.clone()]);
            subset.items.push(BulkItem { record_idx: item.record_idx, range: start..subset.body.len() });
        }
        subset
    }

    /// A body made of the given items of this one with other documents (one JSON line each, such
    /// as their degraded forms), keeping each item's action line: its index and `_id`.
    pub fn with_documents(&self, replacements: &[(usize, Vec<u8>)]) -> BulkBody {
        let mut replaced = BulkBody::default();
        for (item_idx, document) in replacements {
            let item = &self.items[*item_idx];
            let lines = &self.body[item.range.clone()];
            let action_end = lines.iter().position(|&b| b == b'\n').map_or(lines.len(), |i| i + 1);
            let start = replaced.body.len();
            replaced.body.extend_from_slice(&lines[..action_end]);
            replaced.body.extend_from_slice(document);
            replaced.body.push(b'\n');
            replaced.items.push(BulkItem { record_idx: item.record_idx, range: start..replaced.body.len() });
        }
        replaced
    }

    /// The two halves of this body, for a request that was too large (413); `None` for one item.
    pub fn split_in_half(&self) -> Option<(BulkBody, BulkBody)> {
        if self.items.len() < 2 {
            return None;
        }
        let middle = self.items.len() / 2;
        let first: Vec<usize> = (0..middle).collect();
        let second: Vec<usize> = (middle..self.items.len()).collect();
        Some((self.subset(&first), self.subset(&second)))
    }

    /// The source line (the document) of an item, without its newline.
    pub fn document(&self, item_idx: usize) -> &[u8] {
        let lines = &self.body[self.items[item_idx].range.clone()];
        let action_end = lines.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        lines[action_end..].strip_suffix(b"\n").unwrap_or(&lines[action_end..])
    }
}

/// Writes documents into bodies no larger than a limit (a single larger item goes alone).
#[derive(Debug)]
pub struct BulkWriter {
    action: BulkAction,
    max_bytes: usize,
    bodies: Vec<BulkBody>,
    current: BulkBody,
    /// The start of the action line for the last index used, `{"index":{"_index":"…","_id":`,
    /// kept because consecutive events almost always share their index.
    action_prefix: Vec<u8>,
    action_index: String,
    /// Bytes of items the caller said are coming ([`BulkWriter::expect`]) and not yet written.
    expected: usize,
    /// Whether action lines carry the `_id` ([`BulkWriter::without_ids`]).
    with_ids: bool,
}

/// Room reserved in a body beyond its limit, for the item that crosses it (which then moves to
/// the next body): without it, that one item would double the allocation.
const BODY_SLACK_BYTES: usize = 256 << 10;

impl BulkWriter {
    /// A writer with the given action and size limit.
    pub fn new(action: BulkAction, max_bytes: usize) -> BulkWriter {
        BulkWriter {
            action,
            max_bytes: max_bytes.max(1),
            bodies: Vec::new(),
            current: BulkBody::default(),
            action_prefix: Vec::new(),
            action_index: String::new(),
            expected: 0,
            with_ids: true,
        }
    }

    /// Action lines without `_id`, for OpenSearch Serverless time-series and vector collections,
    /// which refuse one: the cluster assigns ids, so a retried batch can index an event twice.
    pub fn without_ids(mut self) -> BulkWriter {
        self.with_ids = false;
        self
    }

    /// Says that about `n_bytes` of items are about to be pushed, so that the body is allocated
    /// once at the size it will reach (at most the limit and some slack) instead of doubling as
    /// it grows, which copies every byte written so far each time. An estimate: too little
    /// costs a growth, too much only address space (pages never written are never touched).
    pub fn expect(&mut self, n_bytes: usize) {
        self.expected = self.expected.saturating_add(n_bytes);
        self.reserve_current();
    }

    fn reserve_current(&mut self) {
        let body = &mut self.current.body;
        let room = self.max_bytes.saturating_add(BODY_SLACK_BYTES).saturating_sub(body.len());
        body.reserve(self.expected.min(room));
    }

    /// Appends one item; `write_source` appends the document (one line of JSON) and may fail, in
    /// which case nothing is added and its error is returned.
    pub fn push<E>(
        &mut self,
        record_idx: u32,
        index: &str,
        id: &str,
        write_source: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.action_prefix.is_empty() || self.action_index != index {
            self.action_prefix.clear();
            self.action_prefix.extend_from_slice(b"{\"");
            self.action_prefix.extend_from_slice(self.action.as_str().as_bytes());
            self.action_prefix.extend_from_slice(b"\":{\"_index\":");
            write_json_str(&mut self.action_prefix, index);
            if self.with_ids {
                self.action_prefix.extend_from_slice(b",\"_id\":");
            }
            index.clone_into(&mut self.action_index);
        }
        let body = &mut self.current.body;
        let start = body.len();
        body.extend_from_slice(&self.action_prefix);
        if self.with_ids {
            write_json_str(body, id);
        }
        body.extend_from_slice(b"}}\n");
        if let Err(error) = write_source(body) {
            body.truncate(start);
            return Err(error);
        }
        body.push(b'\n');
        let end = body.len();
        self.expected = self.expected.saturating_sub(end - start);
        if end > self.max_bytes && start > 0 {
            // The item does not fit: close the body without it and start the next with it.
            let mut next = BulkBody::default();
            next.body.reserve(self.expected.saturating_add(end - start).min(self.max_bytes.saturating_add(BODY_SLACK_BYTES)));
            next.body.extend_from_slice(&body[start..]);
            body.truncate(start);
            self.bodies.push(std::mem::replace(&mut self.current, next));
            self.current.items.push(BulkItem { record_idx, range: 0..self.current.body.len() });
        } else {
            self.current.items.push(BulkItem { record_idx, range: start..end });
        }
        Ok(())
    }

    /// The bodies completed so far (every body but the one being written), in order: a host
    /// ships them while the rest of the batch is still being encoded.
    pub fn take_finished(&mut self) -> Vec<BulkBody> {
        std::mem::take(&mut self.bodies)
    }

    /// The bodies written, in order.
    pub fn finish(mut self) -> Vec<BulkBody> {
        if !self.current.items.is_empty() {
            self.bodies.push(self.current);
        }
        self.bodies
    }
}
