//! Where the loader reads pipelines and modules and keeps compiled artifacts: S3 in production,
//! a map in tests. A seam like the handler's sinks, so tests need no `#[cfg(test)]` tricks.

use std::future::Future;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use super::source::S3Uri;

/// Reads and writes whole objects.
pub trait ObjectStore {
    /// The object's bytes, `Ok(None)` when there is no such object.
    fn get(&self, uri: &S3Uri) -> impl Future<Output = Result<Option<Vec<u8>>, String>>;
    /// Stores `body` at `uri`.
    fn put(&self, uri: &S3Uri, body: Vec<u8>) -> impl Future<Output = Result<(), String>>;
}

/// S3 through the AWS SDK, with the SDK's own retries (the loader runs once, before any deadline).
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    kms_key_id: Option<String>,
}

impl S3Store {
    /// A store over a client made from the shared AWS configuration; `endpoint` is an S3 endpoint
    /// other than AWS's (moto in the tests), addressed by path. Puts use SSE-KMS with
    /// `kms_key_id` (the bucket's AWS-managed key when `None`).
    pub fn new(sdk_config: &aws_config::SdkConfig, endpoint: Option<&str>, kms_key_id: Option<String>) -> S3Store {
        let mut builder = aws_sdk_s3::config::Builder::from(sdk_config);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint).force_path_style(true);
        }
        S3Store { client: aws_sdk_s3::Client::from_conf(builder.build()), kms_key_id }
    }
}

impl ObjectStore for S3Store {
    async fn get(&self, uri: &S3Uri) -> Result<Option<Vec<u8>>, String> {
        let response = match self.client.get_object().bucket(&uri.bucket).key(&uri.key).send().await {
            Ok(response) => response,
            Err(error) => {
                if error.as_service_error().is_some_and(|service_error| service_error.is_no_such_key()) {
                    return Ok(None);
                }
                return Err(aws_sdk_s3::error::DisplayErrorContext(error).to_string());
            }
        };
        let body = response.body.collect().await.map_err(|error| format!("reading the body: {error}"))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), String> {
        let mut request = self
            .client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body))
            .server_side_encryption(ServerSideEncryption::AwsKms);
        if let Some(kms_key_id) = &self.kms_key_id {
            request = request.ssekms_key_id(kms_key_id);
        }
        request.send().await.map(|_| ()).map_err(|error| aws_sdk_s3::error::DisplayErrorContext(error).to_string())
    }
}
