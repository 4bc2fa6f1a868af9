//! Deterministic CloudWatch Logs corpora for tests, benchmarks and the demo.
//!
//! The standard corpus is 200 Kinesis records of 50 log events (10,000 events, about 2.4 MB of
//! log text) mixing JSON application logs, access logs, Lambda platform lines and key=value
//! lines; the maximum batch is 1,000 records of 100 events. The same seed gives the same bytes.

use base64::Engine as _;

use crate::document::write_json_str;
use crate::kinesis::{KinesisData, KinesisEvent, KinesisEventRecord};

/// The shape of a generated batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusSpec {
    /// Kinesis records in the batch.
    pub n_records: usize,
    /// Log events per record.
    pub n_events_per_record: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl CorpusSpec {
    /// The standard corpus: 200 records of 50 events.
    pub const STANDARD: CorpusSpec = CorpusSpec { n_records: 200, n_events_per_record: 50, seed: 7 };
    /// The maximum batch: 1,000 records of 100 events.
    pub const MAXIMUM: CorpusSpec = CorpusSpec { n_records: 1000, n_events_per_record: 100, seed: 11 };
}

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// One generated log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// CloudWatch-style 56-digit id.
    pub id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The log line.
    pub message: String,
}

/// The log group, stream and events of one CloudWatch Logs subscription message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// The owning account.
    pub owner: String,
    /// The log group.
    pub log_group: String,
    /// The log stream.
    pub log_stream: String,
    /// The events.
    pub events: Vec<LogLine>,
}

const START_MS: i64 = 1_764_324_000_000; // 2025-11-28T10:00:00Z

const GROUPS: [(&str, Kind); 5] = [
    ("/aws/lambda/orders-api", Kind::Lambda),
    ("/ecs/checkout-web", Kind::Access),
    ("/app/payments", Kind::Json),
    ("/app/inventory", Kind::KeyValue),
    ("/aws/lambda/image-resizer", Kind::Lambda),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Json,
    Access,
    Lambda,
    KeyValue,
}

/// The subscription messages of a batch, one per Kinesis record.
pub fn log_messages(spec: CorpusSpec) -> Vec<LogMessage> {
    let mut rng = Rng::new(spec.seed);
    let mut timestamp = START_MS;
    (0..spec.n_records)
        .map(|record_idx| {
            let (log_group, kind) = GROUPS[record_idx % GROUPS.len()];
            let log_stream = format!("2025/11/28/[$LATEST]{:032x}", rng.next_u64() as u128 * 7919);
            let events = (0..spec.n_events_per_record)
                .map(|_| {
                    timestamp += rng.below(40) as i64;
                    let message = match kind {
                        Kind::Json => json_line(&mut rng, timestamp),
                        Kind::Access => access_line(&mut rng),
                        Kind::Lambda => lambda_line(&mut rng),
                        Kind::KeyValue => key_value_line(&mut rng),
                    };
                    LogLine { id: event_id(&mut rng, timestamp), timestamp, message }
                })
                .collect();
            LogMessage { owner: "123456789012".to_owned(), log_group: log_group.to_owned(), log_stream, events }
        })
        .collect()
}

/// The batch as the Kinesis event Lambda receives: gzip, base64, sequence numbers.
pub fn kinesis_event(spec: CorpusSpec) -> KinesisEvent {
    kinesis_event_from(&log_messages(spec))
}

/// A Kinesis event with one record per message.
pub fn kinesis_event_from(messages: &[LogMessage]) -> KinesisEvent {
    let payloads: Vec<Vec<u8>> = messages.iter().map(|message| gzip_json(&subscription_json(message))).collect();
    kinesis_event_from_payloads(&payloads)
}

/// A Kinesis event with one record per payload (already gzip, or deliberately not).
pub fn kinesis_event_from_payloads(payloads: &[Vec<u8>]) -> KinesisEvent {
    let records = payloads
        .iter()
        .enumerate()
        .map(|(record_idx, payload)| {
            let sequence_number = format!("4959033827149025660855969253836157109592157598913658{:04}", record_idx);
            KinesisEventRecord {
                event_id: format!("shardId-000000000000:{sequence_number}"),
                event_source_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/sluicegate".to_owned(),
                kinesis: KinesisData {
                    sequence_number,
                    partition_key: format!("{record_idx}"),
                    data: base64::engine::general_purpose::STANDARD.encode(payload),
                    approximate_arrival_timestamp: (START_MS + 60_000) as f64 / 1000.0 + record_idx as f64 * 0.001,
                },
            }
        })
        .collect();
    KinesisEvent { records }
}

/// The CloudWatch Logs subscription JSON of a message.
pub fn subscription_json(message: &LogMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.events.iter().map(|e| e.message.len() + 100).sum::<usize>() + 300);
    out.extend_from_slice(b"{\"messageType\":\"DATA_MESSAGE\",\"owner\":");
    write_json_str(&mut out, &message.owner);
    out.extend_from_slice(b",\"logGroup\":");
    write_json_str(&mut out, &message.log_group);
    out.extend_from_slice(b",\"logStream\":");
    write_json_str(&mut out, &message.log_stream);
    out.extend_from_slice(b",\"subscriptionFilters\":[\"sluicegate\"],\"logEvents\":[");
    for (event_idx, event) in message.events.iter().enumerate() {
        if event_idx > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        write_json_str(&mut out, &event.id);
        out.extend_from_slice(format!(",\"timestamp\":{},\"message\":", event.timestamp).as_bytes());
        write_json_str(&mut out, &event.message);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

/// Gzip as CloudWatch Logs sends it.
pub fn gzip_json(json: &[u8]) -> Vec<u8> {
    crate::archive::gzip(json)
}

fn event_id(rng: &mut Rng, timestamp: i64) -> String {
    format!(
        "{:020}{:018}{:018}",
        timestamp as u64 * 1000,
        rng.next_u64() % 1_000_000_000_000_000_000,
        rng.next_u64() % 1_000_000_000_000_000_000
    )
}

const USERS: [&str; 6] = ["u-1042", "u-2210", "u-3371", "u-4410", "u-5150", "u-9001"];
const SERVICES: [&str; 3] = ["payments", "ledger", "fraud-check"];
const PATHS: [&str; 6] = ["/api/orders", "/api/orders/8812/items", "/api/cart", "/healthz", "/static/app.3f9a1c.js", "/api/users/me"];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];

