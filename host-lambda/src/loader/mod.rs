//! Loading a pipeline the way the Lambda does: the same code for `bootstrap`, `sluicegate run`
//! and `sluicegate check`, so a user reproduces locally what is deployed.
//!
//! A pipeline is a file or an S3 object (`SLUICEGATE_PIPELINE`). Its modules are files or S3
//! objects pinned by their SHA-256. For each pinned module the loader tries, in order: a sealed
//! artifact in the precompiled folder (a layer's `/opt/sluicegate/compiled/<sha256>.cwasm`), a
//! sealed artifact in the compiled-module cache (`<cache>/<sha256>/<engine key>.cwasm`), and
//! otherwise fetches the `.wasm`, checks its digest, compiles it (the modules in parallel) and
//! stores the sealed artifact in the cache for the next cold start. An artifact that does not
//! load is a warning and the module is compiled; a module that is missing, does not match its
//! digest or fails `init` stops the load, naming the transform, so no partial chain ever runs.

mod source;
mod store;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluicegate_engine::pipeline_file::{ModuleRef, PipelineFile, PipelineFileError, TransformEntry, check_digest};
use sluicegate_engine::wasm::{Chain, LoadedModule, WasmError, WasmHost};
pub use source::{PipelineSource, S3Uri};
pub use store::{ObjectStore, S3Store};

/// Where the loader finds and keeps compiled modules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoaderOptions {
    /// The compiled-module cache (`SLUICEGATE_MODULE_CACHE`), read and written.
    pub module_cache: Option<S3Uri>,
    /// Whether to write artifacts into the cache (the Lambda does; `sluicegate run` only reads).
    pub write_cache: bool,
    /// A folder of sealed artifacts named `<sha256>.cwasm`, read only (a layer's).
    pub precompiled_dir: Option<PathBuf>,
}

/// The precompiled folder a layer made by `cargo xtask dist` provides.
pub const LAYER_PRECOMPILED_DIR: &str = "/opt/sluicegate/compiled";

/// A pipeline whose chain has started.
pub struct LoadedPipeline {
    /// The pipeline as read.
    pub file: PipelineFile,
    /// The started chain.
    pub chain: Chain,
    /// How each module was loaded and how long it took.
    pub report: LoadReport,
}

impl std::fmt::Debug for LoadedPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPipeline").field("file", &self.file).field("report", &self.report).finish_non_exhaustive()
    }
}

/// What loading did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// One entry per transform, in chain order.
    pub modules: Vec<ModuleLoad>,
    /// Time spent reading the pipeline, artifacts and modules (S3 or files).
    pub read: Duration,
    /// Time spent compiling (wall time; the modules compile in parallel).
    pub compile: Duration,
    /// Time spent putting artifacts into the cache.
    pub cache_write: Duration,
    /// Everything, from the first read to the started chain.
    pub total: Duration,
    /// What did not stop the load but should be seen: artifacts refused, cache writes failed.
    pub warnings: Vec<String>,
}

/// How one module was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLoad {
    /// The transform.
    pub name: String,
    /// Where its code came from.
    pub origin: Origin,
    /// The module's size in bytes (of the `.wasm` when it was read, else of the artifact).
    pub n_bytes: usize,
}

/// Where a module's code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A sealed artifact in the precompiled folder.
    Precompiled,
    /// A sealed artifact in the compiled-module cache.
    Cache,
    /// Compiled from the `.wasm` at start.
    Compiled,
    /// A module file loaded by path (its `.cwasm` beside it when usable, else compiled).
    File {
        /// Whether a `.cwasm` was used.
        precompiled: bool,
    },
}

