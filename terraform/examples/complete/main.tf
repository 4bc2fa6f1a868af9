provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

################################################################################
# Where alarms go: a topic encrypted with a key CloudWatch may use
################################################################################

data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_109:a key policy's resource "*" is the key itself; the account root statement is the documented default that keeps the key manageable through IAM
  #checkov:skip=CKV_AWS_111:a key policy's resource "*" is the key itself, not every resource
  #checkov:skip=CKV_AWS_356:a key policy's resource "*" is the key itself, not every resource
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # CloudWatch publishes alarm notifications to the encrypted topic.
  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description         = "Sluicegate example: alarm notifications"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.alarms_key.json
}

resource "aws_sns_topic" "alarms" {
  name              = "sluicegate-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

################################################################################
# Sluicegate
################################################################################

module "logs" {
  source = "../../"

  name = "logs"

  lambda_zip_path = var.lambda_zip_path
  # Optional: modules precompiled for arm64, so that no cold start compiles them.
  layer_zip_path = var.layer_zip_path

  # The chain: drop health checks and debug lines, mask secrets and personal data, then turn the
  # remaining lines into fields. The module uploads each .wasm and the pipeline to the archive
  # bucket; `cargo xtask` builds the built-in modules into target/transforms/. Each config must
  # be one the transform accepts, as all three refuse unknown keys.
  transforms = [
    {
      name      = "filter"
      wasm_path = "../../../target/transforms/wasm32-unknown-unknown/release/filter.wasm"
      config_json = jsonencode({
        drop = [
          { message = "GET /healthz" },
          { field = "log.level", in = ["DEBUG", "TRACE"] },
        ]
      })
      on_error = "pass"
    },
    {
      name        = "redact"
      wasm_path   = "../../../target/transforms/wasm32-unknown-unknown/release/redact.wasm"
      config_json = jsonencode({ mode = "mask" })
      on_error    = "dead-letter"
    },
    {
      name        = "extract"
      wasm_path   = "../../../target/transforms/wasm32-unknown-unknown/release/extract.wasm"
      config_json = jsonencode({})
      on_error    = "pass"
    },
  ]

  # More time per call and memory per instance than the Lambda's defaults (200 ms, 64 MiB).
  transform_limits = { call_timeout_ms = 500, memory_mb = 128 }

  log_groups = {
    "/ecs/checkout" = {}
    "/ecs/payments" = { filter_pattern = "{ $.level = \"error\" || $.level = \"warn\" }" }
  }

  # Every other log group of the account and region but the flow logs. The module excludes the
  # two above from the policy itself: it applies in addition to a log group's own filter, so
  # their events would arrive twice and the payments pattern would be undone.
  account_subscription = {
    filter_pattern      = ""
    excluded_log_groups = ["/aws/vpc/flow-logs"]
  }

  stream_mode        = "PROVISIONED"
  stream_shard_count = 4

  parallelization_factor         = 2
  reserved_concurrent_executions = 16

  failure_destination_type = "sqs"

  domain_master_user_arn = var.search_admin_role_arn
  domain_instance_type   = "r6g.xlarge.search"
  domain_instance_count  = 6
  domain_volume_size     = 500

  vpc_subnet_ids         = var.vpc_subnet_ids
  vpc_security_group_ids = var.vpc_security_group_ids
  # A domain in a VPC needs the account's OpenSearch service-linked role; there is one per account.
  create_opensearch_service_linked_role = var.create_opensearch_service_linked_role

  archive_object_lock              = { mode = "GOVERNANCE", days = 90 }
  archive_transition_days          = 30
  archive_transition_storage_class = "GLACIER_IR"
  archive_expiration_days          = 400
  # Dead letters hold events before redaction: long enough to look at them and replay, no more.
  dead_letter_expiration_days = 14

  # Indices older than 90 days are deleted by the policy `sluicegate setup` installs.
  index_retention_days = 90

  # Some dead letters are expected from malformed lines: alarm on more than ten in five minutes.
  dead_lettered_alarm_threshold = 10

  alarm_actions = [aws_sns_topic.alarms.arn]
  ok_actions    = [aws_sns_topic.alarms.arn]

  tags = {
    service = "logging"
  }
}
