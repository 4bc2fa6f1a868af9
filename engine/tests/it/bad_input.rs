//! Property tests: arbitrary and mangled records never panic and never abort the batch.

use sluicegate_engine::corpus::{CorpusSpec, Rng, gzip_json, kinesis_event_from_payloads, log_messages, subscription_json};
use sluicegate_engine::decode::DecodeError;
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
