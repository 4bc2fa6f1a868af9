//! The subcommands of the `sluicegate` command line, one file each.

pub mod check;
pub mod compile;
pub mod new;
pub mod redrive;
pub mod replay;
pub mod run;
pub mod setup;

use anyhow::Context as _;
use sluicegate_lambda::es::EsConfig;
use sluicegate_lambda::loader::{self, LoadedPipeline, LoaderOptions, ObjectStore, PipelineSource, S3Store, S3Uri};

/// Loads the pipeline at `pipeline` (a path or an `s3://` URI) with the Lambda's own loader:
/// S3 through `s3_endpoint` when given, compiled modules read (never written) from
/// `module_cache`. Warnings go to stderr.
pub async fn load_pipeline(pipeline: &str, s3_endpoint: Option<&str>, module_cache: Option<&str>) -> anyhow::Result<LoadedPipeline> {
    let source = PipelineSource::parse(pipeline).map_err(anyhow::Error::msg).context("--pipeline")?;
    let module_cache = module_cache.map(S3Uri::parse_prefix).transpose().map_err(anyhow::Error::msg).context("--module-cache")?;
    let store = LazyS3 { endpoint: s3_endpoint.map(str::to_owned), store: tokio::sync::OnceCell::new() };
    let options = LoaderOptions { module_cache, write_cache: false, precompiled_dir: None };
    let loaded = loader::load(&source, Some(&store), &options).await?;
    for warning in &loaded.report.warnings {
        eprintln!("sluicegate: warning: {warning}");
    }
    Ok(loaded)
}

/// S3, with the client made on first use: a pipeline of local files never loads the AWS
/// configuration (which may look for a region on the network).
struct LazyS3 {
    endpoint: Option<String>,
    store: tokio::sync::OnceCell<S3Store>,
}

impl LazyS3 {
    async fn store(&self) -> &S3Store {
        self.store
            .get_or_init(|| async {
                let sdk_config = sluicegate_lambda::aws::sdk_config().await;
                S3Store::new(&sdk_config, self.endpoint.as_deref(), None)
            })
            .await
    }
}

impl ObjectStore for LazyS3 {
    async fn get(&self, uri: &S3Uri) -> Result<Option<Vec<u8>>, String> {
        self.store().await.get(uri).await
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), String> {
        self.store().await.put(uri, body).await
    }
}

/// The Elasticsearch client's configuration from the command line's options, and for the rest
/// (secrets, `SLUICEGATE_ES_COLLECTION_TYPE`, timeouts) from the environment as the Lambda reads it.
pub fn es_config(url: &str, auth: Option<&str>, username: Option<&str>, bulk_action: Option<&str>) -> anyhow::Result<EsConfig> {
    let get = |name: &str| match name {
        "SLUICEGATE_ES_URL" => Some(url.to_owned()),
        "SLUICEGATE_ES_AUTH" => auth.map(str::to_owned),
        "SLUICEGATE_ES_USERNAME" => username.map(str::to_owned),
        "SLUICEGATE_BULK_ACTION" => bulk_action.map(str::to_owned),
        _ => std::env::var(name).ok(),
    };
    EsConfig::from_env(get).context("--es-url")
}

/// A tokio runtime on this thread, for the commands that talk to servers.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("cannot start the tokio runtime")
}
