//! Property tests: arbitrary and mangled records never panic and never abort the batch.

use sluicegate_engine::corpus::{CorpusSpec, Rng, gzip_json, kinesis_event_from_payloads, log_messages, subscription_json};
use sluicegate_engine::decode::DecodeError;
use sluicegate_engine::pipeline::SLICE_INFLATED_BYTES;
use sluicegate_engine::{Pipeline, PipelineConfig};

/// Runs `payloads` with one good record after them and checks every record is accounted for.
#[track_caller]
fn check_accounted(payloads: Vec<Vec<u8>>, pipeline: &mut Pipeline) {
    let good = gzip_json(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"ok"}]}"#);
    let mut payloads = payloads;
    payloads.push(good);
    let batch = kinesis_event_from_payloads(&payloads);
    let outcome = pipeline.run(&batch, None);
    assert_eq!(outcome.records.len(), payloads.len());
    for record in &outcome.records {
        // Every record is either decoded (each event shipped, dropped or dead-lettered, or a
        // control message) or dead-lettered whole: none is lost. (An earlier form of this check
        // also accepted a record with no events and no dead letter, which is exactly a record
        // that vanished.)
        let n_accounted = record.n_shipped + record.n_dropped + record.n_dead_lettered;
        let decoded = record.n_events > 0 && n_accounted == record.n_events;
        assert!(record.control || decoded || record.n_events == 0 && record.n_dead_lettered == 1, "{record:?}");
    }
    let last = outcome.records.last().unwrap();
    assert_eq!(last.n_shipped, 1, "the good record after the bad ones still ships");
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng::new(1);
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    for _ in 0..300 {
        let payloads = (0..4)
            .map(|_| {
                let n_bytes = rng.below(300) as usize;
                let mut bytes: Vec<u8> = (0..n_bytes).map(|_| rng.next_u64() as u8).collect();
                if rng.below(2) == 0 && bytes.len() > 2 {
                    // Half the time start with the gzip magic so the inflater sees garbage too.
                    bytes[0] = 0x1f;
                    bytes[1] = 0x8b;
                }
                bytes
            })
            .collect();
        check_accounted(payloads, &mut pipeline);
    }
}

#[test]
fn mangled_real_records_never_panic() {
    let json = subscription_json(&log_messages(CorpusSpec { n_records: 1, n_events_per_record: 20, seed: 3 })[0]);
    let gzip = gzip_json(&json);
    let mut rng = Rng::new(2);
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    for round in 0..400 {
        let mut payload = if round % 2 == 0 { gzip.clone() } else { json.clone() };
        match rng.below(4) {
            0 => payload.truncate(rng.below(payload.len() as u64) as usize),
            1 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(payload.len() as u64) as usize;
                    payload[at] ^= 1 << rng.below(8);
                }
            }
            2 => {
                let at = rng.below(payload.len() as u64) as usize;
                payload.insert(at, 0xff); // not UTF-8
            }
            _ => payload.extend_from_slice(b"trailing"),
        }
        let payload = if round % 2 == 0 { payload } else { gzip_json(&payload) };
        check_accounted(vec![payload], &mut pipeline);
    }
}

#[test]
fn gzip_bomb_is_rejected_at_the_cap() {
    let spaces = vec![b' '; 24 << 20];
    let mut compressor = libdeflater::Compressor::new(libdeflater::CompressionLvl::best());
    let mut bomb = vec![0; compressor.gzip_compress_bound(spaces.len())];
    let n_bytes = compressor.gzip_compress(&spaces, &mut bomb).unwrap();
    bomb.truncate(n_bytes);
    assert!(bomb.len() < 1 << 20, "the bomb fits in one Kinesis record");
    let mut lying = bomb.clone();
    // A trailer that claims a tiny size must not get past the cap either.
    let n = lying.len();
    lying[n - 4..].copy_from_slice(&100u32.to_le_bytes());
    let mut pipeline = Pipeline::new(PipelineConfig::default());
    let outcome = pipeline.run(&kinesis_event_from_payloads(&[bomb, lying]), None);
    for dead_letter in &outcome.dead_letters {
        assert_eq!(dead_letter.reason, DecodeError::InflatesPastCap { cap: 16 << 20 }.to_string());
    }
    assert_eq!(outcome.dead_letters.len(), 2);
}

#[test]
fn garbage_base64_is_a_dead_letter_for_that_record_only() {
    let good = gzip_json(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"ok"}]}"#);
    let mut batch = kinesis_event_from_payloads(&[good.clone(), good]);
    batch.records[0].kinesis.data = "!!! not base64 !!!".to_owned();
    let outcome = Pipeline::new(PipelineConfig::default()).run(&batch, None);
    assert_eq!(outcome.dead_letters.len(), 1);
    assert!(outcome.dead_letters[0].reason.starts_with("record data is not valid base64"), "{}", outcome.dead_letters[0].reason);
    assert_eq!(outcome.records[1].n_shipped, 1);
}

