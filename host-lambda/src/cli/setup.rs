//! `sluicegate setup`: prepares a cluster for the documents the pipeline writes, once, after
//! `terraform apply`: the index template (typed ECS fields, the flattened `attributes`, the
//! promoted fields, settings), a lifecycle policy that deletes indices after the retention
//! (ISM on OpenSearch, ILM on Elasticsearch), and on OpenSearch with fine-grained access control
//! a least-privilege role mapped to the Lambda's IAM role.
//!
//! Each step reads what is there first and writes only what differs, so a second run changes
//! nothing and says so. A step the cluster has no plugin for (no ISM, no security plugin) is a
//! one-line warning, not a failure.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sluicegate_engine::index::IndexTemplate;
use sluicegate_engine::mapping::{FieldType, Flavor, TemplateSpec, index_pattern, index_template, is_engine_field};
use sluicegate_engine::pipeline_file::sha256_hex;
use sluicegate_lambda::es::EsClient;

/// Options of `sluicegate setup`.
#[derive(Args, Debug)]
pub struct SetupArgs {
    /// Elasticsearch/OpenSearch URL.
    #[arg(long)]
    pub es_url: String,
    /// none, basic, api-key, sigv4-es or sigv4-aoss (secrets from SLUICEGATE_ES_PASSWORD or SLUICEGATE_ES_API_KEY).
    #[arg(long)]
    pub es_auth: Option<String>,
    /// The user for --es-auth basic.
    #[arg(long)]
    pub es_username: Option<String>,
    /// The index name template the Lambda uses (the pipeline's, when --pipeline sets one).
    #[arg(long, default_value = sluicegate_engine::index::DEFAULT_INDEX_TEMPLATE)]
    pub index_template: String,
    /// The pipeline the Lambda runs (a file or its s3:// object): its index template, and the
    /// fields its transforms' configurations promote (`"promote": {"field": "type"}`).
    #[arg(long)]
    pub pipeline: Option<String>,
    /// An S3 endpoint other than AWS's, for an s3:// --pipeline.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// Delete indices this many days after their creation (0: no lifecycle policy).
    #[arg(long, default_value_t = 30)]
    pub retention_days: u32,
    /// The Lambda's execution role (Terraform's `lambda_role_arn` output): on OpenSearch with
    /// fine-grained access control it is mapped to a role that may only write the indices.
    #[arg(long)]
    pub lambda_role_arn: Option<String>,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Updated,
    Unchanged,
    Skipped,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
            Change::Skipped => "skipped",
        }
    }
}

/// The role `setup` makes on OpenSearch with fine-grained access control.
pub const WRITER_ROLE: &str = "sluicegate_writer";

/// Runs the command.
pub fn run(args: SetupArgs) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (template_text, promoted) = match &args.pipeline {
            Some(pipeline) => {
                let loaded = super::load_pipeline(pipeline, args.s3_endpoint.as_deref(), None).await?;
                let template = loaded.file.index_template.as_ref().map(|template| template.source().to_owned());
                let promoted = promoted_fields(loaded.file.transforms.iter().map(|entry| (entry.name.as_str(), entry.config.as_str())))?;
                (template.unwrap_or_else(|| args.index_template.clone()), promoted)
            }
            None => (args.index_template.clone(), Vec::new()),
        };
        IndexTemplate::parse(&template_text).context("--index-template")?;
        let needs_aws = args.es_auth.as_deref().is_some_and(|auth| auth.starts_with("sigv4"));
        let credentials = if needs_aws { sluicegate_lambda::aws::sdk_config().await.credentials_provider() } else { None };
        let es_config = super::es_config(&args.es_url, args.es_auth.as_deref(), args.es_username.as_deref(), None)?;
        let es = EsClient::new(es_config, credentials).context("cannot build the elasticsearch client")?;
        let cluster = Cluster { es };
        let changes = setup(&cluster, &args, &template_text, promoted).await?;
        if changes.iter().all(|change| matches!(change, Change::Unchanged | Change::Skipped)) {
            println!("setup: nothing changed");
        }
        Ok(())
    })
}

