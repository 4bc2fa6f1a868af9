//! The Sluicegate guest SDK: what transform authors depend on.
#![deny(missing_docs)]
