//! `sluicegate check`: run one transform, or a whole pipeline, over sample events and show what
//! it did to each, for transform authors.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;
use serde::Deserialize;
use sluicegate_engine::decode::Decoder;
use sluicegate_engine::document::write_document;
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::transform::{TransformCounts, Transforms};
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost};
use sluicegate_engine::{Context, Event};

/// Options of `sluicegate check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The transform module (`.wasm`, or `.cwasm` made by `sluicegate compile`).
    #[arg(required_unless_present = "pipeline", conflicts_with = "pipeline")]
    pub module: Option<PathBuf>,
    /// The transform's configuration, a JSON file.
    #[arg(long, conflicts_with = "pipeline")]
    pub config: Option<PathBuf>,
    /// Run a whole pipeline instead of one module: a file, or the s3:// object the Terraform
    /// module deploys (loaded exactly as the Lambda loads it).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// An S3 endpoint other than AWS's (an emulator such as moto), for an s3:// --pipeline.
    #[arg(long, requires = "pipeline")]
    pub s3_endpoint: Option<String>,
    /// Sample events: CloudWatch JSON lines (each a log event with `message` and optionally `id`,
    /// `timestamp`, `logGroup`, `logStream`, `owner`, or a whole subscription message with
    /// `logEvents`), or a Kinesis event as Lambda receives it.
    #[arg(long)]
    pub input: PathBuf,
    /// One JSON object per event (`verdict`, `event` as shipped, `error`, `micros`) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Run again whenever the module, the configuration, the input or the pipeline file changes;
    /// a module built from a crate (`<crate>/target/wasm32-unknown-unknown/…`) is rebuilt first
    /// when the crate's sources change.
    #[arg(long)]
    pub watch: bool,
    /// Exit 0 even when a transform failed on an event (by default any failure, a failure a
    /// policy passed or dropped, an event not run, or a record that does not decode exits 1).
    #[arg(long)]
    pub allow_failures: bool,
    /// Deadline of one call, in milliseconds (1 to 900000); default the Lambda's (200, or the
    /// pipeline's `limits.call_timeout_ms`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=900_000), conflicts_with = "pipeline")]
    pub timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    log_group: Option<String>,
    #[serde(default)]
    log_stream: Option<String>,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    log_events: Option<Vec<Line>>,
}

/// One sample event, owned.
struct Sample {
    context: Context<'static>,
    id: String,
    timestamp: i64,
    message: String,
}

fn samples(text: &str, n_bad_records: &mut usize) -> anyhow::Result<Vec<Sample>> {
    if text.trim_start().starts_with('{')
        && let Ok(kinesis) = serde_json::from_str::<KinesisEvent>(text)
        && !kinesis.records.is_empty()
    {
        return kinesis_samples(&kinesis, n_bad_records);
    }
    let mut samples = Vec::new();
    for (line_idx, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let line: Line =
            serde_json::from_str(line).with_context(|| format!("input line {} is not a CloudWatch JSON event", line_idx + 1))?;
        let context = Context {
            owner: Cow::Owned(line.owner.clone().unwrap_or_else(|| "123456789012".to_owned())),
            log_group: Cow::Owned(line.log_group.clone().unwrap_or_else(|| "/check/sample".to_owned())),
            log_stream: Cow::Owned(line.log_stream.clone().unwrap_or_else(|| "sample".to_owned())),
        };
        let events = match line.log_events {
            Some(events) => events,
            None => vec![line],
        };
        for event in events {
            let id = match event.id {
                Some(serde_json::Value::String(id)) => id,
                Some(other) => other.to_string(),
                None => format!("{}", samples.len() + 1),
            };
            let message = event.message.with_context(|| format!("input line {} has no message", line_idx + 1))?;
            samples.push(Sample { context: context.clone(), id, timestamp: event.timestamp.unwrap_or(0), message });
        }
    }
    Ok(samples)
}

