//! The `_bulk` client against the fake `FaultyBulkServer`: every event ends delivered (as
//! shipped, or degraded when the index refused its shape), dead-lettered or reported, and
//! re-sending the reported records delivers the rest once.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::time::{Duration, Instant};

use expect_test::expect;
use sluicegate_engine::bulk::{BulkAction, BulkBody, BulkWriter};
use sluicegate_lambda::es::{Backoff, EsClient, EsConfig, Fate, ShipReport};
use sluicegate_tests::fault_server::{FaultyBulkServer, Script, Step, refused_url};

/// The documents of a batch: `n_records` records of `n_events` events each.
struct Batch {
    bodies: Vec<BulkBody>,
    /// `_id` → (record, source line) for every event.
    sources: BTreeMap<String, (u32, String)>,
    /// The `_id`s of documents whose shape the index refuses: they are stored degraded.
    conflict_ids: BTreeSet<String>,
    /// The `_id`s of documents that can never be stored (too large, or refused even degraded).
    bad_ids: BTreeSet<String>,
}

#[derive(Clone, Copy)]
struct BatchSpec {
    n_records: u32,
    n_events: u32,
    /// Every how many events one has a field of the wrong type (0 for none).
    conflict_every: u32,
    /// An event id whose message is this many bytes (0 for none).
    huge_message_bytes: usize,
    /// Whether the first document has `event` as text and every other one an `event` object
    /// with its id, one of the fields every document keeps in every degraded form: the others
    /// are refused in every form, and become dead letters.
    event_text_first: bool,
    bulk_max_bytes: usize,
    action: BulkAction,
}

const SPEC: BatchSpec = BatchSpec {
    n_records: 4,
    n_events: 10,
    conflict_every: 0,
    huge_message_bytes: 0,
    event_text_first: false,
    bulk_max_bytes: 5 << 20,
    action: BulkAction::Index,
};

