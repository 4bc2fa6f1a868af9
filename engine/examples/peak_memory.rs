//! Peak memory of the maximum batch (1,000 records x 100 events), measured as the process's
//! high-water mark of resident memory (Linux `VmHWM`), the figure Lambda bills; each measurement
//! in a process of its own, so one run's allocations cannot hide another's:
//!
//! - `plain`: the pipeline without transforms;
//! - `chain`: filter, redact and extract (precompiled);
//!
//! both with the `_bulk` bodies handed over as they complete and dropped once shipped, as the
//! Lambda's handler streams them (one in flight at a time).
//!
//! Each starts from the Kinesis event as JSON text, as Lambda hands it over.

use std::path::{Path, PathBuf};
use std::time::Instant;

use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::{Limits, WasmHost, precompile};
use sluicegate_engine::{Outcome, Pipeline, PipelineConfig};
use sluicegate_tests::guests;

const CHAIN: &str = r#"{"transforms":[
    {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
    {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
    {"name":"extract","module":"extract.wasm","config":{}}
]}"#;

fn main() {
    sluicegate_engine::allocator::tune();
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        [_, flag, path] if flag == "--generate" => {
            let event = kinesis_event(CorpusSpec::MAXIMUM);
            std::fs::write(path, serde_json::to_vec(&event).expect("the corpus serializes")).expect("write the batch");
        }
        [_, flag, mode, batch, folder] if flag == "--measure" => measure(mode, Path::new(batch), Path::new(folder)),
        _ => {
            let folder = std::env::temp_dir().join(format!("sluicegate-peak-memory-{}", std::process::id()));
            std::fs::create_dir_all(&folder).expect("create a scratch folder");
            let batch = folder.join("batch.json");
            run_child(&["--generate", &batch.to_string_lossy()]);
            prepare_chain(&folder);
            for mode in ["plain", "chain"] {
                run_child(&["--measure", mode, &batch.to_string_lossy(), &folder.to_string_lossy()]);
            }
            let _ = std::fs::remove_dir_all(&folder);
        }
    }
}

fn run_child(args: &[&str]) {
    let exe = std::env::current_exe().expect("own path");
    let status = std::process::Command::new(exe).args(args).status().expect("run a child");
    assert!(status.success(), "the child {args:?} failed");
}

/// The chain's pipeline file and modules, each `.wasm` with a `.cwasm` for this machine, so the
/// measuring process loads native code instead of compiling (the Lambda's warm-cache start).
fn prepare_chain(folder: &Path) {
    std::fs::write(folder.join("pipeline.json"), CHAIN).expect("write the pipeline");
    for name in ["filter", "redact", "extract"] {
        let bytes = std::fs::read(guests::module(name)).expect("a built module");
        std::fs::write(folder.join(format!("{name}.wasm")), &bytes).expect("copy the module");
        let code = precompile(&bytes, &Limits::default(), None).expect("the module compiles");
        std::fs::write(folder.join(format!("{name}.cwasm")), code).expect("write the compiled module");
    }
}

fn measure(mode: &str, batch: &Path, folder: &Path) {
    let mut pipeline = match mode {
        "plain" => Pipeline::new(PipelineConfig::default()),
        _ => {
            let path: PathBuf = folder.join("pipeline.json");
            let file = PipelineFile::read(&path).expect("the pipeline reads");
            let host = WasmHost::new(file.limits).expect("the wasm host starts");
            let chain = file.start(&host, &path).expect("the chain starts");
            assert!(chain.precompiled().all(|(_, precompiled)| precompiled), "every module loads precompiled");
            Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain))
        }
    };
    let event_json = std::fs::read(batch).expect("read the batch");
    let before = resident_kib();
    let started = Instant::now();
    let event_json_len = event_json.len();
    let event: KinesisEvent = serde_json::from_slice(&event_json).expect("the corpus parses");
    drop(event_json);
    // Each body is dropped as soon as it is handed over: shipped, as far as memory goes.
    let outcome: Outcome = pipeline.run_streaming(&event, None, drop);
    let elapsed = started.elapsed();
    let peak = high_water_mark_kib();
    let summary = outcome.summary();
    println!(
        "{mode}: maximum batch, {} records, {} events in {:.1?} ({:.0} events/s); bulk {} bytes in {} bodies; archive {} bytes",
        summary.records,
        summary.events_in,
        elapsed,
        summary.events_in as f64 / elapsed.as_secs_f64(),
        summary.bulk_bytes,
        summary.bulk_requests,
        outcome.archive.iter().map(|object| object.body.len()).sum::<usize>()
    );
    match (peak, before) {
        (Some(peak), Some(before)) => println!(
            "{mode}: peak resident memory {:.1} MB, of which {:.1} MB before the batch (the engine, modules and the event as JSON text, {:.1} MB); budget 100 MB",
            peak as f64 / 1024.0,
            before as f64 / 1024.0,
            event_json_len as f64 / 1e6
        ),
        _ => println!("{mode}: peak resident memory not available on this platform"),
    }
}

fn status_field_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn high_water_mark_kib() -> Option<u64> {
    status_field_kib("VmHWM:")
}

fn resident_kib() -> Option<u64> {
    status_field_kib("VmRSS:")
}
