//! The pipeline file: the transform chain (modules, configurations, error policies) and the
//! pipeline options that travel with it, as one JSON document.
//!
//! ```json
//! {
//!   "transforms": [
//!     {"name": "redact", "module": "s3://logs-archive/sluicegate/modules/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.wasm",
//!      "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "config": {"mode": "mask"}, "on_error": "dead-letter"}
//!   ],
//!   "index_template": "cwl-{yyyy}.{MM}.{dd}",
//!   "archive_stage": "documents",
//!   "limits": {"call_timeout_ms": 200, "memory_mb": 64, "stack_kb": 512, "max_frame_kb": 1024, "chain_memory_mb": 128},
//!   "allowed_indices": "cwl-*",
//!   "transform_dead_letters": "metadata"
//! }
//! ```
//!
//! A module is a path (relative paths resolve against the file's folder) or a URI such as
//! `s3://bucket/key`, which the engine does not fetch: a host loads such modules and starts the
//! chain with [`PipelineFile::start_modules`]. Unknown keys are refused by name, so a typo does
//! not silently turn a setting off. A transform's `sha256` pins its `.wasm` (hosts require it for
//! URIs): the chain does not start when the module's SHA-256 differs ([`check_digest`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::archive::ArchiveStage;
use crate::index::IndexTemplate;
use crate::wasm::{Chain, Limits, LoadedModule, OnError, StageSpec, WasmError, WasmHost};

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
    /// The pattern (`*` for any text) an index set by a transform must match, when given.
    pub allowed_indices: Option<String>,
    /// What a transform failure's dead letter holds, when the file says.
    pub transform_dead_letters: Option<crate::DeadLetterContent>,
}

/// One transform of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformEntry {
    /// Its name (in errors, dead letters and timings).
    pub name: String,
    /// Its module.
    pub module: ModuleRef,
    /// Its configuration as JSON text (`null` when absent).
    pub config: String,
    /// What happens to events it fails on.
    pub on_error: OnError,
    /// The SHA-256 its `.wasm` must have (64 lowercase hex digits), when the file pins it.
    pub sha256: Option<String>,
}

/// Where a transform's `.wasm` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleRef {
    /// A file, resolved against the pipeline file's folder.
    Path(PathBuf),
    /// A URI (`scheme://...`) for the host to fetch.
    Uri(String),
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModuleRef::Path(path) => write!(f, "{}", path.display()),
            ModuleRef::Uri(uri) => f.write_str(uri),
        }
    }
}

/// What is wrong with a pipeline file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineFileError {
    /// The file could not be read.
    #[error("cannot read pipeline {location}: {reason}")]
    Read {
        /// The file's path or URI.
        location: String,
        /// The I/O error.
        reason: String,
    },
    /// The file is not a valid pipeline document.
    #[error("pipeline {location}: {reason}")]
    Invalid {
        /// The file's path or URI.
        location: String,
        /// What is wrong, naming the key (and the line and column of a JSON error).
        reason: String,
    },
    /// A transform could not be loaded or started.
    #[error("pipeline {location}: {error}")]
    Transform {
        /// The file's path or URI.
        location: String,
        /// The transform's error (it names the transform). Not a `source`: the message holds it
        /// already, and a chain of sources would print it twice.
        error: WasmError,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile<'a> {
    #[serde(borrow)]
    transforms: Vec<RawTransform<'a>>,
    #[serde(default)]
    index_template: Option<String>,
    #[serde(default)]
    archive_stage: Option<String>,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    allowed_indices: Option<String>,
    #[serde(default)]
    transform_dead_letters: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    call_timeout_ms: Option<u64>,
    memory_mb: Option<usize>,
    stack_kb: Option<usize>,
    max_frame_kb: Option<usize>,
    chain_memory_mb: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransform<'a> {
    name: String,
    module: String,
    #[serde(default, borrow)]
    config: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    on_error: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
}

/// `config`, a slice of `text`, preceded by as many line breaks and spaces as stand before it in
/// `text`: a transform parsing it reports the line and column of the pipeline file the user
/// wrote, not of a copy.
fn in_place(text: &str, config: &str) -> String {
    let offset = (config.as_ptr() as usize).saturating_sub(text.as_ptr() as usize).min(text.len());
    let before = &text.as_bytes()[..offset];
    let n_lines = before.iter().filter(|&&byte| byte == b'\n').count();
    let column = offset - before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let mut placed = String::with_capacity(n_lines + column + config.len());
    placed.extend(std::iter::repeat_n('\n', n_lines));
    placed.extend(std::iter::repeat_n(' ', column));
    placed.push_str(config);
    placed
}

