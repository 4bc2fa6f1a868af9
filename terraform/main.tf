data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn

  function_name           = var.name
  lambda_log_group_name   = "/aws/lambda/${local.function_name}"
  domain_log_group_prefix = "/aws/opensearch/${var.name}"
  domain_log_types        = ["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS", "AUDIT_LOGS"]
  domain_log_group_names  = var.create_domain ? [for log_type in local.domain_log_types : "${local.domain_log_group_prefix}/${lower(log_type)}"] : []
  own_log_group_names     = concat([local.lambda_log_group_name], local.domain_log_group_names)
  in_vpc                  = length(var.vpc_subnet_ids) > 0
  archive_bucket_name     = var.archive_bucket_name != null ? var.archive_bucket_name : "${var.name}-archive-${local.account_id}-${local.region}"
  failure_destination_arn = var.failure_destination_arn != null ? var.failure_destination_arn : local.created_failure_destination_arn
  created_failure_destination_arn = (
    var.failure_destination_type == "s3" ? aws_s3_bucket.archive.arn :
    var.failure_destination_type == "sqs" ? try(aws_sqs_queue.failure[0].arn, null) :
    try(aws_sns_topic.failure[0].arn, null)
  )

  # The domain the Lambda ships to, created here or given.
  domain_arn      = var.create_domain ? aws_opensearch_domain.this[0].arn : var.existing_domain_arn
  domain_endpoint = var.create_domain ? aws_opensearch_domain.this[0].endpoint : trimsuffix(trimprefix(var.existing_domain_endpoint, "https://"), "/")
  domain_url      = "https://${local.domain_endpoint}"
  # A serverless collection is signed for the aoss service; a managed domain for es.
  domain_is_serverless = !var.create_domain && can(regex("^arn:aws[a-z-]*:aoss:", var.existing_domain_arn))
  domain_auth          = local.domain_is_serverless ? "sigv4-aoss" : "sigv4-es"
  # SigV4 signs for the domain's region, which for a given domain may not be the Lambda's.
  domain_region = var.create_domain ? local.region : split(":", var.existing_domain_arn)[3]

  # The pipeline file the Lambda reads from the layer. The layer zip built by `cargo xtask dist`
  # must carry exactly this document at sluicegate/pipeline.json.
  layer_root = "/opt/sluicegate"
  pipeline = {
    transforms = [
      for transform in var.transforms : {
        name     = transform.name
        module   = "${local.layer_root}/transforms/${transform.name}.wasm"
        config   = jsondecode(transform.config_json)
        on_error = transform.on_error
      }
    ]
    index_template = var.index_template
    archive_stage  = var.archive_stage
  }
  pipeline_json = jsonencode(local.pipeline)

  lambda_environment = {
    SLUICEGATE_ES_URL             = local.domain_url
    SLUICEGATE_ES_AUTH            = local.domain_auth
    SLUICEGATE_ES_REGION          = local.domain_region
    SLUICEGATE_INDEX_TEMPLATE     = var.index_template
    SLUICEGATE_BULK_ACTION        = var.bulk_action
    SLUICEGATE_BULK_MAX_BYTES     = tostring(var.bulk_max_bytes)
    SLUICEGATE_ARCHIVE_BUCKET     = aws_s3_bucket.archive.bucket
    SLUICEGATE_ARCHIVE_PREFIX     = var.archive_prefix
    SLUICEGATE_ARCHIVE_STAGE      = var.archive_stage
    SLUICEGATE_ARCHIVE_KMS_KEY_ID = local.kms_key_arn
    SLUICEGATE_DEAD_LETTER_PREFIX = var.dead_letter_prefix
    SLUICEGATE_PIPELINE           = "${local.layer_root}/pipeline.json"
    SLUICEGATE_LOG_LEVEL          = var.log_level
  }
}
