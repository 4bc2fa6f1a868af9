//! The shared AWS SDK configuration: the default credential chain over rustls with ring.

/// Loads the SDK configuration (credentials and region from the default chain, `us-east-1` when
/// no region is set anywhere) with an HTTPS client on rustls with ring, not aws-lc-rs, which is
/// slow to build and needs a C toolchain for every target.
pub async fn sdk_config() -> aws_config::SdkConfig {
    // The loader's own region chain, not `RegionProviderChain::default_provider()`: only the
    // loader hands our HTTP client to the IMDS provider (without one the SDK panics in debug builds).
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client()).load().await;
    if sdk_config.region().is_some() {
        return sdk_config;
    }
    sdk_config.into_builder().region(aws_config::Region::from_static("us-east-1")).build()
}

/// The HTTPS client for AWS SDK clients: rustls with ring.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring))
        .build_https()
}
