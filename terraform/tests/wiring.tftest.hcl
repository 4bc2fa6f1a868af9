# Wiring of the module against a mocked AWS provider: nothing here talks to AWS. Runs apply
# with mocks so that computed attributes (ARNs, names) have values to compare.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
      arn        = "arn:aws:iam::123456789012:user/terraform"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{}"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    }
  }

  mock_resource "aws_kinesis_stream" {
    defaults = {
      arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/logs"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::logs-archive-123456789012-eu-west-1"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/logs-lambda"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/logs"
    }
  }

  mock_resource "aws_opensearch_domain" {
    defaults = {
      arn      = "arn:aws:es:eu-west-1:123456789012:domain/logs"
      endpoint = "search-logs-abc123.eu-west-1.es.amazonaws.com"
    }
  }

  mock_resource "aws_lambda_layer_version" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:layer:logs-transforms:1"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn = "arn:aws:lambda:eu-west-1:123456789012:function:logs"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:logs-failures"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = {
      arn = "arn:aws:sns:eu-west-1:123456789012:logs-failures"
    }
  }
}

variables {
  name                   = "logs"
  lambda_zip_path        = "tests/fixtures/function.zip"
  domain_master_user_arn = "arn:aws:iam::123456789012:role/search-admin"
}

run "defaults" {
  command = apply

  # Another ARN than the Lambda role's (the mock gives every role the same one), so that the
  # statements naming the Lambda role are told apart from any role.
  override_resource {
    target = aws_iam_role.logs
    values = {
      arn = "arn:aws:iam::123456789012:role/logs-cloudwatch-logs"
    }
  }

  variables {
    log_groups = {
      "/aws/lambda/checkout" = {}
      "/ecs/api"             = { filter_pattern = "{ $.level = \"error\" }", distribution = "ByLogStream" }
    }
  }

  # KMS key created, with rotation, and used everywhere.
  assert {
    condition     = length(aws_kms_key.this) == 1 && aws_kms_key.this[0].enable_key_rotation
    error_message = "a rotating KMS key must be created when none is given"
  }

  assert {
    condition = alltrue([
      aws_kinesis_stream.this.kms_key_id == aws_kms_key.this[0].arn,
      aws_lambda_function.this.kms_key_arn == aws_kms_key.this[0].arn,
      aws_cloudwatch_log_group.lambda.kms_key_id == aws_kms_key.this[0].arn,
      one(aws_opensearch_domain.this[0].encrypt_at_rest).kms_key_id == aws_kms_key.this[0].arn,
      one(one(aws_s3_bucket_server_side_encryption_configuration.archive.rule).apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.this[0].arn,
    ])
    error_message = "the module's key must encrypt the stream, the Lambda environment and logs, the domain and the archive"
  }

  # Stream: on-demand, KMS-encrypted.
  assert {
    condition     = aws_kinesis_stream.this.encryption_type == "KMS" && one(aws_kinesis_stream.this.stream_mode_details).stream_mode == "ON_DEMAND" && aws_kinesis_stream.this.shard_count == null
    error_message = "the stream must be on-demand and KMS-encrypted by default"
  }

  # Subscriptions: one per log group, into the stream, with the logs role.
  assert {
    condition     = length(aws_cloudwatch_log_subscription_filter.this) == 2 && aws_cloudwatch_log_subscription_filter.this["/ecs/api"].filter_pattern == "{ $.level = \"error\" }" && aws_cloudwatch_log_subscription_filter.this["/aws/lambda/checkout"].filter_pattern == ""
    error_message = "every log group must get a subscription filter with its pattern"
  }

  assert {
    condition     = aws_cloudwatch_log_subscription_filter.this["/ecs/api"].distribution == "ByLogStream" && aws_cloudwatch_log_subscription_filter.this["/aws/lambda/checkout"].distribution == "Random"
    error_message = "distribution must default to Random and follow the variable"
  }

  assert {
    condition     = alltrue([for filter in aws_cloudwatch_log_subscription_filter.this : filter.destination_arn == aws_kinesis_stream.this.arn && filter.role_arn == aws_iam_role.logs.arn])
    error_message = "subscription filters must point at the stream with the logs role"
  }

  assert {
    condition     = one(data.aws_iam_policy_document.logs_assume.statement).principals != null && contains(flatten([for principal in one(data.aws_iam_policy_document.logs_assume.statement).principals : principal.identifiers]), "logs.amazonaws.com")
    error_message = "the logs role must trust the CloudWatch Logs service"
  }

  assert {
    condition     = contains([for condition in one(data.aws_iam_policy_document.logs_assume.statement).condition : condition.variable], "aws:SourceArn")
    error_message = "the logs role trust must carry a source condition"
  }

  assert {
    condition     = length(aws_cloudwatch_log_account_policy.subscription) == 0
    error_message = "no account subscription policy unless asked for"
  }

  # Lambda.
  assert {
    condition = alltrue([
      aws_lambda_function.this.runtime == "provided.al2023",
      aws_lambda_function.this.handler == "bootstrap",
      aws_lambda_function.this.architectures == tolist(["arm64"]),
      aws_lambda_function.this.reserved_concurrent_executions == 10,
      one(aws_lambda_function.this.tracing_config).mode == "Active",
      one(aws_lambda_function.this.logging_config).log_format == "JSON",
      one(aws_lambda_function.this.logging_config).log_group == "/aws/lambda/logs",
      length(aws_lambda_function.this.vpc_config) == 0,
    ])
    error_message = "the Lambda must be provided.al2023, arm64, bootstrap, traced, JSON-logging to its own group, with reserved concurrency"
  }

  assert {
    condition     = length(aws_lambda_layer_version.transforms) == 0 && length(aws_lambda_function.this.layers) == 0 && output.layer_version_arn == null
    error_message = "no layer must be made or attached without layer_zip_path"
  }

  assert {
    condition     = aws_cloudwatch_log_group.lambda.retention_in_days == 365
    error_message = "the Lambda log group must keep logs for log_retention_days"
  }

  # The environment contract the Lambda reads.
  assert {
    condition = one(aws_lambda_function.this.environment).variables == tomap({
      SLUICEGATE_ES_URL             = "https://search-logs-abc123.eu-west-1.es.amazonaws.com"
      SLUICEGATE_ES_AUTH            = "sigv4-es"
      SLUICEGATE_ES_REGION          = "eu-west-1"
      SLUICEGATE_INDEX_TEMPLATE     = "cwl-{yyyy}.{MM}.{dd}"
      SLUICEGATE_BULK_ACTION        = "index"
      SLUICEGATE_BULK_MAX_BYTES     = "5242880"
      SLUICEGATE_ARCHIVE_BUCKET     = "logs-archive-123456789012-eu-west-1"
      SLUICEGATE_ARCHIVE_PREFIX     = "archive"
      SLUICEGATE_ARCHIVE_STAGE      = "documents"
      SLUICEGATE_ARCHIVE_KMS_KEY_ID = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      SLUICEGATE_DEAD_LETTER_PREFIX = "dead-letter"
      SLUICEGATE_PIPELINE           = "s3://logs-archive-123456789012-eu-west-1/sluicegate/pipelines/${sha256(output.pipeline_json)}.json"
      SLUICEGATE_MODULE_CACHE       = "s3://logs-archive-123456789012-eu-west-1/sluicegate/compiled"
      SLUICEGATE_LOG_LEVEL          = "info"
    })
    error_message = "the Lambda environment must follow the SLUICEGATE_* contract"
  }

  # An empty chain is still a pipeline, uploaded like any other.
  assert {
    condition     = output.pipeline_json == jsonencode({ transforms = [], index_template = "cwl-{yyyy}.{MM}.{dd}", archive_stage = "documents" })
    error_message = "an empty transform chain must still produce a pipeline document"
  }

  assert {
    condition = alltrue([
      length(aws_s3_object.module) == 0,
      aws_s3_object.pipeline.bucket == "logs-archive-123456789012-eu-west-1",
      aws_s3_object.pipeline.content == output.pipeline_json,
      output.pipeline_uri == one(aws_lambda_function.this.environment).variables["SLUICEGATE_PIPELINE"],
      output.module_cache_uri == one(aws_lambda_function.this.environment).variables["SLUICEGATE_MODULE_CACHE"],
    ])
    error_message = "the pipeline must be uploaded to the archive bucket and named by the output and the environment"
  }

  # The function reads what it runs and writes only its compiled-module cache.
  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.lambda.statement : alltrue([
        toset(statement.actions) == toset(["s3:GetObject"]),
        toset(statement.resources) == toset([
          "arn:aws:s3:::logs-archive-123456789012-eu-west-1/sluicegate/modules/*",
          "arn:aws:s3:::logs-archive-123456789012-eu-west-1/sluicegate/pipelines/*",
          "arn:aws:s3:::logs-archive-123456789012-eu-west-1/sluicegate/compiled/*",
        ]),
        length(statement.condition) == 0,
      ]) if statement.sid == "ReadPipelineAndModules"
    ]) && contains([for statement in data.aws_iam_policy_document.lambda.statement : statement.sid], "ReadPipelineAndModules")
    error_message = "the Lambda role must read the modules, the pipelines and the compiled-module cache"
  }

  assert {
    condition = toset(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.resources if contains(statement.actions, "s3:PutObject")])) == toset([
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/archive/*",
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/dead-letter/*",
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/sluicegate/compiled/*",
      # The event source mapping's failure records (failure_destination_type s3).
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1",
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/aws/lambda/*",
    ])
    error_message = "of the artifacts, the Lambda role may write the compiled-module cache only"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.actions if statement.sid == "EncryptArchive"]), "kms:Decrypt")
    error_message = "reading SSE-KMS objects needs kms:Decrypt through S3"
  }

  # Only the function's role may put compiled modules, which the Lambda runs as native code.
  assert {
    condition = alltrue([
      for statement in data.aws_iam_policy_document.archive.statement : alltrue([
        statement.effect == "Deny",
        toset(statement.actions) == toset(["s3:PutObject"]),
        toset(statement.resources) == toset(["arn:aws:s3:::logs-archive-123456789012-eu-west-1/sluicegate/compiled/*"]),
        [for principal in statement.principals : [principal.type, toset(principal.identifiers)]] == [["*", toset(["*"])]],
        [for condition in statement.condition : [condition.test, condition.variable, toset(condition.values)]] == [["ArnNotEquals", "aws:PrincipalArn", toset([aws_iam_role.lambda.arn])]],
      ]) if statement.sid == "OnlyTheFunctionWritesCompiledModules"
    ]) && contains([for statement in data.aws_iam_policy_document.archive.statement : statement.sid], "OnlyTheFunctionWritesCompiledModules")
    error_message = "the bucket policy must deny compiled-module writes to every principal but the Lambda role"
  }

  assert {
    condition     = length(data.aws_iam_policy_document.archive.statement) == 3
    error_message = "the compiled-module statement must join the bucket's TLS statements in one policy"
  }

  # Event source mapping.
  assert {
    condition = alltrue([
      aws_lambda_event_source_mapping.this.event_source_arn == aws_kinesis_stream.this.arn,
      aws_lambda_event_source_mapping.this.function_response_types == toset(["ReportBatchItemFailures"]),
      aws_lambda_event_source_mapping.this.bisect_batch_on_function_error,
      aws_lambda_event_source_mapping.this.maximum_retry_attempts == 10,
      aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == 82800,
      aws_lambda_event_source_mapping.this.batch_size == 100,
      aws_lambda_event_source_mapping.this.maximum_batching_window_in_seconds == 1,
      aws_lambda_event_source_mapping.this.parallelization_factor == 1,
      aws_lambda_event_source_mapping.this.starting_position == "TRIM_HORIZON",
    ])
    error_message = "the event source mapping must read the stream with item failures, bisection and bounded retries"
  }

  assert {
    condition     = one(one(aws_lambda_event_source_mapping.this.destination_config).on_failure).destination_arn == aws_s3_bucket.archive.arn && length(aws_sqs_queue.failure) == 0 && length(aws_sns_topic.failure) == 0
    error_message = "the failure destination must default to the archive bucket"
  }

  # Domain.
  assert {
    condition = alltrue([
      one(aws_opensearch_domain.this[0].node_to_node_encryption).enabled,
      one(aws_opensearch_domain.this[0].domain_endpoint_options).enforce_https,
      one(aws_opensearch_domain.this[0].domain_endpoint_options).tls_security_policy == "Policy-Min-TLS-1-2-PFS-2023-10",
      one(aws_opensearch_domain.this[0].advanced_security_options).enabled,
      one(aws_opensearch_domain.this[0].cluster_config).zone_awareness_enabled,
      one(aws_opensearch_domain.this[0].cluster_config).dedicated_master_enabled,
      one(aws_opensearch_domain.this[0].cluster_config).dedicated_master_count == 3,
      length(aws_opensearch_domain.this[0].log_publishing_options) == 4,
      length(aws_opensearch_domain.this[0].vpc_options) == 0,
    ])
    error_message = "the domain must be encrypted, HTTPS-only, fine-grained, zone aware, with masters and published logs"
  }

  assert {
    condition     = flatten([for statement in data.aws_iam_policy_document.domain_access[0].statement : [for principal in statement.principals : principal.identifiers]]) == [aws_iam_role.lambda.arn]
    error_message = "the domain access policy must admit the Lambda role only"
  }

  # Archive bucket.
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.archive.block_public_acls,
      aws_s3_bucket_public_access_block.archive.block_public_policy,
      aws_s3_bucket_public_access_block.archive.ignore_public_acls,
      aws_s3_bucket_public_access_block.archive.restrict_public_buckets,
      one(aws_s3_bucket_ownership_controls.archive.rule).object_ownership == "BucketOwnerEnforced",
      one(aws_s3_bucket_server_side_encryption_configuration.archive.rule).bucket_key_enabled,
      one(aws_s3_bucket_versioning.archive.versioning_configuration).status == "Enabled",
      length(aws_s3_bucket_lifecycle_configuration.archive.rule) == 5,
      length(aws_s3_bucket_object_lock_configuration.archive) == 0,
      !aws_s3_bucket.archive.object_lock_enabled,
    ])
    error_message = "the archive bucket must be private, owner-enforced, SSE-KMS with bucket key, versioned, with lifecycle"
  }

  assert {
    condition     = aws_s3_bucket.archive.bucket == "logs-archive-123456789012-eu-west-1"
    error_message = "the archive bucket name must be derived from name, account and region"
  }

  # Dead letters hold events before redaction: they expire; the archive rule keeps its own terms.
  assert {
    condition = [
      for rule in aws_s3_bucket_lifecycle_configuration.archive.rule : [one(rule.filter).prefix, [for expiration in rule.expiration : expiration.days]] if rule.id == "dead-letters"
    ] == [["dead-letter/", [30]]]
    error_message = "dead letters must expire after dead_letter_expiration_days under their own prefix"
  }

  assert {
    condition = [
      for rule in aws_s3_bucket_lifecycle_configuration.archive.rule : [one(rule.filter).prefix, length(rule.expiration), [for transition in rule.transition : [transition.days, transition.storage_class]]] if rule.id == "archive"
    ] == [["archive/", 0, [[30, "STANDARD_IA"]]]]
    error_message = "the archive's own rule must transition archive objects and keep them by default"
  }

  assert {
    condition = [
      for rule in aws_s3_bucket_lifecycle_configuration.archive.rule : [length(rule.filter), [for upload in rule.abort_incomplete_multipart_upload : upload.days_after_initiation]] if rule.id == "abort-incomplete-uploads"
    ] == [[1, [7]]]
    error_message = "incomplete uploads must be aborted under every key"
  }

  # Least privilege: no action wildcards in grants.
  assert {
    condition = alltrue(flatten([
      for document in [data.aws_iam_policy_document.lambda, data.aws_iam_policy_document.logs, data.aws_iam_policy_document.domain_access[0]] : [
        for statement in document.statement : [for action in statement.actions : !strcontains(action, "*")]
      ]
    ]))
    error_message = "role policies must not grant wildcard actions"
  }

  assert {
    condition     = !contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.sid]), "ManageVpcInterfaces")
    error_message = "VPC permissions must only be granted in a VPC"
  }

  assert {
    condition     = length(aws_iam_service_linked_role.opensearch) == 0
    error_message = "the OpenSearch service-linked role is only for a domain in a VPC"
  }

  # The one step after apply, for this deployment: the domain, its auth and region, the
  # uploaded pipeline, the retention and the role to map.
  assert {
    condition     = output.setup_command == "AWS_REGION=eu-west-1 SLUICEGATE_ES_REGION=eu-west-1 sluicegate setup --es-url https://search-logs-abc123.eu-west-1.es.amazonaws.com --es-auth sigv4-es --pipeline ${output.pipeline_uri} --retention-days 30 --lambda-role-arn ${aws_iam_role.lambda.arn}"
    error_message = "setup_command must name the domain URL, sigv4-es, the pipeline URI, the retention and the Lambda role"
  }

  # Alarms.
  assert {
    condition = alltrue([
      length(aws_cloudwatch_metric_alarm.iterator_age) == 1,
      length(aws_cloudwatch_metric_alarm.lambda_errors) == 1,
      length(aws_cloudwatch_metric_alarm.lambda_throttles) == 1,
      length(aws_cloudwatch_metric_alarm.subscription_delivery_errors) == 2,
      length(aws_cloudwatch_metric_alarm.failure_destination_deliveries) == 1,
      length(aws_cloudwatch_metric_alarm.failure_destination_depth) == 0,
      length(aws_cloudwatch_metric_alarm.domain_red) == 1,
      length(aws_cloudwatch_metric_alarm.domain_write_blocked) == 1,
      length(aws_cloudwatch_metric_alarm.domain_free_storage) == 1,
      length(aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure) == 1,
      length(aws_cloudwatch_metric_alarm.bulk_undelivered) == 1,
      length(aws_cloudwatch_metric_alarm.dead_lettered) == 1,
      length(aws_cloudwatch_metric_alarm.s3_puts_failed) == 1,
      aws_cloudwatch_metric_alarm.domain_red[0].dimensions == tomap({ DomainName = "logs", ClientId = "123456789012" }),
    ])
    error_message = "the default alarms must all exist"
  }

  # The created domain's storage (25% of 100 GiB, in MiB) and heap.
  assert {
    condition = alltrue([
      for alarm in [aws_cloudwatch_metric_alarm.domain_free_storage[0], aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0]] :
      alarm.namespace == "AWS/ES" && alarm.dimensions == tomap({ DomainName = "logs", ClientId = "123456789012" })
    ])
    error_message = "the domain's storage and memory alarms must watch the created domain"
  }

  assert {
    condition = alltrue([
      aws_cloudwatch_metric_alarm.domain_free_storage[0].metric_name == "FreeStorageSpace",
      aws_cloudwatch_metric_alarm.domain_free_storage[0].statistic == "Minimum",
      aws_cloudwatch_metric_alarm.domain_free_storage[0].comparison_operator == "LessThanOrEqualToThreshold",
      aws_cloudwatch_metric_alarm.domain_free_storage[0].threshold == 25600,
      aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0].metric_name == "JVMMemoryPressure",
      aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0].statistic == "Maximum",
      aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0].threshold == 95,
    ])
    error_message = "free storage must alarm below a quarter of the volume, JVM memory pressure at 95%"
  }

  # The function's own counts, from its embedded-metric-format lines.
  assert {
    condition = {
      for alarm in [aws_cloudwatch_metric_alarm.bulk_undelivered[0], aws_cloudwatch_metric_alarm.dead_lettered[0], aws_cloudwatch_metric_alarm.s3_puts_failed[0]] :
      alarm.metric_name => [alarm.namespace, alarm.dimensions, alarm.statistic, alarm.comparison_operator, alarm.threshold]
      } == {
      BulkItemsUndelivered = ["Sluicegate", tomap({ FunctionName = "logs" }), "Sum", "GreaterThanThreshold", 0]
      DeadLettered         = ["Sluicegate", tomap({ FunctionName = "logs" }), "Sum", "GreaterThanThreshold", 0]
      S3PutsFailed         = ["Sluicegate", tomap({ FunctionName = "logs" }), "Sum", "GreaterThanThreshold", 0]
    }
    error_message = "the function's undelivered, dead-lettered and failed-put counts must be alarmed by function name"
  }

  assert {
    condition     = length(output.alarm_arns) == 14
    error_message = "every alarm must appear in the alarm_arns output"
  }
}

run "provisioned_stream" {
  command = apply

  variables {
    stream_mode        = "PROVISIONED"
    stream_shard_count = 4
  }

  assert {
    condition     = aws_kinesis_stream.this.shard_count == 4 && one(aws_kinesis_stream.this.stream_mode_details).stream_mode == "PROVISIONED"
    error_message = "a provisioned stream must get its shard count"
  }
}

# The modules come from `cargo xtask ci`, which writes them to target/terraform/fixtures/ before
# `terraform test` (no .wasm is committed): empty.wasm has the SHA-256 93a44bbb...9476 and
# custom-section.wasm 76b54c92...d6d7.
run "transforms_make_the_pipeline" {
  command = apply

  variables {
    transforms = [
      # Configurations the real transforms accept: both refuse unknown keys (deny_unknown_fields).
      { name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = jsonencode({ detectors = ["email", "aws_access_key"], fields = "all" }) },
      {
        name        = "filter"
        wasm_path   = "../target/terraform/fixtures/custom-section.wasm"
        config_json = jsonencode({ drop = [{ field = "log.level", in = ["DEBUG", "TRACE"] }], sample = { rate = 0.5, field = "trace_id" } })
        on_error    = "pass"
      },
    ]
  }

  # Exactly the document the Lambda accepts (it refuses unknown keys): no limits unless set.
  assert {
    condition = jsondecode(output.pipeline_json) == {
      transforms = [
        {
          name     = "redact"
          module   = "s3://logs-archive-123456789012-eu-west-1/sluicegate/modules/93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476.wasm"
          sha256   = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
          config   = { detectors = ["email", "aws_access_key"], fields = "all" }
          on_error = "dead-letter"
        },
        {
          name     = "filter"
          module   = "s3://logs-archive-123456789012-eu-west-1/sluicegate/modules/76b54c92ad4dfa455958ee8b52624104db89ac16996be1aebaf8d85e4ddad6d7.wasm"
          sha256   = "76b54c92ad4dfa455958ee8b52624104db89ac16996be1aebaf8d85e4ddad6d7"
          config   = { drop = [{ field = "log.level", in = ["DEBUG", "TRACE"] }], sample = { rate = 0.5, field = "trace_id" } }
          on_error = "pass"
        },
      ]
      index_template = "cwl-{yyyy}.{MM}.{dd}"
      archive_stage  = "documents"
    }
    error_message = "the pipeline must list the transforms in order with their module URI, SHA-256, config and on_error, then the index template and archive stage"
  }

  # Each module uploaded from its wasm_path under its SHA-256, KMS-encrypted with the module's key.
  assert {
    condition = {
      for sha256, module in aws_s3_object.module : sha256 => [module.bucket, module.key, module.source, module.server_side_encryption, module.kms_key_id]
      } == {
      "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476" = ["logs-archive-123456789012-eu-west-1", "sluicegate/modules/93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476.wasm", "../target/terraform/fixtures/empty.wasm", "aws:kms", aws_kms_key.this[0].arn]
      "76b54c92ad4dfa455958ee8b52624104db89ac16996be1aebaf8d85e4ddad6d7" = ["logs-archive-123456789012-eu-west-1", "sluicegate/modules/76b54c92ad4dfa455958ee8b52624104db89ac16996be1aebaf8d85e4ddad6d7.wasm", "../target/terraform/fixtures/custom-section.wasm", "aws:kms", aws_kms_key.this[0].arn]
    }
    error_message = "every module must be uploaded from its wasm_path to modules/<sha256>.wasm with SSE-KMS"
  }

  # The pipeline under the SHA-256 of its own text, and the function pointed at it.
  assert {
    condition = alltrue([
      aws_s3_object.pipeline.key == "sluicegate/pipelines/${sha256(output.pipeline_json)}.json",
      aws_s3_object.pipeline.content == output.pipeline_json,
      aws_s3_object.pipeline.server_side_encryption == "aws:kms" && aws_s3_object.pipeline.kms_key_id == aws_kms_key.this[0].arn,
      output.pipeline_uri == "s3://logs-archive-123456789012-eu-west-1/sluicegate/pipelines/${sha256(output.pipeline_json)}.json",
      one(aws_lambda_function.this.environment).variables["SLUICEGATE_PIPELINE"] == output.pipeline_uri,
    ])
    error_message = "the pipeline must be uploaded under pipelines/<sha256 of its text>.json, SSE-KMS, and named by SLUICEGATE_PIPELINE"
  }
}

# Another config for one transform is another pipeline object, so the function changes with it.
run "config_change_moves_the_pipeline" {
  command = apply

  variables {
    transforms = [
      { name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = jsonencode({ detectors = ["email"], fields = "all" }) },
      {
        name        = "filter"
        wasm_path   = "../target/terraform/fixtures/custom-section.wasm"
        config_json = jsonencode({ drop = [{ field = "log.level", in = ["DEBUG", "TRACE"] }], sample = { rate = 0.5, field = "trace_id" } })
        on_error    = "pass"
      },
    ]
  }

  assert {
    condition     = output.pipeline_uri != run.transforms_make_the_pipeline.pipeline_uri && one(aws_lambda_function.this.environment).variables["SLUICEGATE_PIPELINE"] == output.pipeline_uri
    error_message = "a changed config_json must change the pipeline key and the function's SLUICEGATE_PIPELINE"
  }

  assert {
    condition     = keys(aws_s3_object.module) == ["76b54c92ad4dfa455958ee8b52624104db89ac16996be1aebaf8d85e4ddad6d7", "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"]
    error_message = "unchanged modules must keep their objects"
  }
}

# Left null, the index pattern and the dead letters' content are the Lambda's defaults (any valid
# index; metadata only), and the pipeline does not name them.
run "pipeline_options_default_to_the_lambdas" {
  command = plan

  assert {
    condition     = !contains(keys(jsondecode(output.pipeline_json)), "allowed_indices") && !contains(keys(jsondecode(output.pipeline_json)), "transform_dead_letters")
    error_message = "unset pipeline options must be left to the Lambda's defaults"
  }
}

# Two transforms on one .wasm (another config each) share one object.
run "shared_module_is_uploaded_once" {
  command = apply

  variables {
    transforms = [
      { name = "mask_email", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = jsonencode({ detectors = ["email"] }) },
      { name = "mask_keys", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = jsonencode({ detectors = ["aws_access_key"] }) },
    ]
  }

  assert {
    condition     = keys(aws_s3_object.module) == ["93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"] && [for transform in jsondecode(output.pipeline_json).transforms : transform.module] == ["s3://logs-archive-123456789012-eu-west-1/${aws_s3_object.module["93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"].key}", "s3://logs-archive-123456789012-eu-west-1/${aws_s3_object.module["93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"].key}"]
    error_message = "a module used by two transforms must be uploaded once and named by both"
  }
}

run "limits_and_prefix" {
  command = apply

  variables {
    transforms             = [{ name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm" }]
    transform_limits       = { call_timeout_ms = 250, memory_mb = 64, chain_memory_mb = 96 }
    allowed_indices        = "cwl-*"
    transform_dead_letters = "event"
    artifacts_prefix       = "deploy/sluicegate"
  }

  # Only the limits that are set: the Lambda keeps its defaults for the rest.
  assert {
    condition     = jsondecode(output.pipeline_json).limits == { call_timeout_ms = 250, memory_mb = 64, chain_memory_mb = 96 }
    error_message = "the pipeline must carry the limits that are set, and only those"
  }

  assert {
    condition     = jsondecode(output.pipeline_json).allowed_indices == "cwl-*" && jsondecode(output.pipeline_json).transform_dead_letters == "event"
    error_message = "allowed_indices and transform_dead_letters must reach the pipeline"
  }

  assert {
    condition = alltrue([
      aws_s3_object.pipeline.key == "deploy/sluicegate/pipelines/${sha256(output.pipeline_json)}.json",
      aws_s3_object.module["93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"].key == "deploy/sluicegate/modules/93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476.wasm",
      one(aws_lambda_function.this.environment).variables["SLUICEGATE_MODULE_CACHE"] == "s3://logs-archive-123456789012-eu-west-1/deploy/sluicegate/compiled",
      contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.resources if statement.sid == "WriteModuleCache"]), "arn:aws:s3:::logs-archive-123456789012-eu-west-1/deploy/sluicegate/compiled/*"),
    ])
    error_message = "artifacts_prefix must place the modules, the pipeline and the compiled-module cache"
  }
}

# Every placeholder the Lambda knows must pass the index template validations.
run "index_template_placeholders" {
  command = plan

  variables {
    index_template = "logs-{log_group}-{yyyy}.{MM}.{dd}.{HH}"
  }

  assert {
    condition     = jsondecode(output.pipeline_json).index_template == "logs-{log_group}-{yyyy}.{MM}.{dd}.{HH}"
    error_message = "an index template with every placeholder must be accepted and reach the pipeline"
  }
}

# A layer of precompiled modules is an option: attached when given, built for the architecture.
run "precompiled_layer" {
  command = apply

  variables {
    layer_zip_path = "tests/fixtures/layer.zip"
    architecture   = "x86_64"
  }

  assert {
    condition     = aws_lambda_function.this.layers == tolist([aws_lambda_layer_version.transforms[0].arn]) && aws_lambda_layer_version.transforms[0].compatible_architectures == toset(["x86_64"]) && output.layer_version_arn == aws_lambda_layer_version.transforms[0].arn
    error_message = "a given layer must be attached to the Lambda, built for its architecture"
  }
}

# Regression guard: subscribing the Lambda's own log group makes it ship its own logs forever.
run "loop_guard_refuses_own_log_group" {
  command = plan

  variables {
    log_groups = { "/aws/lambda/logs" = {} }
  }

  expect_failures = [aws_cloudwatch_log_subscription_filter.this]
}

run "loop_guard_refuses_domain_log_group" {
  command = plan

  variables {
    log_groups = { "/aws/opensearch/logs/es_application_logs" = {} }
  }

  expect_failures = [aws_cloudwatch_log_subscription_filter.this]
}

run "account_subscription_excludes_own_log_groups" {
  command = apply

  variables {
    log_groups = { "/ecs/api" = { filter_pattern = "ERROR" } }
    account_subscription = {
      filter_pattern      = "-DEBUG"
      excluded_log_groups = ["/aws/lambda/noisy", "/ecs/api"]
    }
  }

  assert {
    condition     = aws_cloudwatch_log_account_policy.subscription[0].policy_type == "SUBSCRIPTION_FILTER_POLICY"
    error_message = "the account policy must be a subscription filter policy"
  }

  assert {
    condition     = strcontains(aws_cloudwatch_log_account_policy.subscription[0].selection_criteria, "\"/aws/lambda/logs\"") && strcontains(aws_cloudwatch_log_account_policy.subscription[0].selection_criteria, "\"/aws/lambda/noisy\"") && startswith(aws_cloudwatch_log_account_policy.subscription[0].selection_criteria, "LogGroupName NOT IN [")
    error_message = "the account policy must exclude the Lambda's own log group and the user's exclusions"
  }

  # Regression guard: a log group both subscribed and in the policy's scope gets every event
  # twice, and those its own filter pattern leaves out once. Named once, even when also listed.
  assert {
    condition     = jsondecode(trimprefix(aws_cloudwatch_log_account_policy.subscription[0].selection_criteria, "LogGroupName NOT IN ")) == ["/aws/lambda/logs", "/aws/opensearch/logs/index_slow_logs", "/aws/opensearch/logs/search_slow_logs", "/aws/opensearch/logs/es_application_logs", "/aws/opensearch/logs/audit_logs", "/ecs/api", "/aws/lambda/noisy"]
    error_message = "the account policy must exclude the explicitly subscribed log groups, each name once"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_log_account_policy.subscription[0].policy_document).DestinationArn == aws_kinesis_stream.this.arn && jsondecode(aws_cloudwatch_log_account_policy.subscription[0].policy_document).FilterPattern == "-DEBUG"
    error_message = "the account policy must send to the stream with the filter pattern"
  }
}

run "existing_domain" {
  command = apply

  variables {
    create_domain            = false
    domain_master_user_arn   = null
    existing_domain_endpoint = "https://search-shared-xyz.us-east-2.es.amazonaws.com/"
    existing_domain_arn      = "arn:aws:es:us-east-2:210987654321:domain/shared"
  }

  # Regression: a domain in another region than the Lambda was signed for the Lambda's region.
  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_REGION"] == "us-east-2"
    error_message = "SigV4 must sign for the given domain's region"
  }

  assert {
    condition     = length(aws_opensearch_domain.this) == 0 && length(aws_opensearch_domain_policy.this) == 0 && length(aws_cloudwatch_log_group.domain) == 0
    error_message = "no domain must be created when an existing one is given"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_URL"] == "https://search-shared-xyz.us-east-2.es.amazonaws.com" && one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_AUTH"] == "sigv4-es"
    error_message = "the Lambda must ship to the given endpoint with SigV4 for es"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.resources if statement.sid == "ShipToDomain"]), "arn:aws:es:us-east-2:210987654321:domain/shared/*")
    error_message = "the Lambda's write permission must be scoped to the given domain"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.domain_red[0].dimensions == tomap({ DomainName = "shared", ClientId = "210987654321" })
    error_message = "domain alarms must watch the given domain"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.domain_free_storage) == 0 && length(aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure) == 0
    error_message = "storage and memory alarms need the created domain's volume size"
  }

  # The pipeline is in the module's region, the domain signs for its own.
  assert {
    condition     = output.setup_command == "AWS_REGION=eu-west-1 SLUICEGATE_ES_REGION=us-east-2 sluicegate setup --es-url https://search-shared-xyz.us-east-2.es.amazonaws.com --es-auth sigv4-es --pipeline ${output.pipeline_uri} --retention-days 30 --lambda-role-arn ${aws_iam_role.lambda.arn}"
    error_message = "setup_command must read the pipeline in the module's region and sign for the given domain's"
  }
}

run "existing_serverless_collection" {
  command = apply

  variables {
    create_domain            = false
    domain_master_user_arn   = null
    existing_domain_endpoint = "abc123.eu-west-1.aoss.amazonaws.com"
    existing_domain_arn      = "arn:aws:aoss:eu-west-1:123456789012:collection/abc123"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_AUTH"] == "sigv4-aoss" && one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_URL"] == "https://abc123.eu-west-1.aoss.amazonaws.com"
    error_message = "a collection must be signed for aoss"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.domain_red) == 0 && length(aws_cloudwatch_metric_alarm.domain_write_blocked) == 0
    error_message = "a collection has no cluster health alarms"
  }

  # The Lambda refuses sigv4-aoss without the collection's type.
  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_COLLECTION_TYPE"] == "timeseries"
    error_message = "a collection must be typed, time series by default"
  }

  # No role mapping on a collection: its data access policy admits the Lambda role.
  assert {
    condition     = output.setup_command == "AWS_REGION=eu-west-1 SLUICEGATE_ES_COLLECTION_TYPE=timeseries SLUICEGATE_ES_REGION=eu-west-1 sluicegate setup --es-url https://abc123.eu-west-1.aoss.amazonaws.com --es-auth sigv4-aoss --pipeline ${output.pipeline_uri} --retention-days 30"
    error_message = "setup_command for a collection must sign for aoss, carry the collection type and map no role"
  }
}

run "existing_serverless_search_collection" {
  command = apply

  variables {
    create_domain              = false
    domain_master_user_arn     = null
    existing_domain_endpoint   = "abc123.eu-west-1.aoss.amazonaws.com"
    existing_domain_arn        = "arn:aws:aoss:eu-west-1:123456789012:collection/abc123"
    serverless_collection_type = "search"
  }

  assert {
    condition     = one(aws_lambda_function.this.environment).variables["SLUICEGATE_ES_COLLECTION_TYPE"] == "search" && strcontains(output.setup_command, "SLUICEGATE_ES_COLLECTION_TYPE=search ")
    error_message = "serverless_collection_type must reach the Lambda and the setup command"
  }
}

# The type is for collections only: the Lambda refuses it with sigv4-es.
run "managed_domain_ignores_collection_type" {
  command = apply

  variables {
    serverless_collection_type = "vector"
  }

  assert {
    condition     = !contains(keys(one(aws_lambda_function.this.environment).variables), "SLUICEGATE_ES_COLLECTION_TYPE") && !strcontains(output.setup_command, "COLLECTION_TYPE")
    error_message = "a managed domain must get no SLUICEGATE_ES_COLLECTION_TYPE"
  }
}

run "given_kms_key" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && aws_kinesis_stream.this.kms_key_id == var.kms_key_arn && aws_lambda_function.this.kms_key_arn == var.kms_key_arn
    error_message = "a given key must be used instead of creating one"
  }
}

run "sqs_failure_destination" {
  command = apply

  variables {
    failure_destination_type = "sqs"
  }

  assert {
    condition     = one(one(aws_lambda_event_source_mapping.this.destination_config).on_failure).destination_arn == aws_sqs_queue.failure[0].arn && aws_sqs_queue.failure[0].kms_master_key_id == aws_kms_key.this[0].arn
    error_message = "an encrypted queue must be created and used as failure destination"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.failure_destination_depth) == 1 && aws_cloudwatch_metric_alarm.failure_destination_depth[0].dimensions["QueueName"] == "logs-failures"
    error_message = "the failure queue depth must be alarmed"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.actions]), "sqs:SendMessage")
    error_message = "the Lambda role must be able to send to the queue"
  }
}

run "sns_failure_destination_given" {
  command = apply

  variables {
    failure_destination_type = "sns"
    failure_destination_arn  = "arn:aws:sns:eu-west-1:123456789012:ops-failures"
  }

  assert {
    condition     = one(one(aws_lambda_event_source_mapping.this.destination_config).on_failure).destination_arn == "arn:aws:sns:eu-west-1:123456789012:ops-failures" && length(aws_sns_topic.failure) == 0
    error_message = "a given topic must be used as failure destination"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.resources if statement.sid == "DeliverFailuresToSns"]), "arn:aws:sns:eu-west-1:123456789012:ops-failures")
    error_message = "the publish permission must be scoped to the given topic"
  }
}

run "vpc_placement" {
  command = apply

  variables {
    vpc_subnet_ids         = ["subnet-0a", "subnet-0b", "subnet-0c", "subnet-0d"]
    vpc_security_group_ids = ["sg-01"]
  }

  assert {
    condition     = one(aws_lambda_function.this.vpc_config).subnet_ids == toset(["subnet-0a", "subnet-0b", "subnet-0c", "subnet-0d"])
    error_message = "the Lambda must be placed in the subnets"
  }

  assert {
    condition     = one(aws_opensearch_domain.this[0].vpc_options).subnet_ids == toset(["subnet-0a", "subnet-0b", "subnet-0c"])
    error_message = "the domain must use one subnet per zone"
  }

  assert {
    condition     = contains(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.sid]), "ManageVpcInterfaces")
    error_message = "a Lambda in a VPC needs to manage its network interfaces"
  }

  # A fresh account refuses a VPC domain without the service-linked role.
  assert {
    condition     = length(aws_iam_service_linked_role.opensearch) == 1 && aws_iam_service_linked_role.opensearch[0].aws_service_name == "opensearchservice.amazonaws.com"
    error_message = "a domain in a VPC needs the OpenSearch service-linked role"
  }
}

# The role exists once per account: creating it again fails.
run "vpc_placement_with_existing_service_linked_role" {
  command = plan

  variables {
    vpc_subnet_ids                        = ["subnet-0a", "subnet-0b", "subnet-0c"]
    vpc_security_group_ids                = ["sg-01"]
    create_opensearch_service_linked_role = false
  }

  assert {
    condition     = length(aws_iam_service_linked_role.opensearch) == 0 && length(aws_opensearch_domain.this[0].vpc_options) == 1
    error_message = "create_opensearch_service_linked_role = false must leave the account's role alone"
  }
}

run "existing_domain_in_vpc_needs_no_service_linked_role" {
  command = plan

  variables {
    create_domain            = false
    domain_master_user_arn   = null
    existing_domain_endpoint = "vpc-shared-xyz.eu-west-1.es.amazonaws.com"
    existing_domain_arn      = "arn:aws:es:eu-west-1:123456789012:domain/shared"
    vpc_subnet_ids           = ["subnet-0a"]
    vpc_security_group_ids   = ["sg-01"]
  }

  assert {
    condition     = length(aws_iam_service_linked_role.opensearch) == 0
    error_message = "the service-linked role is only for a domain the module creates"
  }
}

run "object_lock_and_no_alarms" {
  command = apply

  variables {
    archive_object_lock = { mode = "GOVERNANCE", days = 30 }
    create_alarms       = false
  }

  assert {
    condition     = aws_s3_bucket.archive.object_lock_enabled && one(one(aws_s3_bucket_object_lock_configuration.archive[0].rule).default_retention).days == 30
    error_message = "object lock must be enabled with its retention"
  }

  assert {
    condition     = length(output.alarm_arns) == 0
    error_message = "create_alarms = false must create no alarm"
  }
}

# archive_stage both writes raw events under <archive_prefix>-raw: the function must be allowed
# to, and they age like the archive.
run "archive_stage_both" {
  command = apply

  variables {
    archive_stage           = "both"
    archive_expiration_days = 400
  }

  assert {
    condition = toset(flatten([for statement in data.aws_iam_policy_document.lambda.statement : statement.resources if statement.sid == "WriteArchiveAndDeadLetters"])) == toset([
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/archive/*",
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/archive-raw/*",
      "arn:aws:s3:::logs-archive-123456789012-eu-west-1/dead-letter/*",
    ])
    error_message = "the Lambda role must write the raw archive when archive_stage is both"
  }

  assert {
    condition = {
      for rule in aws_s3_bucket_lifecycle_configuration.archive.rule : rule.id => [one(rule.filter).prefix, [for expiration in rule.expiration : expiration.days], [for transition in rule.transition : transition.storage_class]] if contains(["archive", "archive-raw"], rule.id)
      } == {
      archive     = ["archive/", [400], ["STANDARD_IA"]]
      archive-raw = ["archive-raw/", [400], ["STANDARD_IA"]]
    }
    error_message = "the raw archive must transition and expire like the archive"
  }
}

run "dead_letter_expiration_and_prefix" {
  command = apply

  variables {
    dead_letter_prefix          = "failed/events"
    dead_letter_expiration_days = 7
  }

  assert {
    condition = [
      for rule in aws_s3_bucket_lifecycle_configuration.archive.rule : [one(rule.filter).prefix, [for expiration in rule.expiration : expiration.days]] if rule.id == "dead-letters"
    ] == [["failed/events/", [7]]]
    error_message = "the dead-letter rule must follow dead_letter_prefix and dead_letter_expiration_days"
  }
}

run "alarm_thresholds_and_actions" {
  command = apply

  variables {
    alarm_actions                                      = ["arn:aws:sns:eu-west-1:123456789012:ops"]
    ok_actions                                         = ["arn:aws:sns:eu-west-1:123456789012:ops-ok"]
    bulk_undelivered_alarm_threshold                   = 100
    dead_lettered_alarm_threshold                      = 5
    s3_puts_failed_alarm_threshold                     = 2
    domain_volume_size                                 = 200
    domain_free_storage_alarm_threshold_percent        = 10
    domain_jvm_memory_pressure_alarm_threshold_percent = 85
  }

  assert {
    condition = alltrue([
      aws_cloudwatch_metric_alarm.bulk_undelivered[0].threshold == 100,
      aws_cloudwatch_metric_alarm.dead_lettered[0].threshold == 5,
      aws_cloudwatch_metric_alarm.s3_puts_failed[0].threshold == 2,
      aws_cloudwatch_metric_alarm.domain_free_storage[0].threshold == 20480,
      aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0].threshold == 85,
    ])
    error_message = "the alarm thresholds must follow their variables (free storage: the share of the volume in MiB)"
  }

  assert {
    condition = alltrue([
      for alarm in [
        aws_cloudwatch_metric_alarm.bulk_undelivered[0],
        aws_cloudwatch_metric_alarm.dead_lettered[0],
        aws_cloudwatch_metric_alarm.s3_puts_failed[0],
        aws_cloudwatch_metric_alarm.domain_free_storage[0],
        aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure[0],
      ] : alarm.alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"]) && alarm.ok_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops-ok"])
    ])
    error_message = "the new alarms must notify alarm_actions and ok_actions"
  }
}

# A longer retention admits an older record age.
run "record_age_below_longer_retention" {
  command = plan

  variables {
    stream_retention_hours        = 48
    maximum_record_age_in_seconds = 172000
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this.maximum_record_age_in_seconds == 172000 && aws_kinesis_stream.this.retention_period == 48
    error_message = "a record age below a longer retention must be accepted"
  }
}

# Prefixes may hold characters a shell would read; 0 installs no lifecycle policy.
run "setup_command_quotes_and_retention" {
  command = apply

  variables {
    artifacts_prefix     = "it's(prod)"
    index_retention_days = 0
  }

  assert {
    condition     = strcontains(output.setup_command, " --pipeline 's3://logs-archive-123456789012-eu-west-1/it'\\''s(prod)/pipelines/${sha256(output.pipeline_json)}.json' --retention-days 0 --lambda-role-arn ")
    error_message = "setup_command must single-quote an argument the shell would read, and pass index_retention_days"
  }
}
