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

  # What the Lambda runs, in the archive bucket under content-addressed keys: each module under
  # its SHA-256, the pipeline document under the SHA-256 of its text. A changed module, config,
  # order or policy is a new pipeline key, so the function's SLUICEGATE_PIPELINE changes with
  # it and `terraform apply` updates the function; its next cold starts load the new chain.
  artifacts_uri = "s3://${local.archive_bucket_name}/${var.artifacts_prefix}"
  transform_modules = [
    for transform in var.transforms : {
      sha256 = filesha256(transform.wasm_path)
      key    = "${var.artifacts_prefix}/modules/${filesha256(transform.wasm_path)}.wasm"
    }
  ]
  # One object per distinct module: two transforms may run the same .wasm with other configs.
  module_paths = { for idx, transform in var.transforms : local.transform_modules[idx].sha256 => transform.wasm_path... }

  pipeline = merge(
    {
      transforms = [
        for idx, transform in var.transforms : {
          name     = transform.name
          module   = "s3://${local.archive_bucket_name}/${local.transform_modules[idx].key}"
          sha256   = local.transform_modules[idx].sha256
          config   = jsondecode(transform.config_json)
          on_error = transform.on_error
        }
      ]
      index_template = var.index_template
      archive_stage  = var.archive_stage
    },
    # limits only when set: the Lambda's defaults apply to whatever the document leaves out.
    var.transform_limits == null ? {} : { limits = { for limit, value in var.transform_limits : limit => value if value != null } },
    var.allowed_indices == null ? {} : { allowed_indices = var.allowed_indices },
    var.transform_dead_letters == null ? {} : { transform_dead_letters = var.transform_dead_letters },
  )
  pipeline_json = jsonencode(local.pipeline)
  pipeline_key  = "${var.artifacts_prefix}/pipelines/${sha256(local.pipeline_json)}.json"
  # Sealed compiled modules, `<sha256>/<engine key>.cwasm`, that the Lambda writes and reads.
  module_cache_uri = "${local.artifacts_uri}/compiled"
  module_cache_arn = "${aws_s3_bucket.archive.arn}/${var.artifacts_prefix}/compiled/*"

  # The pipeline object's URI, read from the resource, so the function waits for the upload.
  pipeline_uri = "s3://${aws_s3_object.pipeline.bucket}/${aws_s3_object.pipeline.key}"

  lambda_environment = merge({
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
    SLUICEGATE_PIPELINE           = local.pipeline_uri
    SLUICEGATE_MODULE_CACHE       = local.module_cache_uri
    SLUICEGATE_LOG_LEVEL          = var.log_level
    },
    # The Lambda requires the collection's type with sigv4-aoss and refuses it otherwise.
    local.domain_is_serverless ? { SLUICEGATE_ES_COLLECTION_TYPE = var.serverless_collection_type } : {},
  )

  # `sluicegate setup`, the one step after apply, for this deployment. The pipeline carries the
  # index template and the promoted fields; AWS_REGION is where the pipeline object is, and the
  # SigV4 region the domain's. A collection admits the Lambda role through its data access
  # policy, not through a role mapping, so it gets no --lambda-role-arn.
  setup_environment = merge(
    { AWS_REGION = local.region, SLUICEGATE_ES_REGION = local.domain_region },
    local.domain_is_serverless ? { SLUICEGATE_ES_COLLECTION_TYPE = var.serverless_collection_type } : {},
  )
  setup_arguments = concat(
    ["--es-url", local.domain_url, "--es-auth", local.domain_auth, "--pipeline", local.pipeline_uri, "--retention-days", tostring(var.index_retention_days)],
    local.domain_is_serverless ? [] : ["--lambda-role-arn", aws_iam_role.lambda.arn],
  )
  # Arguments a POSIX shell takes as they are stay bare; any other is single-quoted (the S3
  # prefixes may hold ' ( ) * and !). The environment holds region names and a type only.
  setup_command = join(" ", concat(
    [for variable, value in local.setup_environment : "${variable}=${value}"],
    ["sluicegate", "setup"],
    [for word in local.setup_arguments : can(regex("^[A-Za-z0-9_./:@,+=%-]+$", word)) ? word : "'${replace(word, "'", "'\\''")}'"],
  ))
}
