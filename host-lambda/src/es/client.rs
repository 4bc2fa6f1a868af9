//! The `_bulk` client: one keep-alive connection pool, signed requests, and per-item retries,
//! splits and deadlines, ending with a fate for every item.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sluicegate_engine::bulk::{BulkBody, ItemResult, classify, degrade, degrade_to_base};
use tracing::{debug, warn};

use super::config::EsConfig;
use super::request::{Endpoint, SigningError, sign_request};
use super::retry::GiveUp;

/// What became of one item of one `_bulk` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFate {
    /// The Kinesis record the item's event came in.
    pub record_idx: u32,
    /// Delivered, rejected or undelivered.
    pub fate: Fate,
}

/// The end of an item's journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored (or, with `create`, already there).
    Delivered,
    /// Refused for its shape, then stored in a degraded form (`bulk::degrade`, or the base
    /// fields alone, `bulk::degrade_to_base`, when the index refused that too).
    Degraded {
        /// Why the document as shipped was refused.
        reason: String,
    },
    /// Elasticsearch refused the document for good (mapping conflict, too large): a dead letter.
    Rejected {
        /// The item's HTTP status.
        status: u16,
        /// The error as Elasticsearch gave it.
        error: String,
        /// The document (the source line, without its newline).
        document: Vec<u8>,
    },
    /// Not delivered within the attempts or the deadline: its record goes back to Kinesis.
    Undelivered {
        /// The last failure seen.
        reason: String,
    },
}

/// The result of [`EsClient::ship`]: one fate per item of every body, in body then item order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipReport {
    /// Fates in the order of the bodies and their items.
    pub items: Vec<ItemFate>,
    /// `_bulk` requests sent (retries and halves included).
    pub n_requests: u32,
    /// Items sent again after a retryable item failure (counted once per retry).
    pub n_items_retried: u32,
    /// Bodies split in two after a 413.
    pub n_splits: u32,
}

/// What a refused item carries into its degraded attempt: the refusal and the document as first
/// shipped (the dead letter holds that one, should the degraded form be refused too).
struct Refusal {
    reason: String,
    document: Vec<u8>,
}

impl ShipReport {
    /// The record indices with at least one undelivered item, sorted and without repeats.
    pub fn undelivered_records(&self) -> Vec<u32> {
        let mut record_idxs: Vec<u32> =
            self.items.iter().filter(|item| matches!(item.fate, Fate::Undelivered { .. })).map(|item| item.record_idx).collect();
        record_idxs.sort_unstable();
        record_idxs.dedup();
        record_idxs
    }

