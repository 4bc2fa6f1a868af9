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

/// Runs four events against a fake that refuses items 0 and 3 of every request with 400
/// `error_type`; returns the documents it stored and the dead letters in S3 (stage, message,
/// reason).
fn refused(error_type: &str) -> (Vec<serde_json::Value>, Vec<(String, String, String)>) {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    let events: Vec<(i64, String)> = (0..4).map(|event_idx| (t0 + event_idx, format!("event {event_idx}"))).collect();
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &events);
    let records = stack.moto.read_shard(STREAM);
    let refusing = Step::ItemStatus { status: 400, error_type: error_type.to_owned(), every: 3 };
    let fake = fake_bulk_server(Script { steps: Vec::new(), then: refusing, max_body_bytes: None });
    let mut lambda = stack.lambda(&stack.moto.url, &[("SLUICEGATE_ES_URL", fake.url())]);
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    assert_eq!(failures(&response), Vec::<String>::new(), "dead-lettered is not undelivered: {response}");
    let mut stored: Vec<serde_json::Value> =
        fake.documents().values().map(|document| serde_json::from_str(&document.source).unwrap()).collect();
    stored.sort_by_key(|document| document["message"].as_str().unwrap_or_default().to_owned());
    let dead_letters = stack.objects("dead-letter/");
    let letters = dead_letters
        .iter()
        .flat_map(|(key, lines)| {
            assert!(key.ends_with("-bulk.ndjson.gz"), "{key}");
            lines.iter().map(|line| {
                let field = |name: &str| line[name].as_str().unwrap_or_default().to_owned();
                (field("stage"), line["original"]["message"].as_str().unwrap_or_default().to_owned(), field("reason"))
            })
        })
        .collect();
    (stored, letters)
}

#[test]
fn documents_refused_for_their_shape_ship_degraded_and_only_a_second_refusal_is_a_dead_letter() {
    // The fake refuses positions 0 and 3 of every request: events 0 and 3 as shipped, then
    // event 0 again in the request of their degraded forms (its position 0); event 3's
    // degraded form (position 1) is stored.
    let (stored, letters) = refused("mapper_parsing_exception");
    let messages: Vec<&str> = stored.iter().map(|document| document["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["event 1", "event 2", "event 3"]);
    let degraded = &stored[2];
    assert!(degraded["event"]["ingest_error"].as_str().unwrap().starts_with("mapper_parsing_exception: scripted item fault"), "{degraded}");
    assert!(stored[0]["event"].get("ingest_error").is_none());
    assert_eq!(letters.len(), 1, "{letters:?}");
    let (stage, message, reason) = &letters[0];
    assert_eq!((stage.as_str(), message.as_str()), ("bulk", "event 0"));
    assert!(reason.contains("refused as shipped (mapper_parsing_exception: scripted item fault) and degraded"), "{reason}");
}

#[test]
fn a_refusal_for_another_reason_is_a_dead_letter_at_once() {
    let (stored, letters) = refused("illegal_argument_exception");
    assert_eq!(stored.len(), 2);
    let refused: Vec<(&str, &str)> = letters.iter().map(|(stage, message, _)| (stage.as_str(), message.as_str())).collect();
    assert_eq!(refused, [("bulk", "event 0"), ("bulk", "event 3")]);
    assert!(
        letters.iter().all(|(_, _, reason)| reason.contains("illegal_argument_exception") && !reason.contains("degraded")),
        "{letters:?}"
    );
}
