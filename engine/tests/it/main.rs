//! The engine's integration tests, in one binary so it links once.

mod bad_input;
mod bulk;
mod decode;
mod fixture;
mod scaling;
