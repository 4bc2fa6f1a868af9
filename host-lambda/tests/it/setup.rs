//! `sluicegate setup` against clusters with plugins no test server has: OpenSearch with index
//! management and fine-grained access control, and Elasticsearch with ILM, played by the fake
//! `_bulk` server's canned routes, which record what setup asked. (setup against a real
//! OpenSearch-compatible server, and the documents it makes searchable, is in the end-to-end
//! tests.)

use std::process::Command;

use expect_test::{Expect, expect};
use serde_json::{Value, json};
use sluicegate_tests::fault_server::{FaultyBulkServer, Route, Script};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/logs-lambda";

/// Runs `sluicegate setup` against `server` and returns what it printed (stdout, then stderr).
async fn setup(server: &FaultyBulkServer, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["setup".to_owned(), "--es-url".to_owned(), server.url()];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    let output =
        tokio::task::spawn_blocking(move || Command::new(env!("CARGO_BIN_EXE_sluicegate")).args(&args).output().unwrap()).await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text.replace(&server.url(), "URL"))
}

/// The requests the server received, `METHOD path` and the body's JSON (when it has one).
fn requests(server: &FaultyBulkServer) -> Vec<(String, Value)> {
    server
        .requests()
        .into_iter()
        .map(|request| {
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            (format!("{} {}", request.method, request.path_and_query), body)
        })
        .collect()
}

fn not_found() -> Value {
    json!({"error": {"type": "resource_not_found_exception", "reason": "not found"}, "status": 404})
}

fn check_requests(requests: &[(String, Value)], expect: Expect) {
    let lines: Vec<&str> = requests.iter().map(|(line, _)| line.as_str()).collect();
    expect.assert_eq(&lines.join("\n"));
}

