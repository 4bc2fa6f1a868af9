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
use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::Config;
use sluicegate_lambda::es::{EsClient, EsConfig};
use sluicegate_lambda::handler::{Handler, deadline_from_epoch_ms};
use sluicegate_lambda::loader::{self, LoadReport, LoaderOptions, S3Store};

fn main() -> std::process::ExitCode {
    // Before anything allocates: batch after batch reuses its buffers (engine's allocator.rs).
    sluicegate_engine::allocator::tune();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
        .and_then(|runtime| runtime.block_on(run()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // One line with every cause, which CloudWatch Logs keeps as one event: the reason
            // the function did not start (a bad variable, a module that does not match its
            // digest, a configuration a transform refuses).
            eprintln!("sluicegate: init failed: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let get = |name: &str| std::env::var(name).ok();
    let mut config = Config::from_env(get).context("bad configuration")?;
    init_logs(&config.log_level);
    let es_config = EsConfig::from_env(get).context("bad configuration")?;
    config.pipeline.document_ids = es_config.sends_ids();

    let sdk_config = sluicegate_lambda::aws::sdk_config().await;
    let s3_client = S3Archive::client(&sdk_config, &config.s3);
    let archive = S3Archive::new(s3_client, &config.s3);
    let es_client = EsClient::new(es_config, sdk_config.credentials_provider()).context("cannot build the elasticsearch client")?;
    let mut transforms: Vec<String> = Vec::new();
    let pipeline = match &config.pipeline_source {
        Some(source) => {
            // The transforms load once per container; their instances are reused across batches.
            let store = S3Store::new(&sdk_config, config.s3.endpoint.as_deref(), config.s3.kms_key_id.clone());
            let options = LoaderOptions {
                module_cache: config.module_cache.clone(),
                write_cache: true,
                precompiled_dir: Some(config.precompiled_dir.clone()),
            };
            let loaded = loader::load(source, Some(&store), &options).await.with_context(|| format!("SLUICEGATE_PIPELINE={source}"))?;
            for warning in &loaded.report.warnings {
                tracing::warn!("{warning}");
            }
            log_load(&loaded.report);
            let mut pipeline_config = config.pipeline.clone();
            loaded.file.apply_to(&mut pipeline_config);
            transforms = loaded.chain.names().map(str::to_owned).collect();
            Pipeline::with_transforms(pipeline_config, Box::new(loaded.chain))
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
        let handled = handler.handle(event.payload, deadline).await;
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

/// One log line on how the transforms loaded: where each module's code came from and where the
/// time went, so a slow cold start says why.
fn log_load(report: &LoadReport) {
    let modules: Vec<String> =
        report.modules.iter().map(|module| format!("{}:{:?}:{}", module.name, module.origin, module.n_bytes)).collect();
    tracing::info!(
        modules = ?modules,
        read_ms = report.read.as_millis() as u64,
        compile_ms = report.compile.as_millis() as u64,
        cache_write_ms = report.cache_write.as_millis() as u64,
        total_ms = report.total.as_millis() as u64,
        "transforms loaded"
    );
}

/// JSON logs on stdout, one object per line, as CloudWatch Logs Insights reads them.
fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_ansi(false).with_target(false).init();
}
