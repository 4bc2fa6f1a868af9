//! Builds the guest modules (`transforms/`) from source, once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The folder holding the freshly built `.wasm` modules (`filter.wasm`, `redact.wasm`,
/// `extract.wasm`, `test_guest.wasm`).
pub fn wasm_dir() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build)
}

/// The path of one built module.
pub fn module(name: &str) -> PathBuf {
    wasm_dir().join(format!("{name}.wasm"))
}

fn build() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the engine lives in the workspace");
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output().expect("rustup runs");
    if !String::from_utf8_lossy(&installed.stdout).lines().any(|line| line.trim() == "wasm32-unknown-unknown") {
        let status = Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]).status().expect("rustup runs");
        assert!(status.success(), "rustup target add wasm32-unknown-unknown failed");
    }
    // A target folder of its own, so this build never waits on the lock of the cargo running
    // the tests.
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
    target_dir.join("wasm32-unknown-unknown").join("release")
}
