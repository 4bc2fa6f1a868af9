//! The transform path: the standard corpus through filter, redact and extract (real Wasm) to
//! `_bulk` bodies and the archive object, in events per second; start-up to ready with the three
//! transforms precompiled and compiled from `.wasm`; and what bisection costs when one event of a
//! batch traps.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use divan::counter::ItemsCount;
use sluicegate_engine::corpus::{CorpusSpec, kinesis_event, log_messages};
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::transform::Transforms;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost, precompile};
use sluicegate_engine::{Context, Event, Pipeline, PipelineConfig};

use sluicegate_tests::guests;

fn main() {
    // As the hosts do, so that what is measured is what runs.
    sluicegate_engine::allocator::tune();
    divan::main();
}

const PIPELINE: &str = r#"{"transforms":[
    {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
    {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
    {"name":"extract","module":"extract.wasm","config":{}}
]}"#;

/// The same chain with extract writing a line's own fields at the root of the document instead of
/// under the flattened `attributes` object.
const PIPELINE_ROOT_FIELDS: &str = r#"{"transforms":[
    {"name":"filter","module":"filter.wasm","config":{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}},
    {"name":"redact","module":"redact.wasm","config":{"mode":"mask"}},
    {"name":"extract","module":"extract.wasm","config":{"json":{"target":""},"logfmt":{"target":""},"access_log":{"target":""}}}
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
            std::fs::write(folder.join("pipeline-root-fields.json"), PIPELINE_ROOT_FIELDS).unwrap();
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
    start_file(host, &folder.join("pipeline.json"))
}

fn start_file(host: &WasmHost, path: &Path) -> Chain {
    PipelineFile::read(path).unwrap().start(host, path).unwrap()
}

/// Decode, filter, redact, extract, `_bulk` bodies and archive object (target 300,000 events/s).
#[divan::bench(sample_count = 20)]
fn standard_chain_to_bulk_and_archive(bencher: divan::Bencher) {
    let host = WasmHost::new(Limits::default()).unwrap();
    let chain = start(&host, &folders().0);
    let batch = kinesis_event(CorpusSpec::STANDARD);
    let mut pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    // Where the time goes (medians of 15 runs), next to divan's table.
    let runs: Vec<_> = (0..15).map(|_| pipeline.run(&batch, None).timings).collect();
    let median = |mut durations: Vec<Duration>| {
        durations.sort();
        durations[durations.len() / 2]
    };
    let per_transform = (0..runs[0].per_transform.len())
        .map(|stage_idx| {
            let name = &runs[0].per_transform[stage_idx].0;
            format!("{name} {:?}", median(runs.iter().map(|timings| timings.per_transform[stage_idx].1).collect()))
        })
        .collect::<Vec<_>>();
    eprintln!(
        "stages (medians of 15 runs): decode {:?}, transforms {:?} ({}), encode {:?}",
        median(runs.iter().map(|timings| timings.decode).collect()),
        median(runs.iter().map(|timings| timings.transform).collect()),
        per_transform.join(", "),
        median(runs.iter().map(|timings| timings.encode).collect()),
    );
    bencher.counter(ItemsCount::new(10_000usize)).bench_local(|| pipeline.run(&batch, None));
}

/// Start-up to ready (engine, three `.cwasm` modules loaded, instances made and configured;
/// target 20 ms).
#[divan::bench(sample_count = 20)]
fn startup_precompiled(bencher: divan::Bencher) {
    let folder = &folders().0;
    // A `.cwasm` that does not load would be compiled instead, silently timing the wrong thing.
    let host = WasmHost::new(Limits::default()).unwrap();
    assert!(start(&host, folder).precompiled().all(|(_, precompiled)| precompiled), "every module loads precompiled");
    bencher.bench_local(|| {
        let host = WasmHost::new(Limits::default()).unwrap();
        start(&host, folder)
    });
}

