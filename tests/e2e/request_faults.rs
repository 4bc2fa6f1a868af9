//! Whole-request Elasticsearch faults through the whole Lambda (500s, 413, a response slower than
//! the deadline, connection refused): every event ends delivered, dead-lettered or in
//! `batchItemFailures`, the answer comes before the deadline, and re-invoking with exactly the
//! reported records delivers the rest with no duplicate documents.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine as _;
use expect_test::expect;
use serde_json::Value;
use sluicegate_tests::fault_server::{Script, Step, refused_url};
use sluicegate_tests::lambda::{Lambda, time_left};
use sluicegate_tests::moto::lambda_event;

use crate::es_faults::fake_bulk_server;
use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

const N_RECORDS: i64 = 3;
const N_EVENTS: i64 = 4;

struct Scenario {
    name: &'static str,
    script: Script,
    /// Point the function at a closed port of 127.0.0.1 instead of the fake (the re-invoke then
    /// goes to the real osmem-server).
    refused: bool,
    /// The time the function has for the batch (the emulator's ten minutes less the margin).
    time_left: Duration,
    /// `SLUICEGATE_*` settings on top of the scenario's own.
    env: Vec<(&'static str, String)>,
    /// Text the function's "bulk items undelivered" line must contain (unused when all is delivered).
    reason: &'static str,
    /// One event has a message this large (0 for none), so its document alone is over a 413 limit.
    huge_message_bytes: usize,
    /// Whether the request counts depend on timing (they are then `*` in the snapshot).
    timing_dependent: bool,
}

impl Scenario {
    fn new(name: &'static str, script: Script) -> Scenario {
        Scenario {
            name,
            script,
            refused: false,
            time_left: Duration::from_secs(3),
            env: vec![("SLUICEGATE_ES_MAX_ATTEMPTS", "3".to_owned())],
            reason: "",
            huge_message_bytes: 0,
            timing_dependent: false,
        }
    }
}

struct Row {
    name: &'static str,
    n_events: usize,
    /// The function's own metrics (its EMF line) for the first invocation.
    first: Value,
    /// How long the first invocation took, as the caller saw it.
    elapsed: Duration,
    n_413s: usize,
    n_stored_first: usize,
    n_dead_lettered: usize,
    n_records_reported: usize,
    /// The function's metrics for the re-invocation with the reported records, if there was one.
    again: Option<Value>,
    n_stored_end: usize,
    /// Documents written more than once (`None` when the store cannot tell: osmem-server).
    n_written_twice: Option<usize>,
    timing_dependent: bool,
}

/// The CloudWatch event ids of a Kinesis record from moto, as the documents' `_id`s.
fn event_ids(record: &Value) -> Vec<String> {
    let data = base64::engine::general_purpose::STANDARD.decode(record["Data"].as_str().expect("Data")).expect("base64 data");
    let message: Value = serde_json::from_slice(&sluicegate_tests::gunzip(&data)).expect("subscription json");
    message["logEvents"]
        .as_array()
        .expect("logEvents")
        .iter()
        .map(|event| match &event["id"] {
            Value::String(id) => id.clone(),
            id => id.to_string(),
        })
        .collect()
}

/// The metrics line of each invocation the function has handled, in order.
fn metrics(lambda: &Lambda) -> Vec<Value> {
    lambda
        .function
        .output()
        .lines()
        .filter(|line| line.contains("\"CloudWatchMetrics\""))
        .map(|line| serde_json::from_str(line).expect("EMF json"))
        .collect()
}

fn count(metrics: &Value, name: &str) -> usize {
    metrics[name].as_u64().unwrap_or_else(|| panic!("no {name} in {metrics}")) as usize
}

/// Runs one scenario through moto, cargo-lambda, the real `bootstrap` and the fake (or a closed
/// port, then osmem-server) and checks the delivery invariants; the counts come back for the table.
fn run(scenario: Scenario) -> Row {
    let name = scenario.name;
    let stack = Stack::start();
    let t0 = sluicegate_tests::recent_t0();
    for record_idx in 0..N_RECORDS {
        let events: Vec<(i64, String)> = (0..N_EVENTS)
            .map(|event_idx| {
                let huge = scenario.huge_message_bytes > 0 && (record_idx, event_idx) == (1, 2);
                let message = if huge { "x".repeat(scenario.huge_message_bytes) } else { format!("record {record_idx} event {event_idx}") };
                (t0 + record_idx * 10 + event_idx, message)
            })
            .collect();
        stack.moto.put_log_events(LOG_GROUP, LOG_STREAM, &events);
    }
    let records = stack.moto.read_shard(STREAM);
    assert_eq!(records.len(), N_RECORDS as usize, "{name}: one record per PutLogEvents");
    let sequence_numbers: Vec<String> = records.iter().map(|record| record["SequenceNumber"].as_str().unwrap().to_owned()).collect();
    let ids_by_record: Vec<Vec<String>> = records.iter().map(event_ids).collect();
    let all_ids: BTreeSet<String> = ids_by_record.iter().flatten().cloned().collect();
    assert_eq!(all_ids.len(), (N_RECORDS * N_EVENTS) as usize, "{name}: event ids are unique");

    let fake = fake_bulk_server(scenario.script);
    let es_url = if scenario.refused { refused_url() } else { fake.url() };
    let mut env = vec![("SLUICEGATE_ES_URL", es_url), time_left(scenario.time_left)];
    env.extend(scenario.env.iter().cloned());
    let mut lambda = stack.lambda(&stack.moto.url, &env);

    let started = Instant::now();
    let response = lambda.invoke(&lambda_event(STREAM, &records));
    let elapsed = started.elapsed();
    let output = lambda.function.output();
    // The slack allows for a loaded machine (two shared cores) and the emulator's round trip; it
    // is far below the fake's slow answer, so a function that ignored its deadline fails here.
    assert!(elapsed < scenario.time_left + Duration::from_millis(1_500), "{name}: answered after {elapsed:?}:\n{output}");
    let reported = failures(&response);
    assert!(reported.iter().all(|s| sequence_numbers.contains(s)), "{name}: unknown records reported: {response}");
    let first = metrics(&lambda).pop().unwrap_or_else(|| panic!("{name}: no metrics line in:\n{output}"));
    let fake_requests = fake.requests();
    if scenario.refused {
        assert!(fake_requests.is_empty(), "{name}: the fake must not be reached");
    } else {
        assert_eq!(count(&first, "BulkRequests"), fake_requests.len(), "{name}: the function counts the requests the fake saw");
    }
    if count(&first, "BulkItemsUndelivered") > 0 {
        let line = output.lines().find(|line| line.contains("bulk items undelivered"));
        assert!(
            !scenario.reason.is_empty() && line.is_some_and(|line| line.contains(scenario.reason)),
            "{name}: the undelivered line should say {:?}:\n{output}",
            scenario.reason
        );
    }

    // Every event of a record that was not reported is delivered or dead-lettered.
    let stored_first: BTreeSet<String> = fake.documents().into_keys().collect();
    let dead_lettered: Vec<String> = stack
        .objects("dead-letter/")
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .map(|line| line["original"]["event"]["id"].as_str().unwrap_or_else(|| panic!("{name}: dead letter {line}")).to_owned())
        .collect();
    let dead_lettered_set: BTreeSet<String> = dead_lettered.iter().cloned().collect();
    assert_eq!(dead_lettered.len(), dead_lettered_set.len(), "{name}: an event was dead-lettered twice: {dead_lettered:?}");
    assert!(stored_first.is_disjoint(&dead_lettered_set), "{name}: a dead-lettered document is also stored");
    for (sequence_number, ids) in sequence_numbers.iter().zip(&ids_by_record) {
        if reported.contains(sequence_number) {
            continue;
        }
        for id in ids {
            assert!(stored_first.contains(id) || dead_lettered_set.contains(id), "{name}: event {id} is lost: {response}\n{output}");
        }
    }
    assert_eq!(count(&first, "DeadLettered"), dead_lettered.len(), "{name}: the function counts its dead letters");

    // Kinesis retries the reported records (exactly those here), against a healthy cluster.
    let again = if reported.is_empty() {
        None
    } else {
        let reported_records: Vec<Value> =
            records.iter().filter(|record| reported.iter().any(|s| record["SequenceNumber"] == **s)).cloned().collect();
        if scenario.refused {
            drop(lambda);
            // The cluster is back: the function's default environment points at osmem-server.
            lambda = stack.lambda(&stack.moto.url, &[time_left(scenario.time_left)]);
        } else {
            fake.set_script(Script::accept());
        }
        let response = lambda.invoke(&lambda_event(STREAM, &reported_records));
        assert_eq!(failures(&response), Vec::<String>::new(), "{name}: the re-invoke must deliver the rest:\n{}", lambda.function.output());
        Some(metrics(&lambda).pop().expect("a metrics line"))
    };

    // Exactly the events that were not dead-lettered are documents, each once by its `_id`.
    let good_ids: BTreeSet<String> = all_ids.difference(&dead_lettered_set).cloned().collect();
    let (stored_end, n_written_twice): (BTreeMap<String, Value>, Option<usize>) = if scenario.refused {
        assert_eq!(stack.es_count(), good_ids.len() as u64, "{name}: osmem-server's _count");
        (stack.es_documents().into_iter().collect(), None)
    } else {
        let documents = fake.documents();
        let n_written_twice = documents.values().filter(|document| document.n_writes > 1).count();
        let sources = documents.into_iter().map(|(id, document)| (id, serde_json::from_str(&document.source).expect("source"))).collect();
        (sources, Some(n_written_twice))
    };
    assert_eq!(stored_end.keys().cloned().collect::<BTreeSet<_>>(), good_ids, "{name}: exactly the good documents are stored");
    for (id, source) in &stored_end {
        assert_eq!(source["event"]["id"].as_str(), Some(id.as_str()), "{name}: {id} holds another event: {source}");
    }
    // The archive objects of the two invocations hold every document too.
    let archived: BTreeSet<String> = stack
        .objects("archive/")
        .into_iter()
        .flat_map(|(_, lines)| lines)
        .map(|line| line["event"]["id"].as_str().expect("archived event.id").to_owned())
        .collect();
    assert!(archived.is_superset(&good_ids), "{name}: archived {archived:?}, documents {good_ids:?}");

    Row {
        name,
        n_events: all_ids.len(),
        first,
        elapsed,
        n_413s: fake_requests.iter().filter(|request| request.status == 413).count(),
        n_stored_first: stored_first.len(),
        n_dead_lettered: dead_lettered.len(),
        n_records_reported: reported.len(),
        again,
        n_stored_end: stored_end.len(),
        n_written_twice,
        timing_dependent: scenario.timing_dependent,
    }
}

fn render(rows: &[Row], with_timing: bool) -> String {
    let mut table = String::from(
        "| scenario | events | requests | 413s | stored | undelivered | dead-lettered | records reported | requests again | stored after re-invoke | written twice |",
    );
    table += if with_timing { " answered in |\n" } else { "\n" };
    table += "|---|---|---|---|---|---|---|---|---|---|---|";
    table += if with_timing { "---|\n" } else { "\n" };
    for row in rows {
        // Rows whose request counts depend on how many retries fit before the deadline show `*`
        // in the snapshot; their invariants are still checked by `run`.
        let timed = |n: usize| if row.timing_dependent && !with_timing { "*".to_owned() } else { n.to_string() };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.name,
            row.n_events,
            timed(count(&row.first, "BulkRequests")),
            row.n_413s,
            row.n_stored_first,
            count(&row.first, "BulkItemsUndelivered"),
            row.n_dead_lettered,
            row.n_records_reported,
            row.again.as_ref().map_or("-".to_owned(), |again| count(again, "BulkRequests").to_string()),
            row.n_stored_end,
            row.n_written_twice.map_or("-".to_owned(), |n| n.to_string()),
        ));
        // The time is in the report only: it differs from run to run.
        table += &if with_timing { format!(" {:.1?} |\n", row.elapsed) } else { "\n".to_owned() };
    }
    table
}

