//! The command line's integration tests, in one binary so it links once.

use sluicegate_tests::guests;

mod check;
mod es_auth;
mod es_config;
mod es_faults;
mod es_tls;
mod fixture;
mod handler;
mod new;
mod replay;
mod run;
mod s3;
mod setup;
