################################################################################
# Role CloudWatch Logs assumes to put subscription data into the stream
################################################################################

data "aws_iam_policy_document" "logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["logs.amazonaws.com"]
    }

    # Only CloudWatch Logs acting for this account and region may use the role (the source
    # condition CloudWatch Logs documents for subscription roles).
    condition {
      test     = "StringLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "logs" {
  name               = "${var.name}-logs-to-kinesis"
  description        = "CloudWatch Logs puts subscription data into the ${var.name} stream"
  assume_role_policy = data.aws_iam_policy_document.logs_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "PutSubscriptionData"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords"]
    resources = [aws_kinesis_stream.this.arn]
  }

  # The stream is encrypted, so producers need a data key from the stream's key.
  statement {
    sid       = "EncryptForStream"
    actions   = ["kms:GenerateDataKey"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["kinesis.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "put-into-stream"
  role   = aws_iam_role.logs.id
  policy = data.aws_iam_policy_document.logs.json
}

################################################################################
# Subscription filters
################################################################################

resource "aws_cloudwatch_log_subscription_filter" "this" {
  for_each = var.log_groups

  name            = var.name
  log_group_name  = each.key
  filter_pattern  = each.value.filter_pattern
  distribution    = each.value.distribution
  destination_arn = aws_kinesis_stream.this.arn
  role_arn        = aws_iam_role.logs.arn

  lifecycle {
    # Subscribing the Lambda's own logs (or the domain's) would ship the Lambda's output back
    # into its input: every batch would log, and every log line would be a new batch.
    precondition {
      condition     = !contains(local.own_log_group_names, each.key)
      error_message = "log group ${each.key} belongs to this Sluicegate deployment; subscribing it would loop the Lambda's output back into its input."
    }
  }

  # The role must be able to write before CloudWatch Logs tests the destination.
  depends_on = [aws_iam_role_policy.logs]
}

resource "aws_cloudwatch_log_account_policy" "subscription" {
  count = var.account_subscription != null ? 1 : 0

  policy_name = "${var.name}-subscription"
  policy_type = "SUBSCRIPTION_FILTER_POLICY"
  policy_document = jsonencode({
    DestinationArn = aws_kinesis_stream.this.arn
    RoleArn        = aws_iam_role.logs.arn
    FilterPattern  = var.account_subscription.filter_pattern
    Distribution   = "Random"
  })
  # The module's own log groups are always excluded: they would loop. So are the log groups
  # subscribed explicitly: the policy applies besides a log group's own filter, so their events
  # would arrive twice, and those their own filter pattern leaves out would arrive anyway.
  selection_criteria = "LogGroupName NOT IN ${jsonencode(distinct(concat(local.own_log_group_names, keys(var.log_groups), var.account_subscription.excluded_log_groups)))}"

  depends_on = [aws_iam_role_policy.logs]
}
