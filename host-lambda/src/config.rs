//! The Lambda's configuration: every environment variable, read once at start into one checked [`Config`].
//!
//! A bad value stops the start with an error that names the variable, so a misconfigured function
//! fails its first invocation loudly instead of shipping half of the data somewhere unexpected.

use std::path::PathBuf;
use std::time::Duration;

use crate::loader::{LAYER_PRECOMPILED_DIR, PipelineSource, S3Uri};
use sluicegate_engine::PipelineConfig;
use sluicegate_engine::archive::ArchiveStage;
use sluicegate_engine::bulk::BulkAction;
use sluicegate_engine::index::IndexTemplate;

/// The Lambda's configuration, apart from the Elasticsearch client's own (`SLUICEGATE_ES_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// What shapes the pipeline's output (index template, bulk action and size, archive stage and prefix, inflate cap).
    pub pipeline: PipelineConfig,
    /// The pipeline (transform chain), if any: a file or an `s3://` object.
    pub pipeline_source: Option<PipelineSource>,
    /// The compiled-module cache, an `s3://bucket/prefix` the function reads and writes.
    pub module_cache: Option<S3Uri>,
    /// A folder of sealed compiled modules (a layer's), read only.
    pub precompiled_dir: PathBuf,
    /// Where archive objects and dead letters go.
    pub s3: S3Config,
    /// Key prefix of dead-letter objects.
    pub dead_letter_prefix: String,
    /// Time kept back before the Lambda's deadline: nothing new starts past `deadline - margin`,
    /// so the function still answers with `batchItemFailures` before it is killed.
    pub deadline_margin: Duration,
    /// `tracing` filter directive for the logs.
    pub log_level: String,
}

/// The S3 side: archive objects and dead letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket for archive objects and dead letters.
    pub bucket: String,
    /// The KMS key for SSE-KMS; `None` uses the bucket's AWS-managed key.
    pub kms_key_id: Option<String>,
    /// An endpoint other than AWS's (moto in the tests); path-style addressing is used with it.
    pub endpoint: Option<String>,
    /// Attempts per object before its records are reported (each within the deadline).
    pub max_attempts: u32,
}

