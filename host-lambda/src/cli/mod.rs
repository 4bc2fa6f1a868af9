//! The subcommands of the `sluicegate` command line, one file each.

pub mod check;
pub mod compile;
pub mod replay;
pub mod run;
