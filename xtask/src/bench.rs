//! `cargo xtask bench`: the performance budget, measured. Throughput comes from the divan
//! benchmarks next to the engine; peak memory from a separate process per measurement, so one
//! run's allocations cannot hide another's.

use std::path::Path;

use crate::run::{cmd, run};

/// Runs the benchmarks.
pub fn main(root: &Path) -> anyhow::Result<()> {
    run(&mut cmd(root, "cargo", &["bench", "--locked", "-p", "sluicegate-engine", "--bench", "pipeline"]))?;
    run(&mut cmd(root, "cargo", &["bench", "--locked", "-p", "sluicegate-engine", "--bench", "transforms"]))?;
    run(&mut cmd(root, "cargo", &["bench", "--locked", "-p", "sluicegate-lambda", "--bench", "init"]))?;
    run(&mut cmd(root, "cargo", &["run", "--locked", "--release", "-p", "sluicegate-engine", "--example", "peak_memory"]))?;
    Ok(())
}
