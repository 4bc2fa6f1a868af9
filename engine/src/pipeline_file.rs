//! The pipeline file: the transform chain (modules, configurations, error policies) and the
//! pipeline options that travel with it, as one JSON document.
//!
//! ```json
//! {
//!   "transforms": [
//!     {"name": "redact", "module": "/opt/sluicegate/transforms/redact.wasm", "config": {"mode": "mask"}, "on_error": "dead-letter"}
//!   ],
//!   "index_template": "cwl-{yyyy}.{MM}.{dd}",
//!   "archive_stage": "documents",
//!   "limits": {"call_timeout_ms": 200, "memory_mb": 64, "stack_kb": 512}
//! }
//! ```
//!
//! Relative module paths resolve against the file's folder. Unknown keys are refused by name, so
//! a typo does not silently turn a setting off.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::archive::ArchiveStage;
use crate::index::IndexTemplate;
use crate::wasm::{Chain, Limits, OnError, StageSpec, WasmError, WasmHost};

/// A pipeline file, read and checked (modules not loaded yet).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineFile {
    /// The transforms, in chain order.
    pub transforms: Vec<TransformEntry>,
    /// The index template, when the file sets one.
    pub index_template: Option<IndexTemplate>,
    /// The archive stage, when the file sets one.
    pub archive_stage: Option<ArchiveStage>,
    /// Limits for every transform instance (defaults for what the file leaves out).
    pub limits: Limits,
}

/// One transform of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformEntry {
    /// Its name (in errors, dead letters and timings).
    pub name: String,
    /// Its module, resolved against the pipeline file's folder.
    pub module: PathBuf,
    /// Its configuration as JSON text (`null` when absent).
    pub config: String,
    /// What happens to events it fails on.
    pub on_error: OnError,
}

/// What is wrong with a pipeline file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineFileError {
    /// The file could not be read.
    #[error("cannot read pipeline file {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The file is not a valid pipeline document.
    #[error("pipeline file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A transform could not be loaded or started.
    #[error("pipeline file {path}: {source}")]
    Transform {
        /// The file.
        path: PathBuf,
        /// The transform's error (it names the transform).
        source: WasmError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    transforms: Vec<RawTransform>,
    #[serde(default)]
    index_template: Option<String>,
    #[serde(default)]
    archive_stage: Option<String>,
    #[serde(default)]
    limits: Option<RawLimits>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    call_timeout_ms: Option<u64>,
    memory_mb: Option<usize>,
    stack_kb: Option<usize>,
    max_frame_kb: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransform {
    name: String,
    module: PathBuf,
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[serde(default)]
    on_error: Option<String>,
}

impl PipelineFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<PipelineFile, PipelineFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| PipelineFileError::Read { path: path.to_owned(), reason: error.to_string() })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        PipelineFile::parse(&text, folder).map_err(|reason| PipelineFileError::Invalid { path: path.to_owned(), reason })
    }

    /// Parses pipeline JSON; relative module paths resolve against `folder`.
    pub fn parse(text: &str, folder: &Path) -> Result<PipelineFile, String> {
        let raw: RawFile = serde_json::from_str(text).map_err(|error| error.to_string())?;
        let mut transforms = Vec::with_capacity(raw.transforms.len());
        for (transform_idx, transform) in raw.transforms.into_iter().enumerate() {
            if transform.name.is_empty() {
                return Err(format!("transform {transform_idx} has an empty name"));
            }
            if transforms.iter().any(|entry: &TransformEntry| entry.name == transform.name) {
                return Err(format!("transform name {} is used twice", transform.name));
            }
            let on_error = match transform.on_error.as_deref() {
                None | Some("dead-letter") => OnError::DeadLetter,
                Some("drop") => OnError::Drop,
                Some("pass") => OnError::Pass,
                Some(other) => return Err(format!("transform {}: on_error is dead-letter, drop or pass, not {other:?}", transform.name)),
            };
            let config = transform.config.unwrap_or(serde_json::Value::Null).to_string();
            transforms.push(TransformEntry { name: transform.name, module: folder.join(transform.module), config, on_error });
        }
        let index_template = raw
            .index_template
            .map(|template| IndexTemplate::parse(&template).map_err(|error| format!("index_template: {error}")))
            .transpose()?;
        let archive_stage =
            raw.archive_stage.map(|stage| stage.parse::<ArchiveStage>().map_err(|error| format!("archive_stage: {error}"))).transpose()?;
        let mut limits = Limits::default();
        if let Some(raw) = raw.limits {
            if let Some(call_timeout_ms) = raw.call_timeout_ms {
                // A Lambda invocation lasts at most 15 minutes.
                limits.call_timeout = Duration::from_millis(in_range("limits.call_timeout_ms", call_timeout_ms, 1, 900_000)?);
            }
            if let Some(memory_mb) = raw.memory_mb {
                // A 32-bit guest addresses at most 4 GiB.
                limits.memory_bytes = in_range("limits.memory_mb", memory_mb as u64, 1, 4096)? as usize * 1024 * 1024;
            }
            if let Some(stack_kb) = raw.stack_kb {
                // The guest's stack lives on the host thread's (8 MiB on Lambda's main thread), so
                // the cap must stay well below it for an overflow to trap instead of crashing.
                limits.stack_bytes = in_range("limits.stack_kb", stack_kb as u64, 16, 2048)? as usize * 1024;
            }
            if let Some(max_frame_kb) = raw.max_frame_kb {
                limits.max_frame_bytes = in_range("limits.max_frame_kb", max_frame_kb as u64, 1, 65_536)? as usize * 1024;
            }
        }
        Ok(PipelineFile { transforms, index_template, archive_stage, limits })
    }

    /// Loads every module (precompiled when possible) and starts the chain. Make `host` with
    /// this file's [`PipelineFile::limits`].
    pub fn start(&self, host: &WasmHost, path: &Path) -> Result<Chain, PipelineFileError> {
        let transform_error = |source| PipelineFileError::Transform { path: path.to_owned(), source };
        let mut specs = Vec::with_capacity(self.transforms.len());
        for entry in &self.transforms {
            let module = host.load(&entry.name, &entry.module).map_err(transform_error)?;
            specs.push(StageSpec { name: entry.name.clone(), module, config: entry.config.clone(), on_error: entry.on_error });
        }
        Chain::new(host, specs).map_err(transform_error)
    }
}

