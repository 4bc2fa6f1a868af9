//! The function starts from a pipeline in S3, as the Terraform module deploys it: the pipeline
//! object and the modules it pins by SHA-256, with the compiled-module cache empty, warm, holding
//! damaged or foreign artifacts; and every way a pipeline can be wrong stops the start with one
//! line naming the cause, so no partial chain ever runs.

use std::process::Command;

use serde_json::{Value, json};
use sluicegate_engine::pipeline_file::sha256_hex;
use sluicegate_tests::lambda::Lambda;
use sluicegate_tests::moto::lambda_event;

use crate::{LOG_GROUP, LOG_STREAM, STREAM, Stack, failures};

const CACHE_PREFIX: &str = "sluicegate/compiled";

/// Uploads `name`'s built module under its content-addressed key; returns (URI, SHA-256).
fn upload_module(stack: &Stack, name: &str) -> (String, String) {
    let bytes = std::fs::read(sluicegate_tests::guests::module(name)).expect("built module");
    let sha256 = sha256_hex(&bytes);
    let key = format!("sluicegate/modules/{sha256}.wasm");
    stack.moto.put_object(&stack.bucket, &key, &bytes);
    (format!("s3://{}/{key}", stack.bucket), sha256)
}

/// Uploads `pipeline` under its content-addressed key; returns its URI.
fn upload_pipeline(stack: &Stack, pipeline: &Value) -> String {
    let text = pipeline.to_string();
    let key = format!("sluicegate/pipelines/{}.json", sha256_hex(text.as_bytes()));
    stack.moto.put_object(&stack.bucket, &key, text.as_bytes());
    format!("s3://{}/{key}", stack.bucket)
}

/// filter (drops health checks), then redact (masks emails), as Terraform writes the document.
fn pipeline(stack: &Stack) -> Value {
    let (filter, filter_sha) = upload_module(stack, "filter");
    let (redact, redact_sha) = upload_module(stack, "redact");
    json!({"transforms": [
        {"name": "filter", "module": filter, "sha256": filter_sha, "config": {"drop": [{"message": "GET /healthz"}]}, "on_error": "pass"},
        {"name": "redact", "module": redact, "sha256": redact_sha, "config": {"mode": "mask"}, "on_error": "dead-letter"},
    ], "index_template": "cwl-{yyyy}.{MM}.{dd}", "archive_stage": "documents"})
}

fn env(stack: &Stack, pipeline_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("SLUICEGATE_PIPELINE", pipeline_uri.to_owned()),
        ("SLUICEGATE_MODULE_CACHE", format!("s3://{}/{CACHE_PREFIX}", stack.bucket)),
        ("SLUICEGATE_PRECOMPILED_DIR", "/nonexistent".to_owned()),
    ]
}

/// The origins the start line reports, e.g. `["filter:Compiled", "redact:Cache"]`.
fn origins(lambda: &Lambda) -> Vec<String> {
    let output = lambda.function.output();
    let line = output.lines().find(|line| line.contains("transforms loaded")).unwrap_or_else(|| panic!("no load line in:\n{output}"));
    let line: Value = serde_json::from_str(line).expect("a JSON log line");
    let modules = line["fields"]["modules"].as_str().unwrap_or_else(|| panic!("no modules in {line}"));
    // `["filter:Compiled:123", ...]` as the Debug of a Vec<String>.
    modules
        .trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .map(|module| {
            let parts: Vec<&str> = module.trim_matches('"').split(':').collect();
            format!("{}:{}", parts[0], parts[1])
        })
        .collect()
}

