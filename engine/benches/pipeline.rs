//! Throughput of the pipeline without transforms, in events per second (divan's item/s), on the
//! standard corpus (200 records x 50 events) and the maximum batch (1,000 x 100).

use divan::counter::ItemsCount;
use sluicegate_engine::archive::ArchiveStage;
use sluicegate_engine::corpus::{CorpusSpec, kinesis_event};
use sluicegate_engine::{Pipeline, PipelineConfig};

fn main() {
    // As the hosts do, so that what is measured is what runs.
    sluicegate_engine::allocator::tune();
    divan::main();
}

fn bench_spec(bencher: divan::Bencher, spec: CorpusSpec, archive_stage: ArchiveStage) {
    bench_config(bencher, spec, PipelineConfig { archive_stage, ..PipelineConfig::default() });
}

fn bench_config(bencher: divan::Bencher, spec: CorpusSpec, config: PipelineConfig) {
    let batch = kinesis_event(spec);
    let mut pipeline = Pipeline::new(config);
    bencher.counter(ItemsCount::new(spec.n_records * spec.n_events_per_record)).bench_local(|| pipeline.run(&batch, None));
}

/// Decode to `_bulk` bodies (the 700,000 events/s budget).
#[divan::bench(sample_count = 30)]
fn standard_decode_to_bulk(bencher: divan::Bencher) {
    bench_spec(bencher, CorpusSpec::STANDARD, ArchiveStage::None);
}

/// Decode to `_bulk` bodies and the gzip archive object of the documents, compressed on a worker
/// thread where there is a second CPU.
#[divan::bench(sample_count = 30)]
fn standard_decode_to_bulk_and_archive(bencher: divan::Bencher) {
    bench_spec(bencher, CorpusSpec::STANDARD, ArchiveStage::Documents);
}

/// The same, the archive compressed on the pipeline's own thread: what one CPU does.
#[divan::bench(sample_count = 30)]
fn standard_decode_to_bulk_and_archive_one_thread(bencher: divan::Bencher) {
    let config = PipelineConfig { archive_stage: ArchiveStage::Documents, second_cpu: false, ..PipelineConfig::default() };
    bench_config(bencher, CorpusSpec::STANDARD, config);
}

/// The maximum batch, decode to `_bulk` bodies and archive.
#[divan::bench(sample_count = 5)]
fn maximum_decode_to_bulk_and_archive(bencher: divan::Bencher) {
    bench_spec(bencher, CorpusSpec::MAXIMUM, ArchiveStage::Documents);
}
