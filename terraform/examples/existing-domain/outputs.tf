output "lambda_role_arn" {
  description = "Give this role write access on the existing domain."
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
