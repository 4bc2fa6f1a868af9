//! `sluicegate run`: a Kinesis event file through the pipeline, written to a local folder.
//!
//! The folder stands in for the servers: `bulk/` holds the exact `_bulk` bodies that would be
//! sent, and every S3 object lands at `DIR/<its S3 key>`, so with the default prefixes the
//! archive is under `DIR/archive/` and dead letters under `DIR/dead-letter/`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use sluicegate_engine::archive::{ArchiveStage, gzip};
use sluicegate_engine::bulk::BulkAction;
use sluicegate_engine::dead_letter;
use sluicegate_engine::index::IndexTemplate;
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::outcome::Summary;
use sluicegate_engine::{Outcome, Pipeline, PipelineConfig};

/// Options of `sluicegate run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A Kinesis event in the JSON shape Lambda receives (`{"Records": [...]}`).
    #[arg(long)]
    pub event: PathBuf,
    /// Folder for the `_bulk` bodies, the archive objects and the dead letters.
    #[arg(long, default_value = "sluicegate-out")]
    pub out: PathBuf,
    /// Index name template; placeholders {yyyy} {MM} {dd} {HH} {log_group}.
    #[arg(long, default_value = sluicegate_engine::index::DEFAULT_INDEX_TEMPLATE)]
    pub index_template: String,
    /// `_bulk` action: index or create (data streams).
    #[arg(long, default_value = "index")]
    pub bulk_action: String,
    /// Size limit of one `_bulk` body in bytes.
    #[arg(long, default_value_t = sluicegate_engine::bulk::DEFAULT_BULK_MAX_BYTES)]
    pub bulk_max_bytes: usize,
    /// What the archive holds: documents, raw, both or none.
    #[arg(long, default_value = "documents")]
    pub archive_stage: String,
    /// Key prefix of archive objects.
    #[arg(long, default_value = "archive")]
    pub archive_prefix: String,
    /// Key prefix of dead-letter objects.
    #[arg(long, default_value = "dead-letter")]
    pub dead_letter_prefix: String,
}

/// The one-line JSON summary `run` prints.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// Counts over the batch.
    #[serde(flatten)]
    pub counts: Summary,
    /// Sequence numbers that would go back as `batchItemFailures`.
    pub batch_item_failures: Vec<String>,
}

/// Runs the command.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = pipeline_config(&args)?;
    let event_text = std::fs::read(&args.event).with_context(|| format!("cannot read {}", args.event.display()))?;
    let event: KinesisEvent =
        serde_json::from_slice(&event_text).with_context(|| format!("{} is not a kinesis event", args.event.display()))?;
    let mut pipeline = Pipeline::new(config);
    let outcome = pipeline.run(&event, None);
    write_outcome(&args.out, &outcome, &args.dead_letter_prefix)?;
    // Every object was written locally, so no record is left undelivered.
    let summary = RunSummary { counts: outcome.summary(), batch_item_failures: Vec::new() };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

fn pipeline_config(args: &RunArgs) -> anyhow::Result<PipelineConfig> {
    Ok(PipelineConfig {
        index_template: IndexTemplate::parse(&args.index_template).context("--index-template")?,
        bulk_action: args.bulk_action.parse::<BulkAction>().map_err(anyhow::Error::msg).context("--bulk-action")?,
        bulk_max_bytes: args.bulk_max_bytes,
        archive_stage: args.archive_stage.parse::<ArchiveStage>().map_err(anyhow::Error::msg).context("--archive-stage")?,
        archive_prefix: args.archive_prefix.clone(),
        ..PipelineConfig::default()
    })
}

/// Writes the bodies, archive objects and dead letters of `outcome` below `out`.
pub fn write_outcome(out: &Path, outcome: &Outcome, dead_letter_prefix: &str) -> anyhow::Result<()> {
    let bulk_dir = out.join("bulk");
    std::fs::create_dir_all(&bulk_dir).with_context(|| format!("cannot create {}", bulk_dir.display()))?;
    for (body_idx, body) in outcome.bulk.iter().enumerate() {
        write_file(&bulk_dir.join(format!("{:06}.ndjson", body_idx + 1)), &body.body)?;
    }
    for object in &outcome.archive {
        write_file(&out.join(&object.key), &object.body)?;
    }
    if !outcome.dead_letters.is_empty() {
        let key = outcome.batch.key(dead_letter_prefix, "");
        write_file(&out.join(key), &gzip(&dead_letter::ndjson(&outcome.dead_letters)))?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