/// `value` when it lies in `min..=max`, else an error naming `key` and the range.
fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&value) { Ok(value) } else { Err(format!("{key} is {value}, outside {min} to {max}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_names() {
        let file = PipelineFile::parse(
            r#"{"transforms":[{"name":"f","module":"f.wasm","config":{"a":1},"on_error":"drop"},{"name":"g","module":"/abs/g.wasm"}],"archive_stage":"both"}"#,
            Path::new("/etc/pipeline"),
        )
        .unwrap();
        assert_eq!(file.transforms[0].module, Path::new("/etc/pipeline/f.wasm"));
        assert_eq!(file.transforms[0].config, r#"{"a":1}"#);
        assert_eq!(file.transforms[0].on_error, OnError::Drop);
        assert_eq!(file.transforms[1].module, Path::new("/abs/g.wasm"));
        assert_eq!(file.transforms[1].config, "null");
        assert_eq!(file.transforms[1].on_error, OnError::DeadLetter);
        assert_eq!(file.archive_stage, Some(ArchiveStage::Both));
        assert_eq!(file.limits, Limits::default());
        let file = PipelineFile::parse(r#"{"transforms":[],"limits":{"call_timeout_ms":50,"memory_mb":16}}"#, Path::new("")).unwrap();
        assert_eq!(file.limits.call_timeout, Duration::from_millis(50));
        assert_eq!(file.limits.memory_bytes, 16 << 20);

        let error = |text: &str| PipelineFile::parse(text, Path::new("")).unwrap_err();
        assert!(
            error(r#"{"transforms":[],"archive":"x"}"#).starts_with("unknown field `archive`"),
            "{}",
            error(r#"{"transforms":[],"archive":"x"}"#)
        );
        assert!(error(r#"{"transforms":[{"name":"f","module":"m","onerror":"drop"}]}"#).starts_with("unknown field `onerror`"));
        assert_eq!(
            error(r#"{"transforms":[{"name":"f","module":"m","on_error":"retry"}]}"#),
            r#"transform f: on_error is dead-letter, drop or pass, not "retry""#
        );
        assert_eq!(error(r#"{"transforms":[{"name":"f","module":"m"},{"name":"f","module":"n"}]}"#), "transform name f is used twice");
        // Regression: out-of-range limits used to be clamped or wrapped silently (a timeout near
        // u64::MAX overflowed the epoch deadline and made every call trap).
        assert_eq!(
            error(r#"{"transforms":[],"limits":{"call_timeout_ms":18446744073709551615}}"#),
            "limits.call_timeout_ms is 18446744073709551615, outside 1 to 900000"
        );
        assert_eq!(error(r#"{"transforms":[],"limits":{"memory_mb":0}}"#), "limits.memory_mb is 0, outside 1 to 4096");
        assert_eq!(error(r#"{"transforms":[],"limits":{"stack_kb":1048576}}"#), "limits.stack_kb is 1048576, outside 16 to 2048");
        assert_eq!(error(r#"{"transforms":[],"limits":{"max_frame_kb":0}}"#), "limits.max_frame_kb is 0, outside 1 to 65536");
    }
}
