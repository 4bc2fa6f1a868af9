//! The C guide (`guest-sdk/c/README.md`) walked from scratch as a transform author would: the
//! example built with the guide's zig command, then `sluicegate check` on sample events, whose
//! verdicts must be the example's.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::run::{cmd, run};

/// The guide's build command after `python3 -m ziglang cc`, run from the repository root. The
/// guide must hold this exact line, so the two cannot drift apart.
const BUILD_ARGS: &[&str] = &[
    "--target=wasm32-freestanding",
    "-O2",
    "-s",
    "-Wl,--no-entry",
    "-Wall",
    "-Wextra",
    "-I",
    "guest-sdk/c",
    "-o",
    "target/c-guest/filter.wasm",
    "guest-sdk/c/examples/filter.c",
    "guest-sdk/c/sluicegate.c",
];

/// Builds the C example as the guide says (zig from the venv's ziglang package, which
/// cargo-lambda depends on), compiles the guide's own C snippet, and runs the freshly built
/// `target/debug/sluicegate check` on the guide's sample events.
pub fn guide(root: &Path, venv: &Path) -> anyhow::Result<()> {
    let readme_path = root.join("guest-sdk/c/README.md");
    let readme = std::fs::read_to_string(&readme_path).with_context(|| format!("cannot read {}", readme_path.display()))?;
    let command_line = format!("python3 -m ziglang cc {}", BUILD_ARGS.join(" "));
    if !readme.lines().any(|line| line.trim() == command_line) {
        bail!("{} no longer gives the build command CI runs:\n  {command_line}", readme_path.display());
    }
    let python = venv.join("bin/python");
    let out_dir = root.join("target/c-guest");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let module = out_dir.join("filter.wasm");
    // A module left by an earlier run must not pass for this one.
    if module.exists() {
        std::fs::remove_file(&module).with_context(|| format!("cannot remove {}", module.display()))?;
    }
    let python = python.to_string_lossy();
    let mut zig_args = vec!["-m", "ziglang", "cc"];
    zig_args.extend_from_slice(BUILD_ARGS);
    run(&mut cmd(root, &python, &zig_args)).context("zig comes from the ziglang package in the venv: run `cargo xtask ci`")?;

    // The guide's snippet (its first C block) builds too, with the SDK, warnings as errors.
    let snippet = readme.split("```c\n").nth(1).and_then(|rest| rest.split("\n```").next()).context("the C guide has no C example")?;
    let snippet_path = out_dir.join("readme.c");
    std::fs::write(&snippet_path, snippet)?;
    let snippet_module = out_dir.join("readme.wasm");
    let (snippet_path, snippet_module) = (snippet_path.to_string_lossy(), snippet_module.to_string_lossy());
    run(&mut cmd(
        root,
        &python,
        &[
            "-m",
            "ziglang",
            "cc",
            "--target=wasm32-freestanding",
            "-O2",
            "-s",
            "-Wl,--no-entry",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            "guest-sdk/c",
            "-o",
            &snippet_module,
            &snippet_path,
            "guest-sdk/c/sluicegate.c",
        ],
    ))?;

    // The guide's configuration and events.
    let config = out_dir.join("config.json");
    std::fs::write(&config, r#"{"drop_if_contains": ["GET /healthz", "DEBUG"], "tag": "team-x"}"#)?;
    let events = out_dir.join("events.ndjson");
    std::fs::write(
        &events,
        concat!(
            r#"{"id":"1","timestamp":1764324000000,"message":"GET /healthz 200"}"#,
            "\n",
            r#"{"id":"2","timestamp":1764324000000,"message":"DEBUG cache warm"}"#,
            "\n",
            r#"{"id":"3","timestamp":1764324000000,"message":""}"#,
            "\n",
            r#"{"id":"4","timestamp":1764324000000,"message":"payment accepted"}"#,
            "\n",
        ),
    )?;
    let sluicegate = root.join("target/debug/sluicegate");
    let output = crate::run::output(&mut cmd(
        root,
        &sluicegate.to_string_lossy(),
        &[
            "check",
            &module.to_string_lossy(),
            "--config",
            &config.to_string_lossy(),
            "--input",
            &events.to_string_lossy(),
            "--json",
            "--allow-failures",
        ],
    ))?;
    let lines: Vec<serde_json::Value> = output.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let verdicts: Vec<&str> = lines.iter().map(|line| line["verdict"].as_str().unwrap_or_default()).collect();
    let failure = lines.get(2).and_then(|line| line["error"].as_str()).unwrap_or_default();
    let tags = lines.get(3).map(|line| &line["event"]["tags"]);
    if verdicts != ["dropped", "dropped", "failed", "changed"]
        || failure != "filter: empty message: there is nothing to ship"
        || tags != Some(&serde_json::json!(["team-x"]))
    {
        bail!(
            "sluicegate check on the C example gave {verdicts:?}, not [\"dropped\", \"dropped\", \"failed\", \"changed\"] with the empty message's reason and the tag:\n{output}"
        );
    }
    eprintln!("c guest: sluicegate check gives {verdicts:?}");
    Ok(())
}