#[test]
fn the_function_runs_the_chain_from_s3_and_caches_what_it_compiled() {
    let stack = Stack::start();
    let pipeline = pipeline(&stack);
    let uri = upload_pipeline(&stack, &pipeline);
    let t0 = sluicegate_tests::recent_t0();
    stack.moto.put_log_events(
        LOG_GROUP,
        LOG_STREAM,
        &[(t0, "GET /healthz 200".to_owned()), (t0 + 1, "refund for ana@example.com approved".to_owned())],
    );
    let event = lambda_event(STREAM, &stack.moto.read_shard(STREAM));

    // An empty cache: both modules are compiled, and their artifacts stored.
    let mut lambda = stack.lambda(&stack.moto.url, &env(&stack, &uri));
    assert_eq!(origins(&lambda), ["filter:Compiled", "redact:Compiled"]);
    let cached = stack.moto.list_keys(&stack.bucket, CACHE_PREFIX);
    assert_eq!(cached.len(), 2, "{cached:?}\n{}", lambda.function.output());
    for key in &cached {
        let (_, encryption) = stack.moto.get_object(&stack.bucket, key);
        assert_eq!(encryption.as_deref(), Some("aws:kms"), "{key}");
    }
    let response = lambda.invoke(&event);
    assert_eq!(failures(&response), Vec::<String>::new(), "{}", lambda.function.output());
    let messages: Vec<String> = stack.es_documents().iter().map(|(_, source)| source["message"].as_str().unwrap().to_owned()).collect();
    // filter dropped the health check, redact masked the address.
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(!messages[0].contains("ana@example.com") && messages[0].starts_with("refund for "), "{messages:?}");
    drop(lambda);

    // A warm cache: nothing is compiled.
    let lambda = stack.lambda(&stack.moto.url, &env(&stack, &uri));
    assert_eq!(origins(&lambda), ["filter:Cache", "redact:Cache"]);
    drop(lambda);

    // Damaged and foreign artifacts are never loaded: a flipped byte in filter's, redact's
    // replaced by filter's (sealed for another module). Both are compiled again and rewritten.
    let key_of = |transform_idx: usize| {
        let prefix = format!("{CACHE_PREFIX}/{}/", pipeline["transforms"][transform_idx]["sha256"].as_str().unwrap());
        cached.iter().find(|key| key.starts_with(&prefix)).unwrap_or_else(|| panic!("no artifact under {prefix}: {cached:?}"))
    };
    let (filter_key, redact_key) = (key_of(0), key_of(1));
    let (mut filter_artifact, _) = stack.moto.get_object(&stack.bucket, filter_key);
    let good_filter = filter_artifact.clone();
    let last = filter_artifact.len() - 1;
    filter_artifact[last] ^= 0xff;
    stack.moto.put_object(&stack.bucket, filter_key, &filter_artifact);
    stack.moto.put_object(&stack.bucket, redact_key, &good_filter);
    let lambda = stack.lambda(&stack.moto.url, &env(&stack, &uri));
    assert_eq!(origins(&lambda), ["filter:Compiled", "redact:Compiled"]);
    let output = lambda.function.output();
    assert!(output.contains("corrupt: the native code's sha256"), "{output}");
    assert!(output.contains("compiled from module"), "{output}");
    drop(lambda);
    let lambda = stack.lambda(&stack.moto.url, &env(&stack, &uri));
    assert_eq!(origins(&lambda), ["filter:Cache", "redact:Cache"], "the artifacts were stored again");
    drop(lambda);

    // An artifact of another engine (a raw wasmtime object compiled for arm64): refused.
    let wasm = std::fs::read(sluicegate_tests::guests::module("filter")).unwrap();
    let foreign =
        sluicegate_engine::wasm::precompile(&wasm, &sluicegate_engine::wasm::Limits::default(), Some("aarch64-unknown-linux-gnu")).unwrap();
    let sealed = sluicegate_engine::wasm::seal(&sha256_hex(&wasm), &foreign).unwrap();
    stack.moto.put_object(&stack.bucket, filter_key, &sealed);
    let lambda = stack.lambda(&stack.moto.url, &env(&stack, &uri));
    assert_eq!(origins(&lambda), ["filter:Compiled", "redact:Cache"]);
    assert!(lambda.function.output().contains("wasmtime refused it"), "{}", lambda.function.output());
}

/// Runs `bootstrap` with the pipeline at `uri` and returns what it printed; it must not start.
#[track_caller]
fn failed_start(stack: &Stack, uri: &str) -> String {
    let mut command = Command::new(sluicegate_tests::bootstrap_path());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", sluicegate_tests::moto::REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // No Runtime API: a start that got past loading would fail differently.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    for (name, value) in stack.lambda_env(&stack.moto.url).into_iter().chain(env(stack, uri)) {
        command.env(name, value);
    }
    let output = command.output().expect("run bootstrap");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "bootstrap started with {uri}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|line| line.contains("init failed")).collect();
    assert_eq!(lines.len(), 1, "one line names the cause:\n{stderr}");
    lines[0].to_owned()
}

#[test]
fn a_bad_pipeline_stops_the_start_naming_the_cause() {
    let stack = Stack::start();
    let good = pipeline(&stack);

    // A module whose bytes are not the ones pinned.
    let mut tampered = good.clone();
    let filter_bytes = std::fs::read(sluicegate_tests::guests::module("filter")).unwrap();
    let fake_key = "sluicegate/modules/tampered.wasm";
    stack.moto.put_object(&stack.bucket, fake_key, &filter_bytes);
    tampered["transforms"][1]["module"] = json!(format!("s3://{}/{fake_key}", stack.bucket));
    let line = failed_start(&stack, &upload_pipeline(&stack, &tampered));
    assert!(line.contains("transform redact") && line.contains("but the pipeline pins"), "{line}");

    // Not JSON.
    stack.moto.put_object(&stack.bucket, "sluicegate/pipelines/broken.json", b"{\"transforms\": [");
    let line = failed_start(&stack, &format!("s3://{}/sluicegate/pipelines/broken.json", stack.bucket));
    assert!(line.contains("broken.json") && line.contains("EOF while parsing"), "{line}");

    // No such pipeline object.
    let line = failed_start(&stack, &format!("s3://{}/sluicegate/pipelines/missing.json", stack.bucket));
    assert!(line.contains("missing.json") && line.contains("no such object"), "{line}");

    // A missing module.
    let mut missing = good.clone();
    missing["transforms"][0]["module"] = json!(format!("s3://{}/sluicegate/modules/gone.wasm", stack.bucket));
    let line = failed_start(&stack, &upload_pipeline(&stack, &missing));
    assert!(line.contains("transform filter") && line.contains("gone.wasm does not exist"), "{line}");

    // An unknown key.
    let mut unknown = good.clone();
    unknown["transforms"][0]["on_eror"] = json!("drop");
    let line = failed_start(&stack, &upload_pipeline(&stack, &unknown));
    assert!(line.contains("unknown field `on_eror`"), "{line}");

    // A configuration the transform refuses in `init`.
    let mut refused = good.clone();
    refused["transforms"][1]["config"] = json!({"mode": "scramble"});
    let line = failed_start(&stack, &upload_pipeline(&stack, &refused));
    assert!(line.contains("transform redact: init failed") && line.contains("scramble"), "{line}");

    // A module in S3 that the pipeline does not pin.
    let mut unpinned = good;
    unpinned["transforms"][0].as_object_mut().unwrap().remove("sha256");
    let line = failed_start(&stack, &upload_pipeline(&stack, &unpinned));
    assert!(line.contains("transform filter") && line.contains("must be pinned"), "{line}");
}
