//! `FaultyBulkServer`: a FAKE Elasticsearch `_bulk` endpoint that injects faults on a script.
//!
//! No real cluster can be told to answer the next request with item 429s, a 413 or a hang-up, so
//! this fake does it. It is honest where it matters to delivery tests: it parses the NDJSON it
//! receives (gunzipping `Content-Encoding: gzip`), keeps documents by `_id` (so a re-send
//! overwrites, and `create` of an existing `_id` gets 409), and rejects documents whose fields
//! conflict with the types it has seen before (a dynamic mapping, so a mapping conflict is a
//! property of the document, not of the attempt). Requests other than `_bulk` get canned answers
//! ([`Route`]), so that a test can play a cluster with plugins no test server has (index
//! management, security) and check what a client asked of it. It listens on 127.0.0.1 only and
//! stops when dropped.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What the fake does with one `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Store every item (mapping conflicts and `create` conflicts still fail, as they would).
    Accept,
    /// Items at positions `0, every, 2 * every, …` of the request fail with `status` and an error
    /// of type `error_type` and are not stored; the others are handled as by `Accept`.
    ItemStatus {
        /// The items' status, e.g. 429.
        status: u16,
        /// The error type, e.g. `es_rejected_execution_exception`.
        error_type: String,
        /// Every how many items one fails.
        every: usize,
    },
    /// The whole request fails with this status; nothing is stored.
    Status(u16),
    /// Handle as `Accept` (storing the documents), then answer after `delay`.
    Slow(Duration),
    /// Answer every item created after `delay`, reading only how many lines the body has and
    /// keeping nothing (not even the request): a cluster of no cost behind a network of that
    /// latency, for benchmarks, where parsing and storing every document would put the fake's
    /// own work into the figure.
    Latency(Duration),
    /// Close the connection without answering; nothing is stored.
    Hangup,
    /// Answer 200 with a response that has one item too few: a response that cannot be trusted.
    ShortResponse,
}

/// The fake's behaviour: one step per request in order, then `then` for every later request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Steps for the first requests, one each.
    pub steps: Vec<Step>,
    /// The step for every request after those.
    pub then: Step,
    /// Requests whose body (as received, so compressed if gzip) is larger get 413 without using a
    /// step, like `http.max_content_length`.
    pub max_body_bytes: Option<usize>,
}

impl Script {
    /// A healthy cluster.
    pub fn accept() -> Script {
        Script { steps: Vec::new(), then: Step::Accept, max_body_bytes: None }
    }

    /// These steps first, then healthy.
    pub fn steps(steps: Vec<Step>) -> Script {
        Script { steps, then: Step::Accept, max_body_bytes: None }
    }
}

/// A canned answer to a request that is not `_bulk`: `method` and `path` (without the query)
/// must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `PUT` and so on.
    pub method: String,
    /// The path, e.g. `/_cat/plugins`.
    pub path: String,
    /// The status to answer.
    pub status: u16,
    /// The JSON to answer.
    pub body: Value,
}

impl Route {
    /// A route answering `status` with `body`.
    pub fn new(method: &str, path: &str, status: u16, body: Value) -> Route {
        Route { method: method.to_owned(), path: path.to_owned(), status, body }
    }
}

/// A document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDocument {
    /// The index it went to.
    pub index: String,
    /// The source line as received.
    pub source: String,
    /// How many times it was written (an `index` re-send overwrites and counts again).
    pub n_writes: u32,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// `POST` and so on.
    pub method: String,
    /// Path and query as sent.
    pub path_and_query: String,
    /// Every header, names lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body as received (compressed if it was).
    pub body: Vec<u8>,
    /// Items parsed from the body (0 when it was not a valid `_bulk` body).
    pub n_items: usize,
    /// The status answered (0 for a hang-up).
    pub status: u16,
}

