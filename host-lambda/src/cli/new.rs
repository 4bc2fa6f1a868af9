//! `sluicegate new NAME`: a ready transform project, in Rust (the SDK's template crate, with a
//! copy of the SDK beside it so it builds outside this repository) or C (the C SDK and its
//! example filter), and the next commands to run.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

/// Options of `sluicegate new`.
#[derive(Args, Debug)]
pub struct NewArgs {
    /// The transform's name: letters, digits, `-` and `_`, starting with a letter (the crate's
    /// and the module's name).
    pub name: String,
    /// The language: rust or c.
    #[arg(long, default_value = "rust")]
    pub lang: String,
    /// The folder to make the project in (a folder NAME below it).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Rust: depend on the SDK at this path (a checkout's `guest-sdk`) instead of a copy.
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

/// A file of a project: its path below the project folder and its text.
type File = (&'static str, &'static str);

const RUST_TEMPLATE: [File; 4] = [
    ("Cargo.toml", include_str!("../../../guest-sdk/template/Cargo.toml")),
    ("Cargo.lock", include_str!("../../../guest-sdk/template/Cargo.lock")),
    (".cargo/config.toml", include_str!("../../../guest-sdk/template/.cargo/config.toml")),
    ("src/lib.rs", include_str!("../../../guest-sdk/template/src/lib.rs")),
];

/// The SDK's sources, copied beside a new Rust project as `sluicegate-sdk/`, so that it builds
/// offline and outside this repository; with manifests of their own (this repository's inherit
/// from its workspace).
const SDK: [File; 11] = [
    ("README.md", include_str!("../../../guest-sdk/README.md")),
    ("src/lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    ("src/error.rs", include_str!("../../../guest-sdk/src/error.rs")),
    ("src/event.rs", include_str!("../../../guest-sdk/src/event.rs")),
    ("src/guest.rs", include_str!("../../../guest-sdk/src/guest.rs")),
    ("src/macros.rs", include_str!("../../../guest-sdk/src/macros.rs")),
    ("src/runtime.rs", include_str!("../../../guest-sdk/src/runtime.rs")),
    ("src/short.rs", include_str!("../../../guest-sdk/src/short.rs")),
    ("src/testing.rs", include_str!("../../../guest-sdk/src/testing.rs")),
    ("src/transform.rs", include_str!("../../../guest-sdk/src/transform.rs")),
    ("Cargo.toml", SDK_MANIFEST),
];

const SDK_MANIFEST: &str = r#"[package]
name = "sluicegate-sdk"
version = "0.0.0"
publish = false
edition = "2024"
description = "Write Sluicegate transforms: the Transform trait, the event, export macros and a native test harness"

[dependencies]
sluicegate-abi = { path = "abi" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

/// The ABI crate the SDK depends on, copied into `sluicegate-sdk/abi/` as it lies in this
/// repository.
const ABI: [File; 6] = [
    ("abi/build.rs", include_str!("../../../guest-sdk/abi/build.rs")),
    ("abi/src/lib.rs", include_str!("../../../guest-sdk/abi/src/lib.rs")),
    ("abi/src/json_scan.rs", include_str!("../../../guest-sdk/abi/src/json_scan.rs")),
    ("abi/src/json_text.rs", include_str!("../../../guest-sdk/abi/src/json_text.rs")),
    ("abi/src/testing.rs", include_str!("../../../guest-sdk/abi/src/testing.rs")),
    ("abi/Cargo.toml", ABI_MANIFEST),
];

const ABI_MANIFEST: &str = r#"[package]
name = "sluicegate-abi"
version = "0.0.0"
publish = false
edition = "2024"
description = "The Wasm ABI of Sluicegate transforms (frame and reply layouts) and the JSON scanners host and guests share"

[features]
portable = []
"#;

const C_PROJECT: [File; 4] = [
    ("sluicegate.h", include_str!("../../../guest-sdk/c/sluicegate.h")),
    ("sluicegate.c", include_str!("../../../guest-sdk/c/sluicegate.c")),
    ("src/transform.c", include_str!("../../../guest-sdk/c/examples/filter.c")),
    ("GUIDE.md", include_str!("../../../guest-sdk/c/README.md")),
];

/// Runs the command.
pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let name = &args.name;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("{name:?} is not a transform name: letters, digits, '-' and '_', starting with a letter");
    }
    let folder = args.dir.join(name);
    if folder.exists() {
        bail!("{} exists already: choose another name or --dir", folder.display());
    }
    let next = match args.lang.as_str() {
        "rust" => rust(&folder, name, args.sdk.as_deref())?,
        "c" => c(&folder, name)?,
        other => bail!("--lang is rust or c, not {other:?}"),
    };
    println!("made {} ({}); next:", folder.display(), args.lang);
    for command in next {
        println!("  {command}");
    }
    Ok(())
}

fn rust(folder: &Path, name: &str, sdk: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let crate_name = name.replace('_', "-");
    let type_name: String = name
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let sdk_path = match sdk {
        Some(path) => {
            let path = path.canonicalize().with_context(|| format!("--sdk {}", path.display()))?;
            let manifest = std::fs::read_to_string(path.join("Cargo.toml")).unwrap_or_default();
            anyhow::ensure!(
                manifest.contains("name = \"sluicegate-sdk\""),
                "--sdk {} is not the SDK's folder (its Cargo.toml is not sluicegate-sdk's)",
                path.display()
            );
            path.display().to_string()
        }
        None => {
            for (path, text) in SDK.iter().chain(&ABI) {
                write(&folder.join("sluicegate-sdk").join(path), text)?;
            }
            "sluicegate-sdk".to_owned()
        }
    };
    for (path, text) in RUST_TEMPLATE {
        let text = match path {
            "Cargo.toml" => text
                .replace("name = \"my-transform\"", &format!("name = \"{crate_name}\""))
                .replace(
                    "# Point this at the SDK: a path to the sluicegate repository's guest-sdk folder (or a git URL).\nsluicegate-sdk = { path = \"../../guest-sdk\" }",
                    &format!("sluicegate-sdk = {{ path = {:?} }}", sdk_path),
                )
                .replace("# A new Sluicegate transform: copy this folder, rename the crate, write `process`.", &format!("# The {name} Sluicegate transform.")),
            "Cargo.lock" => text.replace("name = \"my-transform\"", &format!("name = \"{crate_name}\"")),
            "src/lib.rs" => text.replace("MyTransform", &type_name),
            _ => text.to_owned(),
        };
        write(&folder.join(path), &text)?;
    }
    let module = crate_name.replace('-', "_");
    Ok(vec![
        format!("cd {}", folder.display()),
        "cargo test                      # the transform's tests, natively".to_owned(),
        format!(
            "cargo wasm && sluicegate check target/wasm32-unknown-unknown/release/{module}.wasm --config config.json --input events.ndjson"
        ),
    ])
}

fn c(folder: &Path, name: &str) -> anyhow::Result<Vec<String>> {
    for (path, text) in C_PROJECT {
        write(&folder.join(path), text)?;
    }
    Ok(vec![
        format!("cd {}", folder.display()),
        format!(
            "python3 -m ziglang cc --target=wasm32-freestanding -O2 -s -Wl,--no-entry -Wall -Wextra -I . -o {name}.wasm src/transform.c sluicegate.c"
        ),
        format!("sluicegate check {name}.wasm --config config.json --input events.ndjson   # GUIDE.md says more"),
    ])
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
