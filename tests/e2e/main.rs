//! End-to-end tests against real servers (one test binary, so it links once).
//!
//! moto plays CloudWatch Logs, Kinesis, S3 and KMS; osmem-server plays OpenSearch; cargo-lambda
//! plays the Lambda Runtime API; the function is the real, prebuilt `bootstrap`.

mod bad_input;
mod delivery;
mod es_faults;
mod mixed_services;
mod pipeline_s3;
mod redrive;
mod request_faults;
mod s3_faults;
mod startup;
mod terraform_apply;

use serde_json::Value;
use sluicegate_tests::lambda::Lambda;
use sluicegate_tests::moto::Moto;
use sluicegate_tests::process::{self, Server};

/// The servers one test talks to, with a bucket and a KMS key made.
pub struct Stack {
    pub moto: Moto,
    pub bucket: String,
    pub kms_key_id: String,
    pub es_url: String,
    // Dropped last, after anything that talks to them.
    _moto_server: Server,
    _osmem_server: Server,
}

pub const STREAM: &str = "logs";
pub const LOG_GROUP: &str = "/aws/lambda/checkout";
pub const LOG_STREAM: &str = "2026/11/28/[$LATEST]0123456789abcdef";

impl Stack {
    pub fn start() -> Stack {
        let venv = sluicegate_tests::venv_dir();
        let moto_server = process::moto(&venv);
        let osmem_server = process::osmem(&venv);
        let moto = Moto { url: moto_server.url() };
        let bucket = "sluicegate-archive".to_owned();
        moto.create_bucket(&bucket);
        let kms_key_id = moto.create_kms_key();
        moto.subscribe(STREAM, LOG_GROUP, LOG_STREAM);
        Stack { es_url: osmem_server.url(), moto, bucket, kms_key_id, _moto_server: moto_server, _osmem_server: osmem_server }
    }

    /// The function's environment: OpenSearch at osmem, S3 at moto (unless `s3_endpoint` says otherwise).
    pub fn lambda_env(&self, s3_endpoint: &str) -> Vec<(&'static str, String)> {
        vec![
            ("SLUICEGATE_ES_URL", self.es_url.clone()),
            ("SLUICEGATE_ES_AUTH", "none".to_owned()),
            ("SLUICEGATE_ARCHIVE_BUCKET", self.bucket.clone()),
            ("SLUICEGATE_ARCHIVE_KMS_KEY_ID", self.kms_key_id.clone()),
            ("SLUICEGATE_S3_ENDPOINT", s3_endpoint.to_owned()),
            ("SLUICEGATE_LOG_LEVEL", "info".to_owned()),
        ]
    }

    /// Starts the emulator and `bootstrap` with S3 at `s3_endpoint` and `extra` settings.
    pub fn lambda(&self, s3_endpoint: &str, extra: &[(&'static str, String)]) -> Lambda {
        let mut env = self.lambda_env(s3_endpoint);
        // Later settings win: `extra` may point the function elsewhere.
        env.retain(|(name, _)| !extra.iter().any(|(extra_name, _)| extra_name == name));
        env.extend_from_slice(extra);
        Lambda::start(&sluicegate_tests::venv_dir(), &sluicegate_tests::bootstrap_path(), &env)
    }

    /// `GET {es}{path}` as JSON.
    pub fn es_get(&self, path: &str) -> Value {
        let text = ureq::get(&format!("{}{path}", self.es_url))
            .call()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
            .into_body()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .expect("es body");
        serde_json::from_str(&text).expect("es json")
    }

    /// Documents in the `cwl-*` indices.
    pub fn es_count(&self) -> u64 {
        self.es_get("/cwl-*/_count")["count"].as_u64().expect("count")
    }

    /// Every document: `(_id, _source)`, sorted by `@timestamp` then `_id`.
    pub fn es_documents(&self) -> Vec<(String, Value)> {
        let search = self.es_get("/cwl-*/_search?size=1000");
        let mut documents: Vec<(String, Value)> = search["hits"]["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|hit| (hit["_id"].as_str().expect("_id").to_owned(), hit["_source"].clone()))
            .collect();
        documents.sort_by(|a, b| (a.1["@timestamp"].as_str(), &a.0).cmp(&(b.1["@timestamp"].as_str(), &b.0)));
        documents
    }

    /// The NDJSON lines of every object under `prefix`, gunzipped, with their keys.
    pub fn objects(&self, prefix: &str) -> Vec<(String, Vec<Value>)> {
        self.moto
            .list_keys(&self.bucket, prefix)
            .into_iter()
            .map(|key| {
                let (body, encryption) = self.moto.get_object(&self.bucket, &key);
                assert_eq!(encryption.as_deref(), Some("aws:kms"), "{key} is not SSE-KMS encrypted");
                let text = String::from_utf8(sluicegate_tests::gunzip(&body)).expect("utf-8 ndjson");
                let lines = text.lines().map(|line| serde_json::from_str(line).expect("json line")).collect();
                (key, lines)
            })
            .collect()
    }
}

/// The `batchItemFailures` of a response, as sequence numbers.
pub fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {response}"))
        .iter()
        .map(|failure| failure["itemIdentifier"].as_str().expect("itemIdentifier").to_owned())
        .collect()
}
