//! Fuzzes the record decoder through the whole pipeline: any bytes as a Kinesis record, gzip or
//! not, must end as shipped documents or a dead letter, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluicegate_engine::corpus::{gzip_json, kinesis_event_from_payloads};
use sluicegate_engine::{Pipeline, PipelineConfig};

fuzz_target!(|data: &[u8]| {
    // Feed the bytes both as the record itself and as the JSON inside a valid gzip member, so the
    // fuzzer reaches the JSON parser without having to discover deflate.
    let batch = kinesis_event_from_payloads(&[data.to_vec(), gzip_json(data)]);
    let mut pipeline = Pipeline::new(PipelineConfig { max_inflated_bytes: 1 << 20, ..PipelineConfig::default() });
    let outcome = pipeline.run(&batch, None);
    assert_eq!(outcome.records.len(), 2);
    for record in &outcome.records {
        assert!(record.control || record.n_dead_lettered == 1 || record.n_shipped == record.n_events);
    }
});
