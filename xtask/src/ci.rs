//! `cargo xtask ci`: everything CI checks, from a fresh machine. It installs what the tests need
//! (a rustup target, the pinned Python tools), then runs formatting, lints, docs, tidy checks
//! and every test; the tests start and stop their own servers on 127.0.0.1.

use std::path::Path;
use std::time::Instant;

use crate::run::{cmd, run};
use crate::{terraform, tidy, venv};

/// Runs the whole CI.
pub fn main(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    step("wasm target", || run(&mut cmd(root, "rustup", &["target", "add", "wasm32-unknown-unknown"])))?;
    step("fmt", || run(&mut cmd(root, "cargo", &["fmt", "--all", "--check"])))?;
    step("clippy", || run(&mut cmd(root, "cargo", &["clippy", "--locked", "--workspace", "--all-targets", "--", "-D", "warnings"])))?;
    step("docs", || run(cmd(root, "cargo", &["doc", "--locked", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings")))?;
    step("tidy", || tidy::check(root))?;
    let venv = step("python tools", || venv::ensure(root))?;
    step("build bootstrap", || run(&mut cmd(root, "cargo", &["build", "--locked", "-p", "sluicegate-lambda", "--bins"])))?;
    step("tests", || {
        run(cmd(root, "cargo", &["test", "--locked", "--workspace"])
            .env("SLUICEGATE_VENV", &venv)
            .env("SLUICEGATE_BOOTSTRAP", root.join("target/debug/bootstrap")))
    })?;
    step("transforms fmt, clippy and native tests", || {
        let transforms = root.join("transforms");
        let target_dir = root.join("target/transforms");
        run(&mut cmd(&transforms, "cargo", &["fmt", "--all", "--check"]))?;
        run(cmd(&transforms, "cargo", &["clippy", "--locked", "--workspace", "--", "-D", "warnings"]).env("CARGO_TARGET_DIR", &target_dir))?;
        // The workspace builds for wasm32 by default; its unit tests (through the SDK's native
        // harness) run on this machine's target, in a folder of their own so the wasm builds
        // stay cached.
        let host = host_triple(root)?;
        run(cmd(&transforms, "cargo", &["test", "--locked", "--workspace", "--target", &host])
            .env("CARGO_TARGET_DIR", root.join("target/transforms-native")))
    })?;
    step("terraform", || terraform::check(root, Some(&venv.join("bin/checkov"))))?;
    eprintln!("ci passed in {:.0?}", started.elapsed());
    Ok(())
}

/// This machine's target triple, as rustc reports it.
fn host_triple(root: &Path) -> anyhow::Result<String> {
    let version = crate::run::output(&mut cmd(root, "rustc", &["-vV"]))?;
    version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
        .ok_or_else(|| anyhow::anyhow!("rustc -vV names no host"))
}

/// Runs one named step and reports how long it took.
fn step<T>(name: &str, body: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    eprintln!("==> {name}");
    let started = Instant::now();
    let result = body().map_err(|error| error.context(format!("ci step {name:?} failed")));
    eprintln!("<== {name} ({:.1?})", started.elapsed());
    result
}