#[test]
fn whole_request_faults_end_delivered_dead_lettered_or_reported() {
    let no_gzip = ("SLUICEGATE_ES_GZIP", "false".to_owned());
    let scenarios = vec![
        Scenario::new("request 500 twice, then ok", Script::steps(vec![Step::Status(500), Step::Status(500)])),
        Scenario {
            reason: "request status 500",
            ..Scenario::new("request 500, always", Script { then: Step::Status(500), ..Script::accept() })
        },
        Scenario {
            // Attempts enough to outlast the time left: the deadline ends the retries.
            env: vec![("SLUICEGATE_ES_MAX_ATTEMPTS", "100".to_owned())],
            time_left: Duration::from_millis(1_500),
            reason: "deadline too close",
            timing_dependent: true,
            ..Scenario::new("request 503 until the deadline", Script { then: Step::Status(503), ..Script::accept() })
        },
        Scenario {
            env: vec![no_gzip.clone()],
            ..Scenario::new("413 above 1500 bytes", Script { max_body_bytes: Some(1_500), ..Script::accept() })
        },
        Scenario {
            env: vec![no_gzip.clone()],
            huge_message_bytes: 3_000,
            ..Scenario::new("413, one document too large", Script { max_body_bytes: Some(1_500), ..Script::accept() })
        },
        Scenario {
            // The request timeout is far off, so only the deadline can end the wait.
            env: vec![("SLUICEGATE_ES_TIMEOUT_MS", "20000".to_owned())],
            time_left: Duration::from_millis(1_500),
            reason: "no response within",
            ..Scenario::new("slow past the deadline", Script { then: Step::Slow(Duration::from_secs(10)), ..Script::accept() })
        },
        Scenario { refused: true, reason: "connection to elasticsearch failed", ..Scenario::new("connection refused", Script::accept()) },
    ];
    let started = Instant::now();
    let rows: Vec<Row> = scenarios.into_iter().map(run).collect();
    let table = render(&rows, true);
    sluicegate_tests::write_report("e2e-request-faults", &format!("{table}\n{} scenarios in {:.1?}\n", rows.len(), started.elapsed()));
    // The fake answers 503 to every attempt, so only the deadline can have ended them.
    let until_deadline = rows.iter().find(|row| row.name == "request 503 until the deadline").unwrap();
    assert!(count(&until_deadline.first, "BulkRequests") >= 2, "retries must go on until the deadline:\n{table}");
    expect![[r#"
        | scenario | events | requests | 413s | stored | undelivered | dead-lettered | records reported | requests again | stored after re-invoke | written twice |
        |---|---|---|---|---|---|---|---|---|---|---|
        | request 500 twice, then ok | 12 | 3 | 0 | 12 | 0 | 0 | 0 | - | 12 | 0 |
        | request 500, always | 12 | 3 | 0 | 0 | 12 | 0 | 3 | 1 | 12 | 0 |
        | request 503 until the deadline | 12 | * | 0 | 0 | 12 | 0 | 3 | 1 | 12 | 0 |
        | 413 above 1500 bytes | 12 | 7 | 3 | 12 | 0 | 0 | 0 | - | 12 | 0 |
        | 413, one document too large | 12 | 9 | 5 | 11 | 0 | 1 | 0 | - | 11 | 0 |
        | slow past the deadline | 12 | 1 | 0 | 12 | 12 | 0 | 3 | 1 | 12 | 12 |
        | connection refused | 12 | 3 | 0 | 0 | 12 | 0 | 3 | 1 | 12 | - |
    "#]].assert_eq(&render(&rows, false));
}
