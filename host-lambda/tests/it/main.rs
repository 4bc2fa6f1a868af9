//! The command line's integration tests, in one binary so it links once.

#[path = "../../../engine/tests/it/guests.rs"]
mod guests;

mod check;
