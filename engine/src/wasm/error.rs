//! What can go wrong while loading a transform chain; per-event failures are data, not errors.

use std::path::PathBuf;

/// A transform that cannot be loaded or started. Every variant raised while loading a chain names
/// the transform; [`WasmError::Precompile`] comes from [`crate::wasm::precompile`], which sees only
/// bytes, and its callers name the module.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The Wasm engine could not be configured.
    #[error("wasm engine: {reason}")]
    Engine {
        /// What the engine said.
        reason: String,
    },
    /// The module file could not be read.
    #[error("transform {name}: cannot read {path}: {reason}")]
    Read {
        /// The transform.
        name: String,
        /// The module file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The module's `.wasm` is not the one the pipeline file pins.
    #[error(
        "transform {name}: {location} has sha256 {found}, but the pipeline pins {expected}: the module changed after the pipeline was written"
    )]
    Digest {
        /// The transform.
        name: String,
        /// Where the module was read from.
        location: String,
        /// The digest the pipeline file gives.
        expected: String,
        /// The file's digest.
        found: String,
    },
    /// The module does not compile or validate.
    #[error("transform {name}: {path} is not a valid wasm module: {reason}")]
    Compile {
        /// The transform.
        name: String,
        /// The module file.
        path: PathBuf,
        /// What the compiler said.
        reason: String,
    },
    /// The module imports something the host does not provide.
    #[error("transform {name}: imports {module}::{import}, but transforms may import only from the host module `sluicegate` (log, panic)")]
    ForbiddenImport {
        /// The transform.
        name: String,
        /// The import's module.
        module: String,
        /// The import's name.
        import: String,
    },
    /// The module lacks the ABI marker or another export of the ABI.
    #[error(
        "transform {name}: not a sluicegate transform for ABI version {version}: missing export `{export}` (build it with sluicegate-sdk)"
    )]
    MissingExport {
        /// The transform.
        name: String,
        /// The ABI version the host speaks.
        version: u32,
        /// The missing export.
        export: &'static str,
    },
    /// Bytes given to [`crate::wasm::precompile`] do not compile or validate.
    #[error("not a valid wasm module: {reason}")]
    Precompile {
        /// What the compiler said.
        reason: String,
    },
    /// The module could not be instantiated.
    #[error("transform {name}: cannot instantiate: {reason}")]
    Instantiate {
        /// The transform.
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The guest's `init` refused its configuration, or trapped.
    #[error("transform {name}: init failed: {reason}")]
    Init {
        /// The transform.
        name: String,
        /// The guest's error text or the trap.
        reason: String,
    },
}
