//! The Terraform module applied for real against moto: the transforms deploy from `transforms`
//! alone (the `.wasm` paths and configs), `sluicegate run --pipeline` runs the deployed chain, a
//! changed config moves the function to a new pipeline, and everything is destroyed again.
//!
//! The setup is the existing-domain one (`create_domain = false`): moto's OpenSearch domains
//! never leave "processing", so an apply that creates one never finishes. The created-domain
//! wiring is covered by the mock tests in `terraform/tests/`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use sluicegate_engine::pipeline_file::sha256_hex;
use sluicegate_tests::moto::{Moto, REGION, lambda_event};
use sluicegate_tests::process;

/// The filesystem mirror of hashicorp/aws on the machine image (as `cargo xtask ci` uses it).
const PROVIDER_MIRROR: &str = "/opt/tf-plugins";

const NAME: &str = "tfe2e";
const LOG_GROUP: &str = "/aws/lambda/checkout";

#[test]
fn terraform_deploys_the_transforms_and_a_config_change_moves_the_pipeline() {
    let venv = sluicegate_tests::venv_dir();
    let cli = cli_path();
    let moto_server = process::moto(&venv);
    let moto = Moto { url: moto_server.url() };
    let s3_proxy = S3PolicyProxy::start(&moto.url);
    let redact_wasm = sluicegate_tests::guests::module("redact");
    let filter_wasm = sluicegate_tests::guests::module("filter");

    let dir = process::scratch_dir("terraform-apply");
    let terraform = Terraform::new(&dir);
    std::fs::write(dir.join("main.tf"), root_configuration(&moto.url, &s3_proxy.url)).expect("write main.tf");
    let write_transforms = |redact_config: Value| {
        let transforms = json!({"transforms": [
            {"name": "filter", "wasm_path": filter_wasm, "config_json": json!({"drop": [{"message": "GET /healthz"}]}).to_string(), "on_error": "pass"},
            {"name": "redact", "wasm_path": redact_wasm, "config_json": redact_config.to_string(), "on_error": "dead-letter"},
        ]});
        std::fs::write(dir.join("terraform.tfvars.json"), transforms.to_string()).expect("write terraform.tfvars.json");
    };
    // The subscribed log group belongs to the application, not to the module.
    moto.call("logs", "Logs_20140328.CreateLogGroup", json!({"logGroupName": LOG_GROUP}));
    let mut timings = Vec::new();

    terraform.run("init", &["init", "-input=false", "-no-color"], &mut timings);
    write_transforms(json!({"detectors": ["email"], "fields": "all"}));
    terraform.run("apply (create)", &["apply", "-auto-approve", "-input=false", "-no-color"], &mut timings);
    let outputs = terraform.outputs();
    let bucket = outputs["archive_bucket_name"].as_str().expect("archive_bucket_name").to_owned();
    let pipeline_uri = outputs["pipeline_uri"].as_str().expect("pipeline_uri").to_owned();
    let role_arn = outputs["lambda_role_arn"].as_str().expect("lambda_role_arn").to_owned();

    // The modules, byte for byte, under their SHA-256s.
    let mut module_keys = Vec::new();
    for (name, wasm_path) in [("filter", &filter_wasm), ("redact", &redact_wasm)] {
        let wasm = std::fs::read(wasm_path).expect("built module");
        let key = format!("sluicegate/modules/{}.wasm", sha256_hex(&wasm));
        let (object, encryption) = moto.get_object(&bucket, &key);
        assert_eq!(sha256_hex(&object), sha256_hex(&wasm), "{name}'s object at {key} is not its .wasm");
        assert_eq!(encryption.as_deref(), Some("aws:kms"), "{key} is not SSE-KMS encrypted");
        module_keys.push(key);
    }
    assert_eq!(moto.list_keys(&bucket, "sluicegate/modules/"), sorted(module_keys.clone()));

    // The pipeline document, exactly the shape the Lambda accepts, under the SHA-256 of its text.
    let pipeline = read_pipeline(&moto, &bucket, &pipeline_uri);
    let module_uri = |wasm_path: &Path| {
        let sha256 = sha256_hex(&std::fs::read(wasm_path).expect("built module"));
        (format!("s3://{bucket}/sluicegate/modules/{sha256}.wasm"), sha256)
    };
    let (filter_uri, filter_sha256) = module_uri(&filter_wasm);
    let (redact_uri, redact_sha256) = module_uri(&redact_wasm);
    assert_eq!(
        pipeline,
        json!({
            "transforms": [
                {"name": "filter", "module": filter_uri, "sha256": filter_sha256, "config": {"drop": [{"message": "GET /healthz"}]}, "on_error": "pass"},
                {"name": "redact", "module": redact_uri, "sha256": redact_sha256, "config": {"detectors": ["email"], "fields": "all"}, "on_error": "dead-letter"},
            ],
            "index_template": "cwl-{yyyy}.{MM}.{dd}",
            "archive_stage": "documents",
        })
    );

    // The function as deployed names that pipeline and the compiled-module cache.
    let environment = function_environment(&moto, NAME);
    assert_eq!(environment["SLUICEGATE_PIPELINE"], pipeline_uri);
    assert_eq!(environment["SLUICEGATE_MODULE_CACHE"], format!("s3://{bucket}/sluicegate/compiled"));

    // The bucket policy Terraform wrote: only the function's role may write compiled modules.
    let policy = s3_proxy.policy(&bucket).unwrap_or_else(|| panic!("no bucket policy was put on {bucket}"));
    let statement = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .find(|statement| statement["Sid"] == "OnlyTheFunctionWritesCompiledModules")
        .unwrap_or_else(|| panic!("no compiled-module statement in {policy}"));
    assert_eq!(
        statement,
        &json!({
            "Sid": "OnlyTheFunctionWritesCompiledModules",
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/sluicegate/compiled/*"),
            "Principal": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": role_arn}},
        })
    );

    // The deployed chain, run locally: filter dropped the health check, redact masked the email.
    let event = dir.join("event.json");
    std::fs::write(&event, kinesis_event().to_string()).expect("write the event");
    let (summary, bulk) = run_cli(&cli, &pipeline_uri, &moto.url, &event, &dir.join("out-1"));
    assert_eq!(
        (summary["events_in"].as_u64(), summary["dropped"].as_u64(), summary["events_out"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{summary}"
    );
    assert!(
        !bulk.contains("healthz") && bulk.contains("refund for [REDACTED:email] approved") && !bulk.contains("ana@example.com"),
        "{bulk}"
    );

    // Another config for redact: a new pipeline object, the function moved to it, the old one
    // deleted once the function no longer names it, the modules kept.
    write_transforms(json!({"detectors": ["aws_access_key"], "fields": "all"}));
    terraform.run("apply (config change)", &["apply", "-auto-approve", "-input=false", "-no-color"], &mut timings);
    let changed_uri = terraform.outputs()["pipeline_uri"].as_str().expect("pipeline_uri").to_owned();
    assert_ne!(changed_uri, pipeline_uri, "a changed config_json must change the pipeline key");
    assert_eq!(function_environment(&moto, NAME)["SLUICEGATE_PIPELINE"], changed_uri);
    assert_eq!(
        read_pipeline(&moto, &bucket, &changed_uri)["transforms"][1]["config"],
        json!({"detectors": ["aws_access_key"], "fields": "all"})
    );
    assert_eq!(moto.list_keys(&bucket, "sluicegate/pipelines/"), vec![key_of(&changed_uri, &bucket).to_owned()]);
    assert_eq!(moto.list_keys(&bucket, "sluicegate/modules/"), sorted(module_keys));
    let (summary, bulk) = run_cli(&cli, &changed_uri, &moto.url, &event, &dir.join("out-2"));
    assert_eq!(summary["dropped"].as_u64(), Some(1), "{summary}");
    assert!(bulk.contains("refund for ana@example.com approved"), "redact must no longer look for emails: {bulk}");

    terraform.run("destroy", &["destroy", "-auto-approve", "-input=false", "-no-color"], &mut timings);
    let state = terraform.output(&["state", "list"]);
    assert!(state.trim().is_empty(), "resources left after destroy:\n{state}");

    let report: String = timings.iter().map(|(step, elapsed)| format!("terraform {step:<22} {:>6.1} s\n", elapsed.as_secs_f64())).collect();
    sluicegate_tests::write_report("terraform_apply", &report);
}

/// The `sluicegate` command line, built next to `bootstrap` by `cargo build -p sluicegate-lambda --bins`.
fn cli_path() -> PathBuf {
    let bootstrap = sluicegate_tests::bootstrap_path();
    let cli = bootstrap.with_file_name("sluicegate");
    assert!(cli.is_file(), "no sluicegate binary at {}: run `cargo build -p sluicegate-lambda --bins`", cli.display());
    cli
}

/// A root configuration that calls the module from this checkout, with every service it uses
/// in this setup at moto (S3 through `s3_url`, see [`S3PolicyProxy`]).
fn root_configuration(moto_url: &str, s3_url: &str) -> String {
    let module_dir = sluicegate_tests::workspace_dir().join("terraform");
    let lambda_zip = module_dir.join("tests/fixtures/function.zip");
    format!(
        r#"terraform {{
  required_providers {{
    aws = {{
      source = "hashicorp/aws"
    }}
  }}
}}

provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true

  endpoints {{
    cloudwatch = "{moto_url}"
    iam        = "{moto_url}"
    kinesis    = "{moto_url}"
    kms        = "{moto_url}"
    lambda     = "{moto_url}"
    logs       = "{moto_url}"
    s3         = "{s3_url}"
    sts        = "{moto_url}"
  }}
}}

variable "transforms" {{
  type = list(object({{ name = string, wasm_path = string, config_json = string, on_error = string }}))
}}

module "sluicegate" {{
  source = "{module_dir}"

  name            = "{NAME}"
  lambda_zip_path = "{lambda_zip}"
  transforms      = var.transforms

  create_domain            = false
  existing_domain_endpoint = "search-shared.{REGION}.es.amazonaws.com"
  existing_domain_arn      = "arn:aws:es:{REGION}:123456789012:domain/shared"

  log_groups = {{
    "{LOG_GROUP}" = {{}}
  }}
}}

output "archive_bucket_name" {{
  value = module.sluicegate.archive_bucket_name
}}

output "pipeline_uri" {{
  value = module.sluicegate.pipeline_uri
}}

output "lambda_role_arn" {{
  value = module.sluicegate.lambda_role_arn
}}
"#,
        module_dir = module_dir.display(),
        lambda_zip = lambda_zip.display(),
    )
}

/// `terraform` in one scratch folder, offline: providers come from [`PROVIDER_MIRROR`] only.
struct Terraform {
    dir: PathBuf,
    cli_config: PathBuf,
}

impl Terraform {
    fn new(dir: &Path) -> Terraform {
        assert!(
            Path::new(PROVIDER_MIRROR).is_dir(),
            "the provider mirror {PROVIDER_MIRROR} is missing; terraform init cannot run offline without it"
        );
        let cli_config = dir.join("terraform.rc");
        let text = format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{PROVIDER_MIRROR}\"\n    include = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/*/*\"]\n  }}\n}}\n"
        );
        std::fs::write(&cli_config, text).expect("write the CLI configuration");
        Terraform { dir: dir.to_owned(), cli_config }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("terraform");
        command
            .args(args)
            .current_dir(&self.dir)
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            // Terraform otherwise asks checkpoint.hashicorp.com for new versions.
            .env("CHECKPOINT_DISABLE", "1");
        command
    }

    /// Runs a step, panicking with its output when it fails, and records how long it took as `label`.
    fn run(&self, label: &str, args: &[&str], timings: &mut Vec<(String, Duration)>) {
        let started = Instant::now();
        let output = self.command(args).output().unwrap_or_else(|error| panic!("cannot run terraform (is it on PATH?): {error}"));
        let elapsed = started.elapsed();
        assert!(
            output.status.success(),
            "terraform {} failed ({}) after {elapsed:?}:\n{}\n{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        timings.push((label.to_owned(), elapsed));
    }

    /// A step's standard output.
    fn output(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("terraform runs");
        assert!(output.status.success(), "terraform {} failed:\n{}", args.join(" "), String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// The root outputs, by name.
    fn outputs(&self) -> HashMap<String, Value> {
        let outputs: HashMap<String, Value> = serde_json::from_str(&self.output(&["output", "-json"])).expect("output -json");
        outputs.into_iter().map(|(name, output)| (name, output["value"].clone())).collect()
    }
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

fn key_of<'a>(uri: &'a str, bucket: &str) -> &'a str {
    uri.strip_prefix(&format!("s3://{bucket}/")).unwrap_or_else(|| panic!("{uri} is not in {bucket}"))
}

/// The pipeline object `uri` names, checked to be SSE-KMS and to sit under the SHA-256 of its text.
fn read_pipeline(moto: &Moto, bucket: &str, uri: &str) -> Value {
    let key = key_of(uri, bucket);
    let (text, encryption) = moto.get_object(bucket, key);
    assert_eq!(encryption.as_deref(), Some("aws:kms"), "{key} is not SSE-KMS encrypted");
    assert_eq!(key, format!("sluicegate/pipelines/{}.json", sha256_hex(&text)), "the pipeline key must be the SHA-256 of its text");
    serde_json::from_slice(&text).expect("the pipeline is JSON")
}

/// The function's environment variables, from moto's Lambda GetFunctionConfiguration.
fn function_environment(moto: &Moto, function_name: &str) -> HashMap<String, String> {
    let text = ureq::get(&format!("{}/2015-03-31/functions/{function_name}/configuration", moto.url))
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/lambda/aws4_request, SignedHeaders=host, Signature=0"),
        )
        .call()
        .unwrap_or_else(|error| panic!("GetFunctionConfiguration {function_name}: {error}"))
        .into_body()
        .read_to_string()
        .expect("configuration body");
    let configuration: Value = serde_json::from_str(&text).expect("configuration json");
    serde_json::from_value(configuration["Environment"]["Variables"].clone())
        .unwrap_or_else(|error| panic!("no environment in {configuration}: {error}"))
}

/// A Kinesis event of one CloudWatch Logs record: a health check and a line with an email.
fn kinesis_event() -> Value {
    let t0 = sluicegate_tests::recent_t0();
    let message = json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": LOG_GROUP,
        "logStream": "2026/11/28/[$LATEST]0123456789abcdef",
        "subscriptionFilters": [NAME],
        "logEvents": [
            {"id": "1", "timestamp": t0, "message": "GET /healthz 200"},
            {"id": "2", "timestamp": t0 + 1, "message": "refund for ana@example.com approved"},
        ],
    });
    let data = base64::engine::general_purpose::STANDARD.encode(sluicegate_tests::gzip(message.to_string().as_bytes()));
    let record = json!({
        "SequenceNumber": "49590338271490256608559692538361571095921575989136588802",
        "PartitionKey": "p",
        "Data": data,
        "ApproximateArrivalTimestamp": t0 as f64 / 1000.0,
    });
    lambda_event(NAME, &[record])
}

