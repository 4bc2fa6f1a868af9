//! Peak memory of the maximum batch (1,000 records x 100 events) through the pipeline, measured
//! as the process's high-water mark of resident memory (Linux `VmHWM`), the figure Lambda bills.
//!
//! It starts from the Kinesis event as JSON text, as Lambda hands it over, and holds the outcome
//! until the end, as a host does while it ships.

use std::time::Instant;

use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::kinesis::KinesisEvent;
use sluicegate_engine::{Pipeline, PipelineConfig};

fn main() {
    sluicegate_engine::allocator::tune();
    let spec = CorpusSpec::MAXIMUM;
    let path = std::env::temp_dir().join(format!("sluicegate-max-batch-{}.json", std::process::id()));
    if let [_, flag, path] = std::env::args().collect::<Vec<_>>().as_slice()
        && flag == "--generate"
    {
        std::fs::write(path, serde_json::to_vec(&kinesis_event(spec)).expect("the corpus serializes")).expect("write the batch");
        return;
    }
    // The generator runs in a child process, so its allocations are not counted here.
    let exe = std::env::current_exe().expect("own path");
    let status = std::process::Command::new(exe).arg("--generate").arg(&path).status().expect("run the generator");
    assert!(status.success(), "the generator failed");
    let event_json = std::fs::read(&path).expect("read the batch");
    let _ = std::fs::remove_file(&path);
    let before = high_water_mark_kib();
    let baseline = resident_kib();
    let started = Instant::now();
    let event_json_len = event_json.len();
    let event: KinesisEvent = serde_json::from_slice(&event_json).expect("the corpus parses");
    drop(event_json);
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let outcome = pipeline.run(&event, None);
    let elapsed = started.elapsed();
    let peak = high_water_mark_kib();
    let summary = outcome.summary();
    println!(
        "maximum batch: {} records, {} events in {:.1?} ({:.0} events/s); bulk {} bytes in {} bodies; archive {} bytes",
        summary.records,
        summary.events_in,
        elapsed,
        summary.events_in as f64 / elapsed.as_secs_f64(),
        summary.bulk_bytes,
        summary.bulk_requests,
        outcome.archive.iter().map(|object| object.body.len()).sum::<usize>()
    );
    match (peak, baseline) {
        (Some(peak), Some(baseline)) => println!(
            "peak resident memory: {:.1} MB, of which {:.1} MB before the run (the event as JSON text, {:.1} MB); budget 100 MB",
            peak as f64 / 1024.0,
            baseline as f64 / 1024.0,
            before.map_or(0.0, |_| event_json_len as f64 / 1e6)
        ),
        _ => println!("peak resident memory: not available on this platform"),
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