impl PipelineFile {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<PipelineFile, PipelineFileError> {
        let location = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|error| PipelineFileError::Read { location: location.clone(), reason: error.to_string() })?;
        let folder = path.parent().unwrap_or(Path::new(""));
        PipelineFile::parse(&text, folder).map_err(|reason| PipelineFileError::Invalid { location, reason })
    }

    /// Parses pipeline JSON; relative module paths resolve against `folder`, URIs stay as they are.
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
            let sha256 = match transform.sha256 {
                None => None,
                Some(digest) if digest.len() == 64 && digest.bytes().all(|byte| byte.is_ascii_hexdigit()) => {
                    Some(digest.to_ascii_lowercase())
                }
                Some(digest) => {
                    return Err(format!("transform {}: sha256 is the module's SHA-256 as 64 hex digits, not {digest:?}", transform.name));
                }
            };
            let module = if transform.module.is_empty() {
                return Err(format!("transform {}: module is empty", transform.name));
            } else if is_uri(&transform.module) {
                ModuleRef::Uri(transform.module)
            } else {
                ModuleRef::Path(folder.join(transform.module))
            };
            let config = transform.config.map_or_else(|| "null".to_owned(), |config| in_place(text, config.get()));
            transforms.push(TransformEntry { name: transform.name, module, config, on_error, sha256 });
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
            if let Some(chain_memory_mb) = raw.chain_memory_mb {
                limits.chain_memory_bytes = in_range("limits.chain_memory_mb", chain_memory_mb as u64, 1, 65_536)? as usize * 1024 * 1024;
            }
        }
        let allowed_indices = raw.allowed_indices;
        if let Some(pattern) = &allowed_indices
            && (pattern.is_empty() || pattern.chars().any(|c| c.is_ascii_uppercase() || c.is_whitespace()))
        {
            return Err(format!("allowed_indices is {pattern:?}: a lowercase index pattern, `*` for any text"));
        }
        let transform_dead_letters = raw.transform_dead_letters.map(|text| text.parse()).transpose()?;
        Ok(PipelineFile { transforms, index_template, archive_stage, limits, allowed_indices, transform_dead_letters })
    }

    /// Puts the options this file sets into `config`, in place of the host's own (its
    /// environment or command line).
    pub fn apply_to(&self, config: &mut crate::PipelineConfig) {
        if let Some(index_template) = &self.index_template {
            config.index_template = index_template.clone();
        }
        if let Some(archive_stage) = self.archive_stage {
            config.archive_stage = archive_stage;
        }
        if let Some(transform_dead_letters) = self.transform_dead_letters {
            config.transform_dead_letters = transform_dead_letters;
        }
    }

    /// Loads every module from its file (precompiled when possible, after checking a pinned
    /// module's SHA-256) and starts the chain. Make `host` with this file's
    /// [`PipelineFile::limits`]. A module given as a URI is refused: hosts that fetch modules load
    /// them themselves and call [`PipelineFile::start_modules`].
    pub fn start(&self, host: &WasmHost, path: &Path) -> Result<Chain, PipelineFileError> {
        let transform_error = |source| PipelineFileError::Transform { location: path.display().to_string(), error: source };
        let modules = self.transforms.iter().map(|entry| entry.load_file(host)).collect::<Result<Vec<_>, _>>().map_err(transform_error)?;
        self.start_modules(host, modules, &path.display().to_string())
    }

    /// Starts the chain on modules the host loaded, one per transform in chain order
    /// (`location` names the pipeline in errors).
    pub fn start_modules(&self, host: &WasmHost, modules: Vec<LoadedModule>, location: &str) -> Result<Chain, PipelineFileError> {
        let transform_error = |source| PipelineFileError::Transform { location: location.to_owned(), error: source };
        if modules.len() != self.transforms.len() {
            return Err(transform_error(WasmError::Engine {
                reason: format!("{} modules for {} transforms", modules.len(), self.transforms.len()),
            }));
        }
        let specs = self
            .transforms
            .iter()
            .zip(modules)
            .map(|(entry, module)| StageSpec { name: entry.name.clone(), module, config: entry.config.clone(), on_error: entry.on_error })
            .collect();
        Chain::new(host, specs).map(|chain| chain.allow_indices(self.allowed_indices.clone())).map_err(transform_error)
    }
}

