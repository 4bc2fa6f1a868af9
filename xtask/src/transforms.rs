//! Builds the built-in transforms (`transforms/`) for `wasm32-unknown-unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// The transforms shipped with Sluicegate (the `test-guest` and `short-filter` crates are for
/// tests only).
pub const BUILT_IN: [&str; 3] = ["filter", "redact", "extract"];

/// Builds the transforms workspace and returns the paths of the built-in modules.
///
/// The build uses `target/transforms` under `root`, a target folder of its own so it never waits
/// on the lock of an outer cargo. The Wasm target is added with rustup when missing.
pub fn build(root: &Path, release: bool) -> anyhow::Result<Vec<PathBuf>> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().context("cannot run rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        let status = Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]).status().context("cannot run rustup")?;
        if !status.success() {
            bail!("rustup target add wasm32-unknown-unknown failed");
        }
    }
    let target_dir = root.join("target").join("transforms");
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    // The transforms' own flags (`transforms/.cargo/config.toml`: `+simd128`) apply only when
    // no RUSTFLAGS from outside replace them.
    command
        .arg("build")
        .current_dir(root.join("transforms"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    if release {
        command.arg("--release");
    }
    for name in BUILT_IN {
        command.args(["--package", name]);
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("building the transforms failed");
    }
    let profile = if release { "release" } else { "debug" };
    let folder = target_dir.join("wasm32-unknown-unknown").join(profile);
    Ok(BUILT_IN.iter().map(|name| folder.join(format!("{name}.wasm"))).collect())
}