/// A variable that is missing or has a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{variable} is not set")]
    Missing {
        /// The variable's name.
        variable: &'static str,
    },
    /// A variable's value is unusable.
    #[error("{variable}={value:?}: {reason}")]
    Invalid {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Default margin before the Lambda's deadline.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(1_500);

impl Config {
    /// Reads the configuration through `get` (the process environment in `bootstrap`, a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        // An empty value counts as unset: Terraform writes "" for optional settings it leaves out.
        let get = |variable: &str| get(variable).filter(|value| !value.trim().is_empty());
        let defaults = PipelineConfig::default();
        let index_template = match get("SLUICEGATE_INDEX_TEMPLATE") {
            Some(text) => IndexTemplate::parse(&text).map_err(|error| invalid("SLUICEGATE_INDEX_TEMPLATE", &text, error))?,
            None => defaults.index_template.clone(),
        };
        let pipeline = PipelineConfig {
            index_template,
            bulk_action: parse_with("SLUICEGATE_BULK_ACTION", &get, |text| text.parse::<BulkAction>())?.unwrap_or(defaults.bulk_action),
            bulk_max_bytes: positive("SLUICEGATE_BULK_MAX_BYTES", &get)?.unwrap_or(defaults.bulk_max_bytes),
            archive_stage: parse_with("SLUICEGATE_ARCHIVE_STAGE", &get, |text| text.parse::<ArchiveStage>())?
                .unwrap_or(defaults.archive_stage),
            archive_prefix: get("SLUICEGATE_ARCHIVE_PREFIX").unwrap_or(defaults.archive_prefix),
            max_inflated_bytes: positive("SLUICEGATE_MAX_INFLATED_BYTES", &get)?.unwrap_or(defaults.max_inflated_bytes),
            max_batch_inflated_bytes: positive("SLUICEGATE_MAX_BATCH_INFLATED_BYTES", &get)?.unwrap_or(defaults.max_batch_inflated_bytes),
            transform_dead_letters: parse_with("SLUICEGATE_TRANSFORM_DEAD_LETTERS", &get, |text| {
                text.parse::<sluicegate_engine::DeadLetterContent>()
            })?
            .unwrap_or(defaults.transform_dead_letters),
            // Decided by the Elasticsearch configuration (`EsConfig::sends_ids`).
            document_ids: defaults.document_ids,
            second_cpu: defaults.second_cpu,
        };
        let pipeline_source = match get("SLUICEGATE_PIPELINE") {
            Some(text) => Some(PipelineSource::parse(text.trim()).map_err(|error| invalid("SLUICEGATE_PIPELINE", &text, error))?),
            None => None,
        };
        if let Some(PipelineSource::File(path)) = &pipeline_source
            && !path.is_file()
        {
            return Err(invalid("SLUICEGATE_PIPELINE", &path.display().to_string(), "no such file"));
        }
        let module_cache = match get("SLUICEGATE_MODULE_CACHE") {
            Some(text) => Some(S3Uri::parse_prefix(text.trim()).map_err(|error| invalid("SLUICEGATE_MODULE_CACHE", &text, error))?),
            None => None,
        };
        let precompiled_dir = get("SLUICEGATE_PRECOMPILED_DIR").map_or_else(|| PathBuf::from(LAYER_PRECOMPILED_DIR), PathBuf::from);
        let endpoint = get("SLUICEGATE_S3_ENDPOINT");
        if let Some(url) = &endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid("SLUICEGATE_S3_ENDPOINT", url, "expected an http:// or https:// url"));
        }
        let s3 = S3Config {
            bucket: get("SLUICEGATE_ARCHIVE_BUCKET").ok_or(ConfigError::Missing { variable: "SLUICEGATE_ARCHIVE_BUCKET" })?,
            kms_key_id: get("SLUICEGATE_ARCHIVE_KMS_KEY_ID"),
            endpoint,
            max_attempts: positive("SLUICEGATE_S3_MAX_ATTEMPTS", &get)?.map_or(4, |n: usize| n as u32),
        };
        let deadline_margin = match parse_with("SLUICEGATE_DEADLINE_MARGIN_MS", &get, |text| text.parse::<u64>())? {
            Some(ms) => Duration::from_millis(ms),
            None => DEFAULT_DEADLINE_MARGIN,
        };
        let log_level = get("SLUICEGATE_LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
        if let Err(error) = log_level.parse::<tracing_subscriber::EnvFilter>() {
            return Err(invalid("SLUICEGATE_LOG_LEVEL", &log_level, error));
        }
        let dead_letter_prefix = get("SLUICEGATE_DEAD_LETTER_PREFIX").unwrap_or_else(|| "dead-letter".to_owned());
        // Objects of one batch get the same key under each prefix, so equal prefixes would make
        // the dead letters and the archive overwrite each other (the raw archive of stage `both`
        // goes under `<archive prefix>-raw`).
        let archive_prefix = pipeline.archive_prefix.trim_matches('/');
        let raw_prefix = format!("{archive_prefix}-raw");
        if [archive_prefix, raw_prefix.as_str()].contains(&dead_letter_prefix.trim_matches('/')) {
            return Err(invalid(
                "SLUICEGATE_DEAD_LETTER_PREFIX",
                &dead_letter_prefix,
                format!(
                    "must differ from the archive's prefix {archive_prefix:?} (and {raw_prefix:?}): the objects would overwrite each other"
                ),
            ));
        }
        Ok(Config { pipeline, pipeline_source, module_cache, precompiled_dir, s3, dead_letter_prefix, deadline_margin, log_level })
    }
}

fn invalid(variable: &'static str, value: &str, reason: impl ToString) -> ConfigError {
    ConfigError::Invalid { variable, value: value.to_owned(), reason: reason.to_string() }
}

