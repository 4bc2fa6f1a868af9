//! Guards against quadratic behaviour: sixteen times the events may not cost much more than
//! sixteen times the time.

use std::time::{Duration, Instant};

use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::{Pipeline, PipelineConfig};

fn best_of_three(spec: CorpusSpec) -> Duration {
    let batch = kinesis_event(spec);
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    (0..3)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(pipeline.run(&batch, None));
            started.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn time_grows_linearly_with_the_batch() {
    let small = best_of_three(CorpusSpec { n_records: 10, n_events_per_record: 50, seed: 1 });
    let large = best_of_three(CorpusSpec { n_records: 160, n_events_per_record: 50, seed: 1 });
    // Linear is 16x; quadratic would be 256x. The bound leaves room for a noisy machine.
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    assert!(ratio < 64.0, "16x the events took {ratio:.1}x the time ({small:?} -> {large:?})");
}
