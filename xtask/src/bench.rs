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
    let mut samples: [Vec<Sample>; 3] = Default::default();
    for run_idx in 0..5 {
        for (which, command) in [&node as &dyn Fn(usize) -> Vec<String>, &plain, &transformed].iter().enumerate() {
            let _ = std::fs::remove_dir_all(&out);
            samples[which].push(timed(&command(run_idx))?);
        }
    }
    let median = |which: usize, of: fn(&Sample) -> Duration| {
        let mut values: Vec<Duration> = samples[which].iter().map(of).collect();
        values.sort();
        values[values.len() / 2]
    };
    let peak = |which: usize| samples[which].iter().map(|sample| sample.peak_kib).max().unwrap_or(0) as f64 / 1024.0;
    let (node_time, plain_time, chain_time) = (median(0, |s| s.wall), median(1, |s| s.wall), median(2, |s| s.wall));
    println!("against Node.js, maximum batch (1,000 records of 100 events), whole process, medians of 5 alternated runs:");
    println!("  Node.js pipeline (no archive, no transforms): {node_time:.2?}, peak {:.1} MB", peak(0));
    println!(
        "  sluicegate run, with the archive: {plain_time:.2?}, peak {:.1} MB: {:.2}x faster (target 4x)",
        peak(1),
        node_time.as_secs_f64() / plain_time.as_secs_f64()
    );
    println!(
        "  sluicegate run, filter + redact + extract precompiled, with the archive: {chain_time:.2?}, peak {:.1} MB: {:.2}x faster (target 2x, peak 100 MB)",
        peak(2),
        node_time.as_secs_f64() / chain_time.as_secs_f64()
    );
    if samples.iter().flatten().all(|sample| sample.cpu.is_some()) {
        let events = (CorpusSpec::MAXIMUM.n_records * CorpusSpec::MAXIMUM.n_events_per_record) as f64;
        println!("CPU time (user + system) per million events, and what it costs on an arm64 Lambda function of at most 1,769 MB:");
        for (which, name) in [(0, "Node.js pipeline"), (1, "sluicegate, decode only"), (2, "sluicegate, default chain")] {
            let cpu = median(which, |s| s.cpu.unwrap_or_default()).as_secs_f64() * 1e6 / events;
            // Below 1,769 MB a function gets memory/1,769 MB of a vCPU, so CPU-bound work is
            // billed cpu × 1,769/1,024 GB-seconds whatever the memory size.
            let cost = cpu * LAMBDA_FULL_VCPU_MB / 1024.0 * ARM64_USD_PER_GB_SECOND;
            println!("  {name}: {cpu:.2} s, ${cost:.6}");
        }
    }
    Ok(())
}

/// The memory size at which a Lambda function gets one whole vCPU.
const LAMBDA_FULL_VCPU_MB: f64 = 1769.0;
/// Lambda's arm64 price per GB-second (us-east-1, first pricing tier).
const ARM64_USD_PER_GB_SECOND: f64 = 0.000_013_333_4;

/// One timed run: wall time, peak resident memory in KiB, and CPU time (user + system) where
/// `/usr/bin/time` measured it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    peak_kib: u64,
    cpu: Option<Duration>,
}

/// Runs `command` to its end with its output discarded, measured (peak memory and CPU time come
/// from `/usr/bin/time`; 0 and none where there is none).
fn timed(command: &[String]) -> anyhow::Result<Sample> {
    let time = Path::new("/usr/bin/time");
    let measured = std::env::temp_dir().join(format!("sluicegate-bench-peak-{}", std::process::id()));
    let mut process = if time.is_file() {
        let mut process = std::process::Command::new(time);
        process.args(["-f", "%M %U %S", "-o"]).arg(&measured).args(command);
        process
    } else {
        let mut process = std::process::Command::new(&command[0]);
        process.args(&command[1..]);
        process
    };
    process.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let started = Instant::now();
    let status = process.status().with_context(|| format!("cannot run {command:?}"))?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    let text = std::fs::read_to_string(&measured).unwrap_or_default();
    let fields: Vec<&str> = text.trim().lines().last().unwrap_or_default().split_whitespace().collect();
    let seconds = |at: usize| fields.get(at).and_then(|field| field.parse::<f64>().ok());
    let cpu = seconds(1).zip(seconds(2)).map(|(user, system)| Duration::from_secs_f64(user + system));
    Ok(Sample { wall, peak_kib: fields.first().and_then(|field| field.parse().ok()).unwrap_or(0), cpu })
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
