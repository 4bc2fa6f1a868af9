//! Elasticsearch faults through the whole Lambda: items that keep failing send their records back
//! as `batchItemFailures`, and the retry Kinesis then makes delivers them without duplicates.

use sluicegate_tests::fault_server::{FaultyBulkServer, Script, Step};
use sluicegate_tests::moto::lambda_event;

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

/// The FAKE `_bulk` server, run on a runtime of its own so the test thread can block on invokes.
pub(crate) fn fake_bulk_server(script: Script) -> FaultyBulkServer {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        runtime.block_on(async {
            sender.send(FaultyBulkServer::start(script).await).expect("test thread waits");
            std::future::pending::<()>().await
        });
    });
    receiver.recv().expect("the fake starts")
}

#[test]
fn items_that_keep_failing_are_reported_and_kinesis_retry_adds_no_duplicates() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    for record_idx in 0..3 {
        let events: Vec<(i64, String)> =
            (0..2).map(|event_idx| (t0 + record_idx * 10 + event_idx, format!("record {record_idx} event {event_idx}"))).collect();
        stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &events);
    }
    let records = stack.moto.read_shard(STREAM);
    assert_eq!(records.len(), 3);
    let sequence_numbers: Vec<String> = records.iter().map(|record| record["SequenceNumber"].as_str().unwrap().to_owned()).collect();

    // Every request's items at positions 0, 3, 6, … get 429: of the first request's six items, the
    // first and fourth; of the retry, the first again; so one item never gets through.
    let rejecting = Step::ItemStatus { status: 429, error_type: "es_rejected_execution_exception".to_owned(), every: 3 };
    let fake = fake_bulk_server(Script { steps: Vec::new(), then: rejecting, max_body_bytes: None });
    let mut lambda = stack.lambda(&stack.moto.url, &[("SLUICEGATE_ES_URL", fake.url()), ("SLUICEGATE_ES_MAX_ATTEMPTS", "3".to_owned())]);
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    assert_eq!(failures(&response), [sequence_numbers[0].clone()], "{response}\n{}", lambda.function.output());
    assert_eq!(fake.documents().len(), 5, "the other items were delivered");

    // Kinesis retries from the lowest reported record, this time against a healthy cluster.
    fake.set_script(Script::accept());
    let lowest = sequence_numbers.iter().position(|s| failures(&response).contains(s)).unwrap();
    let response = lambda.invoke(&lambda_event(STREAM, &records[lowest..]));
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    let documents = fake.documents();
    assert_eq!(documents.len(), 6, "every event once, by its _id: {documents:?}");
}

#[test]
fn documents_elasticsearch_refuses_become_dead_letters_in_s3() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    let events: Vec<(i64, String)> = (0..4).map(|event_idx| (t0 + event_idx, format!("event {event_idx}"))).collect();
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &events);
    let records = stack.moto.read_shard(STREAM);

    // Items 0 and 3 of the request are refused for good, as a mapping conflict would be.
    let refusing = Step::ItemStatus { status: 400, error_type: "mapper_parsing_exception".to_owned(), every: 3 };
    let fake = fake_bulk_server(Script { steps: Vec::new(), then: refusing, max_body_bytes: None });
    let mut lambda = stack.lambda(&stack.moto.url, &[("SLUICEGATE_ES_URL", fake.url())]);
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    assert_eq!(failures(&response), Vec::<String>::new(), "dead-lettered is not undelivered: {response}");
    assert_eq!(fake.documents().len(), 2);

    let dead_letters = stack.objects("dead-letter/");
    assert_eq!(dead_letters.len(), 1, "{dead_letters:?}");
    let (key, lines) = &dead_letters[0];
    assert!(key.ends_with("-bulk.ndjson.gz"), "{key}");
    let refused: Vec<(&str, &str)> =
        lines.iter().map(|line| (line["stage"].as_str().unwrap(), line["original"]["message"].as_str().unwrap())).collect();
    assert_eq!(refused, [("bulk", "event 0"), ("bulk", "event 3")]);
    assert!(lines.iter().all(|line| line["reason"].as_str().unwrap().contains("mapper_parsing_exception")), "{lines:?}");
}
