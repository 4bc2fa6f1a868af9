//! Integration tests of the Lambda glue (one binary, so it links once).

mod es_config;
mod fixture;
mod handler;
mod replay;
mod run;
