//! `sluicegate replay`: archive objects from S3 back into Elasticsearch, the backfill path.
//!
//! Documents archives are shipped as they are (same `_id`, so a replay overwrites rather than
//! duplicates); raw archives go through the pipeline again, with the transforms of `--pipeline`,
//! so they run on them anew.
//!
//! An archived document does not record the index it went to, so the index is rendered again
//! from the template: the pipeline file's when it has one, else `--index-template`. Given the
//! Lambda's own pipeline file, every document goes back to its index under its `_id`; an index
//! that a transform chose is not in a documents archive, so such documents land in the
//! template's index (a raw replay with the pipeline chooses it again).

use std::borrow::Cow;
use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use base64::Engine as _;
use clap::Args;
use serde::Serialize;
use sluicegate_engine::archive::ArchiveStage;
use sluicegate_engine::bulk::{BulkAction, BulkBody, BulkWriter};
use sluicegate_engine::event::Context;
use sluicegate_engine::index::IndexTemplate;
use sluicegate_engine::kinesis::{KinesisData, KinesisEvent, KinesisEventRecord};
use sluicegate_engine::time::parse_rfc3339;
use sluicegate_engine::{Pipeline, PipelineConfig};
use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::S3Config;
use sluicegate_lambda::es::{EsClient, Fate, ShipReport};

/// Options of `sluicegate replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The bucket holding the archive.
    #[arg(long)]
    pub s3_bucket: String,
    /// The key prefix to read (`archive/` for documents, `archive-raw/` for raw events of a `both`
    /// archive; with --failed, `aws/lambda/`, where the event source mapping puts what it gave up on).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Re-drive the batches the event source mapping gave up on: its S3 on-failure destination
    /// keeps each discarded batch whole with the invocation record; their records go through the
    /// pipeline (--pipeline) and ship as the Lambda ships them, archive and dead letters
    /// included (into --s3-bucket under --archive-prefix and --dead-letter-prefix).
    #[arg(long)]
    pub failed: bool,
    /// With --failed: the archive's key prefix, as the Lambda's SLUICEGATE_ARCHIVE_PREFIX.
    #[arg(long, default_value = "archive", requires = "failed")]
    pub archive_prefix: String,
    /// With --failed: the dead letters' key prefix, as the Lambda's SLUICEGATE_DEAD_LETTER_PREFIX.
    #[arg(long, default_value = "dead-letter", requires = "failed")]
    pub dead_letter_prefix: String,
    /// With --failed: the KMS key for the archive and dead letters (default: the bucket's).
    #[arg(long, requires = "failed")]
    pub s3_kms_key_id: Option<String>,
    /// An S3 endpoint other than AWS's (an emulator such as moto).
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// What the objects hold: documents (shipped as they are) or raw (run through the pipeline
    /// again). Default: the pipeline file's archive_stage when it is documents or raw, else documents.
    #[arg(long)]
    pub stage: Option<String>,
    /// The pipeline the Lambda runs (a file or its s3:// object, as `sluicegate run --pipeline`): raw
    /// archives go through its transforms, and its index_template takes the place of
    /// --index-template. Give the Lambda's own file, so that documents return to the indices
    /// they were shipped to and overwrite themselves instead of being duplicated elsewhere.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only objects from this hour on (RFC 3339, e.g. 2026-11-28T00:00:00Z; by the key's hour).
    #[arg(long)]
    pub from: Option<String>,
    /// Only objects before this time (RFC 3339; by the key's hour).
    #[arg(long)]
    pub to: Option<String>,
    /// Elasticsearch/OpenSearch URL.
    #[arg(long)]
    pub es_url: String,
    /// none, basic, api-key, sigv4-es or sigv4-aoss (secrets from SLUICEGATE_ES_PASSWORD or SLUICEGATE_ES_API_KEY).
    #[arg(long)]
    pub es_auth: Option<String>,
    /// The user for --es-auth basic.
    #[arg(long)]
    pub es_username: Option<String>,
    /// Index name template; placeholders {yyyy} {MM} {dd} {HH} {log_group}. Must be the Lambda's
    /// (archived documents do not record their index): a different one puts a second copy of
    /// each document, with the same `_id`, into another index.
    #[arg(long, default_value = sluicegate_engine::index::DEFAULT_INDEX_TEMPLATE)]
    pub index_template: String,
    /// `_bulk` action: index or create (data streams).
    #[arg(long, default_value = "index")]
    pub bulk_action: String,
    /// Time allowed per object before what is unsent counts as undelivered.
    #[arg(long, default_value_t = 300)]
    pub timeout_secs: u64,
}