/// The events of a Kinesis event's records; a record that does not decode is reported on stderr
/// and counted, as the Lambda would dead-letter it, and the others still run.
fn kinesis_samples(kinesis: &KinesisEvent, n_bad_records: &mut usize) -> anyhow::Result<Vec<Sample>> {
    let mut decoder = Decoder::new(sluicegate_engine::decode::DEFAULT_MAX_INFLATED_BYTES);
    let mut samples = Vec::new();
    for (record_idx, record) in kinesis.records.iter().enumerate() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(record.kinesis.data.as_bytes())
            .map_err(|error| format!("data is not base64: {error}"))
            .and_then(|gzip| decoder.inflate(&gzip).map_err(|error| error.to_string()));
        let mut inflated = match decoded {
            Ok(inflated) => inflated,
            Err(reason) => {
                eprintln!("record {record_idx}: {reason} (the Lambda dead-letters it)");
                *n_bad_records += 1;
                continue;
            }
        };
        let data = match decoder.parse(&mut inflated) {
            Ok(data) => data,
            Err(error) => {
                eprintln!("record {record_idx}: {error} (the Lambda dead-letters it)");
                *n_bad_records += 1;
                continue;
            }
        };
        let context = Context {
            owner: Cow::Owned(data.owner.into_owned()),
            log_group: Cow::Owned(data.log_group.into_owned()),
            log_stream: Cow::Owned(data.log_stream.into_owned()),
        };
        for event in data.log_events {
            samples.push(Sample {
                context: context.clone(),
                id: event.id.0.into_owned(),
                timestamp: event.timestamp,
                message: event.message.into_owned(),
            });
        }
    }
    Ok(samples)
}

/// What happened to one event.
enum Fate {
    Kept,
    Changed(Event<'static>),
    Dropped,
    Failed(String),
    /// The transform did not run it (its trap budget): the Lambda sends its record back.
    NotRun,
}

/// Runs the command: once, or with `--watch` again whenever a file it read changes.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    if !args.watch {
        return run_once(&args);
    }
    let crate_dir = args.module.as_deref().and_then(crate_of_module);
    let mut watched: Vec<PathBuf> = [args.module.clone(), args.config.clone(), Some(args.input.clone())].into_iter().flatten().collect();
    if let Some(pipeline) = args.pipeline.as_deref().filter(|pipeline| !pipeline.contains("://")) {
        watched.push(PathBuf::from(pipeline));
    }
    if let Some(crate_dir) = &crate_dir {
        watched.push(crate_dir.join("src"));
        watched.push(crate_dir.join("Cargo.toml"));
    }
    loop {
        if let Err(error) = run_once(&args) {
            eprintln!("sluicegate: {error:#}");
        }
        let seen = newest_change(&watched);
        eprintln!(
            "check: watching {} for changes (Ctrl-C to stop)",
            watched.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(", ")
        );
        while newest_change(&watched) == seen {
            // This command runs no tokio runtime between checks: sleeping blocks nothing else.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(300));
        }
        if let Some(crate_dir) = &crate_dir {
            // The module comes from this crate: build it again first, as `cargo wasm` would.
            let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
                .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
                .current_dir(crate_dir)
                .status();
            if !status.is_ok_and(|status| status.success()) {
                eprintln!("check: the build failed; waiting for the next change");
                continue;
            }
        }
        println!(
            "--- {}",
            sluicegate_engine::time::Civil::from_millis(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |now| now.as_millis() as i64)
            )
            .rfc3339()
        );
    }
}

/// The crate a module was built from, when it lies in `<crate>/target/wasm32-unknown-unknown/*/`.
fn crate_of_module(module: &std::path::Path) -> Option<PathBuf> {
    let target = module.ancestors().find(|ancestor| ancestor.file_name().is_some_and(|name| name == "target"))?;
    let crate_dir = target.parent()?;
    crate_dir.join("Cargo.toml").is_file().then(|| crate_dir.to_owned())
}

/// The latest modification time among `paths` and, for folders, the files in them.
fn newest_change(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    fn newest(path: &std::path::Path) -> Option<std::time::SystemTime> {
        let metadata = std::fs::metadata(path).ok()?;
        let own = metadata.modified().ok();
        if !metadata.is_dir() {
            return own;
        }
        let entries = std::fs::read_dir(path).ok()?;
        entries.filter_map(|entry| entry.ok()).filter_map(|entry| newest(&entry.path())).chain(own).max()
    }
    paths.iter().filter_map(|path| newest(path)).max()
}

