//! `cargo xtask demo`: the main job on generated logs, locally, with nothing installed first.
//!
//! It writes a realistic Kinesis batch (JSON app logs, access logs, Lambda platform lines,
//! key=value lines, and two records that cannot be decoded) to `target/demo/event.json`, runs
//! it through `sluicegate run`, and shows the summary and a few of the documents.

use std::path::Path;

use anyhow::Context as _;
use sluicegate_engine::corpus::{CorpusSpec, gzip_json, kinesis_event_from_payloads, log_messages, subscription_json};

use crate::run::{cmd, run};

/// Runs the demo.
pub fn main(root: &Path) -> anyhow::Result<()> {
    let demo_dir = root.join("target/demo");
    let out_dir = demo_dir.join("out");
    if out_dir.exists() {
        std::fs::remove_dir_all(&out_dir).with_context(|| format!("cannot clear {}", out_dir.display()))?;
    }
    std::fs::create_dir_all(&demo_dir)?;
    let mut payloads: Vec<Vec<u8>> = log_messages(CorpusSpec { n_records: 20, n_events_per_record: 50, seed: 2025 })
        .iter()
        .map(|m| gzip_json(&subscription_json(m)))
        .collect();
    // Two records that a real stream can carry by mistake: plain text, and truncated gzip.
    payloads.insert(3, b"not a cloudwatch logs record".to_vec());
    let truncated = payloads[5][..40].to_vec();
    payloads.insert(9, truncated);
    let event = kinesis_event_from_payloads(&payloads);
    let event_path = demo_dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(&event)?)?;
    eprintln!("wrote {} ({} records)", event_path.display(), event.records.len());

    run(&mut cmd(
        root,
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "sluicegate-lambda",
            "--bin",
            "sluicegate",
            "--",
            "run",
            "--event",
            &event_path.to_string_lossy(),
            "--out",
            &out_dir.to_string_lossy(),
        ],
    ))?;

    let first_body = out_dir.join("bulk/000001.ndjson");
    let body = std::fs::read_to_string(&first_body).with_context(|| format!("cannot read {}", first_body.display()))?;
    println!("\nfirst documents of {}:", first_body.display());
    for line in body.lines().skip(1).step_by(2).step_by(50).take(4) {
        let document: serde_json::Value = serde_json::from_str(line)?;
        println!("{}", serde_json::to_string_pretty(&document)?);
    }
    println!("\noutput files:");
    list_files(&out_dir, &out_dir)?;
    Ok(())
}

fn list_files(dir: &Path, base: &Path) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().map(|entry| entry.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            list_files(&path, base)?;
        } else {
            let n_bytes = std::fs::metadata(&path)?.len();
            println!("  {} ({n_bytes} bytes)", path.strip_prefix(base).unwrap_or(&path).display());
        }
    }
    Ok(())
}