/// What `replay` prints at the end.
#[derive(Debug, Default, Serialize)]
pub struct ReplaySummary {
    /// Objects read.
    pub objects: usize,
    /// Lines read from them.
    pub lines: u64,
    /// Documents Elasticsearch stored.
    pub delivered: u64,
    /// Documents it refused for good.
    pub rejected: u64,
    /// Documents not delivered in time.
    pub undelivered: u64,
    /// Documents refused for their shape and stored degraded (counted in `delivered` too).
    pub degraded: u64,
    /// Lines that could not be replayed (not JSON, or dead-lettered by the pipeline).
    pub skipped: u64,
    /// Raw events a transform dropped.
    pub dropped: u64,
}

/// Runs the command; fails when any document was left undelivered.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if args.failed {
        return super::redrive::run(args);
    }
    let runtime = super::runtime()?;
    let prefix = args.prefix.clone().unwrap_or_else(|| "archive/".to_owned());
    let mut loaded = match &args.pipeline {
        Some(pipeline) => Some(runtime.block_on(super::load_pipeline(pipeline, args.s3_endpoint.as_deref(), None))?),
        None => None,
    };
    let pipeline_file = loaded.as_ref().map(|loaded| loaded.file.clone());
    let stage = match (&args.stage, pipeline_file.as_ref().and_then(|file| file.archive_stage)) {
        (Some(text), _) => text.parse().map_err(anyhow::Error::msg).context("--stage")?,
        (None, Some(stage @ (ArchiveStage::Documents | ArchiveStage::Raw))) => stage,
        (None, _) => ArchiveStage::Documents,
    };
    anyhow::ensure!(matches!(stage, ArchiveStage::Documents | ArchiveStage::Raw), "--stage: expected documents or raw");
    if stage == ArchiveStage::Raw && pipeline_file.is_none() {
        // Raw events are as they came in, before redaction: say so rather than ship them quietly.
        eprintln!("replay: raw events are shipped without transforms (no --pipeline given)");
    }
    let index_template = match pipeline_file.as_ref().and_then(|file| file.index_template.clone()) {
        Some(index_template) => index_template,
        None => IndexTemplate::parse(&args.index_template).context("--index-template")?,
    };
    let bulk_action: BulkAction = args.bulk_action.parse().map_err(anyhow::Error::msg).context("--bulk-action")?;
    let from_ms =
        args.from.as_deref().map(|text| parse_rfc3339(text).with_context(|| format!("--from {text:?} is not rfc 3339"))).transpose()?;
    let to_ms = args.to.as_deref().map(|text| parse_rfc3339(text).with_context(|| format!("--to {text:?} is not rfc 3339"))).transpose()?;
    let summary = runtime.block_on(async {
        let sdk_config = sluicegate_lambda::aws::sdk_config().await;
        let s3_config = S3Config { bucket: args.s3_bucket.clone(), kms_key_id: None, endpoint: args.s3_endpoint.clone(), max_attempts: 1 };
        let s3 = S3Archive::client(&sdk_config, &s3_config);
        let es_config = super::es_config(&args.es_url, args.es_auth.as_deref(), args.es_username.as_deref(), Some(&args.bulk_action))?;
        let es = EsClient::new(es_config, sdk_config.credentials_provider()).context("cannot build the elasticsearch client")?;

        let keys = list_keys(&s3, &args.s3_bucket, &prefix).await?;
        let keys: Vec<String> = keys.into_iter().filter(|key| in_range(key, from_ms, to_ms)).collect();
        let pipeline_config = PipelineConfig {
            index_template: index_template.clone(),
            bulk_action,
            archive_stage: ArchiveStage::None,
            document_ids: es.config().sends_ids(),
            ..PipelineConfig::default()
        };
        // Documents are past the transforms already; only raw events go through them.
        let mut pipeline = match (loaded.take(), stage) {
            (Some(loaded), ArchiveStage::Raw) => Pipeline::with_transforms(pipeline_config, Box::new(loaded.chain)),
            _ => Pipeline::new(pipeline_config),
        };
        let mut summary = ReplaySummary::default();
        if keys.is_empty() {
            eprintln!("replay: no archive objects under s3://{}/{prefix} in the time range", args.s3_bucket);
            progress(&summary, 0);
        }
        for (object_idx, key) in keys.iter().enumerate() {
            let body = get_object(&s3, &args.s3_bucket, key).await?;
            // Archive objects are concatenated gzip members of about 1 MiB: read them all.
            let mut decoder = sluicegate_engine::decode::Decoder::new(1 << 30);
            let ndjson = decoder.inflate_members(&body).with_context(|| format!("cannot gunzip {key}"))?;
            let text = String::from_utf8_lossy(&ndjson);
            let bodies = match stage {
                ArchiveStage::Raw => raw_bodies(&mut pipeline, &text, object_idx, &mut summary),
                _ => document_bodies(&text, &index_template, bulk_action, es.config().sends_ids(), &mut summary),
            };
            let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
            let report = es.ship(&bodies, deadline).await;
            count(&report, &mut summary);
            summary.objects += 1;
            progress(&summary, keys.len());
        }
        if std::io::stderr().is_terminal() {
            eprintln!();
        }
        anyhow::Ok(summary)
    })?;
    println!("{}", serde_json::to_string(&summary)?);
    anyhow::ensure!(summary.undelivered == 0, "{} documents were not delivered", summary.undelivered);
    Ok(())
}