fn run_once(args: &CheckArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str::<&serde_json::value::RawValue>(&text).with_context(|| format!("{} is not JSON", path.display()))?;
            // The transform gets the text as written, so the line and column of its errors are the file's.
            text
        }
        None => "null".to_owned(),
    };
    let input = std::fs::read_to_string(&args.input).with_context(|| format!("cannot read {}", args.input.display()))?;
    let mut n_bad_records = 0;
    let samples = samples(&input, &mut n_bad_records)?;
    let mut chain = match (&args.module, &args.pipeline) {
        (_, Some(pipeline)) => super::runtime()?.block_on(super::load_pipeline(pipeline, args.s3_endpoint.as_deref(), None))?.chain,
        (Some(module_path), None) => {
            let defaults = Limits::default();
            let call_timeout = args.timeout_ms.map_or(defaults.call_timeout, Duration::from_millis);
            let host = WasmHost::new(Limits { call_timeout, ..defaults })?;
            let name = module_path.file_stem().map_or("transform".into(), |stem| stem.to_string_lossy()).into_owned();
            let module = host.load(&name, module_path)?;
            Chain::new(&host, vec![StageSpec { name, module, config, on_error: OnError::DeadLetter }]).map_err(|error| {
                match &args.config {
                    Some(path) => anyhow::Error::new(error).context(format!("with the configuration {}", path.display())),
                    None => anyhow::Error::new(error).context("without a configuration (no --config: the transform got null)"),
                }
            })?
        }
        (None, None) => anyhow::bail!("give a module or --pipeline"),
    };
    let (mut n_kept, mut n_changed, mut n_dropped, mut n_failed, mut n_not_run) = (0, 0, 0, 0, 0);
    let mut transforms: Vec<TransformCounts> = Vec::new();
    for sample in &samples {
        let contexts = [sample.context.clone()];
        let event = Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Owned(sample.id.clone()),
            timestamp: sample.timestamp,
            message: Cow::Owned(sample.message.clone()),
            fields: None,
            index: None,
        };
        let original = event.clone();
        let started = Instant::now();
        let outcome = chain.apply(&contexts, vec![event], None);
        let elapsed = started.elapsed();
        for counts in &outcome.counts {
            match transforms.iter_mut().find(|known| known.name == counts.name) {
                Some(total) => total.add(counts),
                None => transforms.push(counts.clone()),
            }
        }
        let fate = if let Some(kept) = outcome.kept.into_iter().next() {
            // The document is built as the Lambda builds it, so a change it would refuse (fields
            // that are not an object) fails here too, in both output modes.
            match document(&kept, &contexts[0]) {
                Err(error) => Fate::Failed(format!("document: {error}")),
                Ok(_) if kept == original => Fate::Kept,
                Ok(_) => Fate::Changed(kept),
            }
        } else if let Some(failure) = outcome.failed.into_iter().next() {
            Fate::Failed(format!("{}: {}", failure.transform, failure.reason))
        } else if !outcome.unfinished.is_empty() {
            Fate::NotRun
        } else {
            Fate::Dropped
        };
        match &fate {
            Fate::Kept => n_kept += 1,
            Fate::Changed(_) => n_changed += 1,
            Fate::Dropped => n_dropped += 1,
            Fate::Failed(_) => n_failed += 1,
            Fate::NotRun => n_not_run += 1,
        }
        if args.json {
            println!("{}", json_line(&original, &contexts[0], &fate, elapsed)?);
        } else {
            print!("{}", text_block(&original, &fate, elapsed));
        }
    }
    if !args.json {
        let not_run = if n_not_run > 0 { format!(", {n_not_run} not run") } else { String::new() };
        println!("{} events: {n_kept} kept, {n_changed} changed, {n_dropped} dropped, {n_failed} failed{not_run}", samples.len());
    }
    // A policy that passed or dropped what a transform failed on is said, never silent.
    for counts in transforms.iter().filter(|counts| !counts.is_clean()) {
        eprintln!(
            "transform {}: failed on {} events: {} dead-lettered, {} passed through (on_error: pass), {} dropped (on_error: drop); {} not run",
            counts.name,
            counts.failed + counts.passed + counts.dropped,
            counts.failed,
            counts.passed,
            counts.dropped,
            counts.not_run
        );
    }
    let n_failed_in_chain: u64 = transforms.iter().map(|counts| counts.failed + counts.passed + counts.dropped + counts.not_run).sum();
    if !args.allow_failures && (n_failed > 0 || n_not_run > 0 || n_bad_records > 0 || n_failed_in_chain > 0) {
        anyhow::bail!(
            "{} events failed or did not run and {n_bad_records} records did not decode (--allow-failures exits 0 all the same)",
            n_failed_in_chain.max(n_failed + n_not_run)
        );
    }
    Ok(())
}

