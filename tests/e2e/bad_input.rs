//! Bad input through the whole Lambda: each bad record becomes a dead letter with its reason, the
//! rest is delivered, nothing panics and nothing is reported for retry.

use base64::Engine as _;
use expect_test::expect;
use serde_json::json;
use sluicegate_tests::moto::lambda_event;

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

#[test]
fn bad_records_become_dead_letters_and_the_rest_is_delivered() {
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0, "before".to_owned())]);
    // Records CloudWatch Logs would never send, put on the same stream.
    stack.moto.put_record(STREAM, b"not gzip at all");
    // 16 MiB of spaces against a 4 MiB cap (set below).
    let bomb = sluicegate_tests::gzip_best(&vec![b' '; 16 << 20]);
    assert!(bomb.len() < 1 << 20, "the bomb ({} bytes) fits in one kinesis record", bomb.len());
    stack.moto.put_record(STREAM, &bomb);
    stack.moto.put_record(STREAM, &sluicegate_tests::gzip(b"{\"messageType\": \"DATA_MESSAGE\", \"logEvents\": [")); // cut short
    let big_message = "x".repeat(1 << 20);
    let big = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": LOG_GROUP, "logStream": LOG_STREAM,
        "subscriptionFilters": ["sluicegate"], "logEvents": [{"id": "big-1", "timestamp": t0 + 1, "message": big_message}],
    });
    stack.moto.put_record(STREAM, &sluicegate_tests::gzip(big.to_string().as_bytes()));
    stack.moto.put_record(STREAM, b"garbage base64 comes next");
    stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &[(t0 + 2, "after".to_owned())]);
    let records = stack.moto.read_shard(STREAM);
    assert_eq!(records.len(), 7);
    let mut event = lambda_event(STREAM, &records);
    // Kinesis always hands Lambda valid base64; a broken event source must still not block the shard.
    event["Records"][5]["kinesis"]["data"] = json!("this is not base64!");

    let mut lambda = stack.lambda(&stack.moto.url, &[("SLUICEGATE_MAX_INFLATED_BYTES", (4 << 20).to_string())]);
    let response = lambda.invoke(&event);
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");

    let messages: Vec<String> =
        stack.es_documents().iter().map(|(_, source)| source["message"].as_str().unwrap().chars().take(10).collect()).collect();
    assert_eq!(messages, ["before", "xxxxxxxxxx", "after"]);

    let dead_letters = stack.objects("dead-letter/");
    assert_eq!(dead_letters.len(), 1, "{dead_letters:?}");
    let mut rendered = String::new();
    for line in &dead_letters[0].1 {
        let record_idx = records.iter().position(|record| record["SequenceNumber"] == line["sequence_number"]).unwrap();
        rendered += &format!("record {record_idx}: {} {}\n", line["stage"].as_str().unwrap(), line["reason"].as_str().unwrap());
    }
    expect![[r#"
        record 1: decode record is not gzip (first bytes [6e, 6f, 74, 20])
        record 2: decode record inflates past the cap of 4194304 bytes
        record 5: decode record data is not valid base64: Invalid symbol 32, offset 4.
        record 3: decode record is not cloudwatch logs subscription json: EOF while parsing a list at line 1 column 46
    "#]]
    .assert_eq(&rendered);
    // The original content comes back byte for byte.
    let not_gzip = base64::engine::general_purpose::STANDARD.decode(dead_letters[0].1[0]["original_base64"].as_str().unwrap()).unwrap();
    assert_eq!(not_gzip, b"not gzip at all");

    let response = lambda.invoke(&json!({"Records": []}));
    assert_eq!(failures(&response), Vec::<String>::new());
    lambda.function.assert_running();
}
