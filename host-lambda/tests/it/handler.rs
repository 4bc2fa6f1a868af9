//! The handler: which records go back as `batchItemFailures`, and what lands in S3.

use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use sluicegate_engine::archive::ArchiveStage;
use sluicegate_engine::wasm::{Chain, Limits, OnError, StageSpec, WasmHost};
use sluicegate_engine::{Pipeline, PipelineConfig};
use sluicegate_lambda::handler::Handler;
use sluicegate_lambda::sink::Fate;

use crate::fixture::{Data, FakeArchive, MemoryBulk, gunzip, kinesis_event, log_message};
use crate::guests;

/// Runs `data` through a handler whose `_bulk` items end as `fate_of` says and whose S3 puts fail
/// for the keys `put_fails` picks; renders the failures, the delivered ids and every object.
#[track_caller]
fn check_with(data: &[Data<'_>], stage: ArchiveStage, fate_of: fn(&str) -> Fate, put_fails: fn(&str) -> bool, expect: Expect) {
    let config = PipelineConfig { archive_stage: stage, ..PipelineConfig::default() };
    check_pipeline(data, Pipeline::new(config), Duration::from_secs(5), fate_of, put_fails, expect);
}

/// Like [`check_with`], with a given pipeline and time left before the deadline.
#[track_caller]
fn check_pipeline(
    data: &[Data<'_>],
    pipeline: Pipeline,
    time_left: Duration,
    fate_of: fn(&str) -> Fate,
    put_fails: fn(&str) -> bool,
    expect: Expect,
) {
    let event = kinesis_event(data);
    let handler = Handler::new(pipeline, MemoryBulk::new(fate_of), FakeArchive::new(put_fails), "dead-letter");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let handled = runtime.block_on(handler.handle(event, Instant::now() + time_left));
    let (bulk, archive) = handler.into_sinks();
    let mut rendered = format!("batchItemFailures: {:?}\n", handled.batch_item_failures);
    rendered += &format!("delivered: {:?}\n", bulk.received.into_inner().unwrap());
    for (key, body) in archive.objects.into_inner().unwrap() {
        rendered += &format!("{key}\n");
        for line in String::from_utf8(gunzip(&body)).unwrap().lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let summary = match value.get("stage") {
                Some(stage) => {
                    format!("{} seq={} {}", stage.as_str().unwrap(), value["sequence_number"], value["reason"].as_str().unwrap())
                }
                None if value.get("@timestamp").is_some() => format!("document {}", value["event"]["id"]),
                None => format!("raw {}", value["id"]),
            };
            rendered += &format!("  {summary}\n");
        }
    }
    let metrics = &handled.metrics;
    rendered += &format!(
        "metrics: records={} in={} out={} dead_lettered={} rejected={} undelivered={} failures={} s3_puts_failed={}\n",
        metrics.records,
        metrics.events_in,
        metrics.events_out,
        metrics.dead_lettered,
        metrics.bulk_rejected,
        metrics.bulk_undelivered,
        metrics.batch_item_failures,
        metrics.s3_puts_failed
    );
    expect.assert_eq(&rendered);
}

#[track_caller]
fn check(data: &[Data<'_>], fate_of: fn(&str) -> Fate, put_fails: fn(&str) -> bool, expect: Expect) {
    check_with(data, ArchiveStage::Documents, fate_of, put_fails, expect);
}

fn delivered(_: &str) -> Fate {
    Fate::Delivered
}

fn never(_: &str) -> bool {
    false
}

fn three_records() -> [String; 3] {
    [log_message(&[("a1", "one"), ("a2", "two")]), log_message(&[("b1", "three")]), log_message(&[("c1", "four"), ("c2", "five")])]
}

#[test]
fn a_clean_batch_reports_nothing() {
    let [a, b, c] = three_records();
    check(
        &[Data::Json(&a), Data::Json(&b), Data::Json(&c)],
        delivered,
        never,
        expect![[r#"
            batchItemFailures: []
            delivered: ["a1", "a2", "b1", "c1", "c2"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
              document "b1"
              document "c1"
              document "c2"
            metrics: records=3 in=5 out=5 dead_lettered=0 rejected=0 undelivered=0 failures=0 s3_puts_failed=0
        "#]],
    );
}

#[test]
fn an_undelivered_item_reports_its_record_only() {
    let [a, b, c] = three_records();
    check(
        &[Data::Json(&a), Data::Json(&b), Data::Json(&c)],
        |id| if id == "c2" { Fate::Undelivered { reason: "status 429".to_owned() } } else { Fate::Delivered },
        never,
        expect![[r#"
            batchItemFailures: ["102"]
            delivered: ["a1", "a2", "b1", "c1"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
              document "b1"
            metrics: records=3 in=5 out=5 dead_lettered=0 rejected=0 undelivered=1 failures=1 s3_puts_failed=0
        "#]],
    );
}

#[test]
fn rejected_documents_become_dead_letters() {
    let [a, b, c] = three_records();
    check(
        &[Data::Json(&a), Data::Json(&b), Data::Json(&c)],
        |id| {
            if id == "b1" {
                Fate::Rejected { status: 400, error: "mapper_parsing_exception".to_owned(), document: Vec::new() }
            } else {
                Fate::Delivered
            }
        },
        never,
        expect![[r#"
            batchItemFailures: []
            delivered: ["a1", "a2", "c1", "c2"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
              document "b1"
              document "c1"
              document "c2"
            dead-letter/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100-bulk.ndjson.gz
              bulk seq="101" status 400: mapper_parsing_exception
            metrics: records=3 in=5 out=5 dead_lettered=1 rejected=1 undelivered=0 failures=0 s3_puts_failed=0
        "#]],
    );
}

#[test]
fn a_rejected_document_whose_dead_letter_is_not_stored_reports_its_record() {
    let [a, b, c] = three_records();
    check(
        &[Data::Json(&a), Data::Json(&b), Data::Json(&c)],
        |id| {
            if id == "b1" {
                Fate::Rejected { status: 400, error: "mapper_parsing_exception".to_owned(), document: Vec::new() }
            } else {
                Fate::Delivered
            }
        },
        |key| key.ends_with("-bulk.ndjson.gz"),
        expect![[r#"
            batchItemFailures: ["101"]
            delivered: ["a1", "a2", "c1", "c2"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
            metrics: records=3 in=5 out=5 dead_lettered=1 rejected=1 undelivered=0 failures=1 s3_puts_failed=1
        "#]],
    );
}

#[test]
fn an_archive_failure_reports_the_records_with_documents_in_it() {
    let [a, _, c] = three_records();
    // The garbage record has nothing in the archive, so only the two good records are reported.
    check(
        &[Data::Json(&a), Data::Base64("not base64!"), Data::Json(&c)],
        delivered,
        |key| key.starts_with("archive/"),
        expect![[r#"
            batchItemFailures: ["100", "102"]
            delivered: ["a1", "a2", "c1", "c2"]
            dead-letter/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
            metrics: records=3 in=4 out=4 dead_lettered=1 rejected=0 undelivered=0 failures=2 s3_puts_failed=1
        "#]],
    );
}

#[test]
fn a_raw_archive_failure_reports_records_whose_events_were_all_rejected_too() {
    let [a, b, _] = three_records();
    check_with(
        &[Data::Json(&a), Data::Json(&b)],
        ArchiveStage::Raw,
        |id| {
            if id == "b1" {
                Fate::Rejected { status: 400, error: "mapper_parsing_exception".to_owned(), document: Vec::new() }
            } else {
                Fate::Delivered
            }
        },
        |key| key.starts_with("archive/"),
        expect![[r#"
            batchItemFailures: ["100", "101"]
            delivered: ["a1", "a2"]
            metrics: records=2 in=3 out=3 dead_lettered=0 rejected=0 undelivered=0 failures=2 s3_puts_failed=1
        "#]],
    );
}

#[test]
fn undecodable_records_are_dead_lettered_and_reported_only_if_that_fails() {
    let [a, ..] = three_records();
    let not_json = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, crate::fixture::gzip(b"{not json"));
    let data = [Data::Json(&a), Data::Base64("not base64!"), Data::Base64("bm90IGd6aXA="), Data::Base64(&not_json)];
    check(
        &data,
        delivered,
        never,
        expect![[r#"
            batchItemFailures: []
            delivered: ["a1", "a2"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
            dead-letter/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              decode seq="101" record data is not valid base64: Invalid symbol 32, offset 3.
              decode seq="102" record is not gzip (first bytes [6e, 6f, 74, 20])
              decode seq="103" record is not cloudwatch logs subscription json: key must be a string at line 1 column 2
            metrics: records=4 in=2 out=2 dead_lettered=3 rejected=0 undelivered=0 failures=0 s3_puts_failed=0
        "#]],
    );
    check(
        &data,
        delivered,
        |key| key.starts_with("dead-letter/"),
        expect![[r#"
            batchItemFailures: ["101", "102", "103"]
            delivered: ["a1", "a2"]
            archive/year=2023/month=11/day=14/hour=22/logs-shardId-000000000000-100.ndjson.gz
              document "a1"
              document "a2"
            metrics: records=4 in=2 out=2 dead_lettered=3 rejected=0 undelivered=0 failures=3 s3_puts_failed=1
        "#]],
    );
}

// Regression: events a slow transform had not finished by the deadline were failed, so its
// `on_error` policy (here `drop`) lost them, instead of their records going back to Kinesis.
#[test]
fn records_the_transforms_did_not_finish_go_back_to_kinesis() {
    let host = WasmHost::new(Limits { call_timeout: Duration::from_secs(10), ..Limits::default() }).unwrap();
    let module = host.load("hostile", &guests::module("test_guest")).unwrap();
    let spec = StageSpec { name: "hostile".to_owned(), module, config: "{}".to_owned(), on_error: OnError::Drop };
    let chain = Chain::new(&host, vec![spec]).unwrap();
    let pipeline = Pipeline::with_transforms(PipelineConfig::default(), Box::new(chain));
    let (a, b) = (log_message(&[("a1", "one")]), log_message(&[("b1", "loop")]));
    check_pipeline(
        &[Data::Json(&a), Data::Json(&b)],
        pipeline,
        Duration::from_millis(400),
        delivered,
        never,
        expect![[r#"
            batchItemFailures: ["100", "101"]
            delivered: []
            metrics: records=2 in=2 out=0 dead_lettered=0 rejected=0 undelivered=0 failures=2 s3_puts_failed=0
        "#]],
    );
}

#[test]
fn an_empty_batch_does_nothing() {
    check(
        &[],
        delivered,
        never,
        expect![[r#"
            batchItemFailures: []
            delivered: []
            metrics: records=0 in=0 out=0 dead_lettered=0 rejected=0 undelivered=0 failures=0 s3_puts_failed=0
        "#]],
    );
}

/// Puts that tell a waiting `_bulk` sink they have started.
struct SignallingArchive(FakeArchive, std::sync::Arc<tokio::sync::Notify>);

impl sluicegate_lambda::sink::ArchiveSink for SignallingArchive {
    async fn put(&self, key: &str, body: Vec<u8>, deadline: Instant) -> Result<(), sluicegate_lambda::sink::PutError> {
        self.1.notify_one();
        self.0.put(key, body, deadline).await
    }
}

/// A `_bulk` sink that finishes only once an S3 put has started.
struct WaitingBulk(MemoryBulk, std::sync::Arc<tokio::sync::Notify>);

impl sluicegate_lambda::sink::BulkSink for WaitingBulk {
    async fn ship(&self, bodies: &[sluicegate_engine::bulk::BulkBody], deadline: Instant) -> sluicegate_lambda::sink::ShipReport {
        if tokio::time::timeout(Duration::from_secs(5), self.1.notified()).await.is_err() {
            panic!("no s3 put started while _bulk was in flight: they do not run concurrently");
        }
        self.0.ship(bodies, deadline).await
    }
}

#[test]
fn bulk_and_s3_puts_run_concurrently() {
    let [a, ..] = three_records();
    let event = kinesis_event(&[Data::Json(&a)]);
    let started = std::sync::Arc::new(tokio::sync::Notify::new());
    let handler = Handler::new(
        Pipeline::new(PipelineConfig::default()),
        WaitingBulk(MemoryBulk::new(delivered), started.clone()),
        SignallingArchive(FakeArchive::new(never), started),
        "dead-letter",
    );
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let handled = runtime.block_on(handler.handle(event, Instant::now() + Duration::from_secs(10)));
    assert_eq!(handled.batch_item_failures, Vec::<String>::new());
    assert_eq!(handled.metrics.events_out, 2);
}

/// Set when the first `_bulk` body ships.
static SHIPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A `_bulk` sink that says when it ships.
struct FlaggingBulk(MemoryBulk);

impl sluicegate_lambda::sink::BulkSink for FlaggingBulk {
    async fn ship(&self, bodies: &[sluicegate_engine::bulk::BulkBody], deadline: Instant) -> sluicegate_lambda::sink::ShipReport {
        SHIPPED.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.ship(bodies, deadline).await
    }
}

/// A transform that keeps every event but will not finish its second slice until a body of the
/// first has shipped.
struct WaitsForShipping {
    n_calls: usize,
}

impl sluicegate_engine::transform::Transforms for WaitsForShipping {
    // The pipeline runs on a blocking thread, never a tokio worker: sleeping there blocks nothing else.
    #[allow(clippy::disallowed_methods)]
    fn apply<'a>(
        &mut self,
        _contexts: &[sluicegate_engine::Context<'a>],
        events: Vec<sluicegate_engine::Event<'a>>,
        _deadline: Option<Instant>,
    ) -> sluicegate_engine::transform::ChainOutcome<'a> {
        self.n_calls += 1;
        if self.n_calls == 2 {
            let started = Instant::now();
            while !SHIPPED.load(std::sync::atomic::Ordering::SeqCst) {
                assert!(started.elapsed() < Duration::from_secs(20), "no body shipped while the batch was still being transformed");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        sluicegate_engine::transform::ChainOutcome { kept: events, ..Default::default() }
    }
}

/// Bodies ship as soon as they are complete, while later slices of the batch are still being
/// transformed: the invocation costs about the larger of its CPU and network time, not the sum.
#[test]
fn bodies_ship_while_the_rest_of_the_batch_is_transformed() {
    let spec = sluicegate_engine::corpus::CorpusSpec { n_records: 400, n_events_per_record: 100, seed: 11 };
    let event = sluicegate_engine::corpus::kinesis_event(spec);
    let config = PipelineConfig { bulk_max_bytes: 256 << 10, ..PipelineConfig::default() };
    let pipeline = Pipeline::with_transforms(config, Box::new(WaitsForShipping { n_calls: 0 }));
    let handler = Handler::new(pipeline, FlaggingBulk(MemoryBulk::new(delivered)), FakeArchive::new(never), "dead-letter");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let handled = runtime.block_on(handler.handle(event, Instant::now() + Duration::from_secs(60)));
    assert_eq!(handled.batch_item_failures, Vec::<String>::new());
    assert_eq!(handled.metrics.events_out, 40_000);
    let (bulk, _) = handler.into_sinks();
    assert_eq!(bulk.0.received.into_inner().unwrap().len(), 40_000, "every document shipped once");
}

fn undelivered_b1(id: &str) -> Fate {
    if id == "b1" { Fate::Undelivered { reason: "cluster away".to_owned() } } else { Fate::Delivered }
}

// Regression: on a partial retry the archive held records twice. Kinesis retries from the first
// reported record (k > 0) on, every later record included, and the retry's object is keyed by
// that record; so the first object must hold only the records before it.
#[test]
fn a_partial_retry_archives_every_document_exactly_once() {
    let [a, b, c] = three_records();
    let data = [Data::Json(&a), Data::Json(&b), Data::Json(&c)];
    let event = kinesis_event(&data);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let deadline = || Instant::now() + Duration::from_secs(10);
    let handler =
        Handler::new(Pipeline::new(PipelineConfig::default()), MemoryBulk::new(undelivered_b1), FakeArchive::new(never), "dead-letter");
    let first = runtime.block_on(handler.handle(event.clone(), deadline()));
    assert_eq!(first.batch_item_failures, ["101"]);
    let (_, archive) = handler.into_sinks();
    // Kinesis sends the batch again from record 101 on; this time everything is delivered.
    let retry = sluicegate_engine::kinesis::KinesisEvent { records: event.records[1..].to_vec() };
    let handler = Handler::new(Pipeline::new(PipelineConfig::default()), MemoryBulk::new(delivered), archive, "dead-letter");
    let second = runtime.block_on(handler.handle(retry, deadline()));
    assert_eq!(second.batch_item_failures, Vec::<String>::new());
    let (_, archive) = handler.into_sinks();
    let mut archived: Vec<(String, String)> = Vec::new();
    for (key, body) in archive.objects.into_inner().unwrap() {
        for line in String::from_utf8(gunzip(&body)).unwrap().lines() {
            let document: serde_json::Value = serde_json::from_str(line).unwrap();
            archived.push((document["event"]["id"].as_str().unwrap().to_owned(), key.rsplit('-').next().unwrap().to_owned()));
        }
    }
    archived.sort();
    expect![[r#"
        [
            (
                "a1",
                "100.ndjson.gz",
            ),
            (
                "a2",
                "100.ndjson.gz",
            ),
            (
                "b1",
                "101.ndjson.gz",
            ),
            (
                "c1",
                "101.ndjson.gz",
            ),
            (
                "c2",
                "101.ndjson.gz",
            ),
        ]
    "#]]
    .assert_debug_eq(&archived);
}
