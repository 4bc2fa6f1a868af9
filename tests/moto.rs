//! Talking to moto over plain HTTP: the JSON APIs of Kinesis, CloudWatch Logs and KMS, and S3 by path.
//!
//! moto does not check signatures; it only reads the service and region from the credential
//! scope of the `Authorization` header, so a fixed header routes each request.

use base64::Engine as _;
use serde_json::{Value, json};

/// A moto server's address.
#[derive(Debug, Clone)]
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

/// The region every test uses.
pub const REGION: &str = "us-east-1";

fn authorization(service: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0")
}

impl Moto {
    /// Calls a JSON-protocol action, e.g. `call("kinesis", "Kinesis_20131202.CreateStream", …)`.
    pub fn call(&self, service: &str, target: &str, body: Value) -> Value {
        let response = ureq::post(&self.url)
            .header("Authorization", authorization(service))
            .header("X-Amz-Target", target)
            .header("Content-Type", "application/x-amz-json-1.1")
            .config()
            .http_status_as_error(false)
            .build()
            .send(body.to_string())
            .unwrap_or_else(|error| panic!("{target}: {error}"));
        let status = response.status();
        let text = response.into_body().read_to_string().expect("response body");
        assert!(status.is_success(), "{target} answered {status}: {text}");
        if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect("json response") }
    }

    /// Creates a KMS key and returns its id.
    pub fn create_kms_key(&self) -> String {
        let key = self.call("kms", "TrentService.CreateKey", json!({"Description": "sluicegate archive"}));
        key["KeyMetadata"]["KeyId"].as_str().expect("key id").to_owned()
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, bucket: &str) {
        let response = ureq::put(&format!("{}/{bucket}", self.url))
            .header("Authorization", authorization("s3"))
            .send_empty()
            .unwrap_or_else(|error| panic!("create bucket {bucket}: {error}"));
        assert!(response.status().is_success());
    }

    /// Puts `body` at `bucket`/`key` (unencrypted: only the function's own writes must be SSE-KMS).
    pub fn put_object(&self, bucket: &str, key: &str, body: &[u8]) {
        let response = ureq::put(&format!("{}/{bucket}/{key}", self.url))
            .header("Authorization", authorization("s3"))
            .send(body)
            .unwrap_or_else(|error| panic!("put {bucket}/{key}: {error}"));
        assert!(response.status().is_success());
    }

    /// Keys under `prefix` in `bucket`, sorted.
    pub fn list_keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let text = ureq::get(&format!("{}/{bucket}", self.url))
            .query("list-type", "2")
            .query("prefix", prefix)
            .header("Authorization", authorization("s3"))
            .call()
            .unwrap_or_else(|error| panic!("list {bucket}: {error}"))
            .into_body()
            .read_to_string()
            .expect("list body");
        let mut keys: Vec<String> =
            text.split("<Key>").skip(1).filter_map(|part| part.split_once("</Key>")).map(|(key, _)| key.to_owned()).collect();
        keys.sort();
        keys
    }

    /// An object's bytes and its `x-amz-server-side-encryption` header.
    pub fn get_object(&self, bucket: &str, key: &str) -> (Vec<u8>, Option<String>) {
        let response = ureq::get(&format!("{}/{bucket}/{key}", self.url))
            .header("Authorization", authorization("s3"))
            .call()
            .unwrap_or_else(|error| panic!("get {bucket}/{key}: {error}"));
        let encryption = response.headers().get("x-amz-server-side-encryption").and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = response.into_body().with_config().limit(256 << 20).read_to_vec().expect("object body");
        (body, encryption)
    }

    /// Creates a one-shard stream, a log group and stream, and a subscription filter from the group to the stream.
    pub fn subscribe(&self, stream: &str, log_group: &str, log_stream: &str) {
        self.call("kinesis", "Kinesis_20131202.CreateStream", json!({"StreamName": stream, "ShardCount": 1}));
        self.subscribe_group(stream, log_group, log_stream);
    }

    /// Creates a log group and stream and subscribes the group to an existing stream.
    pub fn subscribe_group(&self, stream: &str, log_group: &str, log_stream: &str) {
        self.call("logs", "Logs_20140328.CreateLogGroup", json!({"logGroupName": log_group}));
        self.call("logs", "Logs_20140328.CreateLogStream", json!({"logGroupName": log_group, "logStreamName": log_stream}));
        self.call(
            "logs",
            "Logs_20140328.PutSubscriptionFilter",
            json!({
                "logGroupName": log_group,
                "filterName": "sluicegate",
                "filterPattern": "",
                "destinationArn": format!("arn:aws:kinesis:{REGION}:123456789012:stream/{stream}"),
                "roleArn": "arn:aws:iam::123456789012:role/cwl-to-kinesis",
            }),
        );
    }

    /// Puts log events `(timestamp ms, message)`.
    pub fn put_log_events(&self, log_group: &str, log_stream: &str, events: &[(i64, String)]) {
        let log_events: Vec<Value> =
            events.iter().map(|(timestamp, message)| json!({"timestamp": timestamp, "message": message})).collect();
        self.call(
            "logs",
            "Logs_20140328.PutLogEvents",
            json!({"logGroupName": log_group, "logStreamName": log_stream, "logEvents": log_events}),
        );
    }

    /// Every record on the stream's first shard, as Kinesis `GetRecords` gives them.
    pub fn read_shard(&self, stream: &str) -> Vec<Value> {
        let iterator = self.call(
            "kinesis",
            "Kinesis_20131202.GetShardIterator",
            json!({"StreamName": stream, "ShardId": SHARD_ID, "ShardIteratorType": "TRIM_HORIZON"}),
        );
        let records =
            self.call("kinesis", "Kinesis_20131202.GetRecords", json!({"ShardIterator": iterator["ShardIterator"], "Limit": 10000}));
        records["Records"].as_array().expect("records").clone()
    }

    /// Puts raw bytes on the stream (for records CloudWatch Logs would never send).
    pub fn put_record(&self, stream: &str, data: &[u8]) {
        self.call(
            "kinesis",
            "Kinesis_20131202.PutRecord",
            json!({"StreamName": stream, "PartitionKey": "p", "Data": base64::engine::general_purpose::STANDARD.encode(data)}),
        );
    }
}

/// The only shard of the test streams.
pub const SHARD_ID: &str = "shardId-000000000000";

/// The Lambda event a Kinesis event source mapping would send for `records` (from [`Moto::read_shard`]).
pub fn lambda_event(stream: &str, records: &[Value]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|record| {
            let sequence_number = record["SequenceNumber"].as_str().expect("sequence number");
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": record["PartitionKey"],
                    "sequenceNumber": sequence_number,
                    "data": record["Data"],
                    "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"],
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("{SHARD_ID}:{sequence_number}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/sluicegate",
                "awsRegion": REGION,
                "eventSourceARN": format!("arn:aws:kinesis:{REGION}:123456789012:stream/{stream}"),
            })
        })
        .collect();
    json!({ "Records": records })
}
