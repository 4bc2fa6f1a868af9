//! Integration tests of the Lambda host (one binary, so it links once).

mod fixture;
mod handler;
