//! Integration tests of the Lambda glue (one binary, so it links once).

mod es_auth;
mod es_config;
mod es_faults;
