//! The built-in transforms (`transforms/`), built from source for `wasm32-unknown-unknown` once
//! per test process, in a target folder of their own (cargo holds the workspace's lock while the
//! tests run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The path of one built module: `filter`, `redact`, `extract` or `test_guest`.
pub fn module(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build).join(format!("{name}.wasm"))
}

fn build() -> PathBuf {
    let root = crate::workspace_dir();
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().expect("rustup runs");
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        let status = Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]).status().expect("rustup runs");
        assert!(status.success(), "rustup target add wasm32-unknown-unknown failed");
    }
    let target_dir = root.join("target").join("transforms");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(root.join("transforms"))
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the transforms failed");
    Path::new(&target_dir).join("wasm32-unknown-unknown").join("release")
}