impl ReceivedRequest {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    script: Option<Script>,
    n_steps_used: usize,
    documents: BTreeMap<String, StoredDocument>,
    /// (index, field) → JSON type name, the first one seen.
    mapping: HashMap<(String, String), &'static str>,
    requests: Vec<ReceivedRequest>,
    n_connections: usize,
    routes: Vec<Route>,
}

/// The fake `_bulk` endpoint; see the module docs.
#[derive(Debug)]
pub struct FaultyBulkServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl FaultyBulkServer {
    /// Starts the fake on a free port of 127.0.0.1 in the current tokio runtime.
    pub async fn start(script: Script) -> FaultyBulkServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State { script: Some(script), ..State::default() }));
        let accept_state = state.clone();
        let accept_task = tokio::spawn(async move {
            // Connections live in this set, so aborting the accept task ends them too.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                lock(&accept_state).n_connections += 1;
                let state = accept_state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| handle(state.clone(), request));
                    // A hang-up ends the connection with an error; that is the point of it.
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        FaultyBulkServer { addr, state, accept_task }
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the script (and starts its steps from the first).
    pub fn set_script(&self, script: Script) {
        let mut state = lock(&self.state);
        state.script = Some(script);
        state.n_steps_used = 0;
    }

    /// Sets the canned answers for requests that are not `_bulk` (others get 404).
    pub fn set_routes(&self, routes: Vec<Route>) {
        lock(&self.state).routes = routes;
    }

    /// The canned answers set.
    pub fn routes(&self) -> Vec<Route> {
        lock(&self.state).routes.clone()
    }

    /// The stored documents by `_id`.
    pub fn documents(&self) -> BTreeMap<String, StoredDocument> {
        lock(&self.state).documents.clone()
    }

    /// How many TCP connections were accepted: few, when the client keeps them alive.
    pub fn n_connections(&self) -> usize {
        lock(&self.state).n_connections
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state).requests.clone()
    }
}

impl Drop for FaultyBulkServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// A URL on 127.0.0.1 where nothing listens: a port bound and released at once.
pub fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}")
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic in one handler must not hide every later request from the test.
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Answers one request. An `Err` makes hyper drop the connection without an answer (a hang-up).
async fn handle(state: Arc<Mutex<State>>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = request.method().to_string();
    let path_and_query = request.uri().path_and_query().map(|path| path.to_string()).unwrap_or_default();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let gzipped = request.headers().get("content-encoding").is_some_and(|value| value == "gzip");
    let body = request.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes().to_vec();
    let mut received = ReceivedRequest { method, path_and_query, headers, body, n_items: 0, status: 0 };

    if let Some(delay) = take_latency_step(&state, &received) {
        return answer_blind(&received.body, gzipped, delay).await;
    }
    let (status, answer, delay) = {
        let mut state = lock(&state);
        let script = state.script.clone().unwrap_or_else(Script::accept);
        let path = received.path_and_query.split('?').next().unwrap_or("").to_owned();
        let route = state.routes.iter().find(|route| route.method == received.method && route.path == path).cloned();
        let (status, answer, delay) = if let Some(route) = route {
            (route.status, route.body, None)
        } else if received.method != "POST" || !path.ends_with("/_bulk") {
            (404, error_body("no_handler_found_exception", "the fake serves POST /_bulk only"), None)
        } else if script.max_body_bytes.is_some_and(|max| received.body.len() > max) {
            (413, error_body("content_too_long_exception", &format!("body of {} bytes is too large", received.body.len())), None)
        } else {
            let step = script.steps.get(state.n_steps_used).cloned().unwrap_or(script.then.clone());
            state.n_steps_used += 1;
            match parse_bulk(&received.body, gzipped) {
                Err(reason) => (400, error_body("illegal_argument_exception", &reason), None),
                Ok(items) => {
                    received.n_items = items.len();
                    match step {
                        Step::Status(status) => (status, error_body("fake_fault", &format!("scripted status {status}")), None),
                        Step::Hangup => {
                            state.requests.push(received);
                            return Err(std::io::Error::other("scripted hang-up"));
                        }
                        Step::Accept => (200, state.apply(&items, None), None),
                        Step::Slow(delay) | Step::Latency(delay) => (200, state.apply(&items, None), Some(delay)),
                        Step::ItemStatus { status, error_type, every } => {
                            (200, state.apply(&items, Some((status, &error_type, every))), None)
                        }
                        Step::ShortResponse => {
                            let mut answer = state.apply(&items, None);
                            answer["items"].as_array_mut().map(Vec::pop);
                            (200, answer, None)
                        }
                    }
                }
            }
        };
        let answer = if received.path_and_query.contains("filter_path=") { filter_items(answer) } else { answer };
        received.status = status;
        state.requests.push(received);
        (status, answer, delay)
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let response = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer.to_string())))
        .map_err(std::io::Error::other)?;
    Ok(response)
}

