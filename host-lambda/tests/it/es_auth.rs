//! Authentication of `_bulk` requests: SigV4 against AWS's published test vectors and against an
//! independent implementation written here from the specification, basic auth and API keys.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use sluicegate_engine::bulk::{BulkAction, BulkBody, BulkWriter};
use sluicegate_lambda::es::{BULK_PATH, EsAuth, EsClient, EsConfig, Fate, SigV4Service, sign_request_for};
use sluicegate_tests::fault_server::{FaultyBulkServer, ReceivedRequest, Script};

// The credentials, time and scope of AWS's `aws-sig-v4-test-suite`.
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
/// 20150830T123600Z.
const SUITE_TIME: u64 = 1_440_938_160;

fn suite_request(method: &str, extra_headers: &[(&str, &str)]) -> http::Request<Bytes> {
    let mut request = http::Request::builder().method(method).uri("https://example.amazonaws.com/").header("host", "example.amazonaws.com");
    for (name, value) in extra_headers {
        request = request.header(*name, *value);
    }
    request.body(Bytes::new()).unwrap()
}

fn sign_suite(request: &mut http::Request<Bytes>, session_token: Option<&str>) {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, session_token.map(str::to_owned), None, "test");
    sign_request_for(request, "service", false, "us-east-1", &credentials, UNIX_EPOCH + Duration::from_secs(SUITE_TIME)).unwrap();
}

fn authorization(request: &http::Request<Bytes>) -> &str {
    request.headers()["authorization"].to_str().unwrap()
}

