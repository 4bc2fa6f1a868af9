//! The S3 archiver: puts archive objects and dead letters with SSE-KMS, retrying within the deadline.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::config::S3Config;
use crate::sink::{ArchiveSink, PutError};

/// Puts objects into one bucket.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: String,
    kms_key_id: Option<String>,
    max_attempts: u32,
}

/// The first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

impl S3Archive {
    /// An archiver over `client` (whose own retries should be off: this one retries within the deadline).
    pub fn new(client: aws_sdk_s3::Client, config: &S3Config) -> S3Archive {
        S3Archive { client, bucket: config.bucket.clone(), kms_key_id: config.kms_key_id.clone(), max_attempts: config.max_attempts.max(1) }
    }

    /// The S3 client for `config`, from the shared AWS configuration; SDK retries are off
    /// because [`S3Archive::put`] retries within the Lambda's deadline instead.
    pub fn client(sdk_config: &aws_config::SdkConfig, config: &S3Config) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk_config).retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        if let Some(endpoint) = &config.endpoint {
            // Emulators such as moto serve buckets by path, not by virtual host.
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put_once(&self, key: &str, body: bytes::Bytes) -> Result<(), String> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/gzip")
            .body(ByteStream::from(body))
            .server_side_encryption(ServerSideEncryption::AwsKms);
        if let Some(kms_key_id) = &self.kms_key_id {
            request = request.ssekms_key_id(kms_key_id);
        }
        request.send().await.map(|_| ()).map_err(|error| aws_sdk_s3::error::DisplayErrorContext(error).to_string())
    }
}

impl ArchiveSink for S3Archive {
    async fn put(&self, key: &str, body: Vec<u8>, deadline: Instant) -> Result<(), PutError> {
        // `Bytes`, so each attempt shares the body instead of copying it.
        let body = bytes::Bytes::from(body);
        let mut backoff = FIRST_BACKOFF;
        let mut reason = "the deadline passed before the first attempt".to_owned();
        let mut n_attempts = 0;
        while n_attempts < self.max_attempts {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            n_attempts += 1;
            match tokio::time::timeout(deadline - now, self.put_once(key, body.clone())).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(error)) => reason = error,
                Err(_) => {
                    reason = "the deadline passed during the put".to_owned();
                    break;
                }
            }
            tracing::warn!(key, n_attempts, reason = %reason, "s3 put failed");
            if n_attempts < self.max_attempts {
                let pause = jitter(backoff);
                if Instant::now() + pause >= deadline {
                    break;
                }
                tokio::time::sleep(pause).await;
                backoff *= 2;
            }
        }
        Err(PutError { key: key.to_owned(), n_attempts, reason })
    }
}

/// Between half and all of `pause`, so that concurrent invocations do not retry in step.
pub fn jitter(pause: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |now| now.subsec_nanos());
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    pause.mul_f64(fraction)
}