fn document(event: &Event<'_>, context: &Context<'_>) -> anyhow::Result<serde_json::Value> {
    let mut out = Vec::new();
    write_document(&mut out, event, context).map_err(anyhow::Error::msg)?;
    Ok(serde_json::from_slice(&out)?)
}

fn json_line(original: &Event<'_>, context: &Context<'_>, fate: &Fate, elapsed: Duration) -> anyhow::Result<String> {
    let (verdict, event, error) = match fate {
        Fate::Kept => ("kept", Some(document(original, context)?), None),
        Fate::Changed(changed) => match document(changed, context) {
            Ok(document) => ("changed", Some(document), None),
            Err(error) => ("failed", None, Some(format!("document: {error}"))),
        },
        Fate::Dropped => ("dropped", None, None),
        Fate::Failed(reason) => ("failed", None, Some(reason.clone())),
        Fate::NotRun => ("not run", None, Some("the transform's trap budget ran out first".to_owned())),
    };
    let line =
        serde_json::json!({"id": original.id, "verdict": verdict, "event": event, "error": error, "micros": elapsed.as_micros() as u64});
    Ok(line.to_string())
}

/// The leaves of a JSON value as (dotted path, JSON text), in document order; arrays are leaves.
fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                flatten(&path, value, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

fn text_block(original: &Event<'_>, fate: &Fate, elapsed: Duration) -> String {
    let time = format!("{:.3} ms", elapsed.as_secs_f64() * 1000.0);
    let mut out = String::new();
    match fate {
        Fate::Kept => out.push_str(&format!("event {}: kept ({time})\n", original.id)),
        Fate::Dropped => out.push_str(&format!("event {}: dropped ({time})\n", original.id)),
        Fate::Failed(reason) => out.push_str(&format!("event {}: failed ({time}): {reason}\n", original.id)),
        Fate::NotRun => out.push_str(&format!("event {}: not run ({time}): the transform's trap budget ran out first\n", original.id)),
        Fate::Changed(changed) => {
            out.push_str(&format!("event {}: changed ({time})\n", original.id));
            if changed.message != original.message {
                out.push_str(&format!("  - message: {}\n  + message: {}\n", original.message, changed.message));
            }
            if changed.timestamp != original.timestamp {
                out.push_str(&format!("  - timestamp: {}\n  + timestamp: {}\n", original.timestamp, changed.timestamp));
            }
            // Fields as a compact diff: one line per leaf, by dotted path.
            let leaves = |fields: &Option<String>| {
                let mut leaves = Vec::new();
                if let Some(value) = fields.as_deref().and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok()) {
                    flatten("", &value, &mut leaves);
                }
                leaves
            };
            let (before, after) = (leaves(&original.fields), leaves(&changed.fields));
            for (path, value) in &before {
                match after.iter().find(|(other, _)| other == path) {
                    None => out.push_str(&format!("  - {path}: {value}\n")),
                    Some((_, new)) if new != value => out.push_str(&format!("  ~ {path}: {value} -> {new}\n")),
                    Some(_) => {}
                }
            }
            for (path, value) in &after {
                if !before.iter().any(|(other, _)| other == path) {
                    out.push_str(&format!("  + {path}: {value}\n"));
                }
            }
            if changed.index != original.index {
                out.push_str(&format!("  + index: {}\n", changed.index.as_deref().unwrap_or("(template)")));
            }
        }
    }
    out
}
