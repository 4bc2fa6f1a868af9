//! The Elasticsearch client's settings, read and checked from the environment in one place.

use std::fmt;
use std::time::Duration;

use sluicegate_engine::bulk::BulkAction;

use super::retry::Backoff;

/// Where and how to send `_bulk` requests.
#[derive(Clone, PartialEq, Eq)]
pub struct EsConfig {
    /// The cluster's base URL, `http` or `https`, possibly with a path prefix; no query.
    pub url: String,
    /// How requests are authenticated.
    pub auth: EsAuth,
    /// Whether request bodies are gzip-compressed (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// The `_bulk` action the bodies were written with (decides whether 409 counts as delivered).
    pub action: BulkAction,
    /// The longest one request may take, response included.
    pub request_timeout: Duration,
    /// Retry settings: attempts, backoff, and the time kept free before the deadline.
    pub backoff: Backoff,
    /// How many `_bulk` requests may be in flight at once.
    pub max_concurrency: usize,
    /// The OpenSearch Serverless collection type, with `sigv4-aoss`.
    pub collection: Option<CollectionType>,
    /// PEM certificates of the CAs to trust instead of the public roots (a private CA).
    pub ca_bundle: Option<std::path::PathBuf>,
}

/// An OpenSearch Serverless collection's type, which decides whether documents may carry an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionType {
    /// Search: ids allowed, a replay overwrites.
    Search,
    /// Time series: ids refused; the collection assigns them.
    TimeSeries,
    /// Vector search: ids refused.
    Vector,
}

impl EsConfig {
    /// Whether documents are sent with their event id as `_id`: everywhere but the serverless
    /// collections that refuse one (where a retried batch can index an event twice).
    pub fn sends_ids(&self) -> bool {
        !matches!(self.collection, Some(CollectionType::TimeSeries | CollectionType::Vector))
    }
}

/// How requests are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum EsAuth {
    /// No authentication.
    None,
    /// HTTP basic authentication.
    Basic {
        /// The user name.
        username: String,
        /// The password (never printed).
        password: String,
    },
    /// `Authorization: ApiKey …` with the encoded key as Elasticsearch hands it out (never printed).
    ApiKey(String),
    /// AWS Signature Version 4 with the credentials of the Lambda's role.
    SigV4 {
        /// Amazon OpenSearch Service or OpenSearch Serverless.
        service: SigV4Service,
        /// The region the domain or collection is in.
        region: String,
    },
}

/// The service name SigV4 signs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigV4Service {
    /// Amazon OpenSearch Service (`es`).
    Es,
    /// Amazon OpenSearch Serverless (`aoss`), which needs the `x-amz-content-sha256` header.
    Aoss,
}

impl SigV4Service {
    /// The signing name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigV4Service::Es => "es",
            SigV4Service::Aoss => "aoss",
        }
    }
}

/// A bad or missing environment variable for the Elasticsearch client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EsConfigError {
    /// A required variable is not set (or empty).
    #[error("{variable} is not set: {why}")]
    Missing {
        /// The variable.
        variable: &'static str,
        /// Why it is needed.
        why: &'static str,
    },
    /// A variable has a value that cannot be used.
    #[error("{variable} is {value:?}: {reason}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `SLUICEGATE_ES_URL`: the cluster's base URL.
