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
