//! The Wasm host: runs users' transforms over every batch, contained.
//!
//! One [`WasmHost`] per process (one wasmtime engine and its epoch ticker); a [`LoadedModule`]
//! per transform module (checked against the ABI, from a precompiled `.cwasm` when one fits);
//! a [`Chain`] of started instances, which implements [`Transforms`](crate::transform::Transforms).
//! Wasmtime stays behind these types.

mod artifact;
mod chain;
mod error;
mod host;
mod instance;

pub use artifact::{ArtifactError, seal};
pub use chain::{Chain, OnError, StageSpec};
pub use error::WasmError;
pub use host::{Limits, LoadedModule, PERF_MAP_ENV, WasmHost, precompile};