impl TransformEntry {
    /// Loads the module from its file (its `.cwasm` beside it when usable), after checking the
    /// `.wasm`'s digest when the pipeline pins it; a module given as a URI is refused.
    pub fn load_file(&self, host: &WasmHost) -> Result<LoadedModule, WasmError> {
        let ModuleRef::Path(module) = &self.module else {
            return Err(WasmError::Read {
                name: self.name.clone(),
                path: PathBuf::from(self.module.to_string()),
                reason: "a URI, which only hosts that fetch modules (the Lambda, `sluicegate run`) load".to_owned(),
            });
        };
        if let Some(sha256) = &self.sha256 {
            let wasm = module.with_extension("wasm");
            let bytes = std::fs::read(&wasm).map_err(|error| WasmError::Read {
                name: self.name.clone(),
                path: wasm.clone(),
                reason: format!("{error} (the pipeline pins its sha256, so the .wasm must be there to check)"),
            })?;
            check_digest(&self.name, &wasm.display().to_string(), &bytes, sha256)?;
        }
        host.load(&self.name, module)
    }
}

/// Whether `module` looks like a URI (`scheme://...`) rather than a path.
fn is_uri(module: &str) -> bool {
    module.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'))
    })
}

/// Checks that `bytes`, transform `name`'s module read from `location`, have the SHA-256
/// `expected` (lowercase hex) that the pipeline pins.
pub fn check_digest(name: &str, location: &str, bytes: &[u8], expected: &str) -> Result<(), WasmError> {
    let found = sha256_hex(bytes);
    if found != expected {
        return Err(WasmError::Digest { name: name.to_owned(), location: location.to_owned(), expected: expected.to_owned(), found });
    }
    Ok(())
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits, as `sha256sum` and Terraform's `filesha256`
/// write it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// `value` when it lies in `min..=max`, else an error naming `key` and the range.
fn in_range(key: &str, value: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&value) { Ok(value) } else { Err(format!("{key} is {value}, outside {min} to {max}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_keeps_its_place_in_the_file() {
        let text =
            "{\"transforms\": [\n  {\"name\": \"f\", \"module\": \"f.wasm\",\n   \"config\": {\"drop\": [\n      {\"message\": 5}]}}]}";
        let file = PipelineFile::parse(text, Path::new("")).unwrap();
        let config = &file.transforms[0].config;
        assert_eq!(serde_json::from_str::<serde_json::Value>(config).unwrap(), serde_json::json!({"drop": [{"message": 5}]}));
        // A transform's error points where the 5 stands in the file: line 4, column 19.
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Drop {
            message: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Config {
            drop: Vec<Drop>,
        }
        let error = serde_json::from_str::<Config>(config).unwrap_err();
        assert_eq!((error.line(), error.column()), (4, 19), "{error}");
    }

    #[test]
    fn parses_and_refuses_with_names() {
        let file = PipelineFile::parse(
            r#"{"transforms":[{"name":"f","module":"f.wasm","config":{"a":1},"on_error":"drop"},{"name":"g","module":"/abs/g.wasm"}],"archive_stage":"both"}"#,
            Path::new("/etc/pipeline"),
        )
        .unwrap();
        assert_eq!(file.transforms[0].module, ModuleRef::Path("/etc/pipeline/f.wasm".into()));
        assert_eq!(file.transforms[0].config.trim_start(), r#"{"a":1}"#);
        assert_eq!(file.transforms[0].on_error, OnError::Drop);
        assert_eq!(file.transforms[1].module, ModuleRef::Path("/abs/g.wasm".into()));
        assert_eq!(file.transforms[1].config, "null");
        assert_eq!(file.transforms[1].on_error, OnError::DeadLetter);
        assert_eq!(file.archive_stage, Some(ArchiveStage::Both));
        assert_eq!(file.limits, Limits::default());
        let uri_file = PipelineFile::parse(r#"{"transforms":[{"name":"f","module":"s3://b/k/f.wasm"}]}"#, Path::new("/etc")).unwrap();
        assert_eq!(uri_file.transforms[0].module, ModuleRef::Uri("s3://b/k/f.wasm".into()));
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
        assert_eq!(error(r#"{"transforms":[{"name":"f","module":""}]}"#), "transform f: module is empty");
        assert_eq!(
            error(r#"{"transforms":[{"name":"f","module":"m","sha256":"abc"}]}"#),
            r#"transform f: sha256 is the module's SHA-256 as 64 hex digits, not "abc""#
        );
        // JSON errors point into the text as given.
        assert_eq!(error("{\n  \"transforms\": [,]\n}"), "expected value at line 2 column 18");
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
