//! Dead letters: what could not be shipped, with the original content, the stage and the reason.

use base64::Engine as _;

use crate::document::write_json_str;

/// Where in the pipeline an item was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Base64, gzip or JSON decoding of a whole record.
    Decode,
    /// A transform failed on the event (its `on_error` is `dead-letter`).
    Transform {
        /// The transform's name.
        name: String,
    },
    /// The document could not be built (transform fields that are not an object).
    Document,
    /// Elasticsearch refused the document for good.
    Bulk,
}

impl Stage {
    /// The stage's name in dead-letter lines.
    pub fn name(&self) -> String {
        match self {
            Stage::Decode => "decode".to_owned(),
            Stage::Transform { name } => format!("transform:{name}"),
            Stage::Document => "document".to_owned(),
            Stage::Bulk => "bulk".to_owned(),
        }
    }
}

/// The content that was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    /// Raw record bytes (which may not be text), written base64 encoded as `original_base64`.
    Bytes(Vec<u8>),
    /// A JSON value (an event or a document), written as is under `original`.
    Json(Vec<u8>),
}

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The Kinesis record it came from, by index in the batch.
    pub record_idx: u32,
    /// That record's sequence number.
    pub sequence_number: String,
    /// The stage that gave up.
    pub stage: Stage,
    /// Why.
    pub reason: String,
    /// What was given up on.
    pub original: Original,
}

impl DeadLetter {
    /// Appends the dead letter as one NDJSON line.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"stage\":");
        write_json_str(out, &self.stage.name());
        out.extend_from_slice(b",\"reason\":");
        write_json_str(out, &self.reason);
        out.extend_from_slice(b",\"sequence_number\":");
        write_json_str(out, &self.sequence_number);
        match &self.original {
            Original::Bytes(bytes) => {
                out.extend_from_slice(b",\"original_base64\":");
                write_json_str(out, &base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            Original::Json(json) => {
                out.extend_from_slice(b",\"original\":");
                out.extend_from_slice(json);
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

/// The NDJSON text of a list of dead letters.
pub fn ndjson(dead_letters: &[DeadLetter]) -> Vec<u8> {
    let mut out = Vec::new();
    for dead_letter in dead_letters {
        dead_letter.write_line(&mut out);
    }
    out
}