fn json_line(rng: &mut Rng, timestamp: i64) -> String {
    let level = *rng.pick(&["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]);
    let user = rng.pick(&USERS);
    let service = rng.pick(&SERVICES);
    let amount = rng.below(50_000) as f64 / 100.0;
    let trace = rng.next_u64();
    let time = crate::time::Civil::from_millis(timestamp).rfc3339();
    match rng.below(8) {
        // A few lines carry personal data, so that the redact transform has work to do.
        0 => format!(
            r#"{{"level":"{level}","time":"{time}","service":"{service}","msg":"receipt sent","user":"{user}","email":"{user}@example.com","trace_id":"{trace:016x}","env":"production","region":"eu-west-1","host":"ip-10-0-1-23.eu-west-1.compute.internal"}}"#
        ),
        1 => format!(
            r#"{{"level":"WARN","time":"{time}","service":"{service}","msg":"card declined","user":"{user}","card":"4111 1111 1111 1111","amount":{amount},"trace_id":"{trace:016x}","env":"production","region":"eu-west-1","reason":"issuer declined"}}"#
        ),
        _ => format!(
            r#"{{"level":"{level}","time":"{time}","service":"{service}","msg":"payment authorized","user":"{user}","amount":{amount},"currency":"EUR","latency_ms":{},"trace_id":"{trace:016x}","span_id":"{:08x}","env":"production","region":"eu-west-1","version":"2.14.3","host":"ip-10-0-1-23.eu-west-1.compute.internal"}}"#,
            rng.below(900),
            rng.next_u64() as u32
        ),
    }
}

fn access_line(rng: &mut Rng) -> String {
    let status = *rng.pick(&[200, 200, 200, 201, 304, 404, 500]);
    format!(
        r#"10.0.{}.{} - - [28/Nov/2025:10:{:02}:{:02} +0000] "{} {} HTTP/1.1" {status} {} "https://shop.example.com/cart" "{}""#,
        rng.below(8),
        rng.below(250) + 2,
        rng.below(60),
        rng.below(60),
        rng.pick(&["GET", "GET", "POST", "PUT"]),
        rng.pick(&PATHS),
        rng.below(40_000),
        rng.pick(&AGENTS)
    )
}

fn lambda_line(rng: &mut Rng) -> String {
    let request_id = format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        rng.next_u64() as u32,
        rng.below(0xffff),
        rng.below(0xffff),
        rng.below(0xffff),
        rng.next_u64() & 0xffff_ffff_ffff
    );
    match rng.below(4) {
        0 => format!("START RequestId: {request_id} Version: $LATEST"),
        1 => format!("END RequestId: {request_id}"),
        2 => {
            let duration = rng.below(200_000) as f64 / 100.0;
            format!(
                "REPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 512 MB\tMax Memory Used: {} MB\t",
                duration.ceil() as u64,
                60 + rng.below(400)
            )
        }
        _ => format!(
            "{}\t{request_id}\tINFO\tresized image s3://images-bucket/uploads/{}.jpg to 3 sizes (thumbnail 128x128, medium 640x480, large 1920x1080) in {} ms, output written to s3://images-bucket/resized/",
            crate::time::Civil::from_millis(START_MS + rng.below(3_600_000) as i64).rfc3339(),
            rng.next_u64() % 100_000,
            rng.below(3000)
        ),
    }
}

fn key_value_line(rng: &mut Rng) -> String {
    format!(
        r#"time=2025-11-28T10:{:02}:{:02}Z level={} msg="{}" sku=SKU-{} warehouse=eu-west-{} qty={} duration={}ms version=2.14.{} request_id={:016x} host=inventory-7f9c6d5b8-x2k4q env=production region=eu-west-1 db_pool_in_use={} db_pool_size=20 cache=redis-primary"#,
        rng.below(60),
        rng.below(60),
        rng.pick(&["debug", "info", "info", "warn"]),
        rng.pick(&["stock reserved", "cache miss", "stock level low", "reservation released"]),
        rng.below(99_999),
        rng.below(3) + 1,
        rng.below(50),
        rng.below(400),
        rng.below(9),
        rng.next_u64(),
        rng.below(20)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_corpus_has_the_documented_size() {
        let messages = log_messages(CorpusSpec::STANDARD);
        let n_events: usize = messages.iter().map(|m| m.events.len()).sum();
        let n_bytes: usize = messages.iter().flat_map(|m| &m.events).map(|e| e.message.len()).sum();
        assert_eq!(n_events, 10_000);
        assert!((1_800_000..3_000_000).contains(&n_bytes), "{n_bytes} bytes of log text");
        assert_eq!(log_messages(CorpusSpec::STANDARD), messages, "the corpus is deterministic");
    }
}