/// `get-vanilla` and `post-vanilla` from AWS's SigV4 test suite, expected values as published.
#[test]
fn signing_matches_the_published_test_vectors() {
    let mut get_vanilla = suite_request("GET", &[]);
    sign_suite(&mut get_vanilla, None);
    assert_eq!(
        authorization(&get_vanilla),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
    assert_eq!(get_vanilla.headers()["x-amz-date"], "20150830T123600Z");

    let mut post_vanilla = suite_request("POST", &[]);
    sign_suite(&mut post_vanilla, None);
    assert_eq!(
        authorization(&post_vanilla),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, \
         Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    );

    // The independent implementation below agrees with the same vectors, so it can judge the rest.
    for (request, expected) in [
        (&get_vanilla, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        (&post_vanilla, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ] {
        let parts = Signed::from_headers(&headers_of(request));
        assert_eq!(
            independent_signature(request.method().as_str(), "/", "", &headers_of(request), &parts, request.body(), SECRET_KEY),
            expected
        );
    }
}

/// `post-sts-header-before`: the session token is signed as `x-amz-security-token`.
#[test]
fn session_token_is_signed() {
    let mut request = suite_request("POST", &[]);
    sign_suite(&mut request, Some(SESSION_TOKEN));
    assert_eq!(request.headers()["x-amz-security-token"], SESSION_TOKEN);
    let headers = headers_of(&request);
    let parts = Signed::from_headers(&headers);
    assert_eq!(parts.signed_headers, "host;x-amz-date;x-amz-security-token");
    assert_eq!(parts.signature, independent_signature("POST", "/", "", &headers, &parts, request.body(), SECRET_KEY));
    assert_eq!(parts.signature, "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
}

fn headers_of(request: &http::Request<Bytes>) -> Vec<(String, String)> {
    request.headers().iter().map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned())).collect()
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
struct Signed {
    access_key: String,
    date: String,
    region: String,
    service: String,
    signed_headers: String,
    signature: String,
}

impl Signed {
    fn from_headers(headers: &[(String, String)]) -> Signed {
        let authorization = &headers.iter().find(|(name, _)| name == "authorization").expect("an authorization header").1;
        let rest = authorization.strip_prefix("AWS4-HMAC-SHA256 ").expect("sigv4 authorization");
        let field = |name: &str| {
            rest.split(", ").find_map(|part| part.strip_prefix(name)).unwrap_or_else(|| panic!("no {name} in {authorization}")).to_owned()
        };
        let credential = field("Credential=");
        let scope: Vec<&str> = credential.split('/').collect();
        assert_eq!(scope.len(), 5, "{credential}");
        assert_eq!(scope[4], "aws4_request");
        Signed {
            access_key: scope[0].to_owned(),
            date: scope[1].to_owned(),
            region: scope[2].to_owned(),
            service: scope[3].to_owned(),
            signed_headers: field("SignedHeaders="),
            signature: field("Signature="),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// SigV4 written from AWS's specification, independently of aws-sigv4: canonical request, string
/// to sign, derived key, signature. Paths and queries here need no escaping.
fn independent_signature(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    signed: &Signed,
    body: &[u8],
    secret_key: &str,
) -> String {
    let amz_date = &headers.iter().find(|(name, _)| name == "x-amz-date").expect("x-amz-date").1;
    let mut canonical_headers = String::new();
    for name in signed.signed_headers.split(';') {
        let values: Vec<&str> = headers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.trim()).collect();
        assert!(!values.is_empty(), "signed header {name} was not sent");
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request =
        format!("{method}\n{path}\n{query}\n{canonical_headers}\n{}\n{}", signed.signed_headers, hex(&Sha256::digest(body)));
    let scope = format!("{}/{}/{}/aws4_request", signed.date, signed.region, signed.service);
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical_request.as_bytes())));
    let key = hmac(format!("AWS4{secret_key}").as_bytes(), signed.date.as_bytes());
    let key = hmac(&key, signed.region.as_bytes());
    let key = hmac(&key, signed.service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

fn small_batch() -> Vec<BulkBody> {
    let mut writer = BulkWriter::new(BulkAction::Index, 5 << 20);
    for number in 0..20u32 {
        writer
            .push(number / 5, "logs", &format!("{number}"), |body| {
                body.extend_from_slice(format!(r#"{{"message":"event {number}"}}"#).as_bytes());
                Ok::<(), std::convert::Infallible>(())
            })
            .unwrap();
    }
    writer.finish()
}

/// Ships a small batch with `auth` and returns the one request the fake received.
async fn ship_with(auth: EsAuth, gzip: bool, credentials: Option<Credentials>) -> ReceivedRequest {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let config = EsConfig { auth, gzip, ..EsConfig::new(format!("{}/prefix/", server.url())) };
    let client = EsClient::new(config, credentials.map(SharedCredentialsProvider::new)).unwrap();
    let report = client.ship(&small_batch(), Instant::now() + Duration::from_secs(10)).await;
    assert!(report.items.iter().all(|item| item.fate == Fate::Delivered));
    assert_eq!(server.documents().len(), 20);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    requests.into_iter().next().unwrap()
}

/// What the fake received, checked like a SigV4 server would with the independent signer.
#[track_caller]
fn verify_sigv4(request: &ReceivedRequest, service: &str, session_token: Option<&str>) -> Signed {
    let signed = Signed::from_headers(&request.headers);
    assert_eq!(signed.access_key, ACCESS_KEY);
    assert_eq!(signed.region, "eu-west-1");
    assert_eq!(signed.service, service);
    let amz_date = request.header("x-amz-date").expect("x-amz-date");
    let age = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 - unix_time(amz_date);
    assert!(age.abs() < 60, "signed {age} s ago");
    assert_eq!(&amz_date[..8], signed.date);
    let (path, query) = request.path_and_query.split_once('?').unwrap_or((&request.path_and_query, ""));
    let expected = independent_signature(&request.method, path, query, &request.headers, &signed, &request.body, SECRET_KEY);
    assert_eq!(signed.signature, expected, "signature differs from the independent computation");
    assert_eq!(request.header("x-amz-security-token"), session_token);
    signed
}

/// Seconds since the epoch of an `x-amz-date` (`YYYYMMDDTHHMMSSZ`), by the civil-from-days algorithm.
fn unix_time(amz_date: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| amz_date[range].parse::<i64>().unwrap();
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let (year, month) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    days * 86_400 + number(9..11) * 3_600 + number(11..13) * 60 + number(13..15)
}

#[tokio::test]
async fn sigv4_es_signs_the_gzip_bytes_actually_sent() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let request = ship_with(EsAuth::SigV4 { service: SigV4Service::Es, region: "eu-west-1".to_owned() }, true, Some(credentials)).await;
    assert_eq!(request.path_and_query, format!("/prefix{BULK_PATH}"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    let signed = verify_sigv4(&request, "es", None);
    assert_eq!(signed.signed_headers, "content-encoding;content-type;host;x-amz-date");
    assert_eq!(request.header("x-amz-content-sha256"), None);
}

#[tokio::test]
async fn sigv4_aoss_sends_the_payload_hash_and_session_token() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, Some(SESSION_TOKEN.to_owned()), None, "test");
    let request = ship_with(EsAuth::SigV4 { service: SigV4Service::Aoss, region: "eu-west-1".to_owned() }, true, Some(credentials)).await;
    let signed = verify_sigv4(&request, "aoss", Some(SESSION_TOKEN));
    assert_eq!(signed.signed_headers, "content-encoding;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    // The hash is of the compressed body, the bytes on the wire.
    assert_eq!(request.header("x-amz-content-sha256"), Some(hex(&Sha256::digest(&request.body)).as_str()));
}

#[tokio::test]
async fn sigv4_without_gzip() {
    let credentials = Credentials::new(ACCESS_KEY, SECRET_KEY, Some(SESSION_TOKEN.to_owned()), None, "test");
    let request = ship_with(EsAuth::SigV4 { service: SigV4Service::Es, region: "eu-west-1".to_owned() }, false, Some(credentials)).await;
    assert_eq!(request.header("content-encoding"), None);
    assert!(request.body.starts_with(br#"{"index":{"_index":"logs","_id":"0"}}"#));
    let signed = verify_sigv4(&request, "es", Some(SESSION_TOKEN));
    assert_eq!(signed.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
}

#[tokio::test]
async fn basic_api_key_and_no_auth() {
    let request = ship_with(EsAuth::Basic { username: "shipper".to_owned(), password: "hunter2".to_owned() }, true, None).await;
    // base64("shipper:hunter2")
    assert_eq!(request.header("authorization"), Some("Basic c2hpcHBlcjpodW50ZXIy"));
    assert_eq!(request.header("content-type"), Some("application/x-ndjson"));
    let request = ship_with(EsAuth::ApiKey("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==".to_owned()), false, None).await;
    assert_eq!(request.header("authorization"), Some("ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="));
    let request = ship_with(EsAuth::None, false, None).await;
    assert_eq!(request.header("authorization"), None);
    assert!(request.header("x-amz-date").is_none());
}

#[test]
fn sigv4_needs_credentials() {
    let config = EsConfig {
        auth: EsAuth::SigV4 { service: SigV4Service::Es, region: "eu-west-1".to_owned() },
        ..EsConfig::new("https://es.example.com")
    };
    let error = EsClient::new(config, None).unwrap_err();
    assert_eq!(error.to_string(), "sigv4 auth needs a credentials provider");
}

/// A credentials provider that never has credentials, like a role that cannot be assumed.
#[derive(Debug)]
struct NoCredentials;

impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded("no role in this test"),
        ))
    }
}

#[tokio::test]
async fn missing_credentials_retry_then_report() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let mut config =
        EsConfig { auth: EsAuth::SigV4 { service: SigV4Service::Es, region: "eu-west-1".to_owned() }, ..EsConfig::new(server.url()) };
    config.backoff.base = Duration::from_millis(1);
    config.backoff.max_attempts = 3;
    let client = EsClient::new(config, Some(SharedCredentialsProvider::new(NoCredentials))).unwrap();
    let report = client.ship(&small_batch(), Instant::now() + Duration::from_secs(10)).await;
    assert_eq!(report.counts(), (0, 0, 20));
    assert_eq!(report.undelivered_records(), vec![0, 1, 2, 3]);
    let Fate::Undelivered { reason } = &report.items[0].fate else { unreachable!() };
    assert!(reason.starts_with("gave up after 3 attempts: no aws credentials"), "{reason}");
    // Nothing unsigned ever left.
    assert!(server.requests().is_empty());
}

/// Regression: gzip bodies were once written at libdeflate's level 0, which stores without
/// compressing; what goes on the wire must be much smaller than the NDJSON.
#[tokio::test]
async fn gzip_bodies_are_compressed() {
    let request = ship_with(EsAuth::None, true, None).await;
    let ndjson: usize = small_batch().iter().map(|body| body.body.len()).sum();
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert!(request.body.len() * 3 < ndjson, "{} bytes of gzip for {ndjson} bytes of ndjson", request.body.len());
}
