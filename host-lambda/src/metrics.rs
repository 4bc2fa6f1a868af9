//! One CloudWatch embedded-metric-format (EMF) line per invocation.
//!
//! Lambda sends stdout to CloudWatch Logs, which turns a line with an `_aws` member into metrics,
//! so the function needs no CloudWatch client and no extra request per invocation.

use std::time::Duration;

use serde_json::{Map, Value, json};
use sluicegate_engine::transform::TransformCounts;

/// The metric namespace.
pub const NAMESPACE: &str = "Sluicegate";

/// Counts and times of one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvocationMetrics {
    /// Kinesis records in the batch.
    pub records: u64,
    /// Log events decoded.
    pub events_in: u64,
    /// Documents written to `_bulk` bodies.
    pub events_out: u64,
    /// Events dropped by transforms.
    pub dropped: u64,
    /// Records and events dead-lettered (decode, transform, document and rejected by Elasticsearch).
    pub dead_lettered: u64,
    /// `_bulk` HTTP requests.
    pub bulk_requests: u64,
    /// `_bulk` items sent again.
    pub bulk_items_retried: u64,
    /// `_bulk` items refused for their shape and stored in their degraded form.
    pub bulk_degraded: u64,
    /// `_bulk` items refused for good.
    pub bulk_rejected: u64,
    /// `_bulk` items not delivered in time.
    pub bulk_undelivered: u64,
    /// S3 objects (archive, dead letters) not stored after every attempt.
    pub s3_puts_failed: u64,
    /// Records reported in `batchItemFailures`.
    pub batch_item_failures: u64,
    /// Records the deadline came before the transforms had finished (reported, tried again).
    pub records_unfinished: u64,
    /// Bytes of `_bulk` bodies.
    pub bulk_bytes: u64,
    /// Bytes of archive objects (gzip).
    pub archive_bytes: u64,
    /// Decoding.
    pub decode: Duration,
    /// The transform chain.
    pub transform: Duration,
    /// Each transform, in chain order.
    pub per_transform: Vec<(String, Duration)>,
    /// What each transform's failures came to, in chain order.
    pub transforms: Vec<TransformCounts>,
    /// Documents, bodies and archive objects.
    pub encode: Duration,
    /// `_bulk` and S3, concurrently.
    pub ship: Duration,
    /// The whole invocation.
    pub total: Duration,
}

