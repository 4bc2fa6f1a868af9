//! One invocation of the maximum batch (1,000 records of 100 events) through the real handler
//! with the default chain (filter, redact, extract, precompiled) and the archive, against a
//! `_bulk` server that answers every request after 30 ms (the fake from the tests, answering
//! without parsing what it gets) and an S3 stand-in that takes 30 ms a put. The handler ships
//! bodies while the batch is still being worked on, so the invocation should cost about the
//! larger of its time without network (the same handler and client against the same server
//! answering at once, so that the client's own work, compressing and framing the bodies, counts
//! as the CPU it is) and its network time (the same bodies and objects shipped with nothing else
//! to do), not their sum: target at most 1.2 times it. Medians of five runs each, alternated.

use std::time::{Duration, Instant};

use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::{Limits, WasmHost, precompile};
use sluicegate_engine::{Pipeline, PipelineConfig};
use sluicegate_lambda::es::{EsClient, EsConfig};
use sluicegate_lambda::handler::Handler;
use sluicegate_lambda::sink::{ArchiveSink, BulkSink, PutError};
use sluicegate_tests::fault_server::{FaultyBulkServer, Script, Step};
use sluicegate_tests::guests;

const LATENCY: Duration = Duration::from_millis(30);

fn main() {
    sluicegate_engine::allocator::tune();
    let event = std::sync::Arc::new(kinesis_event(CorpusSpec::MAXIMUM));
    let folder = chain_folder();
    let server = bulk_server(LATENCY);
    let server_at_once = bulk_server(Duration::ZERO);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut cpu, mut network, mut both) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let client_at_once = EsClient::new(EsConfig::new(server_at_once.url()), None).unwrap();
        cpu.push(runtime.block_on(invoke(&event, pipeline(&folder), client_at_once, AtOnce)));
        let client = EsClient::new(EsConfig::new(server.url()), None).unwrap();
        network.push(runtime.block_on(network_alone(&event, &folder, &client)));
        both.push(runtime.block_on(invoke(&event, pipeline(&folder), client, SlowArchive)));
    }
    let (cpu, network, both) = (median(cpu), median(network), median(both));
    let bound = cpu.max(network);
    println!("invocation, maximum batch, default chain, archive; _bulk and S3 at {} ms each, medians of 5:", LATENCY.as_millis());
    println!("  without network (the same client, answered at once; S3 at once): {cpu:.1?}");
    println!("  the network alone (the same bodies and objects, nothing else): {network:.1?}");
    println!(
        "  the invocation: {both:.1?}, {:.2}x max(CPU, network) (target 1.2x; their sum would be {:.2}x)",
        both.as_secs_f64() / bound.as_secs_f64(),
        (cpu + network).as_secs_f64() / bound.as_secs_f64()
    );
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A folder with the default chain's pipeline file and its modules precompiled for this machine.
fn chain_folder() -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("sluicegate-invocation-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("pipeline.json"),
        r#"{"transforms":[
            {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
            {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
            {"name":"extract","module":"extract.wasm","config":{}}]}"#,
    )
    .unwrap();
    for name in ["filter", "redact", "extract"] {
        let bytes = std::fs::read(guests::module(name)).unwrap();
        std::fs::write(folder.join(format!("{name}.wasm")), &bytes).unwrap();
        std::fs::write(folder.join(format!("{name}.cwasm")), precompile(&bytes, &Limits::default(), None).unwrap()).unwrap();
    }
    folder
}

fn pipeline(folder: &std::path::Path) -> Pipeline {
    let path = folder.join("pipeline.json");
    let file = PipelineFile::read(&path).unwrap();
    let host = WasmHost::new(file.limits).unwrap();
    Pipeline::with_transforms(PipelineConfig::default(), Box::new(file.start(&host, &path).unwrap()))
}

/// The fake `_bulk` server answering every request after `latency`, on a runtime of its own.
fn bulk_server(latency: Duration) -> FaultyBulkServer {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.block_on(async {
            let script = Script { steps: Vec::new(), then: Step::Latency(latency), max_body_bytes: None };
            sender.send(FaultyBulkServer::start(script).await).unwrap();
            std::future::pending::<()>().await
        });
    });
    receiver.recv().unwrap()
}

async fn invoke<B: BulkSink, A: ArchiveSink>(event: &std::sync::Arc<KinesisEvent>, pipeline: Pipeline, bulk: B, archive: A) -> Duration {
    let handler = Handler::new(pipeline, bulk, archive, "dead-letter");
    let started = Instant::now();
    let handled = handler.handle(std::sync::Arc::clone(event), started + Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    assert!(handled.batch_item_failures.is_empty(), "every record delivered");
    elapsed
}

/// The bodies and objects of the batch, made first (not timed), then shipped as the handler
/// would: the bodies through the client, the objects beside them.
async fn network_alone(event: &KinesisEvent, folder: &std::path::Path, client: &EsClient) -> Duration {
    let outcome = pipeline(folder).run(event, None);
    let started = Instant::now();
    let puts = futures_util::future::join_all(outcome.archive.iter().map(|object| SlowArchive.put(&object.key, Vec::new(), started)));
    let (report, _) = tokio::join!(client.ship(&outcome.bulk, started + Duration::from_secs(600)), puts);
    assert!(report.undelivered_records().is_empty());
    started.elapsed()
}

/// An S3 stand-in that answers at once: the invocation's time without network.
#[derive(Clone, Copy)]
struct AtOnce;

impl ArchiveSink for AtOnce {
    async fn put(&self, _key: &str, _body: Vec<u8>, _deadline: Instant) -> Result<(), PutError> {
        Ok(())
    }
}

/// An S3 stand-in that takes [`LATENCY`] a put.
struct SlowArchive;

impl ArchiveSink for SlowArchive {
    async fn put(&self, _key: &str, _body: Vec<u8>, _deadline: Instant) -> Result<(), PutError> {
        tokio::time::sleep(LATENCY).await;
        Ok(())
    }
}