fn parse_with<T, E: ToString>(
    variable: &'static str,
    get: &impl Fn(&str) -> Option<String>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, ConfigError> {
    match get(variable) {
        Some(text) => parse(text.trim()).map(Some).map_err(|error| invalid(variable, &text, error)),
        None => Ok(None),
    }
}

fn positive(variable: &'static str, get: &impl Fn(&str) -> Option<String>) -> Result<Option<usize>, ConfigError> {
    let value = parse_with(variable, get, |text| text.parse::<usize>())?;
    if value == Some(0) {
        return Err(invalid(variable, "0", "must be greater than zero"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::Config;

    #[track_caller]
    fn check(env: &[(&str, &str)], expect: Expect) {
        let get = |name: &str| env.iter().find(|(key, _)| *key == name).map(|(_, value)| value.to_string());
        let rendered = match Config::from_env(get) {
            Ok(config) => format!(
                "ok bucket={} kms={:?} endpoint={:?} stage={:?} prefix={} dead_letter_prefix={} bulk_max_bytes={} action={:?} margin={:?} attempts={}",
                config.s3.bucket,
                config.s3.kms_key_id,
                config.s3.endpoint,
                config.pipeline.archive_stage,
                config.pipeline.archive_prefix,
                config.dead_letter_prefix,
                config.pipeline.bulk_max_bytes,
                config.pipeline.bulk_action,
                config.deadline_margin,
                config.s3.max_attempts,
            ),
            Err(error) => format!("error: {error}"),
        };
        expect.assert_eq(&rendered);
    }

    #[test]
    fn defaults_need_only_a_bucket() {
        check(
            &[("SLUICEGATE_ARCHIVE_BUCKET", "logs")],
            expect![[
                r#"ok bucket=logs kms=None endpoint=None stage=Documents prefix=archive dead_letter_prefix=dead-letter bulk_max_bytes=5242880 action=Index margin=1.5s attempts=4"#
            ]],
        );
        check(&[], expect![[r#"error: SLUICEGATE_ARCHIVE_BUCKET is not set"#]]);
        check(&[("SLUICEGATE_ARCHIVE_BUCKET", " ")], expect![[r#"error: SLUICEGATE_ARCHIVE_BUCKET is not set"#]]);
    }

    #[test]
    fn every_setting_is_read() {
        check(
            &[
                ("SLUICEGATE_ARCHIVE_BUCKET", "logs"),
                ("SLUICEGATE_ARCHIVE_KMS_KEY_ID", "alias/logs"),
                ("SLUICEGATE_S3_ENDPOINT", "http://127.0.0.1:5000"),
                ("SLUICEGATE_ARCHIVE_STAGE", "both"),
                ("SLUICEGATE_ARCHIVE_PREFIX", "a/b"),
                ("SLUICEGATE_DEAD_LETTER_PREFIX", "dl"),
                ("SLUICEGATE_BULK_MAX_BYTES", "1000"),
                ("SLUICEGATE_BULK_ACTION", "create"),
                ("SLUICEGATE_DEADLINE_MARGIN_MS", "250"),
                ("SLUICEGATE_S3_MAX_ATTEMPTS", "2"),
            ],
            expect![[
                r#"ok bucket=logs kms=Some("alias/logs") endpoint=Some("http://127.0.0.1:5000") stage=Both prefix=a/b dead_letter_prefix=dl bulk_max_bytes=1000 action=Create margin=250ms attempts=2"#
            ]],
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let bucket = ("SLUICEGATE_ARCHIVE_BUCKET", "logs");
        check(
            &[bucket, ("SLUICEGATE_ARCHIVE_STAGE", "all")],
            expect![[r#"error: SLUICEGATE_ARCHIVE_STAGE="all": unknown archive stage "all" (expected documents, raw, both or none)"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_BULK_MAX_BYTES", "5MB")],
            expect![[r#"error: SLUICEGATE_BULK_MAX_BYTES="5MB": invalid digit found in string"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_BULK_MAX_BYTES", "0")],
            expect![[r#"error: SLUICEGATE_BULK_MAX_BYTES="0": must be greater than zero"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_S3_ENDPOINT", "127.0.0.1:5000")],
            expect![[r#"error: SLUICEGATE_S3_ENDPOINT="127.0.0.1:5000": expected an http:// or https:// url"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_PIPELINE", "/nonexistent/pipeline.json")],
            expect![[r#"error: SLUICEGATE_PIPELINE="/nonexistent/pipeline.json": no such file"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_PIPELINE", "https://example.com/pipeline.json")],
            expect![[
                r#"error: SLUICEGATE_PIPELINE="https://example.com/pipeline.json": "https://example.com/pipeline.json" is not an s3:// URI (a path has no scheme)"#
            ]],
        );
        check(
            &[bucket, ("SLUICEGATE_MODULE_CACHE", "s3://NO/compiled")],
            expect![[r#"error: SLUICEGATE_MODULE_CACHE="s3://NO/compiled": "s3://NO/compiled": "NO" is not an S3 bucket name"#]],
        );
        check(
            &[bucket, ("SLUICEGATE_INDEX_TEMPLATE", "cwl-{nope}")],
            expect![[
                r#"error: SLUICEGATE_INDEX_TEMPLATE="cwl-{nope}": unknown placeholder {nope} in index template "cwl-{nope}" (known: yyyy, MM, dd, HH, log_group)"#
            ]],
        );
        check(
            &[bucket, ("SLUICEGATE_ARCHIVE_PREFIX", "logs/"), ("SLUICEGATE_DEAD_LETTER_PREFIX", "logs")],
            expect![[
                r#"error: SLUICEGATE_DEAD_LETTER_PREFIX="logs": must differ from the archive's prefix "logs" (and "logs-raw"): the objects would overwrite each other"#
            ]],
        );
        check(
            &[bucket, ("SLUICEGATE_DEADLINE_MARGIN_MS", "-1")],
            expect![[r#"error: SLUICEGATE_DEADLINE_MARGIN_MS="-1": invalid digit found in string"#]],
        );
    }
}