/// Why a pipeline did not load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The pipeline could not be read.
    #[error("cannot read pipeline {location}: {reason}")]
    Read {
        /// The pipeline's path or URI.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// The pipeline is invalid, or a transform failed to load or start.
    #[error(transparent)]
    Pipeline(#[from] PipelineFileError),
    /// A transform's module could not be had.
    #[error("pipeline {location}: transform {name}: {reason}")]
    Module {
        /// The pipeline's path or URI.
        location: String,
        /// The transform.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The Wasm engine could not start.
    #[error(transparent)]
    Engine(WasmError),
}

/// Reads the pipeline at `source`, loads its modules through `store` (needed for `s3://`
/// pipelines and modules) and starts the chain.
pub async fn load(source: &PipelineSource, store: Option<&impl ObjectStore>, options: &LoaderOptions) -> Result<LoadedPipeline, LoadError> {
    let started = Instant::now();
    let location = source.to_string();
    let read_error = |reason: String| LoadError::Read { location: location.clone(), reason };
    let (text, folder) = match source {
        PipelineSource::File(path) => {
            let text = std::fs::read(path).map_err(|error| read_error(error.to_string()))?;
            (text, path.parent().map(Path::to_owned).unwrap_or_default())
        }
        PipelineSource::S3(uri) => {
            let store = store.ok_or_else(|| read_error("an s3:// pipeline needs S3 (no S3 client was configured)".to_owned()))?;
            let text = store.get(uri).await.map_err(read_error)?.ok_or_else(|| read_error("no such object".to_owned()))?;
            (text, PathBuf::new())
        }
    };
    let text = String::from_utf8(text).map_err(|_| read_error("not UTF-8 text".to_owned()))?;
    let file = PipelineFile::parse(&text, &folder).map_err(|reason| PipelineFileError::Invalid { location: location.clone(), reason })?;
    let host = WasmHost::new(file.limits).map_err(LoadError::Engine)?;
    let mut report = LoadReport { read: started.elapsed(), ..LoadReport::default() };

    let module_error =
        |entry: &TransformEntry, reason: String| LoadError::Module { location: location.clone(), name: entry.name.clone(), reason };
    // Where each module is, as an S3 object or a file; S3 modules must be pinned.
    let mut fetched: Vec<Option<Fetched>> = Vec::with_capacity(file.transforms.len());
    let mut wanted = Vec::new();
    for (transform_idx, entry) in file.transforms.iter().enumerate() {
        let uri = match (&entry.module, source) {
            (ModuleRef::Uri(uri), _) => Some(S3Uri::parse(uri).map_err(|reason| module_error(entry, reason))?),
            // In an S3 pipeline a relative module is an object next to the pipeline.
            (ModuleRef::Path(path), PipelineSource::S3(pipeline)) if path.is_relative() => Some(pipeline.sibling(&path.to_string_lossy())),
            (ModuleRef::Path(_), _) => None,
        };
        if let Some(uri) = uri {
            let sha256 = entry.sha256.clone().ok_or_else(|| {
                module_error(entry, format!("module {uri} has no sha256: a module fetched from S3 must be pinned by its digest"))
            })?;
            if store.is_none() {
                return Err(module_error(entry, format!("module {uri} needs S3 (no S3 client was configured)")));
            }
            wanted.push((transform_idx, uri, sha256));
        }
        fetched.push(None);
    }

    // Artifacts first: precompiled folder, then the cache; what is left is fetched and compiled.
    let read_started = Instant::now();
    let store_ref = store;
    let lookups = wanted.iter().map(|(transform_idx, _, sha256)| {
        let entry = &file.transforms[*transform_idx];
        let host = &host;
        async move { find_artifact(host, entry, sha256, store_ref, options).await }
    });
    let artifacts = futures_util::future::join_all(lookups).await;
    let mut to_compile = Vec::new();
    for ((transform_idx, uri, sha256), (artifact, warnings)) in wanted.into_iter().zip(artifacts) {
        report.warnings.extend(warnings);
        match artifact {
            Some(found) => fetched[transform_idx] = Some(found),
            None => to_compile.push((transform_idx, uri, sha256)),
        }
    }
    let store_for_fetch = store;
    let fetches = to_compile.iter().map(|(_, uri, _)| async move {
        match store_for_fetch {
            Some(store) => store.get(uri).await,
            None => Err("no S3 client".to_owned()),
        }
    });
    let mut wasm_bytes = Vec::with_capacity(to_compile.len());
    for ((transform_idx, uri, sha256), result) in to_compile.iter().zip(futures_util::future::join_all(fetches).await) {
        let entry = &file.transforms[*transform_idx];
        let bytes = result
            .map_err(|reason| module_error(entry, format!("cannot read module {uri}: {reason}")))?
            .ok_or_else(|| module_error(entry, format!("module {uri} does not exist")))?;
        check_digest(&entry.name, &uri.to_string(), &bytes, sha256)
            .map_err(|source| PipelineFileError::Transform { location: location.clone(), error: source })?;
        wasm_bytes.push(bytes);
    }
    report.read += read_started.elapsed();

    // Compile what is left, the modules in parallel, as a cold start with an empty cache must.
    let compile_started = Instant::now();
    let compiled: Vec<Result<LoadedModule, WasmError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = to_compile
            .iter()
            .zip(&wasm_bytes)
            .map(|((transform_idx, uri, _), bytes)| {
                let host = &host;
                let name = &file.transforms[*transform_idx].name;
                scope.spawn(move || host.compile(name, Path::new(&uri.to_string()), bytes))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or_else(|_| Err(WasmError::Engine { reason: "the compiler panicked".to_owned() })))
            .collect()
    });
    report.compile = compile_started.elapsed();
    let mut sealed = Vec::new();
    for (((transform_idx, _, sha256), bytes), module) in to_compile.iter().zip(&wasm_bytes).zip(compiled) {
        let module = module.map_err(|source| PipelineFileError::Transform { location: location.clone(), error: source })?;
        if options.write_cache && options.module_cache.is_some() {
            match host.seal(&module, sha256) {
                Ok(artifact) => sealed.push((sha256.clone(), artifact)),
                Err(error) => report.warnings.push(format!("transform {}: not cached: {error}", file.transforms[*transform_idx].name)),
            }
        }
        fetched[*transform_idx] = Some(Fetched { module, origin: Origin::Compiled, n_bytes: bytes.len() });
    }

    // Store the new artifacts for the next cold start; a failure costs only that start's compile.
    if let (Some(cache), Some(store)) = (&options.module_cache, store)
        && !sealed.is_empty()
    {
        let write_started = Instant::now();
        let key = host.compatibility_key();
        let puts = sealed.into_iter().map(|(sha256, artifact)| {
            let uri = artifact_uri(cache, &sha256, &key);
            async move { store.put(&uri, artifact).await.map_err(|reason| format!("cannot store the compiled module {uri}: {reason}")) }
        });
        report.warnings.extend(futures_util::future::join_all(puts).await.into_iter().filter_map(Result::err));
        report.cache_write = write_started.elapsed();
    }

    // Modules given as files load as they always have: a `.cwasm` beside them when usable.
    let mut modules = Vec::with_capacity(file.transforms.len());
    for (entry, fetched) in file.transforms.iter().zip(fetched) {
        let fetched = match fetched {
            Some(fetched) => fetched,
            None => load_file(&host, entry).map_err(|source| PipelineFileError::Transform { location: location.clone(), error: source })?,
        };
        report.modules.push(ModuleLoad { name: entry.name.clone(), origin: fetched.origin, n_bytes: fetched.n_bytes });
        modules.push(fetched.module);
    }
    let chain = file.start_modules(&host, modules, &location)?;
    report.total = started.elapsed();
    Ok(LoadedPipeline { file, chain, report })
}

/// A module loaded, and where from.
struct Fetched {
    module: LoadedModule,
    origin: Origin,
    n_bytes: usize,
}

/// The cache object of the module `sha256` compiled by an engine with compatibility key `key`.
pub fn artifact_uri(cache: &S3Uri, sha256: &str, key: &str) -> S3Uri {
    cache.join(&format!("{sha256}/{key}.cwasm"))
}

/// A sealed artifact of `entry`'s module from the precompiled folder or the cache, with the
/// warnings about artifacts that were there but did not load.
async fn find_artifact(
    host: &WasmHost,
    entry: &TransformEntry,
    sha256: &str,
    store: Option<&impl ObjectStore>,
    options: &LoaderOptions,
) -> (Option<Fetched>, Vec<String>) {
    let mut warnings = Vec::new();
    if let Some(dir) = &options.precompiled_dir {
        let path = dir.join(format!("{sha256}.cwasm"));
        if let Ok(sealed) = std::fs::read(&path) {
            match host.load_sealed(&entry.name, sha256, &sealed) {
                Ok(module) => return (Some(Fetched { module, origin: Origin::Precompiled, n_bytes: sealed.len() }), warnings),
                Err(error) => warnings.push(format!("transform {}: {} not used: {error}", entry.name, path.display())),
            }
        }
    }
    if let (Some(cache), Some(store)) = (&options.module_cache, store) {
        let uri = artifact_uri(cache, sha256, &host.compatibility_key());
        match store.get(&uri).await {
            Ok(Some(sealed)) => match host.load_sealed(&entry.name, sha256, &sealed) {
                Ok(module) => return (Some(Fetched { module, origin: Origin::Cache, n_bytes: sealed.len() }), warnings),
                Err(error) => warnings.push(format!("transform {}: cached {uri} not used, compiling instead: {error}", entry.name)),
            },
            Ok(None) => {}
            // S3 answers a missing key with 403, not 404, to a role without s3:ListBucket on the
            // bucket, which the function's role does not need: a miss, as expected on the
            // first cold start after a module changes.
            Err(reason) if reason.contains("AccessDenied") => {}
            Err(reason) => warnings.push(format!("transform {}: cannot read the module cache {uri}: {reason}", entry.name)),
        }
    }
    (None, warnings)
}

/// Loads a module given as a path (`TransformEntry::load_file`), with its size.
fn load_file(host: &WasmHost, entry: &TransformEntry) -> Result<Fetched, WasmError> {
    let n_bytes = match &entry.module {
        ModuleRef::Path(path) => std::fs::metadata(path.with_extension("wasm")).map_or(0, |metadata| metadata.len() as usize),
        ModuleRef::Uri(_) => 0,
    };
    let module = entry.load_file(host)?;
    let precompiled = module.precompiled;
    Ok(Fetched { module, origin: Origin::File { precompiled }, n_bytes })
}
