//! An account where services disagree on their fields' types, as real accounts do: `user` a
//! string in one service and an object in another, `status` a number, a word, a list and a
//! boolean, `error` text and an object, and a service that logs a new key per metric (past the
//! index's field limit on its own). Through the default chain (filter, redact, extract with
//! `{}`) every event must end searchable: with `sluicegate setup` none is refused, without it
//! the refused ones are stored degraded, and in neither case is one dead-lettered.

use std::process::Command;

use serde_json::{Value, json};
use sluicegate_tests::moto::lambda_event;

use crate::{STREAM, Stack, failures};

const N_PER_SERVICE: usize = 400;
/// A word every message carries, to count the events searchable by their message.
const MARK: &str = "sgmark";

/// The five services' log groups and lines.
fn services() -> Vec<(&'static str, Vec<String>)> {
    let checkout = (0..N_PER_SERVICE)
        .map(|n| {
            json!({"level": "info", "user": format!("user{}", n % 7), "status": 200 + n % 3, "msg": format!("{MARK} order {n} paid")})
                .to_string()
        })
        .collect();
    let auth = (0..N_PER_SERVICE)
        .map(|n| {
            json!({"level": "warn", "user": {"id": n, "name": format!("user{}", n % 7)}, "status": "denied", "error": "bad password", "msg": format!("{MARK} login {n}")})
                .to_string()
        })
        .collect();
    let billing = (0..N_PER_SERVICE)
        .map(|n| {
            let status = if n % 2 == 0 { json!(["retry", "failed"]) } else { json!(true) };
            json!({"level": "error", "status": status, "error": {"code": format!("E{}", n % 5), "message": "card declined"}, "msg": format!("{MARK} charge {n}")})
                .to_string()
        })
        .collect();
    // One new key per line: 400 lines of 3 new keys each.
    let metrics = (0..N_PER_SERVICE)
        .map(|n| {
            let mut line = json!({"msg": format!("{MARK} sample {n}")});
            for k in 0..3 {
                line[format!("latency_p{n}_{k}")] = json!(n * 3 + k);
            }
            line.to_string()
        })
        .collect();
    let worker = (0..N_PER_SERVICE).map(|n| format!("level=info status=ok job=j{n} user=user{} msg=\"{MARK} job done\"", n % 7)).collect();
    vec![
        ("/ecs/checkout", checkout),
        ("/ecs/auth", auth),
        ("/aws/lambda/billing", billing),
        ("/ecs/metrics", metrics),
        ("/ecs/worker", worker),
    ]
}

/// Puts every service's lines through the subscriptions and runs the function on the shard with
/// the default chain; returns the function's answer and output.
fn ship(stack: &Stack) -> (Value, String) {
    let t0 = sluicegate_tests::recent_t0();
    for (log_group, lines) in services() {
        stack.moto.subscribe_group(STREAM, log_group, "main");
        for (chunk_idx, chunk) in lines.chunks(100).enumerate() {
            let events: Vec<(i64, String)> =
                chunk.iter().enumerate().map(|(line_idx, line)| (t0 + (chunk_idx * 100 + line_idx) as i64, line.clone())).collect();
            stack.moto.put_log_events(log_group, "main", &events);
        }
    }
    let records = stack.moto.read_shard(STREAM);
    let folder = sluicegate_tests::process::scratch_dir("mixed-services");
    let module = |name: &str| sluicegate_tests::guests::module(name).display().to_string();
    let pipeline = json!({"transforms": [
        {"name": "filter", "module": module("filter"), "config": {}},
        {"name": "redact", "module": module("redact"), "config": {}},
        {"name": "extract", "module": module("extract"), "config": {}},
    ]});
    let pipeline_path = folder.join("pipeline.json");
    std::fs::write(&pipeline_path, pipeline.to_string()).unwrap();
    let mut lambda = stack.lambda(&stack.moto.url, &[("SLUICEGATE_PIPELINE", pipeline_path.display().to_string())]);
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    (response, lambda.function.output())
}

fn count(stack: &Stack, query: Value) -> u64 {
    let response = ureq::post(&format!("{}/cwl-*/_count", stack.es_url))
        .header("Content-Type", "application/json")
        .send(json!({ "query": query }).to_string())
        .unwrap_or_else(|error| panic!("count {query}: {error}"));
    let body: Value = serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    body["count"].as_u64().unwrap_or_else(|| panic!("count {query}: {body}"))
}

