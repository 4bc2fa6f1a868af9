//! Runs a pipeline file over the standard corpus a number of times, for a profiler: under
//! callgrind a run of the demo chain takes seconds where the transforms bench, which compiles the
//! modules in the process first, takes minutes.
//!
//! ```sh
//! cargo run --profile profiling -p sluicegate-engine --example chain_runs -- FOLDER [RUNS]
//! ```
//!
//! `FOLDER` holds `pipeline.json` and the modules it names. Every `.wasm` there without a
//! `.cwasm` beside it is precompiled first, so the runs load every module precompiled (checked);
//! then the corpus goes through the pipeline once to warm up and `RUNS` times more (default 1).
//! The last run's outputs are printed as lengths and hashes, so a change that should leave them
//! byte-for-byte the same can be checked. With `SLUICEGATE_PERF_MAP` set the host names the modules' functions in `/tmp/perf-<pid>.map`
//! (see docs/wasm.md, "Profiling the guests").

use std::path::PathBuf;

use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::pipeline_file::PipelineFile;
use sluicegate_engine::wasm::{Limits, WasmHost, precompile};
use sluicegate_engine::{Pipeline, PipelineConfig};

fn main() {
    sluicegate_engine::allocator::tune();
    let args: Vec<String> = std::env::args().collect();
    let (folder, runs) = match args.as_slice() {
        [_, folder] => (PathBuf::from(folder), 1),
        [_, folder, runs] => (PathBuf::from(folder), runs.parse().unwrap_or_else(|_| fail(&format!("RUNS is a number, not {runs:?}")))),
        _ => fail("usage: chain_runs FOLDER [RUNS]"),
    };
    let entries = std::fs::read_dir(&folder).unwrap_or_else(|error| fail(&format!("{}: {error}", folder.display())));
    for path in entries.filter_map(Result::ok).map(|entry| entry.path()) {
        let cwasm = path.with_extension("cwasm");
        if path.extension().is_some_and(|extension| extension == "wasm") && !cwasm.exists() {
            let bytes = std::fs::read(&path).unwrap_or_else(|error| fail(&format!("{}: {error}", path.display())));
            let compiled =
                precompile(&bytes, &Limits::default(), None).unwrap_or_else(|error| fail(&format!("{}: {error}", path.display())));
            std::fs::write(&cwasm, compiled).unwrap_or_else(|error| fail(&format!("{}: {error}", cwasm.display())));
        }
    }
    let pipeline_path = folder.join("pipeline.json");
    let host = WasmHost::new(Limits::default()).unwrap_or_else(|error| fail(&error.to_string()));
    let file = PipelineFile::read(&pipeline_path).unwrap_or_else(|error| fail(&error.to_string()));
    let chain = file.start(&host, &pipeline_path).unwrap_or_else(|error| fail(&error.to_string()));
    if let Some((name, _)) = chain.precompiled().find(|(_, precompiled)| !precompiled) {
        fail(&format!("transform {name} was compiled, not loaded precompiled: its profile would include the compiler"));
    }
    let mut pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    let batch = kinesis_event(CorpusSpec::STANDARD);
    for run in 0..=runs {
        let outcome = pipeline.run(&batch, None);
        assert!(outcome.dead_letters.is_empty(), "the corpus goes through whole: {:?}", outcome.dead_letters.first());
        if run == runs {
            // What the run made, to check that a change left the outputs byte-for-byte the same.
            let bulk = outcome.bulk.iter().map(|body| body.body.as_slice());
            let archive = outcome.archive.iter().map(|object| object.body.as_slice());
            println!("_bulk bodies: {}", digest(bulk));
            println!("archive objects: {}", digest(archive));
        }
    }
}

/// Total length and a hash (SipHash with fixed keys, so the same in every run) of some bytes.
fn digest<'a>(parts: impl Iterator<Item = &'a [u8]>) -> String {
    use std::hash::Hasher as _;
    let mut hasher = std::hash::DefaultHasher::new();
    let mut n_bytes = 0;
    for part in parts {
        hasher.write(part);
        n_bytes += part.len();
    }
    format!("{n_bytes} bytes, hash {:016x}", hasher.finish())
}

fn fail(message: &str) -> ! {
    eprintln!("chain_runs: {message}");
    std::process::exit(2)
}