pub const ES_URL: &str = "SLUICEGATE_ES_URL";
/// `SLUICEGATE_ES_AUTH`: `sigv4-es`, `sigv4-aoss`, `basic`, `api-key` or `none`.
pub const ES_AUTH: &str = "SLUICEGATE_ES_AUTH";
/// `SLUICEGATE_ES_USERNAME`: the basic-auth user.
pub const ES_USERNAME: &str = "SLUICEGATE_ES_USERNAME";
/// `SLUICEGATE_ES_PASSWORD`: the basic-auth password.
pub const ES_PASSWORD: &str = "SLUICEGATE_ES_PASSWORD";
/// `SLUICEGATE_ES_API_KEY`: the encoded API key.
pub const ES_API_KEY: &str = "SLUICEGATE_ES_API_KEY";
/// `SLUICEGATE_ES_REGION`: the SigV4 region, default `AWS_REGION`.
pub const ES_REGION: &str = "SLUICEGATE_ES_REGION";
/// `SLUICEGATE_ES_GZIP`: `true` (default) or `false`.
pub const ES_GZIP: &str = "SLUICEGATE_ES_GZIP";
/// `SLUICEGATE_BULK_ACTION`: `index` (default) or `create`.
pub const BULK_ACTION: &str = "SLUICEGATE_BULK_ACTION";
/// `SLUICEGATE_ES_TIMEOUT_MS`: the per-request timeout in milliseconds, default 30000.
pub const ES_TIMEOUT_MS: &str = "SLUICEGATE_ES_TIMEOUT_MS";
/// `SLUICEGATE_ES_MAX_ATTEMPTS`: attempts per item including the first, default 8.
pub const ES_MAX_ATTEMPTS: &str = "SLUICEGATE_ES_MAX_ATTEMPTS";
/// `SLUICEGATE_ES_CONCURRENCY`: `_bulk` requests in flight at once, default 4.
pub const ES_CONCURRENCY: &str = "SLUICEGATE_ES_CONCURRENCY";
/// `SLUICEGATE_ES_ALLOW_HTTP`: `true` lets basic and api-key auth send their secret over plain
/// `http://` (a test cluster on a private network); refused otherwise.
pub const ES_ALLOW_HTTP: &str = "SLUICEGATE_ES_ALLOW_HTTP";
/// `SLUICEGATE_ES_CA_BUNDLE`: a PEM file of the CA certificates to trust for the endpoint
/// instead of the public roots.
pub const ES_CA_BUNDLE: &str = "SLUICEGATE_ES_CA_BUNDLE";
/// `SLUICEGATE_ES_COLLECTION_TYPE`: `timeseries`, `search` or `vector`, the OpenSearch Serverless
/// collection's type; required with `sigv4-aoss`, refused otherwise.
pub const ES_COLLECTION_TYPE: &str = "SLUICEGATE_ES_COLLECTION_TYPE";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONCURRENCY: usize = 4;

impl EsConfig {
    /// A configuration with defaults for everything but the URL: no auth, gzip on, `index`.
    pub fn new(url: impl Into<String>) -> EsConfig {
        EsConfig {
            url: url.into(),
            auth: EsAuth::None,
            gzip: true,
            action: BulkAction::Index,
            request_timeout: DEFAULT_TIMEOUT,
            backoff: Backoff::default(),
            max_concurrency: DEFAULT_CONCURRENCY,
            collection: None,
            ca_bundle: None,
        }
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<EsConfig, EsConfigError> {
        // An empty variable means unset: Terraform writes empty strings for optional settings.
        let get = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        let url = get(ES_URL).ok_or(EsConfigError::Missing { variable: ES_URL, why: "the elasticsearch endpoint is needed" })?;
        check_url(&url).map_err(|reason| EsConfigError::Invalid { variable: ES_URL, value: without_credentials(&url), reason })?;
        let auth = match get(ES_AUTH).as_deref().unwrap_or("none") {
            "none" => EsAuth::None,
            "basic" => EsAuth::Basic {
                username: get(ES_USERNAME).ok_or(EsConfigError::Missing { variable: ES_USERNAME, why: "basic auth needs a user" })?,
                password: get(ES_PASSWORD).ok_or(EsConfigError::Missing { variable: ES_PASSWORD, why: "basic auth needs a password" })?,
            },
            "api-key" => {
                EsAuth::ApiKey(get(ES_API_KEY).ok_or(EsConfigError::Missing { variable: ES_API_KEY, why: "api-key auth needs the key" })?)
            }
            mode @ ("sigv4-es" | "sigv4-aoss") => {
                let service = if mode == "sigv4-es" { SigV4Service::Es } else { SigV4Service::Aoss };
                let region = get(ES_REGION).or_else(|| get("AWS_REGION")).ok_or(EsConfigError::Missing {
                    variable: ES_REGION,
                    why: "sigv4 needs a region (and AWS_REGION is not set either)",
                })?;
                EsAuth::SigV4 { service, region }
            }
            other => {
                return Err(EsConfigError::Invalid {
                    variable: ES_AUTH,
                    value: other.to_owned(),
                    reason: "expected sigv4-es, sigv4-aoss, basic, api-key or none".to_owned(),
                });
            }
        };
        let gzip = boolean(ES_GZIP, get(ES_GZIP), true)?;
        let allow_http = boolean(ES_ALLOW_HTTP, get(ES_ALLOW_HTTP), false)?;
        if matches!(auth, EsAuth::Basic { .. } | EsAuth::ApiKey(_)) && url.starts_with("http://") && !allow_http {
            return Err(EsConfigError::Invalid {
                variable: ES_URL,
                value: url,
                reason: format!(
                    "plain http would send the {} in clear text: use https, or set {ES_ALLOW_HTTP}=true for a cluster on a private network",
                    if matches!(auth, EsAuth::Basic { .. }) { "password" } else { "api key" }
                ),
            });
        }
        let ca_bundle = match get(ES_CA_BUNDLE) {
            None => None,
            Some(path) if std::path::Path::new(&path).is_file() => Some(std::path::PathBuf::from(path)),
            Some(path) => return Err(EsConfigError::Invalid { variable: ES_CA_BUNDLE, value: path, reason: "no such file".to_owned() }),
        };
        let action = match get(BULK_ACTION) {
            None => BulkAction::Index,
            Some(value) => value.parse().map_err(|reason| EsConfigError::Invalid { variable: BULK_ACTION, value, reason })?,
        };
        let request_timeout = match get(ES_TIMEOUT_MS) {
            None => DEFAULT_TIMEOUT,
            Some(value) => Duration::from_millis(positive(ES_TIMEOUT_MS, value)?),
        };
        let mut backoff = Backoff::default();
        if let Some(value) = get(ES_MAX_ATTEMPTS) {
            backoff.max_attempts = u32::try_from(positive(ES_MAX_ATTEMPTS, value.clone())?).map_err(|_| EsConfigError::Invalid {
                variable: ES_MAX_ATTEMPTS,
                value,
                reason: "too large".to_owned(),
            })?;
        }
        let max_concurrency = match get(ES_CONCURRENCY) {
            None => DEFAULT_CONCURRENCY,
            Some(value) => positive(ES_CONCURRENCY, value)?.min(64) as usize,
        };
        let aoss = matches!(auth, EsAuth::SigV4 { service: SigV4Service::Aoss, .. });
        let collection = match (get(ES_COLLECTION_TYPE), aoss) {
            (None, false) => None,
            (None, true) => {
                return Err(EsConfigError::Missing {
                    variable: ES_COLLECTION_TYPE,
                    why: "sigv4-aoss ships to an OpenSearch Serverless collection: say whether it is timeseries, search or vector (time-series and vector collections refuse document ids)",
                });
            }
            (Some(value), false) => {
                return Err(EsConfigError::Invalid {
                    variable: ES_COLLECTION_TYPE,
                    value,
                    reason: "only for OpenSearch Serverless (SLUICEGATE_ES_AUTH=sigv4-aoss)".to_owned(),
                });
            }
            (Some(value), true) => Some(match value.trim() {
                "timeseries" => CollectionType::TimeSeries,
                "search" => CollectionType::Search,
                "vector" => CollectionType::Vector,
                _ => {
                    return Err(EsConfigError::Invalid {
                        variable: ES_COLLECTION_TYPE,
                        value,
                        reason: "expected timeseries, search or vector".to_owned(),
                    });
                }
            }),
        };
        Ok(EsConfig { url, auth, gzip, action, request_timeout, backoff, max_concurrency, collection, ca_bundle })
    }
}

fn boolean(variable: &'static str, value: Option<String>, default: bool) -> Result<bool, EsConfigError> {
    match value.as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(EsConfigError::Invalid { variable, value: value.unwrap_or_default(), reason: "expected true or false".to_owned() }),
    }
}

