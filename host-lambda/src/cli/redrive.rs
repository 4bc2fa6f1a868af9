//! `sluicegate replay --failed`: the batches the event source mapping gave up on (a long outage,
//! a cluster refusing everything for days), read back from its S3 on-failure destination and
//! run through the Lambda's own handler, so that they end delivered, archived and dead-lettered
//! exactly as they would have, and nothing is decoded by hand.
//!
//! Each object is the mapping's invocation record: `requestContext`, `responseContext`,
//! `KinesisBatchInfo` and `payload`, the whole event the function was invoked with (as JSON, or
//! as JSON text). An object that is not such a record is reported and skipped.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use serde_json::Value;
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::{Pipeline, PipelineConfig};
use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::S3Config;
use sluicegate_lambda::es::EsClient;
use sluicegate_lambda::handler::Handler;

use super::replay::{ReplayArgs, get_object, list_keys};

/// What `replay --failed` prints at the end.
#[derive(Debug, Default, Serialize)]
pub struct RedriveSummary {
    /// Invocation records read.
    pub objects: usize,
    /// Kinesis records in them.
    pub records: u64,
    /// Log events decoded.
    pub events_in: u64,
    /// Documents shipped.
    pub events_out: u64,
    /// Events dead-lettered (decode, transform, refused for good).
    pub dead_lettered: u64,
    /// Records still not delivered (the run fails when there are any: run it again).
    pub records_failed: u64,
    /// Objects that are not invocation records of a Kinesis batch.
    pub skipped: usize,
}

/// The Kinesis event in an on-failure invocation record.
pub fn failed_batch(record: &[u8]) -> Result<KinesisEvent, String> {
    let record: Value = serde_json::from_slice(record).map_err(|error| format!("not JSON: {error}"))?;
    if record.get("KinesisBatchInfo").is_none() {
        return Err("not an invocation record of a Kinesis batch (no KinesisBatchInfo)".to_owned());
    }
    let payload = match record.get("payload") {
        Some(Value::Object(_)) => record["payload"].clone(),
        Some(Value::String(text)) => serde_json::from_str(text).map_err(|error| format!("payload is not a JSON event: {error}"))?,
        _ => return Err("the record has no payload (only an S3 destination keeps the batch)".to_owned()),
    };
    serde_json::from_value(payload).map_err(|error| format!("payload is not a Kinesis event: {error}"))
}

/// Runs the command; fails when any record is still not delivered.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    let prefix = args.prefix.clone().unwrap_or_else(|| "aws/lambda/".to_owned());
    let mut config = PipelineConfig { archive_prefix: args.archive_prefix.clone(), ..PipelineConfig::default() };
    let summary = runtime.block_on(async {
        let chain = match &args.pipeline {
            Some(pipeline) => {
                let loaded = super::load_pipeline(pipeline, args.s3_endpoint.as_deref(), None).await?;
                loaded.file.apply_to(&mut config);
                Some(loaded.chain)
            }
            None => {
                // Raw events, as they came in, before any redaction: say so rather than ship them quietly.
                eprintln!("replay: the batches are shipped without transforms (no --pipeline given)");
                None
            }
        };
        let sdk_config = sluicegate_lambda::aws::sdk_config().await;
        let es_config = super::es_config(&args.es_url, args.es_auth.as_deref(), args.es_username.as_deref(), Some(&args.bulk_action))?;
        config.document_ids = es_config.sends_ids();
        let es = EsClient::new(es_config, sdk_config.credentials_provider()).context("cannot build the elasticsearch client")?;
        let s3_config = S3Config {
            bucket: args.s3_bucket.clone(),
            kms_key_id: args.s3_kms_key_id.clone(),
            endpoint: args.s3_endpoint.clone(),
            max_attempts: 4,
        };
        let reader = S3Archive::client(&sdk_config, &s3_config);
        let archive = S3Archive::new(S3Archive::client(&sdk_config, &s3_config), &s3_config);
        let pipeline = match chain {
            Some(chain) => Pipeline::with_transforms(config, Box::new(chain)),
            None => Pipeline::new(config),
        };
        let handler = Handler::new(pipeline, es, archive, args.dead_letter_prefix.clone());

        let keys = list_keys(&reader, &args.s3_bucket, &prefix).await?;
        let mut summary = RedriveSummary::default();
        if keys.is_empty() {
            eprintln!("replay: no invocation records under s3://{}/{prefix}", args.s3_bucket);
        }
        for key in &keys {
            let body = get_object(&reader, &args.s3_bucket, key).await?;
            let event = match failed_batch(&body) {
                Ok(event) => event,
                Err(reason) => {
                    eprintln!("replay: s3://{}/{key} skipped: {reason}", args.s3_bucket);
                    summary.skipped += 1;
                    continue;
                }
            };
            let handled = handler.handle(event, Instant::now() + Duration::from_secs(args.timeout_secs)).await;
            let metrics = &handled.metrics;
            summary.objects += 1;
            summary.records += metrics.records;
            summary.events_in += metrics.events_in;
            summary.events_out += metrics.events_out;
            summary.dead_lettered += metrics.dead_lettered;
            summary.records_failed += handled.batch_item_failures.len() as u64;
            eprintln!(
                "replay: s3://{}/{key}: {} records, {} events shipped, {} records not delivered",
                args.s3_bucket,
                metrics.records,
                metrics.events_out,
                handled.batch_item_failures.len()
            );
        }
        anyhow::Ok(summary)
    })?;
    println!("{}", serde_json::to_string(&summary)?);
    anyhow::ensure!(summary.records_failed == 0, "{} records were not delivered: run replay --failed again", summary.records_failed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::failed_batch;

    #[test]
    fn reads_the_batch_of_an_invocation_record() {
        let event = r#"{"Records":[{"kinesis":{"sequenceNumber":"1","data":"AA=="},"eventID":"shardId-0:1"}]}"#;
        let record = |payload: &str| {
            format!(
                r#"{{"requestContext":{{"condition":"RetryAttemptsExhausted","approximateInvokeCount":3}},"version":"1.0","KinesisBatchInfo":{{"shardId":"shardId-0","batchSize":1}},"payload":{payload}}}"#
            )
        };
        assert_eq!(failed_batch(record(event).as_bytes()).unwrap().records.len(), 1);
        assert_eq!(
            failed_batch(record(&serde_json::to_string(event).unwrap()).as_bytes()).unwrap().records[0].kinesis.sequence_number,
            "1"
        );
        assert!(failed_batch(b"{}").unwrap_err().contains("no KinesisBatchInfo"));
        assert!(failed_batch(br#"{"KinesisBatchInfo":{}}"#).unwrap_err().contains("no payload"));
        assert!(failed_batch(b"x").unwrap_err().starts_with("not JSON"));
    }
}
