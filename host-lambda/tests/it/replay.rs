//! `sluicegate replay`: archives written by `sluicegate run` go back into a fresh OpenSearch.

use std::process::Command;

use serde_json::Value;
use sluicegate_tests::moto::Moto;
use sluicegate_tests::process::{self, scratch_dir};

use crate::fixture::{Data, kinesis_event, log_message};
use crate::guests;

fn sluicegate(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "sluicegate {args:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{stdout:?}: {error}"));
    if args.first() == Some(&"replay") {
        // The progress, one line per object when stderr is not a terminal, ends at the summary.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().rfind(|line| line.starts_with("replay: ") && line.contains(" objects, ")).unwrap_or_default();
        let objects = &summary["objects"];
        let expected = format!("replay: {objects}/{objects} objects, {} documents delivered,", summary["delivered"]);
        assert!(last.starts_with(&expected), "progress {last:?}, expected {expected:?}");
    }
    summary
}

/// `(_id, message)` of every document, sorted.
fn documents(es_url: &str) -> Vec<(String, String)> {
    documents_in(es_url, "cwl-*").into_iter().map(|(_, id, message)| (id, message)).collect()
}

/// `(_index, _id, message)` of every document in the indices `pattern` names, sorted.
fn documents_in(es_url: &str, pattern: &str) -> Vec<(String, String, String)> {
    let text = ureq::get(&format!("{es_url}/{pattern}/_search?size=100")).call().unwrap().into_body().read_to_string().unwrap();
    let search: Value = serde_json::from_str(&text).unwrap();
    let mut documents: Vec<(String, String, String)> = search["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let field = |name: &str| hit[name].as_str().unwrap().to_owned();
            (field("_index"), field("_id"), hit["_source"]["message"].as_str().unwrap().to_owned())
        })
        .collect();
    documents.sort();
    documents
}

#[test]
fn replay_rebuilds_the_index_from_documents_and_raw_archives() {
    let venv = sluicegate_tests::venv_dir();
    let moto_server = process::moto(&venv);
    let moto = Moto { url: moto_server.url() };
    moto.create_bucket("archive");
    let original = process::osmem(&venv);

    let dir = scratch_dir("replay");
    let event = kinesis_event(&[Data::Json(&log_message(&[("e1", "one"), ("e2", "two")])), Data::Json(&log_message(&[("e3", "three")]))]);
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(&event).unwrap()).unwrap();
    let event_path = event_path.to_str().unwrap();
    let run = sluicegate(&[
        "run",
        "--event",
        event_path,
        "--es-url",
        &original.url(),
        "--s3-bucket",
        "archive",
        "--s3-endpoint",
        &moto.url,
        "--archive-stage",
        "both",
    ]);
    assert_eq!(run["batch_item_failures"], serde_json::json!([]));
    let expected = documents(&original.url());
    assert_eq!(expected.len(), 3);

    let from_documents = process::osmem(&venv);
    let replay = |prefix: &str, stage: &str, es_url: &str, extra: &[&str]| {
        let mut args =
            vec!["replay", "--s3-bucket", "archive", "--s3-endpoint", &moto.url, "--prefix", prefix, "--stage", stage, "--es-url", es_url];
        args.extend_from_slice(extra);
        sluicegate(&args)
    };
    let summary = replay("archive/", "documents", &from_documents.url(), &[]);
    assert_eq!(summary["objects"], 1, "{summary}");
    assert_eq!(summary["delivered"], 3, "{summary}");
    assert_eq!(documents(&from_documents.url()), expected);
    // A second replay overwrites the same `_id`s.
    replay("archive/", "documents", &from_documents.url(), &[]);
    assert_eq!(documents(&from_documents.url()), expected);

    let from_raw = process::osmem(&venv);
    let summary = replay("archive-raw/", "raw", &from_raw.url(), &[]);
    assert_eq!(summary["delivered"], 3, "{summary}");
    assert_eq!(documents(&from_raw.url()), expected);

    // The fixture's records arrived in 2023: a range from 2024 on selects nothing.
    let summary = replay("archive/", "documents", &from_raw.url(), &["--from", "2024-01-01T00:00:00Z"]);
    assert_eq!(summary["objects"], 0, "{summary}");
}

