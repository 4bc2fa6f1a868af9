//! The Sluicegate guest SDK: write a transform, test it natively, build it for Wasm.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
mod event;
mod macros;
mod runtime;
mod short;
pub mod testing;
mod transform;

pub use error::Error;
pub use event::Event;
pub use serde_json::{self as json, Map, Value};
pub use transform::{NoConfig, Transform, Verdict};

/// Sends a log line to the host (in Wasm) or to standard error (natively).
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    guest::log(0, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

#[cfg(target_arch = "wasm32")]
mod guest;

/// What the export macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    #[cfg(target_arch = "wasm32")]
    pub use crate::guest::{abi_version, buffer, init, process};
    pub use crate::short::{Answer, filter, filter_with, map, map_with};
}
