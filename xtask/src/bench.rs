//! `cargo xtask bench`: the performance budget, measured. Throughput comes from the divan
//! benchmarks next to the engine; start-up from the Lambda's loader; peak memory from a separate
//! process per measurement, so one run's allocations cannot hide another's; the invocation with
//! network latency from the real handler; and the whole process against the Node.js pipeline
//! Sluicegate replaces, when a snapshot of it is on this machine.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::wasm::{Limits, precompile};

use crate::run::{cmd, run};

/// Where `fetch` puts the snapshot of the Node.js pipeline (`joshmyers/aws-logging-pipeline`, a
/// git directory without a work tree); `SLUICEGATE_NODE_BASELINE` names another.
const NODE_BASELINE: &str = "/work/.mirror/joshmyers+aws-logging-pipeline/repo";

/// The benchmarks, by name, in the order they run.
const BENCHES: [&str; 6] = ["pipeline", "transforms", "init", "invocation", "memory", "node"];

/// Runs the benchmarks named in `only` (every one when it is empty).
pub fn main(root: &Path, only: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = only.iter().find(|name| !BENCHES.contains(&name.as_str())) {
        bail!("no benchmark {unknown:?}: the benchmarks are {}", BENCHES.join(", "));
    }
    for name in BENCHES.into_iter().filter(|name| only.is_empty() || only.iter().any(|wanted| wanted == name)) {
        match name {
            "pipeline" | "transforms" => run(&mut cmd(root, "cargo", &["bench", "--locked", "-p", "sluicegate-engine", "--bench", name]))?,
            "init" | "invocation" => run(&mut cmd(root, "cargo", &["bench", "--locked", "-p", "sluicegate-lambda", "--bench", name]))?,
            "memory" => {
                run(&mut cmd(root, "cargo", &["run", "--locked", "--release", "-p", "sluicegate-engine", "--example", "peak_memory"]))?
            }
            _ => against_node(root)?,
        }
    }
    Ok(())
}