/// `url` with anything between the scheme and an `@` replaced by `***`, for messages: a URL with
/// credentials is refused, and the refusal must not print them.
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme.is_empty() => format!("***@{}", &rest[at + 1..]),
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn positive(variable: &'static str, value: String) -> Result<u64, EsConfigError> {
    match value.trim().parse::<u64>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(EsConfigError::Invalid { variable, value, reason: "expected a positive whole number".to_owned() }),
    }
}

/// Checks that a base URL can be joined with `/_bulk`: http or https, a host, no query.
pub(crate) fn check_url(url: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = url.parse().map_err(|error| format!("not a url: {error}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme {other} is not http or https")),
        None => return Err("no scheme (expected http:// or https://)".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("no host".to_owned());
    }
    if uri.query().is_some() {
        return Err("a query is not allowed in the base url".to_owned());
    }
    if uri.authority().is_some_and(|authority| authority.as_str().contains('@')) {
        return Err("credentials in the url are not allowed (use SLUICEGATE_ES_AUTH=basic)".to_owned());
    }
    Ok(uri)
}

impl fmt::Debug for EsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EsConfig")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("gzip", &self.gzip)
            .field("action", &self.action)
            .field("request_timeout", &self.request_timeout)
            .field("backoff", &self.backoff)
            .field("max_concurrency", &self.max_concurrency)
            .field("collection", &self.collection)
            .field("ca_bundle", &self.ca_bundle)
            .finish()
    }
}

impl fmt::Debug for EsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets stay out of logs: only their presence shows.
        match self {
            EsAuth::None => f.write_str("None"),
            EsAuth::Basic { username, .. } => f.debug_struct("Basic").field("username", username).field("password", &"<redacted>").finish(),
            EsAuth::ApiKey(_) => f.debug_tuple("ApiKey").field(&"<redacted>").finish(),
            EsAuth::SigV4 { service, region } => f.debug_struct("SigV4").field("service", service).field("region", region).finish(),
        }
    }
}
