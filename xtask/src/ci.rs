//! `cargo xtask ci`: everything CI checks, from a fresh machine. It installs what the tests need
//! (a rustup target, the pinned Python tools), then runs formatting, lints, docs, tidy checks
//! and every test; the tests start and stop their own servers on 127.0.0.1.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

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
    // Tests write their scenario tables here (the harness swallows what passing tests print);
    // they are printed after the tests, pass or fail, and an earlier run's must not pass for these.
    let reports = root.join("target/reports");
    if let Err(error) = std::fs::remove_dir_all(&reports)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        return Err(anyhow::anyhow!("cannot remove {}: {error}", reports.display()));
    }
    let tests = step("tests", || {
        run(cmd(root, "cargo", &["test", "--locked", "--workspace"])
            .env("SLUICEGATE_VENV", &venv)
            .env("SLUICEGATE_BOOTSTRAP", root.join("target/debug/bootstrap")))
    });
    print_reports(&reports)?;
    tests?;
    // The Lambda runs on arm64, where the scanners take their plain steps: test those here too.
    // The scanners live in the dependency-free ABI crate, so this builds that crate alone rather
    // than a second copy of the engine and wasmtime.
    step("portable scanners", || run(&mut cmd(root, "cargo", &["test", "--locked", "-p", "sluicegate-abi", "--features", "portable"])))?;
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
    step("guest template, as its guide says", || template_guide(root))?;
    step("C guest, as its guide says", || crate::c_guest::guide(root, &venv))?;
    step("fuzz, bounded", || fuzz(root, FUZZ_SECONDS))?;
    step("terraform", || terraform::check(root, Some(&venv.join("bin/checkov"))))?;
    eprintln!("ci passed in {:.0?}", started.elapsed());
    Ok(())
}

/// Walks `guest-sdk/README.md`'s guide from scratch: `sluicegate new` makes the project (with its
/// copy of the SDK), its native tests run with plain `cargo test`, `cargo wasm` builds the module,
/// and `sluicegate check` on sample events gives the template's verdicts.
fn template_guide(root: &Path) -> anyhow::Result<()> {
    let sluicegate = root.join("target/debug/sluicegate");
    let walk = root.join("target/template-walk");
    if walk.exists() {
        std::fs::remove_dir_all(&walk).with_context(|| format!("cannot remove {}", walk.display()))?;
    }
    std::fs::create_dir_all(&walk)?;
    run(&mut cmd(root, &sluicegate.to_string_lossy(), &["new", "my-transform", "--dir", &walk.to_string_lossy()]))?;
    let template = walk.join("my-transform");
    // A target folder kept across runs, so the SDK and serde build once.
    let target_dir = root.join("target/template");
    run(cmd(&template, "cargo", &["test", "--locked"]).env("CARGO_TARGET_DIR", &target_dir))?;
    run(cmd(&template, "cargo", &["wasm", "--locked"]).env("CARGO_TARGET_DIR", &target_dir))?;
    let module = target_dir.join("wasm32-unknown-unknown/release/my_transform.wasm");
    let samples = target_dir.join("samples");
    std::fs::create_dir_all(&samples)?;
    let config = samples.join("config.json");
    std::fs::write(&config, r#"{"team": "payments", "noise": ["GET /healthz"]}"#)?;
    let events = samples.join("events.ndjson");
    std::fs::write(
        &events,
        "{\"id\":\"1\",\"timestamp\":1764324000000,\"message\":\"GET /healthz 200\"}\n{\"id\":\"2\",\"timestamp\":1764324000000,\"message\":\"paid\"}\n",
    )?;
    let output = crate::run::output(&mut cmd(
        root,
        &sluicegate.to_string_lossy(),
        &["check", &module.to_string_lossy(), "--config", &config.to_string_lossy(), "--input", &events.to_string_lossy(), "--json"],
    ))?;
    let verdicts: Vec<String> = output
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).map(|value| value["verdict"].as_str().unwrap_or_default().to_owned()))
        .collect::<Result<_, _>>()?;
    if verdicts != ["dropped", "changed"] {
        anyhow::bail!("sluicegate check on the template's module gave {verdicts:?}, not [\"dropped\", \"changed\"]:\n{output}");
    }
    eprintln!("template: sluicegate check gives {verdicts:?}");
    Ok(())
}

/// How long each fuzz target runs in CI.
const FUZZ_SECONDS: u32 = 30;

/// Builds the ABI crate's fuzz targets (`guest-sdk/fuzz`: `json_scan` against serde_json, the
/// host's `reply_parse`) with the coverage instrumentation libFuzzer needs, on the stable toolchain
/// (the flags `cargo fuzz build --sanitizer none` passes), and runs each for `seconds`: a
/// failure is a crash file and a failed step.
fn fuzz(root: &Path, seconds: u32) -> anyhow::Result<()> {
    let host = host_triple(root)?;
    let target_dir = root.join("target/fuzz");
    let rustflags = [
        "-Cpasses=sancov-module",
        "-Cllvm-args=-sanitizer-coverage-level=4",
        "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
        "-Cllvm-args=-sanitizer-coverage-pc-table",
        "-Cllvm-args=-sanitizer-coverage-trace-compares",
        "--cfg",
        "fuzzing",
        "-Cdebug-assertions",
    ]
    .join(" ");
    // With `--target`, the flags reach the targets and not the build scripts.
    run(cmd(&root.join("guest-sdk/fuzz"), "cargo", &["build", "--release", "--target", &host])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", rustflags))?;
    let seeds: [(&str, &[&str]); 2] = [
        ("json_scan", &[r#"{"level":"info","n":-12.5e+3,"ok":true,"list":[1,{"x":"a\"b\\c\u00e9"}],"o":{}}"#, "{}", "[1]"]),
        ("reply_parse", &["\u{2}\0\0\0\u{1}\0\0\0\u{2}\u{3}"]),
    ];
    for (name, seeds) in seeds {
        let corpus = target_dir.join("corpus").join(name);
        std::fs::create_dir_all(&corpus)?;
        for (seed_idx, seed) in seeds.iter().enumerate() {
            std::fs::write(corpus.join(format!("seed-{seed_idx}")), seed)?;
        }
        let binary = target_dir.join(&host).join("release").join(name);
        let artifacts = target_dir.join("artifacts").join(name);
        std::fs::create_dir_all(&artifacts)?;
        run(&mut cmd(
            root,
            &binary.to_string_lossy(),
            &[
                &format!("-max_total_time={seconds}"),
                "-rss_limit_mb=2048",
                &format!("-artifact_prefix={}/", artifacts.display()),
                &corpus.to_string_lossy(),
            ],
        ))
        .with_context(|| format!("fuzz target {name} failed: the input is in {}", artifacts.display()))?;
    }
    Ok(())
}

/// Prints every report the tests wrote, in name order.
fn print_reports(reports: &Path) -> anyhow::Result<()> {
    if !reports.is_dir() {
        return Ok(());
    }
    let mut paths: Vec<_> = std::fs::read_dir(reports)?.map(|entry| entry.map(|entry| entry.path())).collect::<Result<_, _>>()?;
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        eprintln!("==> report {}\n{text}", path.display());
    }
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