/// The whole process on the maximum batch: `sluicegate run` (the release build, with the
/// archive), without transforms and with the three built-in ones precompiled, against the
/// Node.js pipeline over the same Kinesis event, alternated, five runs each, medians.
fn against_node(root: &Path) -> anyhow::Result<()> {
    let baseline = std::env::var_os("SLUICEGATE_NODE_BASELINE").map_or_else(|| PathBuf::from(NODE_BASELINE), PathBuf::from);
    if !baseline.exists() {
        println!(
            "against Node.js: skipped, no snapshot of joshmyers/aws-logging-pipeline at {} (fetch it, or set SLUICEGATE_NODE_BASELINE)",
            baseline.display()
        );
        return Ok(());
    }
    if std::process::Command::new("node").arg("--version").output().is_err() {
        println!("against Node.js: skipped, no `node` on PATH");
        return Ok(());
    }
    let folder = root.join("target/bench/against-node");
    std::fs::create_dir_all(&folder).with_context(|| format!("cannot create {}", folder.display()))?;
    // The snapshot's handler, read out of its git directory (it is not part of this project).
    let exports = std::process::Command::new("git")
        .args(["--git-dir", &baseline.to_string_lossy(), "show", "HEAD:lambda/exports.js"])
        .output()
        .context("cannot run git")?;
    if !exports.status.success() {
        bail!("{} has no lambda/exports.js", baseline.display());
    }
    std::fs::write(folder.join("exports.js"), &exports.stdout)?;
    std::fs::write(folder.join("harness.js"), NODE_HARNESS)?;
    let event = folder.join("maximum-batch.json");
    std::fs::write(&event, serde_json::to_vec(&kinesis_event(CorpusSpec::MAXIMUM))?)?;

    run(&mut cmd(root, "cargo", &["build", "--locked", "--release", "-p", "sluicegate-lambda", "--bin", "sluicegate"]))?;
    let sluicegate = root.join("target/release/sluicegate");
    let chain = folder.join("chain");
    std::fs::create_dir_all(&chain)?;
    std::fs::write(
        chain.join("pipeline.json"),
        r#"{"transforms":[
            {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
            {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
            {"name":"extract","module":"extract.wasm","config":{}}]}"#,
    )?;
    for module in crate::transforms::build(root, true)? {
        let name = module.file_name().context("a module file")?;
        let bytes = std::fs::read(&module)?;
        std::fs::write(chain.join(name), &bytes)?;
        std::fs::write(chain.join(name).with_extension("cwasm"), precompile(&bytes, &Limits::default(), None)?)?;
    }
    let out = folder.join("out");
    let node = |_: usize| -> Vec<String> {
        vec![
            "node".to_owned(),
            folder.join("harness.js").display().to_string(),
            folder.join("exports.js").display().to_string(),
            event.display().to_string(),
        ]
    };
    let plain = |_: usize| -> Vec<String> {
        vec![
            sluicegate.display().to_string(),
            "run".into(),
            "--event".into(),
            event.display().to_string(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let transformed = |run_idx: usize| -> Vec<String> {
        let mut args = plain(run_idx);
        args.extend(["--pipeline".to_owned(), chain.join("pipeline.json").display().to_string()]);
        args
    };
    let mut samples: [Vec<(Duration, u64)>; 3] = Default::default();
    for run_idx in 0..5 {
        for (which, command) in [&node as &dyn Fn(usize) -> Vec<String>, &plain, &transformed].iter().enumerate() {
            let _ = std::fs::remove_dir_all(&out);
            samples[which].push(timed(&command(run_idx))?);
        }
    }
    let median = |which: usize| {
        let mut times: Vec<Duration> = samples[which].iter().map(|(time, _)| *time).collect();
        times.sort();
        let peak = samples[which].iter().map(|(_, peak)| *peak).max().unwrap_or(0);
        (times[times.len() / 2], peak)
    };
    let (node_time, node_peak) = median(0);
    let (plain_time, plain_peak) = median(1);
    let (chain_time, chain_peak) = median(2);
    println!("against Node.js, maximum batch (1,000 records of 100 events), whole process, medians of 5 alternated runs:");
    println!("  Node.js pipeline (no archive, no transforms): {node_time:.2?}, peak {:.1} MB", node_peak as f64 / 1024.0);
    println!(
        "  sluicegate run, with the archive: {plain_time:.2?}, peak {:.1} MB: {:.1}x faster (target 4x)",
        plain_peak as f64 / 1024.0,
        node_time.as_secs_f64() / plain_time.as_secs_f64()
    );
    println!(
        "  sluicegate run, filter + redact + extract precompiled, with the archive: {chain_time:.2?}, peak {:.1} MB: {:.1}x faster (target 2x, peak 100 MB)",
        chain_peak as f64 / 1024.0,
        node_time.as_secs_f64() / chain_time.as_secs_f64()
    );
    Ok(())
}

/// Runs `command` to its end with its output discarded; its wall time and peak resident memory
/// in KiB (from `/usr/bin/time`, 0 where there is none).
fn timed(command: &[String]) -> anyhow::Result<(Duration, u64)> {
    let time = Path::new("/usr/bin/time");
    let peak_file = std::env::temp_dir().join(format!("sluicegate-bench-peak-{}", std::process::id()));
    let mut process = if time.is_file() {
        let mut process = std::process::Command::new(time);
        process.args(["-f", "%M", "-o"]).arg(&peak_file).args(command);
        process
    } else {
        let mut process = std::process::Command::new(&command[0]);
        process.args(&command[1..]);
        process
    };
    process.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let started = Instant::now();
    let status = process.status().with_context(|| format!("cannot run {command:?}"))?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    let peak = std::fs::read_to_string(&peak_file).ok().and_then(|text| text.trim().lines().last()?.trim().parse().ok()).unwrap_or(0);
    Ok((elapsed, peak))
}

/// Drives the Node.js handler over one Kinesis event (argv: its exports.js, the event file), with
/// `https.request` answering every `_bulk` request at once with every item stored, as a healthy
/// cluster would, and ends when every record has been acknowledged.
const NODE_HARNESS: &str = r#"'use strict';
const https = require('https');
const { EventEmitter } = require('events');
https.request = function (params, onResponse) {
  const request = new EventEmitter();
  request.end = function (body) {
    const n = body.split('\n').filter((line) => line.length > 0).length / 2;
    const items = Array.from({ length: n }, () => ({ index: { status: 201 } }));
    const response = new EventEmitter();
    response.statusCode = 200;
    process.nextTick(() => {
      onResponse(response);
      response.emit('data', JSON.stringify({ took: 1, errors: false, items }));
      response.emit('end');
    });
  };
  return request;
};
process.env.ES_ENDPOINT = 'search-logs-abcdef.us-east-1.es.amazonaws.com';
process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
process.env.AWS_SECRET_ACCESS_KEY = 'secret';
const { handler } = require(process.argv[2]);
const event = JSON.parse(require('fs').readFileSync(process.argv[3], 'utf8'));
let remaining = event.Records.length;
handler(event, {
  succeed() { remaining -= 1; if (remaining === 0) { process.exitCode = 0; } },
  fail(error) { console.error(error); process.exit(1); },
});
"#;