    /// Counts of (delivered, rejected, undelivered) items.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.items.iter().fold((0, 0, 0), |(delivered, rejected, undelivered), item| match item.fate {
            Fate::Delivered | Fate::Degraded { .. } => (delivered + 1, rejected, undelivered),
            Fate::Rejected { .. } => (delivered, rejected + 1, undelivered),
            Fate::Undelivered { .. } => (delivered, rejected, undelivered + 1),
        })
    }
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EsClientError {
    /// The URL or the auth settings cannot make requests.
    #[error("bad elasticsearch endpoint {url}: {reason}")]
    Endpoint {
        /// The configured URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// SigV4 is configured but no credentials provider was given.
    #[error("sigv4 auth needs a credentials provider")]
    NoCredentials,
    /// TLS could not be set up.
    #[error("tls setup failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The CA bundle holds no usable certificate.
    #[error("SLUICEGATE_ES_CA_BUNDLE {path}: {reason}")]
    CaBundle {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// One request failed before a response came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EsRequestError {
    /// The credentials provider had no credentials to give.
    #[error("no aws credentials: {0}")]
    Credentials(String),
    /// Signing failed.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// The request could not be built (a path that is not a URL).
    #[error("bad request: {0}")]
    Build(String),
    /// Connecting, sending or receiving failed.
    #[error("connection to elasticsearch failed: {0}")]
    Transport(String),
    /// No complete response within the time allowed.
    #[error("no response within {} ms", .0.as_millis())]
    Timeout(Duration),
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The Elasticsearch/OpenSearch client, built once per process and shared by every invocation so
/// its keep-alive connections outlive them.
#[derive(Clone)]
pub struct EsClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: EsConfig,
    endpoint: Endpoint,
    credentials: Option<SharedCredentialsProvider>,
    http: HttpsClient,
}

impl std::fmt::Debug for EsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsClient").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

/// How long an idle pooled connection is kept: below the common 60 s idle timeouts of load
/// balancers in front of clusters, so the client rarely reuses a connection the server dropped.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an error response goes into a reason.
const MAX_REASON_BYTES: usize = 500;

impl EsClient {
    /// A client for `config`; `credentials` is needed for SigV4 (the provider caches and refreshes).
    pub fn new(config: EsConfig, credentials: Option<SharedCredentialsProvider>) -> Result<EsClient, EsClientError> {
        let endpoint = Endpoint::new(&config).map_err(|reason| EsClientError::Endpoint { url: config.url.clone(), reason })?;
        if endpoint.sigv4.is_some() && credentials.is_none() {
            return Err(EsClientError::NoCredentials);
        }
        // The provider is named, not taken from the process default, so the client works whatever
        // other rustls crypto backends the rest of the binary enables.
        let roots = match &config.ca_bundle {
            None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
            Some(path) => ca_bundle_roots(path)?,
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().wrap_connector(connector);
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(config.max_concurrency.max(1))
            .build(https);
        Ok(EsClient { inner: Arc::new(Inner { config, endpoint, credentials, http }) })
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &EsConfig {
        &self.inner.config
    }

    /// Sends `bodies` to `_bulk` and follows every item to its end before `deadline`: retries the
    /// retryable items with backoff, splits on 413, dead-letters what will never succeed, and
    /// reports the rest undelivered. Up to `max_concurrency` bodies are in flight at once; the
    /// retries and halves of one body run one after another.
    pub async fn ship(&self, bodies: &[BulkBody], deadline: Instant) -> ShipReport {
        let concurrency = self.inner.config.max_concurrency.max(1);
        let mut results: Vec<(usize, BodyResult)> = futures_util::stream::iter(
            bodies.iter().enumerate().map(|(body_idx, body)| async move { (body_idx, self.ship_body(body, deadline).await) }),
        )
        .buffer_unordered(concurrency)
        .collect()
        .await;
        results.sort_by_key(|(body_idx, _)| *body_idx);
        let mut report = ShipReport::default();
        for ((_, result), body) in results.into_iter().zip(bodies) {
            report.n_requests += result.n_requests;
            report.n_items_retried += result.n_items_retried;
            report.n_splits += result.n_splits;
            report.items.extend(body.items.iter().zip(result.fates).map(|(item, fate)| ItemFate {
                record_idx: item.record_idx,
                fate: fate.unwrap_or_else(|| Fate::Undelivered { reason: "no fate recorded (bug)".to_owned() }),
            }));
        }
        report
    }

    /// One body's journey; fates are indexed like `body.items`.
    async fn ship_body(&self, body: &BulkBody, deadline: Instant) -> BodyResult {
        let backoff = &self.inner.config.backoff;
        let mut rng = fastrand::Rng::new();
        let mut result = BodyResult { fates: vec![None; body.items.len()], ..BodyResult::default() };
        // Work still to do, last first: a part of the body, which original items it holds, and
        // how many attempts its items have had.
        let mut pending =
            vec![Part { body: Cow::Borrowed(body), item_idxs: (0..body.items.len()).collect(), attempts: 0, form: Form::AsShipped }];
        while let Some(part) = pending.pop() {
            if part.body.items.is_empty() {
                continue;
            }
            if !backoff.may_start(Instant::now(), deadline) {
                let reason =
                    format!("deadline too close to send ({} ms left)", deadline.saturating_duration_since(Instant::now()).as_millis());
                result.settle_all(&part.item_idxs, || Fate::Undelivered { reason: reason.clone() });
                continue;
            }
            let attempts = part.attempts + 1;
            result.n_requests += 1;
            let response = self.send_bulk(&part.body, deadline).await;
            let failure = match response {
                Err(error) => error.to_string(),
                Ok((StatusCode::PAYLOAD_TOO_LARGE, response_body)) => {
                    if let Some((first, second)) = part.body.split_in_half() {
                        result.n_splits += 1;
                        debug!(n_items = part.body.items.len(), n_bytes = part.body.body.len(), "bulk request too large, split");
                        let middle = first.items.len();
                        pending.push(Part {
                            body: Cow::Owned(second),
                            item_idxs: part.item_idxs[middle..].to_vec(),
                            attempts: part.attempts,
                            form: part.form,
                        });
                        pending.push(Part {
                            body: Cow::Owned(first),
                            item_idxs: part.item_idxs[..middle].to_vec(),
                            attempts: part.attempts,
                            form: part.form,
                        });
                    } else {
                        // One document the cluster will never accept in a request: a dead letter.
                        let error = format!(
                            "content_too_long: a request with this document alone ({} bytes) is too large: {}",
                            part.body.body.len(),
                            excerpt(&response_body)
                        );
                        debug!(status = 413, n_bytes = part.body.body.len(), "bulk item rejected as too large");
                        result.reject(part.item_idxs[0], 413, error, part.body.document(0));
                    }
                    continue;
                }
                Ok((status, response_body)) if status.is_success() => {
                    match classify(&response_body, &part.body, self.inner.config.action) {
                        Err(error) => error.to_string(),
                        Ok(item_results) => {
                            let mut retry_local = Vec::new();
                            let mut last_retry = (0, String::new());
                            let mut degraded_local = Vec::new();
                            for (local_idx, item_result) in item_results.into_iter().enumerate() {
                                let item_idx = part.item_idxs[local_idx];
                                match item_result {
                                    ItemResult::Delivered => result.deliver(item_idx),
                                    // Refused for its shape: ship it once more degraded, and if
                                    // that is refused too (an index at its field limit refuses
                                    // even the degraded form's two fields), as its base fields.
                                    ItemResult::Mapping { error, .. } if part.form != Form::Base => {
                                        let document = part.body.document(local_idx);
                                        let next = match part.form {
                                            Form::AsShipped => {
                                                let reason = error_summary(&error);
                                                let degraded = degrade(document, &reason);
                                                if degraded.is_some() {
                                                    result.refusals.insert(item_idx, Refusal { reason, document: document.to_vec() });
                                                }
                                                degraded
                                            }
                                            Form::Degraded | Form::Base => degrade_to_base(document),
                                        };
                                        match next {
                                            Some(next) => degraded_local.push((local_idx, next)),
                                            None => result.reject(item_idx, 400, error, document),
                                        }
                                    }
                                    ItemResult::Mapping { status, error } | ItemResult::Reject { status, error } => {
                                        result.reject(item_idx, status, error, part.body.document(local_idx));
                                    }
                                    ItemResult::Retry { status, error } => {
                                        retry_local.push(local_idx);
                                        last_retry = (status, error);
                                    }
                                }
                            }
                            if !degraded_local.is_empty() {
                                debug!(n_items = degraded_local.len(), "bulk items refused for their shape, shipped degraded");
                                let item_idxs = degraded_local.iter().map(|(local_idx, _)| part.item_idxs[*local_idx]).collect();
                                let body = part.body.with_documents(&degraded_local);
                                let form = if part.form == Form::AsShipped { Form::Degraded } else { Form::Base };
                                pending.push(Part { body: Cow::Owned(body), item_idxs, attempts: 0, form });
                            }
                            if !retry_local.is_empty() {
                                let (status, error) = last_retry;
                                let item_idxs: Vec<usize> = retry_local.iter().map(|&local_idx| part.item_idxs[local_idx]).collect();
                                let reason = format!("item status {status}: {}", truncate(&error));
                                match backoff.next(attempts, Instant::now(), deadline, &mut rng) {
                                    Ok(delay) => {
                                        warn!(
                                            status,
                                            n_items = item_idxs.len(),
                                            delay_ms = delay.as_millis() as u64,
                                            attempts,
                                            "bulk items retried"
                                        );
                                        result.n_items_retried += item_idxs.len() as u32;
                                        tokio::time::sleep(delay).await;
                                        pending.push(Part {
                                            body: Cow::Owned(part.body.subset(&retry_local)),
                                            item_idxs,
                                            attempts,
                                            form: part.form,
                                        });
                                    }
                                    Err(give_up) => {
                                        let reason = give_up_reason(give_up, attempts, &reason);
                                        warn!(status, n_items = item_idxs.len(), attempts, "bulk items undelivered");
                                        result.settle_all(&item_idxs, || Fate::Undelivered { reason: reason.clone() });
                                    }
                                }
                            }
                            continue;
                        }
                    }
                }
                Ok((status, response_body)) if is_retryable_status(status) => {
                    format!("request status {}: {}", status.as_u16(), excerpt(&response_body))
                }
                Ok((status, response_body)) => {
                    // A whole-request 4xx (bad path, bad request) repeats on every try; the records
                    // go back to Kinesis rather than to the dead letters, since the fault is ours
                    // or the cluster's, not the documents'.
                    let reason = format!("request refused with status {}: {}", status.as_u16(), excerpt(&response_body));
                    warn!(status = status.as_u16(), n_items = part.body.items.len(), "bulk request refused");
                    result.settle_all(&part.item_idxs, || Fate::Undelivered { reason: reason.clone() });
                    continue;
                }
            };
            // The whole request failed in a way that may pass: try it again, or give up.
            match backoff.next(attempts, Instant::now(), deadline, &mut rng) {
                Ok(delay) => {
                    warn!(n_items = part.body.items.len(), attempts, delay_ms = delay.as_millis() as u64, error = %failure, "bulk request retried");
                    tokio::time::sleep(delay).await;
                    pending.push(Part { attempts, ..part });
                }
                Err(give_up) => {
                    let reason = give_up_reason(give_up, attempts, &failure);
                    warn!(n_items = part.body.items.len(), attempts, error = %failure, "bulk request undelivered");
                    result.settle_all(&part.item_idxs, || Fate::Undelivered { reason: reason.clone() });
                }
            }
        }
        result
    }

    /// Sends one `_bulk` body: compressed and signed as configured, within the request timeout and
    /// the deadline.
    async fn send_bulk(&self, body: &BulkBody, deadline: Instant) -> Result<(StatusCode, Bytes), EsRequestError> {
        let request = self.inner.endpoint.bulk_request(&body.body, self.inner.config.gzip).map_err(EsRequestError::Build)?;
        self.send(request, deadline).await
    }

    /// Sends a request to `path` below the base URL (with query, e.g. `/logs/_search?q=x`) and
    /// returns the status and body, signed like `_bulk` but not compressed: for replay and for
    /// checks. `body` is sent as `application/json` (or NDJSON when `path` is a `_bulk` path).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        deadline: Instant,
    ) -> Result<(StatusCode, Bytes), EsRequestError> {
        let content_type = if path.contains("_bulk") { "application/x-ndjson" } else { "application/json" };
        let body = body.map(Bytes::from).unwrap_or_default();
        let request = self.inner.endpoint.request(method, path, body, content_type, false).map_err(EsRequestError::Build)?;
        self.send(request, deadline).await
    }

    async fn send(&self, mut request: Request<Bytes>, deadline: Instant) -> Result<(StatusCode, Bytes), EsRequestError> {
        let timeout = self.inner.config.request_timeout.min(deadline.saturating_duration_since(Instant::now()));
        if let (Some((service, region)), Some(provider)) = (&self.inner.endpoint.sigv4, &self.inner.credentials) {
            let credentials = tokio::time::timeout(timeout, provider.provide_credentials())
                .await
                .map_err(|_| EsRequestError::Timeout(timeout))?
                .map_err(|error| EsRequestError::Credentials(error_chain(&error)))?;
            sign_request(&mut request, *service, region, &credentials, SystemTime::now())?;
        }
        let request = request.map(Full::new);
        let exchange = async {
            let response = self.inner.http.request(request).await.map_err(|error| EsRequestError::Transport(error_chain(&error)))?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|error| EsRequestError::Transport(error_chain(&error)))?.to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| EsRequestError::Timeout(timeout))?
    }
}

/// The roots of a private CA bundle: every certificate of the PEM file, which must hold one.
fn ca_bundle_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, EsClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let error = |reason: String| EsClientError::CaBundle { path: path.display().to_string(), reason };
    let pem = std::fs::read(path).map_err(|io| error(io.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|pem_error| error(format!("not PEM certificates: {pem_error}")))?;
        roots.add(certificate).map_err(|tls_error| error(format!("a certificate rustls cannot use: {tls_error}")))?;
    }
    if roots.is_empty() {
        return Err(error("no CERTIFICATE in the file".to_owned()));
    }
    Ok(roots)
}

/// 401 and 403 are retried because SigV4 credentials can expire or a clock can skew mid-batch;
/// 408, 429 and 5xx are the cluster asking for patience.
fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 408 | 429) || status.is_server_error()
}