/// The fields the transforms' configurations promote: every `"promote": {"path": "type"}`.
pub fn promoted_fields<'a>(configs: impl Iterator<Item = (&'a str, &'a str)>) -> anyhow::Result<Vec<(String, FieldType)>> {
    let mut promoted = Vec::new();
    for (name, config) in configs {
        let Ok(Value::Object(config)) = serde_json::from_str::<Value>(config) else { continue };
        let Some(Value::Object(fields)) = config.get("promote") else { continue };
        for (path, field_type) in fields {
            let field_type = field_type.as_str().map(FieldType::parse).transpose().map_err(anyhow::Error::msg);
            let field_type = field_type.with_context(|| format!("transform {name}: promote.{path}"))?;
            let field_type = field_type.with_context(|| format!("transform {name}: promote.{path} is not a type name"))?;
            if is_engine_field(path) {
                bail!("transform {name}: promote.{path} would replace a field the engine writes");
            }
            promoted.push((path.clone(), field_type));
        }
    }
    Ok(promoted)
}

struct Cluster {
    es: EsClient,
}

impl Cluster {
    /// `method path` with a JSON body; the status and the parsed answer (`Null` when not JSON).
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<(StatusCode, Value)> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let body = body.map(|body| body.to_string().into_bytes());
        let (status, text) = self.es.request(method.clone(), path, body, deadline).await.with_context(|| format!("{method} {path}"))?;
        Ok((status, serde_json::from_slice(&text).unwrap_or(Value::Null)))
    }

    /// `method path`, which must succeed.
    async fn write(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<()> {
        let (status, answer) = self.call(method.clone(), path, Some(body)).await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(())
    }
}

async fn setup(
    cluster: &Cluster,
    args: &SetupArgs,
    template_text: &str,
    promoted: Vec<(String, FieldType)>,
) -> anyhow::Result<Vec<Change>> {
    let pattern = index_pattern(template_text);
    let name = resource_name(&pattern);
    let mut changes = Vec::new();
    if args.es_auth.as_deref() == Some("sigv4-aoss") {
        // A serverless collection answers neither `GET /` nor `_cat/plugins`; its retention is
        // its data lifecycle policy and its access its data access policy, both outside the
        // collection's API.
        println!("setup: opensearch serverless at {}", args.es_url);
        println!("setup: warning: retention of a serverless collection is its data lifecycle policy: not set here");
        println!("setup: warning: access to a serverless collection is its data access policy: no role mapping");
        let spec = TemplateSpec { pattern: pattern.clone(), flavor: Flavor::OpenSearch { major: 2, minor: 7 }, promoted, ilm_policy: None };
        let change = put_index_template(cluster, &name, &index_template(&spec)).await?;
        println!("setup: index template {name} for {pattern}: {}", change.word());
        changes.push(change);
        return Ok(changes);
    }
    let (status, root) = cluster.call(Method::GET, "/", None).await?;
    if !status.is_success() {
        bail!("GET / answered {status}: {root}");
    }
    let flavor = flavor(&root)?;
    let version = root["version"]["number"].as_str().unwrap_or("?");
    let engine = match flavor {
        Flavor::OpenSearch { .. } => "opensearch",
        Flavor::Elasticsearch { .. } => "elasticsearch",
    };
    println!("setup: {engine} {version} at {}", args.es_url);
    let plugins = plugins(cluster, flavor).await?;

    // The lifecycle policy first: the Elasticsearch template names it.
    let ilm_policy = match (flavor, args.retention_days) {
        (_, 0) => {
            println!("setup: lifecycle policy: skipped (--retention-days 0)");
            changes.push(Change::Skipped);
            None
        }
        (Flavor::OpenSearch { .. }, days) => {
            if plugins.iter().any(|plugin| plugin == "opensearch-index-management") {
                let change = ism_policy(cluster, &name, &pattern, days).await?;
                println!("setup: ISM policy {name} (delete {pattern} after {days} days): {}", change.word());
                changes.push(change);
            } else {
                println!(
                    "setup: warning: no index management plugin (_cat/plugins lists no opensearch-index-management): no ISM policy, indices are kept until deleted"
                );
                changes.push(Change::Skipped);
            }
            None
        }
        (Flavor::Elasticsearch { .. }, days) => {
            let (status, _) = cluster.call(Method::GET, "/_ilm/status", None).await?;
            if status.is_success() {
                let change = ilm_policy(cluster, &name, days).await?;
                println!("setup: ILM policy {name} (delete after {days} days): {}", change.word());
                changes.push(change);
                Some(name.clone())
            } else {
                println!(
                    "setup: warning: no index lifecycle management (GET /_ilm/status answered {status}): indices are kept until deleted"
                );
                changes.push(Change::Skipped);
                None
            }
        }
    };

    let spec = TemplateSpec { pattern: pattern.clone(), flavor, promoted, ilm_policy };
    if flavor.flattened_type().is_none() {
        println!(
            "setup: warning: {engine} {version} has no flattened type (OpenSearch 2.7 or Elasticsearch 7.3 and later do): `attributes` is stored but not searchable"
        );
    }
    let change = put_index_template(cluster, &name, &index_template(&spec)).await?;
    println!("setup: index template {name} for {pattern}: {}", change.word());
    changes.push(change);

    match (&args.lambda_role_arn, flavor) {
        (None, _) => {}
        (Some(role_arn), Flavor::OpenSearch { .. }) => {
            if plugins.iter().any(|plugin| plugin == "opensearch-security") {
                let change = writer_role(cluster, &pattern).await?;
                println!("setup: role {WRITER_ROLE} (bulk writes and index creation on {pattern}): {}", change.word());
                changes.push(change);
                let change = role_mapping(cluster, role_arn).await?;
                println!("setup: role mapping {WRITER_ROLE} -> {role_arn}: {}", change.word());
                changes.push(change);
            } else {
                println!(
                    "setup: warning: no security plugin (_cat/plugins lists no opensearch-security): no role mapping needed or possible, the domain's access policy alone admits the Lambda"
                );
                changes.push(Change::Skipped);
            }
        }
        (Some(_), Flavor::Elasticsearch { .. }) => {
            println!(
                "setup: warning: --lambda-role-arn maps IAM roles in OpenSearch's security plugin only; on Elasticsearch give the Lambda an API key or user instead"
            );
            changes.push(Change::Skipped);
        }
    }
    Ok(changes)
}

