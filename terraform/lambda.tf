################################################################################
# Execution role
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    # No source condition: Lambda assumes the role only for functions that a principal of this
    # account created with iam:PassRole, and it is not documented to supply aws:SourceAccount.
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "Execution role of the ${var.name} Sluicegate Lambda"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  # The event source mapping reads the stream with the function's role.
  statement {
    sid = "ReadStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [aws_kinesis_stream.this.arn]
  }

  statement {
    sid       = "DecryptStream"
    actions   = ["kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["kinesis.${local.region}.amazonaws.com"]
    }
  }

  # The log group is created by the module, so the function never needs logs:CreateLogGroup.
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # archive_stage both puts the raw events under <archive_prefix>-raw, beside the documents.
  statement {
    sid     = "WriteArchiveAndDeadLetters"
    actions = ["s3:PutObject"]
    resources = concat(
      ["${aws_s3_bucket.archive.arn}/${var.archive_prefix}/*"],
      var.archive_stage == "both" ? ["${aws_s3_bucket.archive.arn}/${var.archive_prefix}-raw/*"] : [],
      ["${aws_s3_bucket.archive.arn}/${var.dead_letter_prefix}/*"],
    )
  }

  # The pipeline, the modules it names, and the compiled-module cache (read at cold start).
  statement {
    sid     = "ReadPipelineAndModules"
    actions = ["s3:GetObject"]
    resources = [
      "${aws_s3_bucket.archive.arn}/${var.artifacts_prefix}/modules/*",
      "${aws_s3_bucket.archive.arn}/${var.artifacts_prefix}/pipelines/*",
      local.module_cache_arn,
    ]
  }

  # A cold start that compiled a module stores the sealed artifact for the next ones. The
  # bucket policy keeps everyone else out of this prefix: the Lambda loads native code from it.
  statement {
    sid       = "WriteModuleCache"
    actions   = ["s3:PutObject"]
    resources = [local.module_cache_arn]
  }

  # SSE-KMS puts need a data key; multipart uploads and every read of an object decrypt one.
  statement {
    sid       = "EncryptArchive"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [local.kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = local.domain_is_serverless ? [] : [1]

    content {
      sid       = "ShipToDomain"
      actions   = ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet", "es:ESHttpHead"]
      resources = [local.domain_arn, "${local.domain_arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = local.domain_is_serverless ? [1] : []

    content {
      sid       = "ShipToCollection"
      actions   = ["aoss:APIAccessAll"]
      resources = [local.domain_arn]
    }
  }

  # The event source mapping delivers discarded batches with the function's role.
  dynamic "statement" {
    for_each = var.failure_destination_type == "s3" ? [1] : []

    content {
      sid       = "DeliverFailuresToS3"
      actions   = ["s3:PutObject", "s3:ListBucket"]
      resources = [local.failure_destination_arn, "${local.failure_destination_arn}/aws/lambda/*"]
    }
  }

  dynamic "statement" {
    for_each = var.failure_destination_type == "sqs" ? [1] : []

    content {
      sid       = "DeliverFailuresToSqs"
      actions   = ["sqs:SendMessage"]
      resources = [local.failure_destination_arn]
    }
  }

  dynamic "statement" {
    for_each = var.failure_destination_type == "sns" ? [1] : []

    content {
      sid       = "DeliverFailuresToSns"
      actions   = ["sns:Publish"]
      resources = [local.failure_destination_arn]
    }
  }

  dynamic "statement" {
    for_each = var.failure_destination_type != "s3" && var.failure_destination_arn == null ? [1] : []

    content {
      sid       = "EncryptFailures"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [local.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["${var.failure_destination_type}.${local.region}.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []

    content {
      # X-Ray has no resource-level permissions: these actions accept only "*".
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []

    content {
      # Lambda manages the function's network interfaces with this role and checks these
      # permissions against any resource when the function is created, so they cannot be
      # narrowed to the subnets; they are the ones of AWSLambdaVPCAccessExecutionRole.
      sid = "ManageVpcInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "sluicegate"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  name              = local.lambda_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn

  tags = var.tags
}

################################################################################
# Precompiled transforms layer (optional) and function
################################################################################

resource "aws_lambda_layer_version" "transforms" {
  count = var.layer_zip_path != null ? 1 : 0

  layer_name               = "${var.name}-transforms"
  description              = "Sluicegate precompiled transforms (sealed artifacts by module SHA-256)"
  filename                 = var.layer_zip_path
  source_code_hash         = filebase64sha256(var.layer_zip_path)
  compatible_runtimes      = ["provided.al2023"]
  compatible_architectures = [var.architecture]
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:the function is invoked synchronously by the Kinesis event source mapping; a dead-letter queue only applies to asynchronous invocations, and discarded batches go to the mapping's on-failure destination
  #checkov:skip=CKV_AWS_117:VPC placement is optional (vpc_subnet_ids); the default domain endpoint is public HTTPS with SigV4 and fine-grained access control
  #checkov:skip=CKV_AWS_272:the deployment zip is built by the user's own `cargo xtask dist`; code signing needs an account-level signing profile, which the module accepts through code_signing_config_arn
  function_name                  = local.function_name
  description                    = "Sluicegate: ships CloudWatch Logs from Kinesis to OpenSearch and S3"
  role                           = aws_iam_role.lambda.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  filename                       = var.lambda_zip_path
  source_code_hash               = filebase64sha256(var.lambda_zip_path)
  layers                         = aws_lambda_layer_version.transforms[*].arn
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = local.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  environment {
    variables = local.lambda_environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.lambda.name
    application_log_level = upper(var.log_level)
    system_log_level      = "INFO"
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []

    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tags = var.tags

  # The environment names the pipeline object, which waits for the modules; the role must be
  # able to read them before the first cold start.
  depends_on = [aws_iam_role_policy.lambda, aws_s3_object.pipeline]
}