impl InvocationMetrics {
    /// The EMF line (JSON, no newline) with `function_name` as the one dimension.
    pub fn emf_line(&self, function_name: &str, timestamp_ms: u64) -> String {
        let mut counts: Vec<(String, u64)> = vec![
            ("Records".to_owned(), self.records),
            ("EventsIn".to_owned(), self.events_in),
            ("EventsOut".to_owned(), self.events_out),
            ("EventsDropped".to_owned(), self.dropped),
            ("DeadLettered".to_owned(), self.dead_lettered),
            ("BulkRequests".to_owned(), self.bulk_requests),
            ("BulkItemsRetried".to_owned(), self.bulk_items_retried),
            ("BulkItemsDegraded".to_owned(), self.bulk_degraded),
            ("BulkItemsRejected".to_owned(), self.bulk_rejected),
            ("BulkItemsUndelivered".to_owned(), self.bulk_undelivered),
            ("S3PutsFailed".to_owned(), self.s3_puts_failed),
            ("BatchItemFailures".to_owned(), self.batch_item_failures),
            ("RecordsUnfinished".to_owned(), self.records_unfinished),
        ];
        // Per transform, so that `pass` and `drop` policies are never silent (and can alarm).
        for counts_of in &self.transforms {
            let name = &counts_of.name;
            counts.push((format!("TransformFailed.{name}"), counts_of.failed));
            counts.push((format!("TransformPassedOnError.{name}"), counts_of.passed));
            counts.push((format!("TransformDroppedOnError.{name}"), counts_of.dropped));
            counts.push((format!("TransformNotRun.{name}"), counts_of.not_run));
        }
        let bytes = [("BulkBytes", self.bulk_bytes), ("ArchiveBytes", self.archive_bytes)];
        let mut times = vec![
            ("DecodeTime".to_owned(), self.decode),
            ("TransformTime".to_owned(), self.transform),
            ("EncodeTime".to_owned(), self.encode),
            ("ShipTime".to_owned(), self.ship),
            ("InvocationTime".to_owned(), self.total),
        ];
        times.extend(self.per_transform.iter().map(|(name, time)| (format!("TransformTime.{name}"), *time)));

        let mut definitions = Vec::new();
        let mut root = Map::new();
        for (name, value) in counts {
            definitions.push(json!({"Name": name, "Unit": "Count"}));
            root.insert(name, json!(value));
        }
        for (name, value) in bytes {
            definitions.push(json!({"Name": name, "Unit": "Bytes"}));
            root.insert(name.to_owned(), json!(value));
        }
        for (name, time) in times {
            definitions.push(json!({"Name": name, "Unit": "Milliseconds"}));
            // Three decimals: a decode of a small batch takes well under a millisecond.
            root.insert(name, json!((time.as_secs_f64() * 1e6).round() / 1e3));
        }
        root.insert("FunctionName".to_owned(), Value::String(function_name.to_owned()));
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["FunctionName"]], "Metrics": definitions}],
            }),
        );
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use expect_test::expect;

    use super::InvocationMetrics;

    #[test]
    fn one_line_declares_every_metric_it_carries() {
        let metrics = InvocationMetrics {
            records: 3,
            events_in: 10,
            events_out: 7,
            dropped: 2,
            dead_lettered: 1,
            bulk_requests: 2,
            bulk_items_retried: 4,
            batch_item_failures: 1,
            bulk_bytes: 2048,
            archive_bytes: 300,
            decode: Duration::from_micros(1500),
            per_transform: vec![("redact".to_owned(), Duration::from_micros(250))],
            ..InvocationMetrics::default()
        };
        let line = metrics.emf_line("sluicegate", 1_700_000_000_000);
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        // Every declared metric has a value at the root, as CloudWatch requires.
        for definition in value["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap() {
            let name = definition["Name"].as_str().unwrap();
            assert!(value.get(name).is_some_and(serde_json::Value::is_number), "{name} has no value");
        }
        expect![[r#"{"ArchiveBytes":300,"BatchItemFailures":1,"BulkBytes":2048,"BulkItemsDegraded":0,"BulkItemsRejected":0,"BulkItemsRetried":4,"BulkItemsUndelivered":0,"BulkRequests":2,"DeadLettered":1,"DecodeTime":1.5,"EncodeTime":0.0,"EventsDropped":2,"EventsIn":10,"EventsOut":7,"FunctionName":"sluicegate","InvocationTime":0.0,"Records":3,"RecordsUnfinished":0,"S3PutsFailed":0,"ShipTime":0.0,"TransformTime":0.0,"TransformTime.redact":0.25,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Records","Unit":"Count"},{"Name":"EventsIn","Unit":"Count"},{"Name":"EventsOut","Unit":"Count"},{"Name":"EventsDropped","Unit":"Count"},{"Name":"DeadLettered","Unit":"Count"},{"Name":"BulkRequests","Unit":"Count"},{"Name":"BulkItemsRetried","Unit":"Count"},{"Name":"BulkItemsDegraded","Unit":"Count"},{"Name":"BulkItemsRejected","Unit":"Count"},{"Name":"BulkItemsUndelivered","Unit":"Count"},{"Name":"S3PutsFailed","Unit":"Count"},{"Name":"BatchItemFailures","Unit":"Count"},{"Name":"RecordsUnfinished","Unit":"Count"},{"Name":"BulkBytes","Unit":"Bytes"},{"Name":"ArchiveBytes","Unit":"Bytes"},{"Name":"DecodeTime","Unit":"Milliseconds"},{"Name":"TransformTime","Unit":"Milliseconds"},{"Name":"EncodeTime","Unit":"Milliseconds"},{"Name":"ShipTime","Unit":"Milliseconds"},{"Name":"InvocationTime","Unit":"Milliseconds"},{"Name":"TransformTime.redact","Unit":"Milliseconds"}],"Namespace":"Sluicegate"}],"Timestamp":1700000000000}}"#]]
            .assert_eq(&line);
    }
}
