locals {
  # Domain health alarms need the domain's name and account, which an ARN of a managed domain
  # carries; a serverless collection has no cluster health metrics.
  alarm_domain = local.domain_is_serverless ? null : {
    name       = var.create_domain ? var.name : element(split("/", var.existing_domain_arn), 1)
    account_id = var.create_domain ? local.account_id : element(split(":", var.existing_domain_arn), 4)
  }

  failure_queue_name = var.failure_destination_type == "sqs" ? element(split(":", local.failure_destination_arn), 5) : null
}

resource "aws_cloudwatch_metric_alarm" "iterator_age" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-iterator-age"
  alarm_description   = "The Sluicegate Lambda is falling behind the ${var.name} stream; records are lost once they are older than the stream retention."
  namespace           = "AWS/Kinesis"
  metric_name         = "GetRecords.IteratorAgeMilliseconds"
  dimensions          = { StreamName = aws_kinesis_stream.this.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.iterator_age_alarm_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "Invocations of the Sluicegate Lambda failed as a whole (crash, timeout, or a bad configuration at start); the batch is retried and bisected."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-lambda-throttles"
  alarm_description   = "The Sluicegate Lambda is throttled; raise reserved_concurrent_executions to at least shards times parallelization_factor."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "subscription_delivery_errors" {
  for_each = var.create_alarms ? var.log_groups : {}

  alarm_name          = "${var.name}-delivery-errors-${substr(sha1(each.key), 0, 12)}"
  alarm_description   = "CloudWatch Logs failed to deliver events of ${each.key} to the ${var.name} stream."
  namespace           = "AWS/Logs"
  metric_name         = "DeliveryErrors"
  dimensions          = { LogGroupName = each.key, DestinationType = "Kinesis", FilterName = aws_cloudwatch_log_subscription_filter.this[each.key].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failure_destination_depth" {
  count = var.create_alarms && var.failure_destination_type == "sqs" ? 1 : 0

  alarm_name          = "${var.name}-failure-queue-depth"
  alarm_description   = "Batches the event source mapping gave up on are waiting in the failure queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.failure_queue_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

# S3 and SNS destinations have no depth to watch, so count what the mapping sends there.
resource "aws_cloudwatch_metric_alarm" "failure_destination_deliveries" {
  count = var.create_alarms && var.failure_destination_type != "sqs" ? 1 : 0

  alarm_name          = "${var.name}-failure-deliveries"
  alarm_description   = "The event source mapping gave up on batches and sent them to the ${var.failure_destination_type} failure destination."
  namespace           = "AWS/Lambda"
  metric_name         = "OnFailureDestinationDeliveredEventCount"
  dimensions          = { EventSourceMappingUUID = aws_lambda_event_source_mapping.this.uuid }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "failure_destination_delivery_failures" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-failure-delivery-failures"
  alarm_description   = "The event source mapping could not deliver discarded batches to the failure destination; those records are lost."
  namespace           = "AWS/Lambda"
  metric_name         = "DestinationDeliveryFailures"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "domain_red" {
  count = var.create_alarms && local.alarm_domain != null ? 1 : 0

  alarm_name          = "${var.name}-domain-red"
  alarm_description   = "At least one primary shard of the domain is unassigned; writes to its indices fail."
  namespace           = "AWS/ES"
  metric_name         = "ClusterStatus.red"
  dimensions          = { DomainName = local.alarm_domain.name, ClientId = local.alarm_domain.account_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "domain_write_blocked" {
  count = var.create_alarms && local.alarm_domain != null ? 1 : 0

  alarm_name          = "${var.name}-domain-writes-blocked"
  alarm_description   = "The domain blocks writes (disk or memory pressure); shipping fails until it recovers."
  namespace           = "AWS/ES"
  metric_name         = "ClusterIndexWritesBlocked"
  dimensions          = { DomainName = local.alarm_domain.name, ClientId = local.alarm_domain.account_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "domain_free_storage" {
  count = var.create_alarms && var.create_domain ? 1 : 0

  alarm_name        = "${var.name}-domain-free-storage"
  alarm_description = "A data node of the domain has less than ${var.domain_free_storage_alarm_threshold_percent}% of its storage free; the domain blocks writes when a node runs out. Shorten index_retention_days (and run setup_command), or add storage."
  namespace         = "AWS/ES"
  # Per domain, the node with the least free space, in MiB.
  metric_name         = "FreeStorageSpace"
  dimensions          = { DomainName = var.name, ClientId = local.account_id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = var.domain_volume_size * 1024 * var.domain_free_storage_alarm_threshold_percent / 100
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "domain_jvm_memory_pressure" {
  count = var.create_alarms && var.create_domain ? 1 : 0

  alarm_name          = "${var.name}-domain-jvm-memory-pressure"
  alarm_description   = "A node of the domain uses at least ${var.domain_jvm_memory_pressure_alarm_threshold_percent}% of its JVM heap; it starts refusing requests and may run out of memory. Use a larger instance type or fewer shards."
  namespace           = "AWS/ES"
  metric_name         = "JVMMemoryPressure"
  dimensions          = { DomainName = var.name, ClientId = local.account_id }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.domain_jvm_memory_pressure_alarm_threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

# The function's own counts, from the embedded-metric-format line it prints per invocation
# (namespace Sluicegate, dimension FunctionName). No invocation, no data point: not a breach.
resource "aws_cloudwatch_metric_alarm" "bulk_undelivered" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-bulk-undelivered"
  alarm_description   = "The Sluicegate Lambda could not deliver _bulk items to the domain within its deadline (throttling, an unreachable or refusing domain, or a missing role mapping: see setup_command); their records are retried, and given up on to the failure destination after maximum_retry_attempts."
  namespace           = "Sluicegate"
  metric_name         = "BulkItemsUndelivered"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.bulk_undelivered_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_lettered" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-dead-lettered"
  alarm_description   = "The Sluicegate Lambda dead-lettered records or events (undecodable, failed by a transform, or refused by the index for good); they are in the archive bucket under ${var.dead_letter_prefix}/, not in the index."
  namespace           = "Sluicegate"
  metric_name         = "DeadLettered"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dead_lettered_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "s3_puts_failed" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name}-s3-puts-failed"
  alarm_description   = "The Sluicegate Lambda could not store archive or dead-letter objects in the archive bucket; their records are retried."
  namespace           = "Sluicegate"
  metric_name         = "S3PutsFailed"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.s3_puts_failed_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions

  tags = var.tags
}
