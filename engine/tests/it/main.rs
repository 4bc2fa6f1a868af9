//! The engine's integration tests, in one binary so it links once.

mod bad_input;
mod bulk;
mod c_guest;
mod decode;
mod fixture;
mod scaling;
mod transforms;
mod wasm_host;

// The built-in transforms, built from source once per test process.
use sluicegate_tests::guests;
