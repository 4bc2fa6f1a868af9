//! The Lambda's cold start with the three built-in transforms, through the real loader (the code
//! `bootstrap` runs) with S3 replaced by memory, so the figures are the function's own time
//! besides the S3 reads: with a warm compiled-module cache (targets 50 ms), and with an empty
//! one (every module fetched, checked and compiled; target 1.5 s for the three). The module
//! sizes are printed first (target 1.2 MB together).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;
use sluicegate_engine::pipeline_file::sha256_hex;
use sluicegate_lambda::loader::{self, LoaderOptions, ObjectStore, Origin, PipelineSource, S3Uri};
use sluicegate_tests::guests;

const BUILT_IN: [&str; 3] = ["filter", "redact", "extract"];

fn main() {
    sluicegate_engine::allocator::tune();
    let mut total = 0;
    for name in BUILT_IN {
        let n_bytes = std::fs::metadata(guests::module(name)).unwrap().len();
        total += n_bytes;
        eprintln!("module {name}: {n_bytes} bytes");
    }
    eprintln!("modules together: {total} bytes ({:.2} MB)", total as f64 / 1e6);
    divan::main();
}

/// Objects in memory, as S3 would hold them.
#[derive(Default)]
struct MemoryStore(Mutex<HashMap<String, Vec<u8>>>);

impl ObjectStore for MemoryStore {
    async fn get(&self, uri: &S3Uri) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.lock().unwrap().get(&uri.to_string()).cloned())
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), String> {
        self.0.lock().unwrap().insert(uri.to_string(), body);
        Ok(())
    }
}

/// The modules and the demo pipeline as the Terraform module uploads them; the pipeline's source.
fn deployed() -> (MemoryStore, PipelineSource) {
    let store = MemoryStore::default();
    let mut transforms = Vec::new();
    for (name, config) in BUILT_IN.iter().zip([
        json!({"drop": [{"message": "GET /healthz"}, {"field": "level", "in": ["DEBUG", "TRACE"]}]}),
        json!({"mode": "mask"}),
        json!({}),
    ]) {
        let bytes = std::fs::read(guests::module(name)).unwrap();
        let sha256 = sha256_hex(&bytes);
        let uri = format!("s3://artifacts/sluicegate/modules/{sha256}.wasm");
        store.0.lock().unwrap().insert(uri.clone(), bytes);
        transforms.push(json!({"name": name, "module": uri, "sha256": sha256, "config": config, "on_error": "pass"}));
    }
    let pipeline = json!({ "transforms": transforms }).to_string();
    let uri = "s3://artifacts/sluicegate/pipelines/p.json";
    store.0.lock().unwrap().insert(uri.to_owned(), pipeline.into_bytes());
    (store, PipelineSource::parse(uri).unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Init to ready when every module is in the compiled-module cache.
#[divan::bench(sample_count = 20)]
fn init_warm_cache(bencher: divan::Bencher) {
    let (store, source) = deployed();
    let options = LoaderOptions {
        module_cache: Some(S3Uri::parse_prefix("s3://artifacts/sluicegate/compiled").unwrap()),
        write_cache: true,
        precompiled_dir: None,
    };
    let runtime = runtime();
    // The first start fills the cache; a module that did not come from it would time compiling.
    runtime.block_on(loader::load(&source, Some(&store), &options)).unwrap();
    let warm = runtime.block_on(loader::load(&source, Some(&store), &options)).unwrap();
    assert!(warm.report.modules.iter().all(|module| module.origin == Origin::Cache), "{:?}", warm.report);
    bencher.bench_local(|| runtime.block_on(loader::load(&source, Some(&store), &options)).unwrap());
}

/// Init to ready with an empty cache: the three modules fetched, checked and compiled.
#[divan::bench(sample_count = 5)]
fn init_empty_cache(bencher: divan::Bencher) {
    let (store, source) = deployed();
    let options = LoaderOptions::default();
    let runtime = runtime();
    let loaded = runtime.block_on(loader::load(&source, Some(&store), &options)).unwrap();
    assert!(loaded.report.modules.iter().all(|module| module.origin == Origin::Compiled));
    eprintln!("empty cache: compile {:?} of {:?} in all", loaded.report.compile, loaded.report.total);
    bencher.bench_local(|| runtime.block_on(loader::load(&source, Some(&store), &options)).unwrap());
}
