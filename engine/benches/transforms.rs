//! The transform path: the standard corpus through filter, redact and extract (real Wasm) to
//! `_bulk` bodies and the archive object, in events per second; start-up to ready with the three
//! transforms precompiled and compiled from `.wasm`; and what bisection costs when one event of a
//! batch traps.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use divan::counter::ItemsCount;
use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::transform::Transforms;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost, precompile};
use sluicegate_engine::{Context, Event, Pipeline, PipelineConfig};

#[path = "../tests/it/guests.rs"]
mod guests;

fn main() {
    divan::main();
}

const PIPELINE: &str = r#"{"transforms":[
    {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
    {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
    {"name":"extract","module":"extract.wasm","config":{}}
]}"#;

/// Two folders with the demo pipeline file and the three modules: one with `.cwasm` files next to
/// them, one without.
fn folders() -> &'static (PathBuf, PathBuf) {
    static FOLDERS: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FOLDERS.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("sluicegate-bench-{}", std::process::id()));
        let precompiled = base.join("precompiled");
        let wasm_only = base.join("wasm");
        for folder in [&precompiled, &wasm_only] {
            std::fs::create_dir_all(folder).unwrap();
            std::fs::write(folder.join("pipeline.json"), PIPELINE).unwrap();
            for name in ["filter", "redact", "extract"] {
                std::fs::copy(guests::module(name), folder.join(format!("{name}.wasm"))).unwrap();
            }
        }
        for name in ["filter", "redact", "extract"] {
            let bytes = std::fs::read(guests::module(name)).unwrap();
            std::fs::write(precompiled.join(format!("{name}.cwasm")), precompile(&bytes, &Limits::default(), None).unwrap()).unwrap();
        }
        (precompiled, wasm_only)
    })
}

fn start(host: &WasmHost, folder: &Path) -> Chain {
    let path = folder.join("pipeline.json");
    PipelineFile::read(&path).unwrap().start(host, &path).unwrap()
}

/// Decode, filter, redact, extract, `_bulk` bodies and archive object (target 300,000 events/s).
#[divan::bench(sample_count = 20)]
fn standard_chain_to_bulk_and_archive(bencher: divan::Bencher) {
    let host = WasmHost::new(Limits::default()).unwrap();
    let chain = start(&host, &folders().0);
    let batch = kinesis_event(CorpusSpec::STANDARD);
    let mut pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    // Where the time goes, once, next to divan's table.
    let timings = pipeline.run(&batch, None).timings;
    eprintln!(
        "stages: decode {:?}, transforms {:?} ({}), encode {:?}",
        timings.decode,
        timings.transform,
        timings.per_transform.iter().map(|(name, duration)| format!("{name} {duration:?}")).collect::<Vec<_>>().join(", "),
        timings.encode
    );
    bencher.counter(ItemsCount::new(10_000usize)).bench_local(|| pipeline.run(&batch, None));
}

/// Start-up to ready (engine, three `.cwasm` modules loaded, instances made and configured;
/// target 20 ms).
#[divan::bench(sample_count = 20)]
fn startup_precompiled(bencher: divan::Bencher) {
    let folder = &folders().0;
    bencher.bench_local(|| {
        let host = WasmHost::new(Limits::default()).unwrap();
        start(&host, folder)
    });
}

/// Start-up to ready compiling the three modules from `.wasm`.
#[divan::bench(sample_count = 3)]
fn startup_compiled(bencher: divan::Bencher) {
    let folder = &folders().1;
    bencher.bench_local(|| {
        let host = WasmHost::new(Limits::default()).unwrap();
        start(&host, folder)
    });
}

fn hostile_batch(n_events: usize, poison: Option<&'static str>) -> (Vec<Context<'static>>, Vec<Event<'static>>) {
    let contexts = vec![Context { owner: Cow::Borrowed("1"), log_group: Cow::Borrowed("/g"), log_stream: Cow::Borrowed("s") }];
    let events = (0..n_events)
        .map(|event_idx| Event {
            record_idx: 0,
            context_idx: 0,
            id: Cow::Owned(event_idx.to_string()),
            timestamp: 0,
            message: Cow::Borrowed(if Some(event_idx) == n_events.checked_sub(1).map(|last| last / 3) {
                poison.unwrap_or("fine")
            } else {
                "fine"
            }),
            fields: None,
            index: None,
        })
        .collect();
    (contexts, events)
}

/// A batch of 1,000 events through the hostile test guest: none traps, one panics (bisection
/// with fresh instances), one loops (bisection where every trapping call waits for its 10 ms
/// deadline).
#[divan::bench(args = ["none", "panic", "loop"], sample_count = 10)]
fn bisection_one_trapping_event_in_1000(bencher: divan::Bencher, poison: &str) {
    let host = WasmHost::new(Limits { call_timeout: Duration::from_millis(10), ..Limits::default() }).unwrap();
    let module = host.load("hostile", &guests::module("test_guest")).unwrap();
    let spec = StageSpec { name: "hostile".to_owned(), module, config: "{}".to_owned(), on_error: OnError::DeadLetter };
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    let poison: Option<&'static str> = match poison {
        "panic" => Some("panic"),
        "loop" => Some("loop"),
        _ => None,
    };
    bencher.bench_local(|| {
        let (contexts, events) = hostile_batch(1000, poison);
        let outcome = chain.apply(&contexts, events, None);
        assert_eq!(outcome.failed.len(), usize::from(poison.is_some()));
        outcome
    });
}
