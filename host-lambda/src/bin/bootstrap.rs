//! The Lambda function (`bootstrap` for the `provided.al2023` runtime): clients built once, a
//! handler borrowed into every invocation, `batchItemFailures` out.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_lambda_events::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use lambda_runtime::{LambdaEvent, service_fn};
// The engine's lenient event, not aws_lambda_events' `KinesisEvent`: that one decodes `data` as
// strict base64 while deserializing, so one bad record would fail the whole invocation and block
// the shard. Here a bad record becomes a dead letter; aws_lambda_events only supplies the response.
use sluicegate_engine::Pipeline;
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::WasmHost;
use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::Config;
use sluicegate_lambda::es::{EsClient, EsConfig};
use sluicegate_lambda::handler::{Handler, deadline_from_epoch_ms};

fn main() -> anyhow::Result<()> {
    // Before anything allocates: batch after batch reuses its buffers (engine's allocator.rs).
    sluicegate_engine::allocator::tune();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the tokio runtime")?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let get = |name: &str| std::env::var(name).ok();
    let config = Config::from_env(get).context("bad configuration")?;
    init_logs(&config.log_level);
    let es_config = EsConfig::from_env(get).context("bad configuration")?;

    let sdk_config = sluicegate_lambda::aws::sdk_config().await;
    let s3_client = S3Archive::client(&sdk_config, &config.s3);
    let archive = S3Archive::new(s3_client, &config.s3);
    let es_client = EsClient::new(es_config, sdk_config.credentials_provider()).context("cannot build the elasticsearch client")?;
    let mut transforms: Vec<String> = Vec::new();
    let pipeline = match &config.pipeline_file {
        Some(path) => {
            // The transforms load once per container; their instances are reused across batches.
            let file = PipelineFile::read(path).with_context(|| format!("SLUICEGATE_PIPELINE={}", path.display()))?;
            let mut pipeline_config = config.pipeline.clone();
            if let Some(index_template) = &file.index_template {
                pipeline_config.index_template = index_template.clone();
            }
            if let Some(archive_stage) = file.archive_stage {
                pipeline_config.archive_stage = archive_stage;
            }
            let host = WasmHost::new(file.limits).context("cannot start the wasm host")?;
            let chain = file.start(&host, path).with_context(|| format!("SLUICEGATE_PIPELINE={}", path.display()))?;
            let compiled: Vec<&str> = chain.precompiled().filter(|(_, precompiled)| !precompiled).map(|(name, _)| name).collect();
            if !compiled.is_empty() {
                // Compiling costs seconds of every cold start; `cargo xtask dist` ships .cwasm files.
                tracing::warn!(transforms = ?compiled, "transforms compiled at start: no usable .cwasm next to their modules");
            }
            transforms = chain.names().map(str::to_owned).collect();
            Pipeline::with_transforms(pipeline_config, Box::new(chain))
        }
        None => Pipeline::new(config.pipeline.clone()),
    };
    let handler = Handler::new(pipeline, es_client, archive, config.dead_letter_prefix.clone());
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "sluicegate".to_owned());
    tracing::info!(
        bucket = %config.s3.bucket,
        archive_stage = ?config.pipeline.archive_stage,
        transforms = ?transforms,
        start_ms = started.elapsed().as_millis() as u64,
        "sluicegate ready"
    );

    let handler = &handler;
    let function_name = function_name.as_str();
    let margin = config.deadline_margin;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| async move {
        let deadline = deadline_from_epoch_ms(event.context.deadline, margin);
        let handled = handler.handle(&event.payload, deadline).await;
        let metrics = &handled.metrics;
        tracing::info!(
            request_id = %event.context.request_id,
            records = metrics.records,
            events_in = metrics.events_in,
            events_out = metrics.events_out,
            dead_lettered = metrics.dead_lettered,
            batch_item_failures = metrics.batch_item_failures,
            "batch handled"
        );
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| now.as_millis() as u64);
        // The metrics line goes to stdout on its own, where CloudWatch Logs reads EMF.
        println!("{}", metrics.emf_line(function_name, now_ms));
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = handled
            .batch_item_failures
            .into_iter()
            .map(|sequence_number| {
                let mut failure = KinesisBatchItemFailure::default();
                failure.item_identifier = Some(sequence_number);
                failure
            })
            .collect();
        Ok::<_, lambda_runtime::Error>(response)
    }))
    .await
    .map_err(|error| anyhow::anyhow!("lambda runtime: {error}"))
}

/// JSON logs on stdout, one object per line, as CloudWatch Logs Insights reads them.
fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_ansi(false).with_target(false).init();
}
