//! S3 put failures: the records whose archive object could not be written go back as
//! `batchItemFailures`, and replaying them delivers the rest with no duplicate documents.

use sluicegate_tests::moto::lambda_event;
use sluicegate_tests::process::free_port;

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

#[test]
fn records_whose_archive_failed_are_reported_and_their_replay_adds_no_duplicates() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    for event_idx in 0..3 {
        stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0 + event_idx, format!("event {event_idx}"))]);
    }
    let records = stack.moto.read_shard(STREAM);
    let sequence_numbers: Vec<String> = records.iter().map(|record| record["SequenceNumber"].as_str().unwrap().to_owned()).collect();
    assert_eq!(sequence_numbers.len(), 3);

    // S3 is down: a port where nothing listens.
    let dead_s3 = format!("http://127.0.0.1:{}", free_port());
    let mut lambda = stack.lambda(&dead_s3, &[("SLUICEGATE_S3_MAX_ATTEMPTS", "2".to_owned())]);
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    // Every record has a document in the archive object that was not written.
    assert_eq!(failures(&response), sequence_numbers, "{response}");
    assert_eq!(stack.es_count(), 3, "the documents themselves were delivered");
    drop(lambda);

    // Kinesis retries from the lowest reported record; this time S3 is up.
    let reported: Vec<_> =
        records.iter().filter(|record| failures(&response).iter().any(|s| record["SequenceNumber"] == **s)).cloned().collect();
    let mut lambda = stack.lambda(&stack.moto.url, &[]);
    let response = lambda.invoke(&lambda_event(STREAM, &reported));
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    assert_eq!(stack.es_count(), 3, "the replay overwrote documents instead of adding them");
    let archive = stack.objects("archive/");
    assert_eq!(archive.len(), 1);
    assert_eq!(archive[0].1.len(), 3);
}
