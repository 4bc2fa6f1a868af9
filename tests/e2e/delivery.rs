//! The whole job: CloudWatch Logs through a subscription to Kinesis, the real Lambda, OpenSearch and S3.

use expect_test::expect;
use sluicegate_tests::moto::lambda_event;

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

#[test]
fn log_events_arrive_in_opensearch_and_the_archive_once() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    // Two PutLogEvents calls, so two subscription messages and two Kinesis records.
    stack.moto.put_log_events(
        LOG_GROUP,
        LOG_STREAM,
        &[
            (t0, "START RequestId: 8f5a Version: $LATEST".to_owned()),
            (t0 + 1, r#"{"level":"info","msg":"order placed","order_id":42}"#.to_owned()),
        ],
    );
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0 + 2, "END RequestId: 8f5a".to_owned())]);
    let records = stack.moto.read_shard(STREAM);
    assert_eq!(records.len(), 2, "one kinesis record per subscription message");
    let event = lambda_event(STREAM, &records);

    let mut lambda = stack.lambda(&stack.moto.url, &[]);
    let response = lambda.invoke(&event);
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}\n{}", lambda.function.output());

    let documents = stack.es_documents();
    assert_eq!(stack.es_count(), 3, "bootstrap output:\n{}", lambda.function.output());
    let mut rendered = String::new();
    for (id, source) in &documents {
        // `_id` is the CloudWatch event id, so a replay overwrites instead of adding.
        assert_eq!(source["event"]["id"].as_str(), Some(id.as_str()), "{source}");
        rendered += &format!(
            "{} {} {} {}\n",
            sluicegate_tests::offset_from(t0, source["@timestamp"].as_str().unwrap()),
            source["aws"]["cloudwatch"]["log_group"].as_str().unwrap(),
            source["cloud"]["account"]["id"],
            source["message"]
        );
    }
    expect![[r#"
        T0+0ms /aws/lambda/checkout "123456789012" "START RequestId: 8f5a Version: $LATEST"
        T0+1ms /aws/lambda/checkout "123456789012" "{\"level\":\"info\",\"msg\":\"order placed\",\"order_id\":42}"
        T0+2ms /aws/lambda/checkout "123456789012" "END RequestId: 8f5a"
    "#]]
    .assert_eq(&rendered);

    let archive = stack.objects("archive/");
    assert_eq!(archive.len(), 1, "one archive object per invocation: {archive:?}");
    let (key, lines) = &archive[0];
    let first_sequence_number = records[0]["SequenceNumber"].as_str().unwrap();
    // The stream, shard and first record name the object: a retry rewrites it, another stream cannot.
    assert!(key.ends_with(&format!("/{STREAM}-shardId-000000000000-{first_sequence_number}.ndjson.gz")), "{key}");
    assert!(key.starts_with("archive/year="), "{key}");
    let archived: Vec<&str> = lines.iter().map(|line| line["message"].as_str().unwrap()).collect();
    let indexed: Vec<&str> = documents.iter().map(|(_, source)| source["message"].as_str().unwrap()).collect();
    assert_eq!(archived, indexed, "the archive holds the documents as shipped");
    assert!(stack.objects("dead-letter/").is_empty());

    // Kinesis delivers at least once: the same batch again must not add documents.
    let response = lambda.invoke(&event);
    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(stack.es_count(), 3);
    let output = lambda.function.output();
    assert!(output.contains("\"CloudWatchMetrics\""), "no EMF line in:\n{output}");
}