/// What `filter_path=errors,items.*.status,items.*.error` leaves of a `_bulk` response (the
/// fake assumes that is the filter asked for).
fn filter_items(mut answer: Value) -> Value {
    let Some(object) = answer.as_object_mut() else { return answer };
    if !object.contains_key("items") {
        return answer;
    }
    object.retain(|key, _| key == "errors" || key == "items");
    for item in object.get_mut("items").and_then(Value::as_array_mut).into_iter().flatten() {
        for result in item.as_object_mut().into_iter().flat_map(|item| item.values_mut()) {
            if let Some(result) = result.as_object_mut() {
                result.retain(|key, _| key == "status" || key == "error");
            }
        }
    }
    answer
}

fn error_body(error_type: &str, reason: &str) -> Value {
    json!({ "error": { "type": error_type, "reason": reason }, "status": 0 })
}

struct Item {
    action: String,
    index: String,
    id: String,
    source: Map<String, Value>,
    source_text: String,
}

/// Uses the step of a `_bulk` request when it is a [`Step::Latency`], and says its delay.
fn take_latency_step(state: &Mutex<State>, received: &ReceivedRequest) -> Option<Duration> {
    let mut state = lock(state);
    let script = state.script.clone().unwrap_or_else(Script::accept);
    let path = received.path_and_query.split('?').next().unwrap_or("");
    let routed = state.routes.iter().any(|route| route.method == received.method && route.path == path);
    let oversized = script.max_body_bytes.is_some_and(|max| received.body.len() > max);
    if routed || oversized || received.method != "POST" || !path.ends_with("/_bulk") {
        return None;
    }
    let Step::Latency(delay) = script.steps.get(state.n_steps_used).cloned().unwrap_or(script.then) else {
        return None;
    };
    state.n_steps_used += 1;
    Some(delay)
}

/// [`Step::Latency`]'s answer: every item created, after `delay`.
async fn answer_blind(body: &[u8], gzipped: bool, delay: Duration) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let inflated;
    let body = if gzipped {
        inflated = gunzip(body).map_err(std::io::Error::other)?;
        &inflated[..]
    } else {
        body
    };
    let n_items = body.iter().filter(|&&byte| byte == b'\n').count() / 2;
    let mut answer = String::with_capacity(40 + n_items * 28);
    answer.push_str(r#"{"took":1,"errors":false,"items":["#);
    for item_idx in 0..n_items {
        answer.push_str(if item_idx == 0 { r#"{"index":{"status":201}}"# } else { r#",{"index":{"status":201}}"# });
    }
    answer.push_str("]}");
    tokio::time::sleep(delay).await;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer)))
        .map_err(std::io::Error::other)
}

