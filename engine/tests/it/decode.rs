//! Decoding CloudWatch Logs subscription records into documents, checked as snapshots.

use expect_test::{Expect, expect};
use sluicegate_engine::PipelineConfig;
use sluicegate_engine::bulk::BulkAction;
use sluicegate_engine::index::IndexTemplate;

use crate::fixture::{bulk_only, kinesis_batch, render, run};

#[track_caller]
fn check_with(records: &[&str], config: PipelineConfig, expect: Expect) {
    let outcome = run(&kinesis_batch(records), config);
    expect.assert_eq(&render(&outcome));
}

#[track_caller]
fn check(records: &[&str], expect: Expect) {
    check_with(records, bulk_only(), expect);
}

/// The CloudWatch Logs subscription sample from the AWS documentation.
const AWS_SAMPLE: &str = r#"{
    "owner": "111111111111",
    "logGroup": "CloudTrail/logs",
    "logStream": "111111111111_CloudTrail/logs_us-east-1",
    "subscriptionFilters": ["Destination"],
    "messageType": "DATA_MESSAGE",
    "logEvents": [
        {"id": "31953106606966983378809025079804211143289615424298221568", "timestamp": 1432826855000, "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"},
        {"id": "31953106606966983378809025079804211143289615424298221569", "timestamp": 1432826855000, "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"},
        {"id": "31953106606966983378809025079804211143289615424298221570", "timestamp": 1432826855000, "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}"}
    ]
}"#;

/// The control message CloudWatch Logs sends when a subscription is created.
const AWS_CONTROL_SAMPLE: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;