fn give_up_reason(give_up: GiveUp, attempts: u32, last: &str) -> String {
    match give_up {
        GiveUp::Attempts => format!("gave up after {attempts} attempts: {last}"),
        GiveUp::Deadline => format!("deadline too close to retry after {attempts} attempts: {last}"),
    }
}

/// An error with its sources, which is where hyper keeps the useful part ("connection refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `type: reason` of an item's error JSON (`{"type": …, "reason": …, "caused_by": …}`), or the
/// text itself when it is not that.
fn error_summary(error: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(error) else {
        return truncate(error).into_owned();
    };
    let field = |name: &str| value.get(name).and_then(serde_json::Value::as_str).unwrap_or("");
    match (field("type"), field("reason")) {
        ("", "") => truncate(error).into_owned(),
        (error_type, reason) => truncate(&format!("{error_type}: {reason}")).into_owned(),
    }
}

fn excerpt(body: &[u8]) -> String {
    truncate(&String::from_utf8_lossy(body)).into_owned()
}

fn truncate(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_REASON_BYTES {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_REASON_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

struct Part<'a> {
    body: Cow<'a, BulkBody>,
    item_idxs: Vec<usize>,
    attempts: u32,
    /// Which form the documents are in (`BodyResult::refusals` has the originals of the others).
    form: Form,
}

/// The form a refused document is shipped in next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// As the pipeline wrote it.
    AsShipped,
    /// `bulk::degrade`: typed fields, the rest as text in `event.original`.
    Degraded,
    /// `bulk::degrade_to_base`: the fields every document has, which add nothing to a mapping.
    Base,
}