/// The body of the request `line`.
fn body<'a>(requests: &'a [(String, Value)], line: &str) -> &'a Value {
    &requests.iter().find(|(request, _)| request.starts_with(line)).unwrap_or_else(|| panic!("no {line} in {requests:?}")).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opensearch_with_security_and_ism_gets_a_policy_a_template_and_a_mapped_role_once() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let plugins =
        json!([{"name": "node", "component": "opensearch-index-management"}, {"name": "node", "component": "opensearch-security"}]);
    let common = vec![
        Route::new("GET", "/", 200, json!({"version": {"distribution": "opensearch", "number": "2.11.0"}})),
        Route::new("GET", "/_cat/plugins", 200, plugins),
    ];
    let puts = vec![
        Route::new("PUT", "/_plugins/_ism/policies/sluicegate-cwl", 201, json!({"_id": "sluicegate-cwl"})),
        Route::new("PUT", "/_index_template/sluicegate-cwl", 200, json!({"acknowledged": true})),
        Route::new("PUT", "/_plugins/_security/api/roles/sluicegate_writer", 201, json!({"status": "CREATED"})),
        Route::new("PUT", "/_plugins/_security/api/rolesmapping/sluicegate_writer", 201, json!({"status": "CREATED"})),
    ];
    let mut routes = common.clone();
    routes.extend(puts.clone());
    for path in [
        "/_plugins/_ism/policies/sluicegate-cwl",
        "/_index_template/sluicegate-cwl",
        "/_plugins/_security/api/roles/sluicegate_writer",
        "/_plugins/_security/api/rolesmapping/sluicegate_writer",
    ] {
        routes.push(Route::new("GET", path, 404, not_found()));
    }
    server.set_routes(routes);
    let (ok, output) = setup(&server, &["--lambda-role-arn", ROLE_ARN, "--retention-days", "14"]).await;
    assert!(ok, "{output}");
    expect![[r#"
        setup: opensearch 2.11.0 at URL
        setup: ISM policy sluicegate-cwl (delete cwl-* after 14 days): created
        setup: index template sluicegate-cwl for cwl-*: created
        setup: role sluicegate_writer (bulk writes and index creation on cwl-*): created
        setup: role mapping sluicegate_writer -> arn:aws:iam::123456789012:role/logs-lambda: created
    "#]]
    .assert_eq(&output);
    let first = requests(&server);
    check_requests(
        &first,
        expect![[r#"
            GET /
            GET /_cat/plugins?format=json
            GET /_plugins/_ism/policies/sluicegate-cwl
            PUT /_plugins/_ism/policies/sluicegate-cwl
            GET /_index_template/sluicegate-cwl
            PUT /_index_template/sluicegate-cwl
            GET /_plugins/_security/api/roles/sluicegate_writer
            PUT /_plugins/_security/api/roles/sluicegate_writer
            GET /_plugins/_security/api/rolesmapping/sluicegate_writer
            PUT /_plugins/_security/api/rolesmapping/sluicegate_writer"#]],
    );
    let policy = body(&first, "PUT /_plugins/_ism/policies/");
    assert_eq!(policy["policy"]["ism_template"], json!([{"index_patterns": ["cwl-*"], "priority": 100}]));
    assert_eq!(policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"], "14d");
    assert_eq!(policy["policy"]["states"][1]["actions"], json!([{"delete": {}}]));
    let template = body(&first, "PUT /_index_template/");
    assert_eq!(template["index_patterns"], json!(["cwl-*"]));
    assert_eq!(template["template"]["mappings"]["properties"]["attributes"]["type"], "flat_object");
    // Least privilege: bulk writes and index creation on the pattern, nothing else.
    expect![[r#"{"cluster_permissions":["indices:data/write/bulk"],"index_permissions":[{"allowed_actions":["indices:data/write/bulk*","indices:data/write/index","indices:admin/create","indices:admin/mapping/put"],"index_patterns":["cwl-*"]}]}"#]]
        .assert_eq(&body(&first, "PUT /_plugins/_security/api/roles/").to_string());
    expect![[r#"{"backend_roles":["arn:aws:iam::123456789012:role/logs-lambda"],"hosts":[],"users":[]}"#]]
        .assert_eq(&body(&first, "PUT /_plugins/_security/api/rolesmapping/").to_string());

    // The cluster now has what setup wrote (as OpenSearch shows it back, with other backend
    // roles mapped by someone else): a second run writes nothing.
    let mut routes = common;
    routes.push(Route::new(
        "GET",
        "/_plugins/_ism/policies/sluicegate-cwl",
        200,
        json!({"_id": "sluicegate-cwl", "_seq_no": 4, "_primary_term": 1, "policy": policy["policy"].clone()}),
    ));
    routes.push(Route::new(
        "GET",
        "/_index_template/sluicegate-cwl",
        200,
        json!({"index_templates": [{"name": "sluicegate-cwl", "index_template": template.clone()}]}),
    ));
    let mut role = body(&first, "PUT /_plugins/_security/api/roles/").clone();
    role["reserved"] = json!(false);
    routes.push(Route::new("GET", "/_plugins/_security/api/roles/sluicegate_writer", 200, json!({"sluicegate_writer": role})));
    let mapping =
        json!({"sluicegate_writer": {"backend_roles": ["arn:aws:iam::123456789012:role/admin", ROLE_ARN], "hosts": [], "users": []}});
    routes.push(Route::new("GET", "/_plugins/_security/api/rolesmapping/sluicegate_writer", 200, mapping));
    routes.extend(puts);
    server.set_routes(routes);
    let n_before = server.requests().len();
    let (ok, output) = setup(&server, &["--lambda-role-arn", ROLE_ARN, "--retention-days", "14"]).await;
    assert!(ok, "{output}");
    assert!(output.ends_with("setup: nothing changed\n"), "{output}");
    let second = requests(&server).split_off(n_before);
    assert!(second.iter().all(|(line, _)| line.starts_with("GET ")), "{second:?}");

    // Another retention updates the policy against the version read, and a role mapped to
    // others keeps them when the Lambda's role is added.
    let mut routes = vec![Route::new(
        "GET",
        "/_plugins/_security/api/rolesmapping/sluicegate_writer",
        200,
        json!({"sluicegate_writer": {"backend_roles": ["arn:aws:iam::123456789012:role/admin"], "hosts": [], "users": ["bob"]}}),
    )];
    routes.extend(server_routes_without(&server, "/_plugins/_security/api/rolesmapping/sluicegate_writer", "GET"));
    server.set_routes(routes);
    let n_before = server.requests().len();
    let (ok, output) = setup(&server, &["--lambda-role-arn", ROLE_ARN, "--retention-days", "30"]).await;
    assert!(ok, "{output}");
    assert!(output.contains("ISM policy sluicegate-cwl (delete cwl-* after 30 days): updated"), "{output}");
    assert!(output.contains("role mapping sluicegate_writer -> arn:aws:iam::123456789012:role/logs-lambda: updated"), "{output}");
    let third = requests(&server).split_off(n_before);
    assert!(third.iter().any(|(line, _)| line == "PUT /_plugins/_ism/policies/sluicegate-cwl?if_seq_no=4&if_primary_term=1"), "{third:?}");
    assert_eq!(
        body(&third, "PUT /_plugins/_security/api/rolesmapping/").to_string(),
        r#"{"backend_roles":["arn:aws:iam::123456789012:role/admin","arn:aws:iam::123456789012:role/logs-lambda"],"hosts":[],"users":["bob"]}"#
    );
}

/// The server's routes but the one for `method path`.
fn server_routes_without(server: &FaultyBulkServer, path: &str, method: &str) -> Vec<Route> {
    server.routes().into_iter().filter(|route| !(route.path == path && route.method == method)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_gets_an_ilm_policy_that_its_template_names() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    server.set_routes(vec![
        Route::new("GET", "/", 200, json!({"version": {"number": "8.15.0", "build_flavor": "default"}})),
        Route::new("GET", "/_ilm/status", 200, json!({"operation_mode": "RUNNING"})),
        Route::new("GET", "/_ilm/policy/sluicegate-logs", 404, not_found()),
        Route::new("PUT", "/_ilm/policy/sluicegate-logs", 200, json!({"acknowledged": true})),
        Route::new("GET", "/_index_template/sluicegate-logs", 404, not_found()),
        Route::new("PUT", "/_index_template/sluicegate-logs", 200, json!({"acknowledged": true})),
    ]);
    let (ok, output) = setup(&server, &["--index-template", "logs-{log_group}-{yyyy}.{MM}", "--lambda-role-arn", ROLE_ARN]).await;
    assert!(ok, "{output}");
    expect![[r#"
        setup: elasticsearch 8.15.0 at URL
        setup: ILM policy sluicegate-logs (delete after 30 days): created
        setup: index template sluicegate-logs for logs-*: created
        setup: warning: --lambda-role-arn maps IAM roles in OpenSearch's security plugin only; on Elasticsearch give the Lambda an API key or user instead
    "#]]
    .assert_eq(&output);
    let requests = requests(&server);
    check_requests(
        &requests,
        expect![[r#"
            GET /
            GET /_ilm/status
            GET /_ilm/policy/sluicegate-logs
            PUT /_ilm/policy/sluicegate-logs
            GET /_index_template/sluicegate-logs
            PUT /_index_template/sluicegate-logs"#]],
    );
    let policy = body(&requests, "PUT /_ilm/policy/");
    assert_eq!(policy["policy"]["phases"]["delete"], json!({"min_age": "30d", "actions": {"delete": {}}}));
    let template = body(&requests, "PUT /_index_template/");
    assert_eq!(template["index_patterns"], json!(["logs-*"]));
    assert_eq!(template["template"]["settings"]["index"]["lifecycle"]["name"], "sluicegate-logs");
    assert_eq!(template["template"]["mappings"]["properties"]["attributes"]["type"], "flattened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_plugins_gets_the_template_and_one_warning_a_step() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    server.set_routes(vec![
        Route::new("GET", "/", 200, json!({"version": {"distribution": "opensearch", "number": "2.5.0"}})),
        Route::new("GET", "/_cat/plugins", 200, json!([])),
        Route::new("GET", "/_index_template/sluicegate-cwl", 404, not_found()),
        Route::new("PUT", "/_index_template/sluicegate-cwl", 200, json!({"acknowledged": true})),
    ]);
    let (ok, output) = setup(&server, &["--lambda-role-arn", ROLE_ARN]).await;
    assert!(ok, "{output}");
    expect![[r#"
        setup: opensearch 2.5.0 at URL
        setup: warning: no index management plugin (_cat/plugins lists no opensearch-index-management): no ISM policy, indices are kept until deleted
        setup: warning: opensearch 2.5.0 has no flattened type (OpenSearch 2.7 or Elasticsearch 7.3 and later do): `attributes` is stored but not searchable
        setup: index template sluicegate-cwl for cwl-*: created
        setup: warning: no security plugin (_cat/plugins lists no opensearch-security): no role mapping needed or possible, the domain's access policy alone admits the Lambda
    "#]]
    .assert_eq(&output);
    let template = body(&requests(&server), "PUT /_index_template/").clone();
    assert_eq!(template["template"]["mappings"]["properties"]["attributes"], json!({"type": "object", "enabled": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serverless_collection_gets_the_template_alone_and_a_refused_flattened_type_falls_back() {
    let server = FaultyBulkServer::start(Script::accept()).await;
    let refusal = json!({"error": {"type": "mapper_parsing_exception", "reason": "No handler for type [flat_object] declared on field [attributes]"}, "status": 400});
    server.set_routes(vec![
        Route::new("GET", "/_index_template/sluicegate-cwl", 404, not_found()),
        Route::new("PUT", "/_index_template/sluicegate-cwl", 400, refusal),
    ]);
    // sigv4-aoss signs with AWS credentials: fixed ones, the fake does not check them.
    let args = ["--es-auth", "sigv4-aoss"];
    let output = tokio::task::spawn_blocking({
        let url = server.url();
        move || {
            Command::new(env!("CARGO_BIN_EXE_sluicegate"))
                .args(["setup", "--es-url", &url])
                .args(args)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_REGION", "us-east-1")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("SLUICEGATE_ES_COLLECTION_TYPE", "timeseries")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).replace(&server.url(), "URL");
    // The fake keeps answering 400, so the second PUT fails too; what matters is what was asked.
    assert!(stdout.starts_with("setup: opensearch serverless at URL\n"), "{stdout}");
    assert!(stdout.contains("the cluster refused the flattened type"), "{stdout}");
    let requests = requests(&server);
    check_requests(
        &requests,
        expect![[r#"
            GET /_index_template/sluicegate-cwl
            PUT /_index_template/sluicegate-cwl
            PUT /_index_template/sluicegate-cwl"#]],
    );
    assert_eq!(requests[2].1["template"]["mappings"]["properties"]["attributes"], json!({"type": "object", "enabled": false}));
}
