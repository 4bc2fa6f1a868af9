//! Tidy checks on the source tree: every Rust file says what it is for in a `//!` first line,
//! the engine stays free of Lambda, network and AWS SDK crates, and it takes the Wasm ABI from
//! `sluicegate-abi`, never from the authors' SDK.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::run::{cmd, output};

/// Crates that must never appear in the engine's dependency tree: the engine does no I/O and
/// knows nothing of Lambda, S3, SigV4 or hyper.
const ENGINE_FORBIDDEN: &[&str] = &[
    "lambda_runtime",
    "aws_lambda_events",
    "aws-sdk-s3",
    "aws-sigv4",
    "aws-config",
    "aws-credential-types",
    "aws-smithy-runtime-api",
    "aws-smithy-http-client",
    "hyper",
    "hyper-util",
    "hyper-rustls",
    "rustls",
    "tokio",
    "reqwest",
    "ureq",
];

/// The SDK transform authors depend on: the engine must not (it takes the frame and reply layouts
/// and the scanners from `sluicegate-abi`), so the SDK can change for authors without touching
/// the host.
const AUTHOR_SDK: &str = "sluicegate-sdk";

/// Runs every tidy check.
pub fn check(root: &Path) -> anyhow::Result<()> {
    let missing = files_without_module_doc(root);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|path| path.display().to_string()).collect();
        bail!("these files do not start with a `//!` line saying what they are for:\n  {}", list.join("\n  "));
    }
    let tree = output(&mut cmd(root, "cargo", &["tree", "--quiet", "-p", "sluicegate-engine", "-e", "normal", "--prefix", "none"]))?;
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if ENGINE_FORBIDDEN.contains(&name) {
            bail!("sluicegate-engine depends on {name}; the engine must stay free of I/O, Lambda and AWS crates");
        }
    }
    // Not even for its tests or benches: those run guests built in their own workspace.
    let tree = output(&mut cmd(root, "cargo", &["tree", "--quiet", "-p", "sluicegate-engine", "-e", "all", "--prefix", "none"]))?;
    if tree.lines().any(|line| line.split_whitespace().next() == Some(AUTHOR_SDK)) {
        bail!(
            "sluicegate-engine depends on {AUTHOR_SDK}; the host takes the ABI from sluicegate-abi, and the SDK is for transform authors"
        );
    }
    Ok(())
}

/// Rust files under the project's folders whose first line is not a `//!` comment.
pub fn files_without_module_doc(root: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    for folder in ["engine", "host-lambda", "guest-sdk", "transforms", "tests", "xtask"] {
        walk(&root.join(folder), &mut |path| {
            if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                if !text.trim_start().starts_with("//!") {
                    missing.push(path.to_path_buf());
                }
            }
        });
    }
    missing
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".terraform" && name != "fuzz_target_dir" {
                walk(&path, visit);
            }
        } else {
            visit(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rust_file_has_a_module_doc() {
        let missing = super::files_without_module_doc(&crate::workspace_root());
        assert!(missing.is_empty(), "files without a `//!` first line: {missing:?}");
    }
}