/// Regression: raw replays ran no transforms at all (there was no `--pipeline`), so secrets the
/// Lambda redacts went into the index in clear; and document replays put documents whose index
/// came from the pipeline file into `--index-template`'s index, a duplicate under the same `_id`.
#[test]
fn replay_runs_the_pipeline_files_transforms_and_index_template() {
    let venv = sluicegate_tests::venv_dir();
    let moto_server = process::moto(&venv);
    let moto = Moto { url: moto_server.url() };
    moto.create_bucket("archive");
    let original = process::osmem(&venv);

    let dir = scratch_dir("replay-pipeline");
    let pipeline = serde_json::json!({
        "transforms": [
            {"name": "filter", "module": guests::module("filter"), "config": {"drop": [{"message": "GET /healthz"}]}},
            {"name": "redact", "module": guests::module("redact"), "config": {"detectors": ["email"], "mode": "mask"}},
        ],
        "index_template": "app-{log_group}-{yyyy}.{MM}",
        "archive_stage": "both",
    });
    let pipeline_path = dir.join("pipeline.json");
    std::fs::write(&pipeline_path, pipeline.to_string()).unwrap();
    let pipeline_path = pipeline_path.to_str().unwrap();
    let event = kinesis_event(&[
        Data::Json(&log_message(&[("e1", "login by alice@example.com"), ("e2", "GET /healthz")])),
        Data::Json(&log_message(&[("e3", "plain")])),
    ]);
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(&event).unwrap()).unwrap();
    let run = sluicegate(&[
        "run",
        "--event",
        event_path.to_str().unwrap(),
        "--pipeline",
        pipeline_path,
        "--es-url",
        &original.url(),
        "--s3-bucket",
        "archive",
        "--s3-endpoint",
        &moto.url,
    ]);
    assert_eq!(run["batch_item_failures"], serde_json::json!([]), "{run}");
    let expected = documents_in(&original.url(), "*");
    let index = "app-aws-lambda-app-2023.11";
    assert_eq!(
        expected,
        [
            (index.to_owned(), "e1".to_owned(), "login by [REDACTED:email]".to_owned()),
            (index.to_owned(), "e3".to_owned(), "plain".to_owned()),
        ]
    );
    let raw_keys = moto.list_keys("archive", "archive-raw/");
    assert_eq!(raw_keys.len(), 1, "{raw_keys:?}");
    let raw = String::from_utf8(sluicegate_tests::gunzip(&moto.get_object("archive", &raw_keys[0]).0)).unwrap();
    assert!(raw.contains("alice@example.com") && raw.contains("GET /healthz"), "the raw archive holds the events as they came: {raw}");

    let replay = |prefix: &str, es_url: &str, extra: &[&str]| {
        let mut args = vec!["replay", "--s3-bucket", "archive", "--s3-endpoint", &moto.url, "--prefix", prefix, "--es-url", es_url];
        args.extend_from_slice(extra);
        sluicegate(&args)
    };
    // Raw events go through filter and redact again, into the pipeline file's index.
    let from_raw = process::osmem(&venv);
    let summary = replay("archive-raw/", &from_raw.url(), &["--stage", "raw", "--pipeline", pipeline_path]);
    assert_eq!(
        (summary["lines"].as_u64(), summary["delivered"].as_u64(), summary["dropped"].as_u64()),
        (Some(3), Some(2), Some(1)),
        "{summary}"
    );
    assert_eq!(documents_in(&from_raw.url(), "*"), expected);

    // Documents return to the index they were shipped to (the pipeline file's template; its
    // archive_stage, both, leaves --stage at documents), overwriting rather than duplicating.
    let summary = replay("archive/", &original.url(), &["--pipeline", pipeline_path]);
    assert_eq!(summary["delivered"], 2, "{summary}");
    assert_eq!(documents_in(&original.url(), "*"), expected);
}

/// Regression: replay inflated only the first gzip member of an archive object, so an archive of
/// more than 1 MiB of documents was replayed up to its first MiB while the summary said all was
/// delivered.
#[test]
fn replay_reads_every_gzip_member_of_an_archive_object() {
    let venv = sluicegate_tests::venv_dir();
    let moto_server = process::moto(&venv);
    let moto = Moto { url: moto_server.url() };
    moto.create_bucket("archive");

    let dir = scratch_dir("replay-members");
    let spec = sluicegate_engine::corpus::CorpusSpec { n_records: 40, n_events_per_record: 100, seed: 3 };
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, serde_json::to_vec(&sluicegate_engine::corpus::kinesis_event(spec)).unwrap()).unwrap();
    let out = dir.join("out");
    // Only the archive goes to S3; the `_bulk` bodies stay in the folder.
    let run = sluicegate(&[
        "run",
        "--event",
        event_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--s3-bucket",
        "archive",
        "--s3-endpoint",
        &moto.url,
    ]);
    assert_eq!(run["events_out"], 4000, "{run}");
    let keys = moto.list_keys("archive", "archive/");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let inflated = sluicegate_tests::gunzip(&moto.get_object("archive", &keys[0]).0);
    assert!(inflated.len() > sluicegate_engine::archive::CHUNK_BYTES, "the archive has more than one member ({} bytes)", inflated.len());

    let osmem_server = process::osmem(&venv);
    let summary = sluicegate(&["replay", "--s3-bucket", "archive", "--s3-endpoint", &moto.url, "--es-url", &osmem_server.url()]);
    assert_eq!((summary["lines"].as_u64(), summary["delivered"].as_u64()), (Some(4000), Some(4000)), "{summary}");
    let count: Value = serde_json::from_str(
        &ureq::get(&format!("{}/cwl-*/_count", osmem_server.url())).call().unwrap().into_body().read_to_string().unwrap(),
    )
    .unwrap();
    assert_eq!(count["count"], 4000);
}