#[test]
fn records_without_kinesis_or_a_sequence_number_are_dead_letters_not_a_failed_invocation() {
    let gzip = gzip_json(br#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":1,"message":"ok"}]}"#);
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, gzip);
    let good = format!(r#"{{"kinesis":{{"sequenceNumber":"3","data":"{data}"}},"eventID":"shardId-0:3"}}"#);
    let text = format!(r#"{{"Records":[{{"eventID":"shardId-0:1"}},{{"kinesis":{{"data":"AAAA"}},"eventID":"shardId-0:2"}},{good}]}}"#);
    let batch: sluicegate_engine::kinesis::KinesisEvent = serde_json::from_str(&text).expect("the event still parses");
    let outcome = Pipeline::new(PipelineConfig::default()).run(&batch, None);
    let reasons: Vec<(u32, &str)> = outcome.dead_letters.iter().map(|letter| (letter.record_idx, letter.reason.as_str())).collect();
    assert_eq!(
        &reasons[..2],
        [
            (0, "the record has no kinesis.sequenceNumber: it cannot be retried"),
            (1, "the record has no kinesis.sequenceNumber: it cannot be retried")
        ]
    );
    assert!(outcome.records.iter().all(|record| !record.unfinished));
    assert_eq!(outcome.records[2].n_shipped, 1, "the good record still ships");
}

#[test]
fn records_past_the_batch_inflate_cap_wait_for_the_next_invocation() {
    let messages = log_messages(CorpusSpec { n_records: 10, n_events_per_record: 50, seed: 5 });
    let payloads: Vec<Vec<u8>> = messages.iter().map(|message| gzip_json(&subscription_json(message))).collect();
    let one_record = subscription_json(&messages[0]).len();
    let batch = kinesis_event_from_payloads(&payloads);
    // Room for three records' text: the fourth starts past the cap and nothing after it is read.
    let config = PipelineConfig { max_batch_inflated_bytes: 3 * one_record, ..PipelineConfig::default() };
    let outcome = Pipeline::new(config).run(&batch, None);
    let unfinished: Vec<usize> = (0..10).filter(|&record_idx| outcome.records[record_idx].unfinished).collect();
    assert!(!unfinished.is_empty() && unfinished.len() < 10, "{unfinished:?}");
    let first_deferred = unfinished[0];
    assert_eq!(unfinished, (first_deferred..10).collect::<Vec<_>>(), "the rest of the batch, in order");
    for record in &outcome.records[..first_deferred] {
        assert_eq!(record.n_shipped, 50, "what was read ships");
    }
    for record in &outcome.records[first_deferred..] {
        assert_eq!((record.n_events, record.n_shipped, record.n_dead_lettered), (0, 0, 0), "what was deferred was not read");
    }
    // One record always goes through, whatever the cap, so a retry makes progress.
    let outcome = Pipeline::new(PipelineConfig { max_batch_inflated_bytes: 1, ..PipelineConfig::default() }).run(&batch, None);
    assert_eq!(outcome.records[0].n_shipped, 50);
    assert!(outcome.records[1..].iter().all(|record| record.unfinished));
}

/// With a second CPU the next slice's records are inflated on another thread while the current
/// one is transformed and encoded; what comes out, and in what order, is what one thread makes.
#[test]
fn a_batch_inflated_ahead_comes_out_as_when_inflated_in_place() {
    let messages = log_messages(CorpusSpec { n_records: 400, n_events_per_record: 100, seed: 8 });
    let mut payloads: Vec<Vec<u8>> = messages.iter().map(|message| gzip_json(&subscription_json(message))).collect();
    // Bad records in the first slice, in the second and at the end: not gzip, not base64, bad
    // JSON, no sequence number, truncated gzip.
    payloads[3] = b"not gzip at all".to_vec();
    payloads[150] = gzip_json(b"{\"messageType\":\"DATA_MESSAGE\",");
    payloads[399] = b"\x1f\x8b truncated".to_vec();
    let mut batch = kinesis_event_from_payloads(&payloads);
    batch.records[5].kinesis.data = "not base64!".to_owned();
    batch.records[350].kinesis.sequence_number.clear();
    let one_record = subscription_json(&messages[0]).len();
    for max_batch_inflated_bytes in [usize::MAX, 300 * one_record] {
        let run = |second_cpu: bool| {
            let config = PipelineConfig { second_cpu, max_batch_inflated_bytes, ..PipelineConfig::default() };
            Pipeline::new(config).run(&batch, None)
        };
        let (ahead, in_place) = (run(true), run(false));
        let n_inflated: usize = in_place.records.iter().filter(|record| record.n_events > 0).count() * one_record;
        assert!(n_inflated > SLICE_INFLATED_BYTES, "the batch spans several slices");
        assert_eq!(ahead.records, in_place.records);
        assert_eq!(ahead.dead_letters, in_place.dead_letters);
        assert_eq!(ahead.bulk, in_place.bulk);
        let archive = |outcome: &sluicegate_engine::Outcome| outcome.archive.iter().map(|object| object.body.clone()).collect::<Vec<_>>();
        assert_eq!(archive(&ahead), archive(&in_place));
        // Within a slice, records that do not inflate come before those that do not parse.
        let mut dead: Vec<u32> = in_place.dead_letters.iter().map(|letter| letter.record_idx).collect();
        dead.sort_unstable();
        assert_eq!(
            dead,
            [3, 5, 150, 350, 399]
                .into_iter()
                .filter(|&idx| (idx as usize) < 300 || max_batch_inflated_bytes == usize::MAX)
                .collect::<Vec<_>>()
        );
        let n_unfinished = in_place.records.iter().filter(|record| record.unfinished).count();
        assert_eq!(n_unfinished > 0, max_batch_inflated_bytes != usize::MAX);
    }
}