#[test]
fn aws_sample_decodes_to_ecs_documents() {
    check(
        &[AWS_SAMPLE],
        expect![[r#"
            record 0: events=3 shipped=3 dropped=0 dead=0
            -- bulk 0 (3 items)
            {"index":{"_index":"cwl-2015.05.28","_id":"31953106606966983378809025079804211143289615424298221568"}}
            {"@timestamp":"2015-05-28T15:27:35.000Z","message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}","event":{"id":"31953106606966983378809025079804211143289615424298221568"},"aws":{"cloudwatch":{"log_group":"CloudTrail/logs","log_stream":"111111111111_CloudTrail/logs_us-east-1"}},"cloud":{"account":{"id":"111111111111"}}}
            {"index":{"_index":"cwl-2015.05.28","_id":"31953106606966983378809025079804211143289615424298221569"}}
            {"@timestamp":"2015-05-28T15:27:35.000Z","message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}","event":{"id":"31953106606966983378809025079804211143289615424298221569"},"aws":{"cloudwatch":{"log_group":"CloudTrail/logs","log_stream":"111111111111_CloudTrail/logs_us-east-1"}},"cloud":{"account":{"id":"111111111111"}}}
            {"index":{"_index":"cwl-2015.05.28","_id":"31953106606966983378809025079804211143289615424298221570"}}
            {"@timestamp":"2015-05-28T15:27:35.000Z","message":"{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}","event":{"id":"31953106606966983378809025079804211143289615424298221570"},"aws":{"cloudwatch":{"log_group":"CloudTrail/logs","log_stream":"111111111111_CloudTrail/logs_us-east-1"}},"cloud":{"account":{"id":"111111111111"}}}
        "#]],
    );
}

#[test]
fn aws_sample_round_trips_through_the_documents() {
    // Parse, serialize, parse: every field of the sample survives into its document.
    let sample: serde_json::Value = serde_json::from_str(AWS_SAMPLE).unwrap();
    let outcome = run(&kinesis_batch(&[AWS_SAMPLE]), bulk_only());
    let body = String::from_utf8(outcome.bulk[0].body.clone()).unwrap();
    let documents: Vec<serde_json::Value> = body.lines().skip(1).step_by(2).map(|line| serde_json::from_str(line).unwrap()).collect();
    for (event, document) in sample["logEvents"].as_array().unwrap().iter().zip(&documents) {
        assert_eq!(document["event"]["id"], event["id"]);
        assert_eq!(document["message"], event["message"]);
        assert_eq!(document["aws"]["cloudwatch"]["log_group"], sample["logGroup"]);
        assert_eq!(document["aws"]["cloudwatch"]["log_stream"], sample["logStream"]);
        assert_eq!(document["cloud"]["account"]["id"], sample["owner"]);
        let timestamp = document["@timestamp"].as_str().unwrap();
        assert_eq!(sluicegate_engine::time::parse_rfc3339(timestamp), event["timestamp"].as_i64());
    }
    assert_eq!(documents.len(), 3);
}

#[test]
fn control_messages_are_acknowledged_and_ship_nothing() {
    check(
        &[AWS_CONTROL_SAMPLE],
        expect![[r#"
            record 0: events=0 shipped=0 dropped=0 dead=0 control
        "#]],
    );
}

#[test]
fn integer_ids_unknown_fields_and_empty_events() {
    check(
        &[
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":42,"timestamp":0,"message":"from moto","extra":true}]}"#,
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[]}"#,
        ],
        expect![[r#"
            record 0: events=1 shipped=1 dropped=0 dead=0
            record 1: events=0 shipped=0 dropped=0 dead=0
            -- bulk 0 (1 items)
            {"index":{"_index":"cwl-1970.01.01","_id":"42"}}
            {"@timestamp":"1970-01-01T00:00:00.000Z","message":"from moto","event":{"id":"42"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"1"}}}
        "#]],
    );
}

#[test]
fn escapes_and_unicode_survive() {
    check(
        &[
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"tab\there \"quoted\" \\ back \u0001 ctl é 日本 \ud83d\ude00"}]}"#,
        ],
        expect![[r#"
            record 0: events=1 shipped=1 dropped=0 dead=0
            -- bulk 0 (1 items)
            {"index":{"_index":"cwl-1970.01.01","_id":"1"}}
            {"@timestamp":"1970-01-01T00:00:00.001Z","message":"tab\there \"quoted\" \\ back \u0001 ctl é 日本 😀","event":{"id":"1"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"1"}}}
        "#]],
    );
}

#[test]
fn bad_records_become_dead_letters_and_the_rest_ships() {
    check(
        &[
            "raw:Hello, this is a test.",
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"7","timestamp":1,"message":"good"}]}"#,
            r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"8","timestamp":"yesterday","message":"bad"}]}"#,
            r#"{"messageType":"DATA_MESSAGE" "#,
            r#"{"messageType":"SURPRISE","logEvents":[]}"#,
        ],
        expect![[r#"
            record 0: events=0 shipped=0 dropped=0 dead=1
            record 1: events=1 shipped=1 dropped=0 dead=0
            record 2: events=0 shipped=0 dropped=0 dead=1
            record 3: events=0 shipped=0 dropped=0 dead=1
            record 4: events=0 shipped=0 dropped=0 dead=1
            -- bulk 0 (1 items)
            {"index":{"_index":"cwl-1970.01.01","_id":"7"}}
            {"@timestamp":"1970-01-01T00:00:00.001Z","message":"good","event":{"id":"7"},"aws":{"cloudwatch":{"log_group":"g","log_stream":"s"}},"cloud":{"account":{"id":"1"}}}
            -- dead letter record 0 [decode] record is not gzip (first bytes [48, 65, 6c, 6c]): 22 bytes
            -- dead letter record 2 [decode] record is not cloudwatch logs subscription json: invalid type: string "yesterday", expected i64 at line 1 column 76: 107 bytes
            -- dead letter record 3 [decode] record is not cloudwatch logs subscription json: EOF while parsing an object at line 1 column 30: 53 bytes
            -- dead letter record 4 [decode] unknown messageType "SURPRISE": 64 bytes
        "#]],
    );
}

#[test]
fn index_template_with_log_group_and_create_action() {
    let config = PipelineConfig {
        index_template: IndexTemplate::parse("logs-{log_group}-{yyyy}.{MM}").unwrap(),
        bulk_action: BulkAction::Create,
        ..bulk_only()
    };
    check_with(
        &[
            r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/Orders","logStream":"s","logEvents":[{"id":"9","timestamp":1764324000000,"message":"m"}]}"#,
        ],
        config,
        expect![[r#"
            record 0: events=1 shipped=1 dropped=0 dead=0
            -- bulk 0 (1 items)
            {"create":{"_index":"logs-aws-lambda-orders-2025.11","_id":"9"}}
            {"@timestamp":"2025-11-28T10:00:00.000Z","message":"m","event":{"id":"9"},"aws":{"cloudwatch":{"log_group":"/aws/lambda/Orders","log_stream":"s"}},"cloud":{"account":{"id":"1"}}}
        "#]],
    );
}