fn batch(spec: BatchSpec) -> Batch {
    let mut writer = BulkWriter::new(spec.action, spec.bulk_max_bytes);
    let mut sources = BTreeMap::new();
    let mut bad_ids = BTreeSet::new();
    let mut conflict_ids = BTreeSet::new();
    for record_idx in 0..spec.n_records {
        for event_idx in 0..spec.n_events {
            let number = record_idx * spec.n_events + event_idx;
            let id = format!("{number:05}");
            // `status` is text in the first document, so an object there later is a conflict.
            let conflict = spec.conflict_every > 0 && number % spec.conflict_every == spec.conflict_every - 1;
            let huge = spec.huge_message_bytes > 0 && number == 7;
            let message = if huge { "x".repeat(spec.huge_message_bytes) } else { format!("record {record_idx} event {event_idx}") };
            let status = if conflict { r#"{"code":500}"# } else { r#""ok""# };
            let event = match (spec.event_text_first, number) {
                (false, _) => String::new(),
                (true, 0) => r#","event":"text""#.to_owned(),
                (true, _) => format!(r#","event":{{"id":"{id}"}}"#),
            };
            let source = format!(r#"{{"@timestamp":"2026-11-28T13:00:00.000Z","message":"{message}","status":{status}{event}}}"#);
            if conflict {
                conflict_ids.insert(id.clone());
            }
            if huge || (spec.event_text_first && number > 0) {
                bad_ids.insert(id.clone());
            }
            writer
                .push(record_idx, "logs", &id, |body| {
                    body.extend_from_slice(source.as_bytes());
                    Ok::<(), Infallible>(())
                })
                .expect("writing cannot fail");
            sources.insert(id, (record_idx, source));
        }
    }
    Batch { bodies: writer.finish(), sources, conflict_ids, bad_ids }
}

/// Quick retries, so the scenarios that exhaust their attempts finish fast.
const QUICK: Backoff =
    Backoff { max_attempts: 5, base: Duration::from_millis(5), cap: Duration::from_millis(40), start_margin: Duration::from_millis(50) };

fn config(url: String, action: BulkAction, gzip: bool, backoff: Backoff) -> EsConfig {
    EsConfig { gzip, action, request_timeout: Duration::from_secs(2), backoff, max_concurrency: 2, ..EsConfig::new(url) }
}

/// The `_id` of every item of the bodies, in the order `ship` reports them.
fn item_ids(bodies: &[BulkBody]) -> Vec<String> {
    bodies
        .iter()
        .flat_map(|body| {
            (0..body.items.len()).map(move |item_idx| {
                let action = &body.body[body.items[item_idx].range.clone()];
                let action: serde_json::Value = serde_json::from_slice(action.split(|&b| b == b'\n').next().unwrap()).unwrap();
                action.as_object().unwrap().values().next().unwrap()["_id"].as_str().unwrap().to_owned()
            })
        })
        .collect()
}

/// The items of the given records, as Kinesis would send them again.
fn resend_bodies(bodies: &[BulkBody], record_idxs: &[u32]) -> Vec<BulkBody> {
    bodies
        .iter()
        .map(|body| {
            let item_idxs: Vec<usize> =
                (0..body.items.len()).filter(|&item_idx| record_idxs.contains(&body.items[item_idx].record_idx)).collect();
            body.subset(&item_idxs)
        })
        .filter(|body| !body.items.is_empty())
        .collect()
}

struct Scenario {
    name: &'static str,
    script: Script,
    spec: BatchSpec,
    gzip: bool,
    /// Ship the batch once first, so every document is already stored.
    seed: bool,
    refused: bool,
    deadline: Duration,
    /// Text every undelivered reason must contain.
    reason: &'static str,
    /// Whether the request count depends on timing (it is then not part of the snapshot).
    timing_dependent: bool,
    backoff: Backoff,
}

impl Scenario {
    fn new(name: &'static str, script: Script) -> Scenario {
        Scenario {
            name,
            script,
            spec: SPEC,
            gzip: true,
            seed: false,
            refused: false,
            deadline: Duration::from_secs(10),
            reason: "",
            timing_dependent: false,
            backoff: QUICK,
        }
    }

    fn no_gzip(self) -> Scenario {
        Scenario { gzip: false, ..self }
    }

    /// Retries that would go on for long, so the deadline ends them.
    fn with_slow_backoff(self) -> Scenario {
        Scenario {
            backoff: Backoff { max_attempts: 100, base: Duration::from_millis(100), cap: Duration::from_millis(200), ..QUICK },
            ..self
        }
    }
}

struct Row {
    name: &'static str,
    n_events: usize,
    n_delivered: usize,
    n_degraded: usize,
    n_dead_lettered: usize,
    n_reported: usize,
    n_records_reported: usize,
    report: ShipReport,
    n_stored_after_resend: usize,
    n_written_twice: usize,
    timing_dependent: bool,
}

/// A document stored degraded: the typed fields it had, and the rest (`status`) as text in
/// `event.original`, with the refusal in `event.ingest_error`.
#[track_caller]
fn check_degraded(name: &str, stored: &str, source: &str) {
    let stored: serde_json::Value = serde_json::from_str(stored).unwrap();
    let source: serde_json::Value = serde_json::from_str(source).unwrap();
    assert_eq!(stored["message"], source["message"], "{name}: {stored}");
    assert_eq!(stored["@timestamp"], source["@timestamp"], "{name}: {stored}");
    assert!(stored.get("status").is_none(), "{name}: {stored}");
    let original: serde_json::Value = serde_json::from_str(stored["event"]["original"].as_str().unwrap()).unwrap();
    assert_eq!(original["status"], source["status"], "{name}: {stored}");
    assert!(stored["event"]["ingest_error"].as_str().unwrap().contains("failed to parse field [status]"), "{name}: {stored}");
}

/// Runs one scenario and checks the delivery invariants; the counts come back for the table.
async fn run(scenario: Scenario) -> Row {
    let name = scenario.name;
    let batch = batch(scenario.spec);
    let ids = item_ids(&batch.bodies);
    let server = FaultyBulkServer::start(Script::accept()).await;
    let url = if scenario.refused { refused_url() } else { server.url() };
    let client = EsClient::new(config(url, scenario.spec.action, scenario.gzip, scenario.backoff.clone()), None).expect("client");
    if scenario.seed {
        let seeded = client.ship(&batch.bodies, Instant::now() + Duration::from_secs(10)).await;
        assert_eq!(seeded.counts().0, ids.len() - batch.bad_ids.len(), "{name}: seeding");
    }
    server.set_script(scenario.script);

    let started = Instant::now();
    let deadline = started + scenario.deadline;
    let report = client.ship(&batch.bodies, deadline).await;
    let elapsed = started.elapsed();
    // Only the items that failed go again: a stored document is written twice only when its
    // request's answer could not be trusted.
    let n_written_twice = server.documents().values().filter(|document| document.n_writes > 1).count();
    // The slack allows for a loaded machine (two shared cores); it stays below the 2 s request
    // timeout, so a client that ignored the deadline would still fail here.
    assert!(elapsed < scenario.deadline + Duration::from_millis(700), "{name}: ship took {elapsed:?}, past its deadline");

    // One fate per item, in order, each one delivered, dead-lettered or reported.
    assert_eq!(report.items.len(), ids.len(), "{name}: one fate per item");
    let stored = server.documents();
    for (item, id) in report.items.iter().zip(&ids) {
        let (record_idx, source) = &batch.sources[id];
        assert_eq!(item.record_idx, *record_idx, "{name}: item {id} has the wrong record");
        match &item.fate {
            Fate::Delivered => {
                assert!(!batch.bad_ids.contains(id) && !batch.conflict_ids.contains(id), "{name}: {id} counted as delivered as shipped");
                assert_eq!(stored.get(id).map(|document| &document.source), Some(source), "{name}: {id} delivered but not stored");
            }
            Fate::Degraded { reason } => {
                assert!(batch.conflict_ids.contains(id) && !batch.bad_ids.contains(id), "{name}: {id} degraded");
                assert!(reason.starts_with("mapper_parsing_exception: failed to parse field [status]"), "{name}: {reason}");
                check_degraded(name, &stored[id].source, source);
            }
            Fate::Rejected { status, error, document } => {
                assert!(batch.bad_ids.contains(id), "{name}: good document {id} dead-lettered: {status} {error}");
                assert!(*status == 400 || *status == 413, "{name}: {id} rejected with {status}");
                if scenario.spec.event_text_first {
                    // Refused as shipped, then in both degraded forms: the dead letter says so
                    // and holds the document as first shipped.
                    assert!(
                        error.starts_with("refused as shipped (mapper_parsing_exception: failed to parse field [event]"),
                        "{name}: {error}"
                    );
                    assert!(error.contains("and degraded: ") && error.contains("failed to parse field [event]"), "{name}: {error}");
                } else {
                    assert!(error.contains("too large"), "{name}: {error}");
                }
                assert_eq!(document, source.as_bytes(), "{name}: the dead letter must carry the document");
            }
            Fate::Undelivered { reason } => {
                assert!(reason.contains(scenario.reason), "{name}: reason {reason:?} lacks {:?}", scenario.reason);
            }
        }
    }

    // Kinesis re-sends the reported records; against a healthy cluster the rest arrives.
    let reported = report.undelivered_records();
    let resend_server;
    let resend_target = if scenario.refused {
        resend_server = FaultyBulkServer::start(Script::accept()).await;
        &resend_server
    } else {
        server.set_script(Script::accept());
        &server
    };
    let resend_client = EsClient::new(config(resend_target.url(), scenario.spec.action, scenario.gzip, QUICK), None).expect("client");
    let resent = resend_client.ship(&resend_bodies(&batch.bodies, &reported), Instant::now() + Duration::from_secs(10)).await;
    assert!(resent.undelivered_records().is_empty(), "{name}: the re-send must deliver everything");
    let stored = resend_target.documents();
    let good_ids: BTreeSet<&String> = batch.sources.keys().filter(|id| !batch.bad_ids.contains(*id)).collect();
    assert_eq!(stored.keys().collect::<BTreeSet<_>>(), good_ids, "{name}: exactly the good documents are stored, once each");
    for (id, document) in &stored {
        if batch.conflict_ids.contains(id) {
            check_degraded(name, &document.source, &batch.sources[id].1);
        } else {
            assert_eq!(document.source, batch.sources[id].1, "{name}: {id} stored with other content");
        }
        if scenario.spec.action == BulkAction::Create {
            assert_eq!(document.n_writes, 1, "{name}: create must never overwrite {id}");
        }
    }
    // Every bad document ended as a dead letter in one of the two passes.
    let rejected: BTreeSet<&String> = report
        .items
        .iter()
        .chain(&resent.items)
        .zip(ids.iter().chain(&item_ids(&resend_bodies(&batch.bodies, &reported))))
        .filter(|(item, _)| matches!(item.fate, Fate::Rejected { .. }))
        .map(|(_, id)| id)
        .collect::<Vec<_>>()
        .into_iter()
        .map(|id| batch.sources.get_key_value(id).unwrap().0)
        .collect();
    assert_eq!(rejected, batch.bad_ids.iter().collect(), "{name}: every bad document is dead-lettered");

    let (n_delivered, n_dead_lettered, n_reported) = report.counts();
    let n_degraded = report.items.iter().filter(|item| matches!(item.fate, Fate::Degraded { .. })).count();
    Row {
        name,
        n_events: ids.len(),
        n_delivered,
        n_degraded,
        n_dead_lettered,
        n_reported,
        n_records_reported: reported.len(),
        report,
        n_stored_after_resend: stored.len(),
        n_written_twice,
        timing_dependent: scenario.timing_dependent,
    }
}

fn render(rows: &[Row], with_timing: bool) -> String {
    let mut table = String::from(
        "| scenario | events | delivered | of them degraded | dead-lettered | reported | records reported | requests | items retried | splits | written twice | stored after re-send |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        // Rows whose counts depend on how many retries fit before the deadline show `*` in the
        // snapshot; their invariants are still checked by `run`.
        let timed = |n: usize| if row.timing_dependent && !with_timing { "*".to_owned() } else { n.to_string() };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.n_events,
            timed(row.n_delivered),
            row.n_degraded,
            row.n_dead_lettered,
            timed(row.n_reported),
            timed(row.n_records_reported),
            timed(row.report.n_requests as usize),
            timed(row.report.n_items_retried as usize),
            row.report.n_splits,
            row.n_written_twice,
            row.n_stored_after_resend
        ));
    }
    table
}

fn item_fault(status: u16, error_type: &str, every: usize) -> Step {
    Step::ItemStatus { status, error_type: error_type.to_owned(), every }
}

#[tokio::test]
async fn every_event_ends_delivered_dead_lettered_or_reported() {
    let conflicts = BatchSpec { conflict_every: 6, ..SPEC };
    let scenarios = vec![
        Scenario::new("healthy", Script::accept()),
        Scenario {
            spec: BatchSpec { n_records: 8, n_events: 25, bulk_max_bytes: 2_000, ..SPEC },
            ..Scenario::new("healthy, many bodies", Script::accept())
        },
        Scenario::new("healthy, no gzip", Script::accept()).no_gzip(),
        Scenario::new("item 429s, then ok", Script::steps(vec![item_fault(429, "es_rejected_execution_exception", 3)])),
        Scenario {
            reason: "item status 429",
            ..Scenario::new("item 429s, always", Script { then: item_fault(429, "too_many_requests", 4), ..Script::accept() })
        },
        Scenario { spec: conflicts, ..Scenario::new("item 400s (mapping conflict)", Script::accept()) },
        Scenario {
            spec: BatchSpec { event_text_first: true, ..conflicts },
            ..Scenario::new("item 400s, refused in every form", Script::accept())
        },
        Scenario::new("item 403 cluster block, then ok", Script::steps(vec![item_fault(403, "cluster_block_exception", 1)])),
        Scenario::new("item 403 security, then ok", Script::steps(vec![item_fault(403, "security_exception", 2)])),
        Scenario::new("item 404 no index, then ok", Script::steps(vec![item_fault(404, "index_not_found_exception", 1)])),
        Scenario {
            spec: conflicts,
            ..Scenario::new(
                "mixed 400s, 429s, 503s",
                Script::steps(vec![
                    item_fault(429, "es_rejected_execution_exception", 4),
                    item_fault(503, "unavailable_shards_exception", 2),
                ]),
            )
        },
        Scenario::new("request 500 twice, then ok", Script::steps(vec![Step::Status(500), Step::Status(500)])),
        Scenario {
            reason: "request status 500",
            ..Scenario::new("request 500, always", Script { then: Step::Status(500), ..Script::accept() })
        },
        Scenario::new("request 403 once, then ok", Script::steps(vec![Step::Status(403)])),
        Scenario::new("request 429, 503, then ok", Script::steps(vec![Step::Status(429), Step::Status(503)])),
        Scenario {
            reason: "refused with status 400",
            ..Scenario::new("request 400, always", Script { then: Step::Status(400), ..Script::accept() })
        },
        Scenario::new("413 above 1500 bytes", Script { max_body_bytes: Some(1_500), ..Script::accept() }).no_gzip(),
        Scenario {
            spec: BatchSpec { huge_message_bytes: 3_000, ..SPEC },
            ..Scenario::new("413, one document too large", Script { max_body_bytes: Some(1_500), ..Script::accept() }).no_gzip()
        },
        Scenario::new("hang-up, then ok", Script::steps(vec![Step::Hangup])),
        Scenario::new("short response, then ok", Script::steps(vec![Step::ShortResponse])),
        Scenario {
            deadline: Duration::from_millis(800),
            reason: "no response within",
            ..Scenario::new("slow past the deadline", Script { then: Step::Slow(Duration::from_secs(3)), ..Script::accept() })
        },
        Scenario {
            deadline: Duration::from_millis(600),
            reason: "deadline too close",
            timing_dependent: true,
            ..Scenario::new(
                "item 429s until the deadline",
                Script { then: item_fault(429, "es_rejected_execution_exception", 2), ..Script::accept() },
            )
            .with_slow_backoff()
        },
        Scenario { refused: true, reason: "connection to elasticsearch failed", ..Scenario::new("connection refused", Script::accept()) },
        Scenario {
            seed: true,
            spec: BatchSpec { action: BulkAction::Create, ..SPEC },
            ..Scenario::new("create, all 409", Script::accept())
        },
    ];
    let mut rows = Vec::new();
    for scenario in scenarios {
        rows.push(run(scenario).await);
    }
    // The harness swallows what a passing test prints; `cargo xtask ci` prints the reports.
    sluicegate_tests::write_report("es-client-faults", &render(&rows, true));
    // The item at position 0 of every retry fails again, so the deadline must have cut it off.
    let until_deadline = rows.iter().find(|row| row.name == "item 429s until the deadline").unwrap();
    assert!(until_deadline.n_reported >= 1 && until_deadline.report.n_requests >= 2, "retries must go on until the deadline");
    expect![[r#"
        | scenario | events | delivered | of them degraded | dead-lettered | reported | records reported | requests | items retried | splits | written twice | stored after re-send |
        |---|---|---|---|---|---|---|---|---|---|---|---|
        | healthy | 40 | 40 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 40 |
        | healthy, many bodies | 200 | 200 | 0 | 0 | 0 | 0 | 14 | 0 | 0 | 0 | 200 |
        | healthy, no gzip | 40 | 40 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 40 |
        | item 429s, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 14 | 0 | 0 | 40 |
        | item 429s, always | 40 | 39 | 0 | 0 | 1 | 1 | 5 | 15 | 0 | 0 | 40 |
        | item 400s (mapping conflict) | 40 | 40 | 6 | 0 | 0 | 0 | 2 | 0 | 0 | 0 | 40 |
        | item 400s, refused in every form | 40 | 1 | 0 | 39 | 0 | 0 | 3 | 0 | 0 | 0 | 1 |
        | item 403 cluster block, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 40 | 0 | 0 | 40 |
        | item 403 security, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 20 | 0 | 0 | 40 |
        | item 404 no index, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 40 | 0 | 0 | 40 |
        | mixed 400s, 429s, 503s | 40 | 40 | 6 | 0 | 0 | 0 | 4 | 15 | 0 | 0 | 40 |
        | request 500 twice, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 3 | 0 | 0 | 0 | 40 |
        | request 500, always | 40 | 0 | 0 | 0 | 40 | 4 | 5 | 0 | 0 | 0 | 40 |
        | request 403 once, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 0 | 0 | 0 | 40 |
        | request 429, 503, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 3 | 0 | 0 | 0 | 40 |
        | request 400, always | 40 | 0 | 0 | 0 | 40 | 4 | 1 | 0 | 0 | 0 | 40 |
        | 413 above 1500 bytes | 40 | 40 | 0 | 0 | 0 | 0 | 7 | 0 | 3 | 0 | 40 |
        | 413, one document too large | 40 | 39 | 0 | 1 | 0 | 0 | 13 | 0 | 6 | 0 | 39 |
        | hang-up, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 0 | 0 | 0 | 40 |
        | short response, then ok | 40 | 40 | 0 | 0 | 0 | 0 | 2 | 0 | 0 | 40 | 40 |
        | slow past the deadline | 40 | 0 | 0 | 0 | 40 | 4 | 1 | 0 | 0 | 0 | 40 |
        | item 429s until the deadline | 40 | * | 0 | 0 | * | * | * | * | 0 | 0 | 40 |
        | connection refused | 40 | 0 | 0 | 0 | 40 | 4 | 5 | 0 | 0 | 0 | 40 |
        | create, all 409 | 40 | 40 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 40 |
    "#]].assert_eq(&render(&rows, false));
}

/// The TLS connector is in the path: `https://` to a plain-HTTP port fails in the handshake
/// and the records are reported, not lost.
#[tokio::test]
async fn https_to_a_plain_port_is_reported() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let url = server.url().replace("http://", "https://");
    let client = EsClient::new(config(url, BulkAction::Index, true, QUICK), None).expect("client");
    let batch = batch(SPEC);
    let report = client.ship(&batch.bodies, Instant::now() + Duration::from_secs(10)).await;
    assert_eq!(report.counts(), (0, 0, 40));
    let Fate::Undelivered { reason } = &report.items[0].fate else { unreachable!() };
    assert!(reason.contains("connection to elasticsearch failed: client error (Connect): received corrupt message"), "{reason}");
    assert!(server.documents().is_empty());
}

/// Connections are kept alive and reused across bodies and across invocations (`ship` calls),
/// with no more open than requests in flight.
#[tokio::test]
async fn connections_are_kept_alive() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let client = EsClient::new(config(server.url(), BulkAction::Index, true, QUICK), None).expect("client");
    let batch = batch(BatchSpec { n_records: 8, n_events: 25, bulk_max_bytes: 2_000, ..SPEC });
    assert!(batch.bodies.len() > 10);
    for _ in 0..3 {
        let report = client.ship(&batch.bodies, Instant::now() + Duration::from_secs(10)).await;
        assert_eq!(report.counts(), (200, 0, 0));
    }
    assert_eq!(server.requests().len(), 3 * batch.bodies.len());
    // `max_concurrency` is 2 in these tests; a connection goes back to the pool a moment after its
    // response is read, so the next request may race it and open one more now and then.
    assert!(server.n_connections() <= 4, "{} connections for {} requests", server.n_connections(), 3 * batch.bodies.len());
}