/// Parses a `_bulk` body as Elasticsearch would: action and source lines, a final newline.
fn parse_bulk(body: &[u8], gzipped: bool) -> Result<Vec<Item>, String> {
    let inflated;
    let body = if gzipped {
        inflated = gunzip(body)?;
        &inflated[..]
    } else {
        body
    };
    if !body.ends_with(b"\n") {
        return Err("the bulk request must be terminated by a newline [\\n]".to_owned());
    }
    let text = std::str::from_utf8(body).map_err(|error| format!("body is not utf-8: {error}"))?;
    let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
    if !lines.len().is_multiple_of(2) {
        return Err(format!("{} lines: an action without a source", lines.len()));
    }
    lines
        .chunks(2)
        .map(|pair| {
            let action: Map<String, Value> =
                serde_json::from_str(pair[0]).map_err(|error| format!("bad action line {:?}: {error}", pair[0]))?;
            let (name, meta) = action.iter().next().ok_or("empty action line")?;
            if name != "index" && name != "create" {
                return Err(format!("the fake supports index and create, not {name}"));
            }
            let field = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_owned).ok_or(format!("action without {key}"));
            let source: Map<String, Value> =
                serde_json::from_str(pair[1]).map_err(|error| format!("bad source line {:?}: {error}", pair[1]))?;
            Ok(Item { action: name.clone(), index: field("_index")?, id: field("_id")?, source, source_text: pair[1].to_owned() })
        })
        .collect()
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    // The gzip trailer ends with the inflated size modulo 2^32: enough for a test body.
    let size = body
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(body[at..].try_into().expect("4 bytes")) as usize)
        .ok_or("gzip body too short")?;
    if size > 256 << 20 {
        return Err(format!("gzip body claims {size} bytes"));
    }
    let mut out = vec![0; size];
    let n_bytes = libdeflater::Decompressor::new().gzip_decompress(body, &mut out).map_err(|error| format!("bad gzip body: {error}"))?;
    out.truncate(n_bytes);
    Ok(out)
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "text",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl State {
    /// Stores what can be stored and answers each item like Elasticsearch.
    fn apply(&mut self, items: &[Item], fault: Option<(u16, &str, usize)>) -> Value {
        let mut answers = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            let result = if let Some((status, error_type, _)) = fault.filter(|(_, _, every)| position % (*every).max(1) == 0) {
                Err((status, error_type.to_owned(), "scripted item fault".to_owned()))
            } else {
                self.store(item)
            };
            let mut answer = json!({ "_index": item.index, "_id": item.id });
            match result {
                Ok((status, outcome)) => {
                    answer["status"] = json!(status);
                    answer["result"] = json!(outcome);
                }
                Err((status, error_type, reason)) => {
                    answer["status"] = json!(status);
                    answer["error"] = json!({ "type": error_type, "reason": reason });
                }
            }
            answers.push(json!({ item.action.clone(): answer }));
        }
        let errors =
            answers.iter().any(|answer| answer.as_object().and_then(|a| a.values().next()).is_some_and(|a| a.get("error").is_some()));
        json!({ "took": 1, "errors": errors, "items": answers })
    }

    fn store(&mut self, item: &Item) -> Result<(u16, &'static str), (u16, String, String)> {
        // Check the whole document against the mapping before changing it, as a real index does.
        let mut new_fields = Vec::new();
        for (field, value) in &item.source {
            let key = (item.index.clone(), field.clone());
            match self.mapping.get(&key) {
                Some(mapped) if *mapped != json_type(value) => {
                    return Err((
                        400,
                        "mapper_parsing_exception".to_owned(),
                        format!("failed to parse field [{field}] of type [{mapped}] in document with id '{}'", item.id),
                    ));
                }
                Some(_) => {}
                None => new_fields.push((key, json_type(value))),
            }
        }
        if item.action == "create" && self.documents.contains_key(&item.id) {
            return Err((
                409,
                "version_conflict_engine_exception".to_owned(),
                format!("[{}]: version conflict, document already exists", item.id),
            ));
        }
        self.mapping.extend(new_fields);
        let document = self.documents.entry(item.id.clone()).or_insert_with(|| StoredDocument {
            index: item.index.clone(),
            source: String::new(),
            n_writes: 0,
        });
        document.source = item.source_text.clone();
        document.index = item.index.clone();
        document.n_writes += 1;
        Ok(if document.n_writes == 1 { (201, "created") } else { (200, "updated") })
    }
}
