//! `sluicegate replay --failed`: batches the event source mapping gave up on, as its S3
//! on-failure destination keeps them (the invocation record with the whole event as its
//! payload), go through the Lambda's handler again and end in OpenSearch and the archive.

use std::process::Command;

use serde_json::{Value, json};
use sluicegate_tests::moto::{REGION, lambda_event};

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack};

#[test]
fn batches_the_mapping_gave_up_on_are_driven_through_again() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0, "first".to_owned()), (t0 + 1, "second".to_owned())]);
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0 + 2, "third".to_owned())]);
    let records = stack.moto.read_shard(STREAM);
    let event = lambda_event(STREAM, &records);
    // What the mapping writes when it discards a batch, in the documented shape.
    let invocation_record = json!({
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4a5c-af9c-0c604cde93a5",
            "functionArn": format!("arn:aws:lambda:{REGION}:123456789012:function:sluicegate"),
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 4
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-12-07T00:13:49.717Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000000",
            "startSequenceNumber": records[0]["SequenceNumber"],
            "endSequenceNumber": records[1]["SequenceNumber"],
            "batchSize": 2,
            "streamArn": format!("arn:aws:kinesis:{REGION}:123456789012:stream/{STREAM}")
        },
        "payload": event,
    });
    let prefix = "aws/lambda/0f1e2d3c-aaaa-bbbb-cccc-123456789abc/shardId-000000000000/2026/12/07/00";
    stack.moto.put_object(&stack.bucket, &format!("{prefix}/2026-12-07T00.13.49-c9b8fa9f"), invocation_record.to_string().as_bytes());
    stack.moto.put_object(&stack.bucket, &format!("{prefix}/notes.txt"), b"not a record");

    let sluicegate = sluicegate_tests::bootstrap_path().with_file_name("sluicegate");
    let output = Command::new(sluicegate)
        .args(["replay", "--failed", "--s3-bucket", &stack.bucket, "--s3-endpoint", &stack.moto.url])
        .args(["--es-url", &stack.es_url, "--s3-kms-key-id", &stack.kms_key_id])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run sluicegate replay --failed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("a JSON summary");
    assert_eq!(summary["objects"], 1, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(summary["events_out"], 3, "{summary}");
    assert_eq!(summary["records_failed"], 0, "{summary}");
    assert!(stderr.contains("notes.txt skipped: not JSON"), "{stderr}");
    let messages: Vec<String> = stack.es_documents().iter().map(|(_, source)| source["message"].as_str().unwrap().to_owned()).collect();
    assert_eq!(messages, ["first", "second", "third"]);
    let archive = stack.objects("archive/");
    assert_eq!(archive.len(), 1, "the batch archived as the Lambda would have: {archive:?}");
    assert_eq!(archive[0].1.len(), 3);
}
