//! Integration tests of the Lambda glue (one binary, so it links once).

mod es_auth;
mod es_config;
mod es_faults;
mod fixture;
mod handler;
mod replay;
mod run;
mod s3;
