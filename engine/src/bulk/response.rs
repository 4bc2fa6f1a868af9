//! Reading a `_bulk` response item by item, sorting each into delivered, retry or reject.

use serde::Deserialize;

use super::encode::{BulkAction, BulkBody};

/// What became of one item of a `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    /// Stored (2xx), or already there (409 on `create`).
    Delivered,
    /// Worth another try: 429, 5xx, `es_rejected_execution_exception`, or a cluster-wide
    /// condition that is no document's fault (a write block, a security refusal, a missing index).
    Retry {
        /// The item's HTTP status.
        status: u16,
        /// The error as Elasticsearch gave it (JSON text).
        error: String,
    },
    /// Refused for the document's shape (a field of another type than the index maps, more
    /// fields than it allows): worth shipping once more in a degraded form ([`super::degrade`]).
    Mapping {
        /// The item's HTTP status.
        status: u16,
        /// The error as Elasticsearch gave it (JSON text).
        error: String,
    },
    /// Will never succeed (a bad document, an index name the cluster refuses): dead-letter it.
    Reject {
        /// The item's HTTP status.
        status: u16,
        /// The error as Elasticsearch gave it (JSON text).
        error: String,
    },
}

/// A `_bulk` response that cannot be matched to its request: the whole request is in doubt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The body is not a `_bulk` response.
    #[error("bulk response is not json with an items array: {reason}")]
    Malformed {
        /// What the parser said.
        reason: String,
    },
    /// A different number of items came back than were sent.
    #[error("bulk response has {received} items for {sent} sent")]
    ItemCount {
        /// Items in the request.
        sent: usize,
        /// Items in the response.
        received: usize,
    },
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    errors: bool,
    items: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Sorts each item of `request` by its entry in the response `body`, in request order.
pub fn classify(body: &[u8], request: &BulkBody, action: BulkAction) -> Result<Vec<ItemResult>, ResponseError> {
    let response: Response = serde_json::from_slice(body).map_err(|error| ResponseError::Malformed { reason: error.to_string() })?;
    if response.items.len() != request.items.len() {
        return Err(ResponseError::ItemCount { sent: request.items.len(), received: response.items.len() });
    }
    if !response.errors {
        return Ok(vec![ItemResult::Delivered; request.items.len()]);
    }
    Ok(response.items.iter().map(|item| classify_item(item, action)).collect())
}

fn classify_item(item: &serde_json::Map<String, serde_json::Value>, action: BulkAction) -> ItemResult {
    // Each item is `{"<action>": {"status": …, "error": {…}}}`.
    let Some(serde_json::Value::Object(result)) = item.values().next() else {
        return ItemResult::Retry { status: 0, error: "bulk response item has no result".to_owned() };
    };
    let status = result.get("status").and_then(serde_json::Value::as_u64).unwrap_or(0) as u16;
    let error = result.get("error");
    let error_type = error.and_then(|e| e.get("type")).and_then(serde_json::Value::as_str).unwrap_or("");
    let error_text = || error.map(|e| e.to_string()).unwrap_or_default();
    let reason = error.and_then(|e| e.get("reason")).and_then(serde_json::Value::as_str).unwrap_or("");
    match status {
        200..=299 if error.is_none() => ItemResult::Delivered,
        409 if action == BulkAction::Create => ItemResult::Delivered,
        429 | 500..=599 => ItemResult::Retry { status, error: error_text() },
        _ if error_type == "es_rejected_execution_exception" => ItemResult::Retry { status, error: error_text() },
        // The cluster, not the document: a read-only block (disk watermark, a snapshot), a role
        // mapping not in place yet, an index deleted under the writer or auto-creation off.
        403 if matches!(error_type, "cluster_block_exception" | "security_exception") => ItemResult::Retry { status, error: error_text() },
        404 if error_type == "index_not_found_exception" => ItemResult::Retry { status, error: error_text() },
        400 if is_mapping_error(error_type, reason) => ItemResult::Mapping { status, error: error_text() },
        // A status that is missing or makes no sense is not proof of a permanent failure.
        0..=299 => ItemResult::Retry { status, error: error_text() },
        _ => ItemResult::Reject { status, error: error_text() },
    }
}

/// Whether a 400 is about the document's shape against the index's mappings, which the
/// degraded form avoids, rather than about something else (a bad index name, a bad id).
fn is_mapping_error(error_type: &str, reason: &str) -> bool {
    match error_type {
        "mapper_parsing_exception" | "document_parsing_exception" | "strict_dynamic_mapping_exception" | "mapper_exception" => true,
        // "Limit of total fields [1000] has been exceeded", "mapper [x] cannot be changed from
        // type [long] to [text]", "can't merge a non object mapping [user] with an object mapping".
        "illegal_argument_exception" => {
            let reason = reason.to_ascii_lowercase();
            ["limit of total fields", "mapper [", "mapping [", "field [", "depth limit", "nested"]
                .iter()
                .any(|needle| reason.contains(needle))
        }
        _ => false,
    }
}
