//! The command line's integration tests, in one binary so it links once.

#[path = "../../../engine/tests/it/guests.rs"]
mod guests;

mod check;
mod es_auth;
mod es_config;
mod es_faults;
mod fixture;
mod handler;
mod replay;
mod run;
mod s3;
