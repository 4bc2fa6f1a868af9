output "kinesis_stream_arn" {
  description = "Destination for further subscription filters."
  value       = module.logs.kinesis_stream_arn
}

output "cloudwatch_logs_role_arn" {
  description = "Role for further subscription filters."
  value       = module.logs.cloudwatch_logs_role_arn
}

output "setup_command" {
  description = "Run once after apply, with the credentials of search_admin_role_arn: index template, retention policy and the Lambda role's mapping."
  value       = module.logs.setup_command
}

output "lambda_role_arn" {
  description = "The Lambda's role, which setup_command maps to the sluicegate_writer role."
  value       = module.logs.lambda_role_arn
}

output "domain_dashboard_endpoint" {
  description = "OpenSearch Dashboards."
  value       = module.logs.domain_dashboard_endpoint
}

output "archive_bucket_name" {
  description = "Archive, dead letters and failure records."
  value       = module.logs.archive_bucket_name
}

output "failure_destination_arn" {
  description = "Queue of batches the event source mapping gave up on."
  value       = module.logs.failure_destination_arn
}

output "pipeline_uri" {
  description = "The deployed pipeline; `sluicegate run --pipeline` runs it on a local event file."
  value       = module.logs.pipeline_uri
}
