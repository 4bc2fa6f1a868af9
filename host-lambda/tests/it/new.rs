//! `sluicegate new` on the real binary: a Rust project carries every source file of the SDK and
//! of the ABI crate it depends on, as they are in this repository, and builds and passes its
//! tests offline with the lock file it came with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of `folder` (recursively), as paths below it, sorted.
fn files_below(folder: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, folder: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(folder, folder, &mut out);
    out.sort();
    out
}

/// Guards against a file added to the SDK or the ABI crate that `sluicegate new` does not copy
/// (the project would not build) or copies stale.
#[test]
fn a_rust_project_carries_the_sdk_and_builds_offline() {
    let root = sluicegate_tests::workspace_dir();
    let dir = std::env::temp_dir().join(format!("sluicegate-cli-new-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sluicegate")).args(["new", "my-filter", "--dir"]).arg(&dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let project = dir.join("my-filter");

    for (ours, theirs) in [("guest-sdk/src", "sluicegate-sdk/src"), ("guest-sdk/abi/src", "sluicegate-sdk/abi/src")] {
        let (ours, theirs) = (root.join(ours), project.join(theirs));
        assert_eq!(files_below(&theirs), files_below(&ours), "{} against {}", theirs.display(), ours.display());
        for file in files_below(&ours) {
            assert_eq!(
                std::fs::read_to_string(theirs.join(&file)).unwrap(),
                std::fs::read_to_string(ours.join(&file)).unwrap(),
                "{file:?}"
            );
        }
    }
    for (ours, theirs) in [("guest-sdk/README.md", "sluicegate-sdk/README.md"), ("guest-sdk/abi/build.rs", "sluicegate-sdk/abi/build.rs")] {
        assert_eq!(std::fs::read_to_string(project.join(theirs)).unwrap(), std::fs::read_to_string(root.join(ours)).unwrap(), "{theirs}");
    }

    // The target folder CI's walk of the guide uses, so serde builds once.
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(["test", "--offline", "--locked", "--quiet"])
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", root.join("target/template"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo test in the new project failed:\n{}", String::from_utf8_lossy(&output.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}
