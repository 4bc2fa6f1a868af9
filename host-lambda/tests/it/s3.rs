//! The S3 archiver against moto: SSE-KMS with the configured key, retries bounded by attempts and deadline.

use std::time::{Duration, Instant};

use sluicegate_lambda::archive::S3Archive;
use sluicegate_lambda::config::S3Config;
use sluicegate_lambda::sink::ArchiveSink;
use sluicegate_tests::moto::Moto;
use sluicegate_tests::process;

fn archive(endpoint: &str, kms_key_id: Option<String>, max_attempts: u32) -> (tokio::runtime::Runtime, S3Archive) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = S3Config { bucket: "archive".to_owned(), kms_key_id, endpoint: Some(endpoint.to_owned()), max_attempts };
    let sdk_config = aws_config::SdkConfig::builder()
        .region(aws_config::Region::from_static("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(aws_sdk_s3::config::Credentials::for_tests()))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(sluicegate_lambda::aws::https_client())
        .build();
    let client = S3Archive::client(&sdk_config, &config);
    (runtime, S3Archive::new(client, &config))
}

#[test]
fn puts_are_sse_kms_with_the_configured_key() {
    let moto_server = process::moto(&sluicegate_tests::venv_dir());
    let moto = Moto { url: moto_server.url() };
    moto.create_bucket("archive");
    let kms_key_id = moto.create_kms_key();
    let (runtime, archive) = archive(&moto.url, Some(kms_key_id.clone()), 3);
    runtime.block_on(archive.put("a/b.ndjson.gz", b"body".to_vec(), Instant::now() + Duration::from_secs(10))).unwrap();
    let (body, encryption) = moto.get_object("archive", "a/b.ndjson.gz");
    assert_eq!(body, b"body");
    assert_eq!(encryption.as_deref(), Some("aws:kms"));
    let head = ureq::head(&format!("{}/archive/a/b.ndjson.gz", moto.url))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        .call()
        .unwrap();
    let key_header = head.headers().get("x-amz-server-side-encryption-aws-kms-key-id").map(|value| value.to_str().unwrap().to_owned());
    assert!(key_header.as_deref().is_some_and(|key| key.ends_with(&kms_key_id)), "{key_header:?} is not {kms_key_id}");
}

#[test]
fn failures_stop_at_the_attempt_limit_and_the_deadline() {
    let closed = sluicegate_tests::fault_server::refused_url();
    let (runtime, archive) = archive(&closed, None, 3);
    let error = runtime.block_on(archive.put("k", b"x".to_vec(), Instant::now() + Duration::from_secs(30))).unwrap_err();
    assert_eq!(error.n_attempts, 3, "{error}");
    // Nothing starts past the deadline.
    let error = runtime.block_on(archive.put("k", b"x".to_vec(), Instant::now())).unwrap_err();
    assert_eq!(error.n_attempts, 0, "{error}");
    // A deadline shorter than the backoff ends the retries early.
    let started = Instant::now();
    let error = runtime.block_on(archive.put("k", b"x".to_vec(), Instant::now() + Duration::from_millis(120))).unwrap_err();
    assert!(error.n_attempts < 3 && started.elapsed() < Duration::from_secs(2), "{error} after {:?}", started.elapsed());
}
