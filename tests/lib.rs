//! Shared support for Sluicegate's end-to-end tests: server processes and fixtures.

pub mod fault_server;