/// What the EMF line of the invocation says of `metric`.
fn metric(output: &str, metric: &str) -> u64 {
    let line = output.lines().find(|line| line.contains("\"CloudWatchMetrics\"")).unwrap_or_else(|| panic!("no EMF line in:\n{output}"));
    serde_json::from_str::<Value>(line).unwrap()[metric].as_u64().unwrap_or_else(|| panic!("no {metric} in {line}"))
}

/// Every event is in the index and found by a word of its message, nothing is dead-lettered.
#[track_caller]
fn assert_all_searchable(stack: &Stack, response: &Value, output: &str) {
    let n_events = 5 * N_PER_SERVICE as u64;
    assert_eq!(failures(response), Vec::<String>::new(), "{output}");
    assert_eq!(metric(output, "DeadLettered"), 0, "{output}");
    assert!(stack.objects("dead-letter").is_empty(), "no dead letters");
    assert_eq!(stack.es_count(), n_events, "{output}");
    assert_eq!(count(stack, json!({"match": {"message": MARK}})), n_events);
}

#[test]
fn with_setup_every_event_is_searchable_and_none_is_refused() {
    let stack = Stack::start();
    let sluicegate = sluicegate_tests::bootstrap_path().with_file_name("sluicegate");
    let setup = Command::new(&sluicegate).args(["setup", "--es-url", &stack.es_url]).output().expect("run sluicegate setup");
    let setup_text = String::from_utf8_lossy(&setup.stdout).into_owned() + &String::from_utf8_lossy(&setup.stderr);
    assert!(setup.status.success(), "{setup_text}");
    assert!(setup_text.contains("index template sluicegate-cwl for cwl-*: created"), "{setup_text}");
    // A second run changes nothing.
    let again = Command::new(&sluicegate).args(["setup", "--es-url", &stack.es_url]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).ends_with("setup: nothing changed\n"), "{again:?}");

    let (response, output) = ship(&stack);
    assert_all_searchable(&stack, &response, &output);
    assert_eq!(metric(&output, "BulkItemsDegraded"), 0, "{output}");
    assert_eq!(count(&stack, json!({"exists": {"field": "event.ingest_error"}})), 0);
    // Each service's own fields are searchable under `attributes`, whatever their type.
    let user3 = (0..N_PER_SERVICE).filter(|n| n % 7 == 3).count() as u64;
    // checkout's `user` is a string, worker's a logfmt value, auth's an object with a name.
    assert_eq!(count(&stack, json!({"term": {"attributes.user": "user3"}})), 2 * user3);
    assert_eq!(count(&stack, json!({"term": {"attributes.user.name": "user3"}})), user3);
    assert_eq!(count(&stack, json!({"term": {"attributes.status": "denied"}})), N_PER_SERVICE as u64);
    assert_eq!(count(&stack, json!({"term": {"attributes.error.code": "E2"}})), (N_PER_SERVICE / 5) as u64);
    assert_eq!(count(&stack, json!({"term": {"attributes.latency_p7_1": "22"}})), 1);
    // The fields the engine and extract own stay typed at the root.
    assert_eq!(count(&stack, json!({"term": {"log.level": "ERROR"}})), N_PER_SERVICE as u64);
    assert_eq!(count(&stack, json!({"term": {"aws.cloudwatch.log_group": "/ecs/auth"}})), N_PER_SERVICE as u64);
}

#[test]
fn without_setup_every_event_is_searchable_some_degraded() {
    let stack = Stack::start();
    let (response, output) = ship(&stack);
    assert_all_searchable(&stack, &response, &output);
    let degraded = metric(&output, "BulkItemsDegraded");
    assert!(degraded > 0, "dynamic mappings refuse some of these: {output}");
    // A degraded document says why in `event.ingest_error`, unless the index was at its field
    // limit even for that and took the document's base fields alone.
    let with_reason = count(&stack, json!({"exists": {"field": "event.ingest_error"}}));
    assert!(with_reason <= degraded, "{with_reason} of {degraded}");
    // A degraded event keeps its log group (mapped dynamically here: text with a keyword).
    assert_eq!(count(&stack, json!({"term": {"aws.cloudwatch.log_group.keyword": "/ecs/auth"}})), N_PER_SERVICE as u64);
    sluicegate_tests::write_report(
        "mixed-services-without-setup",
        &format!(
            "{degraded} of {} events stored degraded without `sluicegate setup` ({with_reason} with event.ingest_error, the rest as their base fields)",
            5 * N_PER_SERVICE
        ),
    );
}
