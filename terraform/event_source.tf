################################################################################
# On-failure destination (the archive bucket for s3 unless one is given)
################################################################################

resource "aws_sqs_queue" "failure" {
  count = var.failure_destination_type == "sqs" && var.failure_destination_arn == null ? 1 : 0

  name                      = "${var.name}-failures"
  kms_master_key_id         = local.kms_key_arn
  message_retention_seconds = 1209600

  tags = var.tags
}

resource "aws_sns_topic" "failure" {
  count = var.failure_destination_type == "sns" && var.failure_destination_arn == null ? 1 : 0

  name              = "${var.name}-failures"
  kms_master_key_id = local.kms_key_arn

  tags = var.tags
}

################################################################################
# Event source mapping
################################################################################

resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn                   = aws_kinesis_stream.this.arn
  function_name                      = aws_lambda_function.this.arn
  starting_position                  = var.starting_position
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  # The Lambda answers with the records it could not deliver, so only those are retried.
  function_response_types = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = local.failure_destination_arn
    }
  }

  # Publishes OnFailureDestinationDeliveredEventCount, which the failure alarm watches.
  metrics_config {
    metrics = ["EventCount"]
  }

  tags = var.tags

  # The mapping checks at creation that the role may read the stream.
  depends_on = [aws_iam_role_policy.lambda]
}