/// OpenSearch or Elasticsearch, and the version, from `GET /`.
fn flavor(root: &Value) -> anyhow::Result<Flavor> {
    let number = root["version"]["number"].as_str().context("GET / has no version.number: not Elasticsearch or OpenSearch")?;
    let mut parts = number.split(['.', '-']).map(|part| part.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    Ok(match root["version"]["distribution"].as_str() {
        Some("opensearch") => Flavor::OpenSearch { major, minor },
        _ => Flavor::Elasticsearch { major, minor },
    })
}

/// The plugins `_cat/plugins` lists (Elasticsearch's built-in features are not plugins).
async fn plugins(cluster: &Cluster, flavor: Flavor) -> anyhow::Result<Vec<String>> {
    if matches!(flavor, Flavor::Elasticsearch { .. }) {
        return Ok(Vec::new());
    }
    let (status, answer) = cluster.call(Method::GET, "/_cat/plugins?format=json", None).await?;
    if !status.is_success() {
        bail!("GET /_cat/plugins answered {status}: {answer}");
    }
    let mut plugins: Vec<String> =
        answer.as_array().into_iter().flatten().filter_map(|plugin| plugin["component"].as_str().map(str::to_owned)).collect();
    plugins.sort();
    plugins.dedup();
    Ok(plugins)
}

/// `sluicegate-` and the pattern's literal prefix: `cwl-*` gives `sluicegate-cwl`.
fn resource_name(pattern: &str) -> String {
    let prefix: String = pattern
        .trim_end_matches('*')
        .trim_end_matches(['-', '.', '_'])
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    if prefix.is_empty() { "sluicegate".to_owned() } else { format!("sluicegate-{prefix}") }
}

/// A digest of what `setup` writes, stored with it, so that a second run can tell that what is
/// there is what it would write without comparing the cluster's normalised copy field by field.
fn fingerprint(body: &Value) -> String {
    sha256_hex(body.to_string().as_bytes())[..16].to_owned()
}

async fn put_index_template(cluster: &Cluster, name: &str, body: &Value) -> anyhow::Result<Change> {
    let hash = fingerprint(body);
    let path = format!("/_index_template/{name}");
    let (status, existing) = cluster.call(Method::GET, &path, None).await?;
    let existing_hash = existing["index_templates"][0]["index_template"]["_meta"]["sluicegate"]["hash"].as_str();
    if status.is_success() && existing_hash == Some(hash.as_str()) {
        return Ok(Change::Unchanged);
    }
    let mut body = body.clone();
    body["_meta"] = json!({ "sluicegate": { "hash": hash, "managed_by": "sluicegate setup" } });
    let (put_status, answer) = cluster.call(Method::PUT, &path, Some(&body)).await?;
    if put_status == StatusCode::BAD_REQUEST && answer.to_string().contains("flat") {
        // A cluster whose version says it has the flattened type but that refuses it (a
        // serverless collection, a fork): `attributes` kept, not indexed, rather than no template.
        println!("setup: warning: the cluster refused the flattened type for `attributes`: it is stored but not searchable");
        body["template"]["mappings"]["properties"]["attributes"] = json!({ "type": "object", "enabled": false });
        cluster.write(Method::PUT, &path, &body).await?;
    } else if !put_status.is_success() {
        bail!("PUT {path} answered {put_status}: {answer}");
    }
    Ok(if status.is_success() { Change::Updated } else { Change::Created })
}

async fn ism_policy(cluster: &Cluster, name: &str, pattern: &str, days: u32) -> anyhow::Result<Change> {
    let mut policy = json!({
        "default_state": "hot",
        "states": [
            { "name": "hot", "actions": [], "transitions": [{ "state_name": "delete", "conditions": { "min_index_age": format!("{days}d") } }] },
            { "name": "delete", "actions": [{ "delete": {} }], "transitions": [] },
        ],
        "ism_template": [{ "index_patterns": [pattern], "priority": 100 }],
    });
    let hash = fingerprint(&policy);
    policy["description"] = json!(format!("sluicegate: delete {pattern} after {days} days ({hash})"));
    let path = format!("/_plugins/_ism/policies/{name}");
    let (status, existing) = cluster.call(Method::GET, &path, None).await?;
    if status.is_success() {
        if existing["policy"]["description"].as_str().is_some_and(|description| description.ends_with(&format!("({hash})"))) {
            return Ok(Change::Unchanged);
        }
        // ISM updates a policy only against the version read.
        let seq_no = existing["_seq_no"].as_u64().context("the ISM policy has no _seq_no")?;
        let primary_term = existing["_primary_term"].as_u64().context("the ISM policy has no _primary_term")?;
        cluster
            .write(Method::PUT, &format!("{path}?if_seq_no={seq_no}&if_primary_term={primary_term}"), &json!({ "policy": policy }))
            .await?;
        return Ok(Change::Updated);
    }
    cluster.write(Method::PUT, &path, &json!({ "policy": policy })).await?;
    Ok(Change::Created)
}

async fn ilm_policy(cluster: &Cluster, name: &str, days: u32) -> anyhow::Result<Change> {
    let mut policy = json!({
        "phases": {
            "hot": { "actions": {} },
            "delete": { "min_age": format!("{days}d"), "actions": { "delete": {} } },
        },
    });
    let hash = fingerprint(&policy);
    policy["_meta"] = json!({ "sluicegate": { "hash": hash, "managed_by": "sluicegate setup" } });
    let path = format!("/_ilm/policy/{name}");
    let (status, existing) = cluster.call(Method::GET, &path, None).await?;
    if status.is_success() && existing[name]["policy"]["_meta"]["sluicegate"]["hash"].as_str() == Some(hash.as_str()) {
        return Ok(Change::Unchanged);
    }
    cluster.write(Method::PUT, &path, &json!({ "policy": policy })).await?;
    Ok(if status.is_success() { Change::Updated } else { Change::Created })
}

/// The least the Lambda needs: bulk writes of documents and creating the day's index, on the
/// pattern only (the mappings come from the template; dynamic fields need the mapping update).
fn writer_role_body(pattern: &str) -> Value {
    json!({
        "cluster_permissions": ["indices:data/write/bulk"],
        "index_permissions": [{
            "index_patterns": [pattern],
            "allowed_actions": ["indices:data/write/bulk*", "indices:data/write/index", "indices:admin/create", "indices:admin/mapping/put"],
        }],
    })
}

async fn writer_role(cluster: &Cluster, pattern: &str) -> anyhow::Result<Change> {
    let body = writer_role_body(pattern);
    let path = format!("/_plugins/_security/api/roles/{WRITER_ROLE}");
    let (status, existing) = cluster.call(Method::GET, &path, None).await?;
    let existing = &existing[WRITER_ROLE];
    if status.is_success() {
        let same = existing["cluster_permissions"] == body["cluster_permissions"]
            && existing["index_permissions"][0]["index_patterns"] == body["index_permissions"][0]["index_patterns"]
            && existing["index_permissions"][0]["allowed_actions"] == body["index_permissions"][0]["allowed_actions"]
            && existing["index_permissions"].as_array().map(Vec::len) == Some(1);
        if same {
            return Ok(Change::Unchanged);
        }
    }
    cluster.write(Method::PUT, &path, &body).await?;
    Ok(if status.is_success() { Change::Updated } else { Change::Created })
}

/// Maps the Lambda's role to the writer role as a backend role, keeping whatever else is mapped.
async fn role_mapping(cluster: &Cluster, role_arn: &str) -> anyhow::Result<Change> {
    let path = format!("/_plugins/_security/api/rolesmapping/{WRITER_ROLE}");
    let (status, existing) = cluster.call(Method::GET, &path, None).await?;
    let existing = &existing[WRITER_ROLE];
    let list = |key: &str| -> Vec<Value> { existing[key].as_array().cloned().unwrap_or_default() };
    let mut backend_roles = list("backend_roles");
    if status.is_success() && backend_roles.iter().any(|role| role == role_arn) {
        return Ok(Change::Unchanged);
    }
    backend_roles.push(json!(role_arn));
    let body = json!({ "backend_roles": backend_roles, "users": list("users"), "hosts": list("hosts") });
    cluster.write(Method::PUT, &path, &body).await?;
    Ok(if status.is_success() { Change::Updated } else { Change::Created })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        assert_eq!(resource_name("cwl-*"), "sluicegate-cwl");
        assert_eq!(resource_name("*"), "sluicegate");
        assert_eq!(resource_name("Logs.App-*"), "sluicegate-logs-app");
        let opensearch = json!({"version": {"distribution": "opensearch", "number": "2.11.1"}});
        assert_eq!(flavor(&opensearch).unwrap(), Flavor::OpenSearch { major: 2, minor: 11 });
        let elasticsearch = json!({"version": {"number": "8.15.0-SNAPSHOT"}});
        assert_eq!(flavor(&elasticsearch).unwrap(), Flavor::Elasticsearch { major: 8, minor: 15 });
        assert!(flavor(&json!({})).is_err());
    }

    #[test]
    fn promotions_come_from_any_transform_that_declares_them() {
        let configs = [("extract", r#"{"promote": {"order.total": "double", "tier": "keyword"}}"#), ("redact", r#"{"mode": "mask"}"#)];
        let promoted = promoted_fields(configs.into_iter()).unwrap();
        assert_eq!(promoted, [("order.total".to_owned(), FieldType::Double), ("tier".to_owned(), FieldType::Keyword)]);
        let error = promoted_fields([("extract", r#"{"promote": {"message": "keyword"}}"#)].into_iter()).unwrap_err();
        assert_eq!(error.to_string(), "transform extract: promote.message would replace a field the engine writes");
        let error = promoted_fields([("extract", r#"{"promote": {"x": "integer"}}"#)].into_iter()).unwrap_err();
        assert!(format!("{error:#}").contains("unknown field type \"integer\""), "{error:#}");
    }
}
