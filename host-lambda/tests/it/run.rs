//! `sluicegate run` against real servers: osmem-server for `_bulk`, moto for S3.

use std::process::Command;

use sluicegate_tests::moto::Moto;
use sluicegate_tests::process::{self, scratch_dir};

use crate::fixture::{Data, kinesis_event, log_message};

#[test]
fn run_ships_to_opensearch_and_s3_when_given_their_urls() {
    let venv = sluicegate_tests::venv_dir();
    let moto_server = process::moto(&venv);
    let osmem_server = process::osmem(&venv);
    let moto = Moto { url: moto_server.url() };
    moto.create_bucket("archive");
    let kms_key_id = moto.create_kms_key();

    let dir = scratch_dir("run");
    let event = kinesis_event(&[
        Data::Json(&log_message(&[("e1", "one"), ("e2", "two")])),
        Data::Base64("!!"),
        Data::Json(&log_message(&[("e3", "three")])),
    ]);
    std::fs::write(dir.join("event.json"), serde_json::to_vec(&event).unwrap()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["run", "--event"])
        .arg(dir.join("event.json"))
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--es-url", &osmem_server.url(), "--s3-bucket", "archive", "--s3-endpoint", &moto.url, "--s3-kms-key-id", &kms_key_id])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["batch_item_failures"], serde_json::json!([]), "{summary}");
    assert_eq!(summary["events_out"], 3, "{summary}");

    let count: serde_json::Value = serde_json::from_str(
        &ureq::get(&format!("{}/cwl-*/_count", osmem_server.url())).call().unwrap().into_body().read_to_string().unwrap(),
    )
    .unwrap();
    assert_eq!(count["count"], 3);
    let archive = moto.list_keys("archive", "archive/");
    assert_eq!(archive.len(), 1, "{archive:?}");
    let (body, encryption) = moto.get_object("archive", &archive[0]);
    assert_eq!(encryption.as_deref(), Some("aws:kms"));
    assert_eq!(String::from_utf8(sluicegate_tests::gunzip(&body)).unwrap().lines().count(), 3);
    let dead_letters = moto.list_keys("archive", "dead-letter/");
    assert_eq!(dead_letters.len(), 1, "{dead_letters:?}");
    // Nothing went to the folder: both kinds of output had a server.
    assert!(!dir.join("out").exists());
}

#[test]
fn run_writes_every_body_to_the_folder_in_order() {
    let dir = scratch_dir("run-local");
    let events: Vec<(String, String)> =
        (0..400).map(|event_idx| (format!("e{event_idx:03}"), format!("line {event_idx:03} {}", "x".repeat(200)))).collect();
    let events: Vec<(&str, &str)> = events.iter().map(|(id, message)| (id.as_str(), message.as_str())).collect();
    let event = kinesis_event(&[Data::Json(&log_message(&events[..200])), Data::Json(&log_message(&events[200..]))]);
    std::fs::write(dir.join("event.json"), serde_json::to_vec(&event).unwrap()).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["run", "--bulk-max-bytes", "20000", "--event"])
        .arg(dir.join("event.json"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let n_bodies = summary["bulk_requests"].as_u64().unwrap() as usize;
    assert!(n_bodies > 3, "{summary}");
    // Every body is a file, numbered in order, and together they hold every event once, in order.
    let mut ids = Vec::new();
    for body_idx in 1..=n_bodies {
        let body = std::fs::read_to_string(dir.join("out/bulk").join(format!("{body_idx:06}.ndjson"))).unwrap();
        for action in body.lines().step_by(2) {
            let action: serde_json::Value = serde_json::from_str(action).unwrap();
            ids.push(action["index"]["_id"].as_str().unwrap().to_owned());
        }
    }
    assert!(!dir.join("out/bulk").join(format!("{:06}.ndjson", n_bodies + 1)).exists());
    let expected: Vec<&str> = events.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, expected);
}