/// `sluicegate run --pipeline URI` on `event`; its printed summary and the first `_bulk` body.
fn run_cli(cli: &Path, pipeline_uri: &str, s3_endpoint: &str, event: &Path, out: &Path) -> (Value, String) {
    let output = Command::new(cli)
        .args(["run", "--pipeline", pipeline_uri, "--s3-endpoint", s3_endpoint])
        .arg("--event")
        .arg(event)
        .arg("--out")
        .arg(out)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", cli.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "sluicegate run failed ({}):\n{stdout}\n{}", output.status, String::from_utf8_lossy(&output.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| panic!("no JSON summary in:\n{stdout}"));
    let bulk_path = out.join("bulk/000001.ndjson");
    let bulk = std::fs::read_to_string(&bulk_path).unwrap_or_else(|error| panic!("read {}: {error}", bulk_path.display()));
    (summary, bulk)
}

/// moto evaluates a bucket policy's Deny statements without their conditions (it knows only
/// `StringEquals`, in `moto/iam/policy_conditions.py`), so the module's statements that deny plain
/// HTTP and old TLS would deny every object request over the emulator's plain HTTP, Terraform's
/// uploads included. Terraform's S3 requests therefore go through this proxy, which keeps bucket
/// policies to itself (PutBucketPolicy, GetBucketPolicy and DeleteBucketPolicy, so that Terraform
/// reads back what it wrote) and forwards every other request to moto unchanged. It listens on
/// 127.0.0.1 and stops when dropped.
struct S3PolicyProxy {
    url: String,
    policies: Arc<Mutex<HashMap<String, Bytes>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3PolicyProxy {
    fn start(upstream: &str) -> S3PolicyProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        listener.set_nonblocking(true).expect("non-blocking listener");
        let policies = Arc::new(Mutex::new(HashMap::new()));
        let (shutdown, mut stopped) = tokio::sync::oneshot::channel();
        let upstream = upstream.to_owned();
        let state = policies.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
                // Connections live in this set, so leaving the loop ends them too.
                let mut connections = tokio::task::JoinSet::new();
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let (client, upstream, state) = (client.clone(), upstream.clone(), state.clone());
                    connections.spawn(async move {
                        let service =
                            hyper::service::service_fn(move |request| proxy(client.clone(), upstream.clone(), state.clone(), request));
                        let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                    while connections.try_join_next().is_some() {}
                }
            });
        });
        S3PolicyProxy { url, policies, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// The policy last put on `bucket`, parsed.
    fn policy(&self, bucket: &str) -> Option<Value> {
        let policies = self.policies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        policies.get(bucket).map(|policy| serde_json::from_slice(policy).expect("the bucket policy is JSON"))
    }
}