/// The progress line: a bar redrawn in place on a terminal, one line per object in a log.
fn progress(summary: &ReplaySummary, n_objects: usize) {
    const WIDTH: usize = 30;
    let filled = (summary.objects * WIDTH).checked_div(n_objects).unwrap_or(WIDTH).min(WIDTH);
    let counts = format!(
        "{}/{n_objects} objects, {} documents delivered, {} rejected, {} undelivered",
        summary.objects, summary.delivered, summary.rejected, summary.undelivered
    );
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr, "\rreplay [{}{}] {counts}", "#".repeat(filled), "-".repeat(WIDTH - filled));
        let _ = stderr.flush();
    } else {
        let _ = writeln!(stderr, "replay: {counts}");
    }
}

fn count(report: &ShipReport, summary: &mut ReplaySummary) {
    for item in &report.items {
        match &item.fate {
            Fate::Delivered => summary.delivered += 1,
            Fate::Degraded { .. } => {
                summary.delivered += 1;
                summary.degraded += 1;
            }
            Fate::Rejected { status, error, .. } => {
                summary.rejected += 1;
                eprintln!("\nreplay: document rejected ({status}): {error}");
            }
            Fate::Undelivered { .. } => summary.undelivered += 1,
        }
    }
}

/// `_bulk` bodies for archived documents: `_id` from `event.id`, index from the template.
fn document_bodies(text: &str, template: &IndexTemplate, action: BulkAction, with_ids: bool, summary: &mut ReplaySummary) -> Vec<BulkBody> {
    let mut writer = BulkWriter::new(action, sluicegate_engine::bulk::DEFAULT_BULK_MAX_BYTES);
    if !with_ids {
        writer = writer.without_ids();
    }
    for (line_idx, line) in text.lines().enumerate() {
        summary.lines += 1;
        let Ok(document) = serde_json::from_str::<serde_json::Value>(line) else {
            summary.skipped += 1;
            continue;
        };
        let (Some(id), Some(timestamp_ms)) = (document["event"]["id"].as_str(), document["@timestamp"].as_str().and_then(parse_rfc3339))
        else {
            summary.skipped += 1;
            continue;
        };
        let context = Context {
            owner: Cow::Borrowed(document["cloud"]["account"]["id"].as_str().unwrap_or("")),
            log_group: Cow::Borrowed(document["aws"]["cloudwatch"]["log_group"].as_str().unwrap_or("")),
            log_stream: Cow::Borrowed(document["aws"]["cloudwatch"]["log_stream"].as_str().unwrap_or("")),
        };
        let index = template.render(timestamp_ms, &context);
        let pushed = writer.push(line_idx as u32, &index, id, |out| {
            out.extend_from_slice(line.as_bytes());
            Ok::<(), ()>(())
        });
        debug_assert!(pushed.is_ok());
    }
    writer.finish()
}

