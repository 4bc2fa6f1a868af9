//! The Sluicegate guest SDK: write a transform, test it natively, build it for Wasm.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod abi;
pub mod json_scan;
pub mod json_text;

#[cfg(feature = "guest")]
mod error;
#[cfg(feature = "guest")]
mod event;
#[cfg(feature = "guest")]
mod macros;
#[cfg(feature = "guest")]
mod runtime;
#[cfg(feature = "guest")]
pub mod testing;
#[cfg(feature = "guest")]
mod transform;

#[cfg(feature = "guest")]
pub use error::Error;
#[cfg(feature = "guest")]
pub use event::Event;
#[cfg(feature = "guest")]
pub use serde_json::{self as json, Map, Value};
#[cfg(feature = "guest")]
pub use transform::{NoConfig, Transform, Verdict};

/// Sends a log line to the host (in Wasm) or to standard error (natively).
#[cfg(feature = "guest")]
pub fn log(message: &str) {
    #[cfg(target_arch = "wasm32")]
    guest::log(0, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{message}");
}

#[cfg(all(feature = "guest", target_arch = "wasm32"))]
mod guest;

/// What the export macros expand to; not part of the API.
#[cfg(all(feature = "guest", target_arch = "wasm32"))]
#[doc(hidden)]
pub mod __private {
    pub use crate::guest::{abi_version, buffer, init, process};
}