impl Drop for S3PolicyProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers a bucket-policy request itself and forwards any other to `upstream`.
async fn proxy(
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: String,
    policies: Arc<Mutex<HashMap<String, Bytes>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Ok(reply(StatusCode::BAD_REQUEST, &[], format!("cannot read the request: {error}"))),
    };
    // Path-style addressing: a bucket request is `/BUCKET` and the sub-resource is a query key.
    let bucket = parts.uri.path().trim_matches('/');
    let is_policy = !bucket.is_empty()
        && !bucket.contains('/')
        && parts.uri.query().is_some_and(|query| query.split('&').any(|pair| pair.split('=').next() == Some("policy")));
    if is_policy {
        let mut policies = policies.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        return Ok(match parts.method {
            hyper::Method::PUT => {
                policies.insert(bucket.to_owned(), body);
                reply(StatusCode::NO_CONTENT, &[], String::new())
            }
            hyper::Method::GET => match policies.get(bucket) {
                Some(policy) => Response::builder()
                    .status(StatusCode::OK)
                    .header("content-type", "application/json")
                    .body(Full::new(policy.clone()))
                    .expect("a response"),
                None => reply(
                    StatusCode::NOT_FOUND,
                    &[("content-type", "application/xml")],
                    "<Error><Code>NoSuchBucketPolicy</Code><Message>The bucket policy does not exist</Message></Error>".to_owned(),
                ),
            },
            hyper::Method::DELETE => {
                policies.remove(bucket);
                reply(StatusCode::NO_CONTENT, &[], String::new())
            }
            _ => reply(StatusCode::METHOD_NOT_ALLOWED, &[], String::new()),
        });
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |path_and_query| path_and_query.as_str());
    let mut forwarded = Request::builder().method(parts.method.clone()).uri(format!("{upstream}{path_and_query}"));
    for (name, value) in &parts.headers {
        // The client sets the host and the length of the collected body; nothing waits for a 100.
        if !matches!(name.as_str(), "host" | "content-length" | "transfer-encoding" | "connection" | "expect") {
            forwarded = forwarded.header(name, value);
        }
    }
    let forwarded = forwarded.body(Full::new(body)).expect("a request");
    let response = match client.request(forwarded).await {
        Ok(response) => response,
        Err(error) => return Ok(reply(StatusCode::BAD_GATEWAY, &[], format!("moto: {error}"))),
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) => return Ok(reply(StatusCode::BAD_GATEWAY, &[], format!("moto's answer: {error}"))),
    };
    let mut answer = Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        // A HEAD answer keeps moto's content-length: it is the object's, not the empty body's.
        if !matches!(name.as_str(), "transfer-encoding" | "connection") {
            answer = answer.header(name, value);
        }
    }
    Ok(answer.body(Full::new(body)).expect("a response"))
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: String) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Full::new(Bytes::from(body))).expect("a response")
}
