//! `sluicegate run`: a Kinesis event file through the pipeline, written to a local folder.
//!
//! The folder stands in for the servers: `bulk/` holds the exact `_bulk` bodies that would be
//! sent, and every S3 object lands at `DIR/<its S3 key>`, so with the default prefixes the
//! archive is under `DIR/archive/` and dead letters under `DIR/dead-letter/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::S3Config;
use sluicegate_lambda::es;
use sluicegate_lambda::handler::Handler;
use sluicegate_lambda::sink::{LocalFolder, OneOf};

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
    /// The pipeline: a file, or the `s3://BUCKET/KEY` object the Terraform module deploys (loaded
    /// exactly as the Lambda loads it). Its index template and archive stage, when it sets them,
    /// take the place of the options above.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Compiled modules to read (never write) for an S3 pipeline: the `s3://BUCKET/PREFIX` of the
    /// function's SLUICEGATE_MODULE_CACHE. Modules this machine's engine did not compile are
    /// compiled here.
    #[arg(long)]
    pub module_cache: Option<String>,
    /// Key prefix of dead-letter objects.
    #[arg(long, default_value = "dead-letter")]
    pub dead_letter_prefix: String,
    /// Ship the `_bulk` bodies to this Elasticsearch/OpenSearch URL instead of writing them to the folder.
    #[arg(long)]
    pub es_url: Option<String>,
    /// How to authenticate to --es-url: none, basic, api-key, sigv4-es or sigv4-aoss. Secrets come
    /// from SLUICEGATE_ES_PASSWORD or SLUICEGATE_ES_API_KEY, never from the command line.
    #[arg(long)]
    pub es_auth: Option<String>,
    /// The user for --es-auth basic.
    #[arg(long)]
    pub es_username: Option<String>,
    /// Put the archive objects and dead letters into this S3 bucket instead of the folder.
    #[arg(long)]
    pub s3_bucket: Option<String>,
    /// An S3 endpoint other than AWS's (an emulator such as moto), for --s3-bucket and for an
    /// s3:// --pipeline.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// The KMS key for SSE-KMS on the objects (default: the bucket's AWS-managed key).
    #[arg(long, requires = "s3_bucket")]
    pub s3_kms_key_id: Option<String>,
    /// Give up on what is not shipped after this many seconds (with --es-url or --s3-bucket).
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

/// The one-line JSON summary `run` prints.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// Counts over the batch.
    #[serde(flatten)]
    pub counts: Summary,
    /// Documents the index refused for their shape and took in their degraded form (absent when
    /// none, and always with the local folder, which refuses nothing).
    #[serde(skip_serializing_if = "is_zero")]
    pub degraded: u64,
    /// Sequence numbers that would go back as `batchItemFailures`.
    pub batch_item_failures: Vec<String>,
}

/// Runs the command.
pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut config = pipeline_config(&args)?;
    let es_config = match &args.es_url {
        Some(url) => Some(super::es_config(url, args.es_auth.as_deref(), args.es_username.as_deref(), Some(&args.bulk_action))?),
        None => None,
    };
    config.document_ids = es_config.as_ref().is_none_or(es::EsConfig::sends_ids);
    // The file's text is let go once parsed: for the largest batch it is as large as a slice.
    let event: KinesisEvent = {
        let event_text = std::fs::read(&args.event).with_context(|| format!("cannot read {}", args.event.display()))?;
        serde_json::from_slice(&event_text).with_context(|| format!("{} is not a kinesis event", args.event.display()))?
    };
    let runtime = super::runtime()?;
    let mut pipeline = match &args.pipeline {
        Some(pipeline) => {
            let loaded = runtime.block_on(super::load_pipeline(pipeline, args.s3_endpoint.as_deref(), args.module_cache.as_deref()))?;
            loaded.file.apply_to(&mut config);
            Pipeline::with_transforms(config, Box::new(loaded.chain))
        }
        None => Pipeline::new(config),
    };
    if args.es_url.is_some() || args.s3_bucket.is_some() {
        let summary = runtime.block_on(run_with_servers(&args, es_config, pipeline, event))?;
        println!("{}", serde_json::to_string(&summary)?);
        return Ok(());
    }
    // Each body is written as soon as it is complete and then let go, as the Lambda ships it,
    // so memory holds one slice and not every body of the batch.
    let bulk_dir = args.out.join("bulk");
    std::fs::create_dir_all(&bulk_dir).with_context(|| format!("cannot create {}", bulk_dir.display()))?;
    let (mut n_bodies, mut write_error) = (0, None);
    let outcome = pipeline.run_streaming(&event, None, |body| {
        n_bodies += 1;
        if write_error.is_none() {
            write_error = write_file(&bulk_dir.join(format!("{n_bodies:06}.ndjson")), &body.body).err();
        }
    });
    if let Some(error) = write_error {
        return Err(error);
    }
    write_outcome(&args.out, &outcome, &args.dead_letter_prefix)?;
    // Every object was written locally, so no record is left undelivered.
    let summary = RunSummary { counts: outcome.summary(), degraded: 0, batch_item_failures: Vec::new() };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

/// Runs the batch through the Lambda's own handler, shipping to the servers given and writing
/// the rest to the folder, and reports what the Lambda would answer.
async fn run_with_servers(
    args: &RunArgs,
    es_config: Option<es::EsConfig>,
    pipeline: Pipeline,
    event: KinesisEvent,
) -> anyhow::Result<RunSummary> {
    {
        let needs_aws = args.s3_bucket.is_some() || args.es_auth.as_deref().is_some_and(|auth| auth.starts_with("sigv4"));
        let sdk_config = if needs_aws { Some(sluicegate_lambda::aws::sdk_config().await) } else { None };
        let bulk = match es_config {
            Some(es_config) => {
                let credentials = sdk_config.as_ref().and_then(aws_config::SdkConfig::credentials_provider);
                OneOf::First(es::EsClient::new(es_config, credentials).context("cannot build the elasticsearch client")?)
            }
            None => OneOf::Second(LocalFolder::new(&args.out)),
        };
        let archive = match (&args.s3_bucket, &sdk_config) {
            (Some(bucket), Some(sdk_config)) => {
                let s3_config = S3Config {
                    bucket: bucket.clone(),
                    kms_key_id: args.s3_kms_key_id.clone(),
                    endpoint: args.s3_endpoint.clone(),
                    max_attempts: 4,
                };
                OneOf::First(S3Archive::new(S3Archive::client(sdk_config, &s3_config), &s3_config))
            }
            _ => OneOf::Second(LocalFolder::new(&args.out)),
        };
        let handler = Handler::new(pipeline, bulk, archive, args.dead_letter_prefix.clone());
        let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
        let handled = handler.handle(event, deadline).await;
        let metrics = &handled.metrics;
        let counts = Summary {
            records: metrics.records as usize,
            events_in: metrics.events_in,
            events_out: metrics.events_out,
            dropped: metrics.dropped,
            dead_lettered: metrics.dead_lettered,
            unfinished: metrics.records_unfinished,
            bulk_requests: metrics.bulk_requests as usize,
            bulk_bytes: metrics.bulk_bytes as usize,
            transform_failures: metrics.transforms.iter().filter(|counts| !counts.is_clean()).cloned().collect(),
        };
        Ok(RunSummary { counts, degraded: metrics.bulk_degraded, batch_item_failures: handled.batch_item_failures })
    }
}

fn is_zero(count: &u64) -> bool {
    *count == 0
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
