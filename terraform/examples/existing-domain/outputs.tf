output "setup_command" {
  description = "Run once after apply, with the domain's admin credentials: index template, retention policy and, with fine-grained access control, the Lambda role's mapping."
  value       = module.logs.setup_command
}

output "lambda_role_arn" {
  description = "Admit this role in the existing domain's access policy."
  value       = module.logs.lambda_role_arn
}

output "kinesis_stream_arn" {
  description = "Destination for further subscription filters."
  value       = module.logs.kinesis_stream_arn
}

output "archive_bucket_name" {
  description = "Archive, dead letters and failure records."
  value       = module.logs.archive_bucket_name
}