#[derive(Default)]
struct BodyResult {
    fates: Vec<Option<Fate>>,
    /// Items shipped degraded, by item index.
    refusals: std::collections::HashMap<usize, Refusal>,
    n_requests: u32,
    n_items_retried: u32,
    n_splits: u32,
}

impl BodyResult {
    fn settle(&mut self, item_idx: usize, fate: Fate) {
        self.fates[item_idx] = Some(fate);
    }

    /// The item is stored: as shipped, or degraded when it was refused before.
    fn deliver(&mut self, item_idx: usize) {
        let fate = match self.refusals.get(&item_idx) {
            Some(refusal) => Fate::Degraded { reason: refusal.reason.clone() },
            None => Fate::Delivered,
        };
        self.settle(item_idx, fate);
    }

    /// The item is refused for good: a dead letter of the document as first shipped, with both
    /// refusals when its degraded form was refused too.
    fn reject(&mut self, item_idx: usize, status: u16, error: String, document: &[u8]) {
        let fate = match self.refusals.remove(&item_idx) {
            Some(refusal) => Fate::Rejected {
                status,
                error: format!("refused as shipped ({}) and degraded: {error}", refusal.reason),
                document: refusal.document,
            },
            None => Fate::Rejected { status, error, document: document.to_vec() },
        };
        self.settle(item_idx, fate);
    }

    fn settle_all(&mut self, item_idxs: &[usize], fate: impl Fn() -> Fate) {
        for &item_idx in item_idxs {
            self.fates[item_idx] = Some(fate());
        }
    }
}
