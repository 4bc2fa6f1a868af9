output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the stream, archive, Lambda, logs, failure destination and domain."
  value       = local.kms_key_arn
}

output "kinesis_stream_name" {
  description = "Name of the Kinesis stream the log groups are subscribed to."
  value       = aws_kinesis_stream.this.name
}

output "kinesis_stream_arn" {
  description = "ARN of the Kinesis stream; use it as destination_arn of further subscription filters."
  value       = aws_kinesis_stream.this.arn
}

output "cloudwatch_logs_role_arn" {
  description = "ARN of the role CloudWatch Logs assumes to put into the stream; use it as role_arn of further subscription filters."
  value       = aws_iam_role.logs.arn
}

output "subscription_filter_names" {
  description = "Subscription filter names, keyed by log group name."
  value       = { for log_group_name, filter in aws_cloudwatch_log_subscription_filter.this : log_group_name => filter.name }
}

output "account_subscription_policy_name" {
  description = "Name of the account-level subscription filter policy, or null."
  value       = try(aws_cloudwatch_log_account_policy.subscription[0].policy_name, null)
}

output "lambda_function_name" {
  description = "Name of the Sluicegate Lambda."
  value       = aws_lambda_function.this.function_name
}

output "lambda_function_arn" {
  description = "ARN of the Sluicegate Lambda."
  value       = aws_lambda_function.this.arn
}

output "lambda_role_arn" {
  description = "ARN of the Lambda's execution role. On a domain with fine-grained access control, setup_command maps it to the least-privilege role sluicegate_writer."
  value       = aws_iam_role.lambda.arn
}

output "lambda_role_name" {
  description = "Name of the Lambda's execution role, to attach further policies."
  value       = aws_iam_role.lambda.name
}

output "lambda_log_group_name" {
  description = "Name of the Lambda's log group."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "layer_version_arn" {
  description = "ARN of the precompiled transforms layer version, or null when layer_zip_path is null."
  value       = try(aws_lambda_layer_version.transforms[0].arn, null)
}

output "pipeline_json" {
  description = "The pipeline document the module uploads and the Lambda runs: the transforms with their module URIs, SHA-256s, configs and on_error policies, the index template, the archive stage and any limits."
  value       = local.pipeline_json
}

output "pipeline_uri" {
  description = "S3 URI of the uploaded pipeline document (SLUICEGATE_PIPELINE); `sluicegate run --pipeline` takes it to run the deployed chain locally."
  value       = local.pipeline_uri
}

output "setup_command" {
  description = "The one step after apply: `sluicegate setup` for this deployment (the domain URL and auth, the pipeline, index_retention_days, the Lambda role). Run it with the credentials of the domain's master user. It installs the index template, the retention policy and, on OpenSearch with fine-grained access control, the Lambda role's mapping; it is idempotent."
  value       = local.setup_command
}

output "module_cache_uri" {
  description = "S3 URI of the compiled-module cache (SLUICEGATE_MODULE_CACHE), which only the Lambda's role may write; `sluicegate run --module-cache` reads it."
  value       = local.module_cache_uri
}

output "lambda_environment" {
  description = "Environment of the Lambda (the SLUICEGATE_* contract)."
  value       = local.lambda_environment
}

output "event_source_mapping_uuid" {
  description = "UUID of the Kinesis event source mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "failure_destination_arn" {
  description = "ARN of the on-failure destination of the event source mapping."
  value       = local.failure_destination_arn
}

output "archive_bucket_name" {
  description = "Name of the archive bucket (archive objects, dead letters, the transform modules, pipelines and compiled-module cache under artifacts_prefix, and s3 failure records under aws/lambda/)."
  value       = aws_s3_bucket.archive.bucket
}

output "archive_bucket_arn" {
  description = "ARN of the archive bucket."
  value       = aws_s3_bucket.archive.arn
}

output "domain_arn" {
  description = "ARN of the domain (or collection) the Lambda ships to."
  value       = local.domain_arn
}

output "domain_endpoint" {
  description = "Host name of the domain the Lambda ships to."
  value       = local.domain_endpoint
}

output "domain_url" {
  description = "HTTPS URL the Lambda ships to (SLUICEGATE_ES_URL)."
  value       = local.domain_url
}

output "domain_dashboard_endpoint" {
  description = "OpenSearch Dashboards endpoint of the created domain, or null."
  value       = try(aws_opensearch_domain.this[0].dashboard_endpoint, null)
}

output "alarm_arns" {
  description = "ARNs of the CloudWatch alarms, keyed by what they watch."
  value = merge(
    { for name, alarm in {
      iterator_age                          = aws_cloudwatch_metric_alarm.iterator_age
      lambda_errors                         = aws_cloudwatch_metric_alarm.lambda_errors
      lambda_throttles                      = aws_cloudwatch_metric_alarm.lambda_throttles
      failure_destination_depth             = aws_cloudwatch_metric_alarm.failure_destination_depth
      failure_destination_deliveries        = aws_cloudwatch_metric_alarm.failure_destination_deliveries
      failure_destination_delivery_failures = aws_cloudwatch_metric_alarm.failure_destination_delivery_failures
      domain_red                            = aws_cloudwatch_metric_alarm.domain_red
      domain_write_blocked                  = aws_cloudwatch_metric_alarm.domain_write_blocked
      domain_free_storage                   = aws_cloudwatch_metric_alarm.domain_free_storage
      domain_jvm_memory_pressure            = aws_cloudwatch_metric_alarm.domain_jvm_memory_pressure
      bulk_undelivered                      = aws_cloudwatch_metric_alarm.bulk_undelivered
      dead_lettered                         = aws_cloudwatch_metric_alarm.dead_lettered
      s3_puts_failed                        = aws_cloudwatch_metric_alarm.s3_puts_failed
    } : name => alarm[0].arn if length(alarm) > 0 },
    { for log_group_name, alarm in aws_cloudwatch_metric_alarm.subscription_delivery_errors : "subscription_delivery_errors:${log_group_name}" => alarm.arn },
  )
}