/// `_bulk` bodies for archived raw events: they are put back into CloudWatch Logs subscription
/// messages (one per run of lines from the same log stream) and run through the pipeline again.
fn raw_bodies(pipeline: &mut Pipeline, text: &str, object_idx: usize, summary: &mut ReplaySummary) -> Vec<BulkBody> {
    let mut records = Vec::new();
    let mut current: Option<(serde_json::Value, Vec<serde_json::Value>)> = None;
    for line in text.lines() {
        summary.lines += 1;
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            summary.skipped += 1;
            continue;
        };
        let context = serde_json::json!({"owner": event["owner"], "logGroup": event["logGroup"], "logStream": event["logStream"]});
        let log_event = serde_json::json!({"id": event["id"], "timestamp": event["timestamp"], "message": event["message"]});
        match &mut current {
            Some((current_context, events)) if *current_context == context => events.push(log_event),
            _ => {
                if let Some(done) = current.take() {
                    records.push(raw_record(done, object_idx, records.len()));
                }
                current = Some((context, vec![log_event]));
            }
        }
    }
    if let Some(done) = current.take() {
        records.push(raw_record(done, object_idx, records.len()));
    }
    let outcome = pipeline.run(&KinesisEvent { records }, None);
    summary.dropped += outcome.records.iter().map(|record| u64::from(record.n_dropped)).sum::<u64>();
    for dead_letter in &outcome.dead_letters {
        summary.skipped += 1;
        eprintln!("\nreplay: event not replayed ({}): {}", dead_letter.stage.name(), dead_letter.reason);
    }
    outcome.bulk
}

fn raw_record((context, events): (serde_json::Value, Vec<serde_json::Value>), object_idx: usize, record_idx: usize) -> KinesisEventRecord {
    let message = serde_json::json!({
        "messageType": "DATA_MESSAGE",
        "owner": context["owner"],
        "logGroup": context["logGroup"],
        "logStream": context["logStream"],
        "subscriptionFilters": [],
        "logEvents": events,
    });
    let data = base64::engine::general_purpose::STANDARD.encode(sluicegate_engine::archive::gzip(message.to_string().as_bytes()));
    let sequence_number = format!("{object_idx}{record_idx:06}");
    KinesisEventRecord {
        event_id: format!("replay:{sequence_number}"),
        event_source_arn: String::new(),
        kinesis: KinesisData { sequence_number, partition_key: String::new(), data, approximate_arrival_timestamp: 0.0 },
    }
}

/// Whether a hive-style key's hour (`year=…/month=…/day=…/hour=…`) is in `[from, to)`; the
/// hour containing `from` counts. Keys without the parts are kept.
fn in_range(key: &str, from_ms: Option<i64>, to_ms: Option<i64>) -> bool {
    let part = |name: &str| key.split('/').find_map(|segment| segment.strip_prefix(name)).and_then(|value| value.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day), Some(hour)) = (part("year="), part("month="), part("day="), part("hour=")) else {
        return true;
    };
    let Some(hour_ms) = parse_rfc3339(&format!("{year:04}-{month:02}-{day:02}T{hour:02}:00:00Z")) else {
        return true;
    };
    from_ms.is_none_or(|from| hour_ms + 3_600_000 > from) && to_ms.is_none_or(|to| hour_ms < to)
}

pub(super) async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut continuation: Option<String> = None;
    loop {
        let page =
            s3.list_objects_v2().bucket(bucket).prefix(prefix).set_continuation_token(continuation.take()).send().await.map_err(
                |error| anyhow::anyhow!("cannot list s3://{bucket}/{prefix}: {}", aws_sdk_s3::error::DisplayErrorContext(error)),
            )?;
        keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_owned)));
        match page.next_continuation_token() {
            Some(token) if page.is_truncated() == Some(true) => continuation = Some(token.to_owned()),
            _ => break,
        }
    }
    keys.sort();
    Ok(keys)
}

pub(super) async fn get_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<Vec<u8>> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| anyhow::anyhow!("cannot get s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(error)))?;
    let bytes = object.body.collect().await.with_context(|| format!("cannot read s3://{bucket}/{key}"))?;
    Ok(bytes.into_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::in_range;
    use sluicegate_engine::time::parse_rfc3339;

    #[test]
    fn time_ranges_select_by_the_keys_hour() {
        let key = "archive/year=2026/month=11/day=28/hour=13/shardId-0-1.ndjson.gz";
        let at = |text: &str| parse_rfc3339(text);
        assert!(in_range(key, None, None));
        assert!(in_range(key, at("2026-11-28T13:59:00Z"), None), "the hour containing --from counts");
        assert!(!in_range(key, at("2026-11-28T14:00:00Z"), None));
        assert!(in_range(key, None, at("2026-11-28T13:00:01Z")));
        assert!(!in_range(key, None, at("2026-11-28T13:00:00Z")), "--to is exclusive");
        assert!(in_range("archive/odd-key.ndjson.gz", at("2030-01-01T00:00:00Z"), None), "keys without hours are kept");
    }
}