/// Start-up to ready compiling the three modules from `.wasm`.
#[divan::bench(sample_count = 3)]
fn startup_compiled(bencher: divan::Bencher) {
    let folder = &folders().1;
    let host = WasmHost::new(Limits::default()).unwrap();
    assert!(start(&host, folder).precompiled().all(|(_, precompiled)| !precompiled), "every module is compiled");
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

/// The standard corpus's 10,000 events as the chain receives them (decoded, no fields yet).
fn corpus_events() -> (Vec<Context<'static>>, Vec<Event<'static>>) {
    let mut contexts = Vec::new();
    let mut events = Vec::new();
    for message in log_messages(CorpusSpec::STANDARD) {
        let context_idx = contexts.len() as u32;
        contexts.push(Context {
            owner: Cow::Owned(message.owner.clone()),
            log_group: Cow::Owned(message.log_group.clone()),
            log_stream: Cow::Owned(message.log_stream.clone()),
        });
        events.extend(message.events.iter().map(|line| Event {
            record_idx: context_idx,
            context_idx,
            id: Cow::Owned(line.id.clone()),
            timestamp: line.timestamp,
            message: Cow::Owned(line.message.clone()),
            fields: None,
            index: None,
        }));
    }
    (contexts, events)
}

/// Each transform alone over the standard corpus's events (redact also per detector), to see
/// where the chain's time goes: the guest's work plus the frame and reply for 10,000 events.
#[divan::bench(
    args = ["filter", "redact", "extract", "redact:email", "redact:credit_card", "redact:ipv4", "redact:ipv6", "redact:aws_access_key", "redact:aws_secret_key", "redact:jwt", "redact:bearer"],
    sample_count = 15
)]
fn one_transform_over_the_corpus(bencher: divan::Bencher, which: &str) {
    let (name, config) = match which.split_once(':') {
        Some((name, detector)) => (name, format!(r#"{{"detectors":["{detector}"]}}"#)),
        None => {
            let config = match which {
                "filter" => r#"{"drop":[{"message":"GET /healthz"},{"field":"level","in":["DEBUG"]}]}"#,
                "redact" => r#"{"mode":"mask"}"#,
                _ => "{}",
            };
            (which, config.to_owned())
        }
    };
    let host = WasmHost::new(Limits::default()).unwrap();
    let module = host.load(name, &folders().0.join(format!("{name}.wasm"))).unwrap();
    let spec = StageSpec { name: name.to_owned(), module, config, on_error: OnError::DeadLetter };
    let mut chain = Chain::new(&host, vec![spec]).unwrap();
    let (contexts, events) = corpus_events();
    bencher
        .counter(ItemsCount::new(events.len()))
        .with_inputs(|| events.clone())
        .bench_local_values(|events| chain.apply(&contexts, events, None));
}

/// The default chain to `_bulk` bodies and archive with extract's fields under the flattened
/// `attributes` object (the default) and at the root of the document: the flattened default must
/// cost no more than the root. The two are run alternately (medians of 30 runs each, printed),
/// since one after the other the machine's drift decides; divan's table times the root form.
#[divan::bench(sample_count = 20)]
fn line_fields_under_attributes_or_at_the_root(bencher: divan::Bencher) {
    let host = WasmHost::new(Limits::default()).unwrap();
    let batch = kinesis_event(CorpusSpec::STANDARD);
    let mut pipelines = ["pipeline.json", "pipeline-root-fields.json"]
        .map(|file| Pipeline::with_transforms(PipelineConfig::default(), Box::new(start_file(&host, &folders().0.join(file)))));
    let mut times: [Vec<Duration>; 2] = Default::default();
    for _ in 0..30 {
        for (which, pipeline) in pipelines.iter_mut().enumerate() {
            let started = std::time::Instant::now();
            divan::black_box(pipeline.run(&batch, None));
            times[which].push(started.elapsed());
        }
    }
    let [attributes, root] = times.map(|mut times| {
        times.sort();
        times[times.len() / 2]
    });
    eprintln!("line fields under attributes {attributes:?}, at the root {root:?} (medians of 30 alternated runs)");
    let [_, mut root_pipeline] = pipelines;
    bencher.counter(ItemsCount::new(10_000usize)).bench_local(|| root_pipeline.run(&batch, None));
}

/// What the degraded retry costs the function per refused document, besides the second request:
/// every document of the default chain's `_bulk` bodies degraded (`bulk::degrade`, as the client
/// does for an item refused for its shape) and the retry body made of them.
#[divan::bench(sample_count = 20)]
fn degrade_every_document_of_the_chain(bencher: divan::Bencher) {
    let host = WasmHost::new(Limits::default()).unwrap();
    let chain = start(&host, &folders().0);
    let batch = kinesis_event(CorpusSpec::STANDARD);
    let mut pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    let bodies = pipeline.run(&batch, None).bulk;
    let n_documents: usize = bodies.iter().map(|body| body.items.len()).sum();
    assert!(n_documents > 0, "the chain ships documents");
    let reason = "mapper_parsing_exception: failed to parse field [attributes.status] of type [long] in document";
    bencher.counter(ItemsCount::new(n_documents)).bench_local(|| {
        bodies
            .iter()
            .map(|body| {
                let degraded: Vec<(usize, Vec<u8>)> = (0..body.items.len())
                    .map(|item_idx| (item_idx, sluicegate_engine::bulk::degrade(body.document(item_idx), reason).expect("a JSON object")))
                    .collect();
                body.with_documents(&degraded)
            })
            .collect::<Vec<_>>()
    });
}
