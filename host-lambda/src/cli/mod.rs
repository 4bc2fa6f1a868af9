//! The subcommands of the `sluicegate` command line, one file each.

pub mod run;
