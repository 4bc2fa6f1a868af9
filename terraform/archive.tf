resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_144:cross-region replication needs a second bucket, key and role in another region, which is a deployment choice outside this module; versioning and object lock protect the copy it has
  #checkov:skip=CKV2_AWS_62:nothing consumes archive events; consumers read by hive-style prefix, and notifications can be added by the user on the bucket output
  #checkov:skip=CKV_AWS_18:access logging is optional (archive_access_log_bucket); it needs a separate log bucket that the module does not own
  bucket              = local.archive_bucket_name
  force_destroy       = var.archive_force_destroy
  object_lock_enabled = var.archive_object_lock != null

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket = aws_s3_bucket.archive.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    # A bucket key cuts KMS requests from one per object to one per key period.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_object_lock_configuration" "archive" {
  count = var.archive_object_lock != null ? 1 : 0

  bucket = aws_s3_bucket.archive.id

  rule {
    default_retention {
      mode = var.archive_object_lock.mode
      days = var.archive_object_lock.days
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}

resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.archive_abort_incomplete_upload_days
    }
  }

  rule {
    id     = "archive"
    status = "Enabled"

    filter {
      prefix = "${var.archive_prefix}/"
    }

    transition {
      days          = var.archive_transition_days
      storage_class = var.archive_transition_storage_class
    }

    dynamic "expiration" {
      for_each = var.archive_expiration_days != null ? [var.archive_expiration_days] : []

      content {
        days = expiration.value
      }
    }
  }

  # archive_stage both writes the raw events beside the documents, under <archive_prefix>-raw
  # (a prefix nothing else may use), and they age alike.
  rule {
    id     = "archive-raw"
    status = "Enabled"

    filter {
      prefix = "${var.archive_prefix}-raw/"
    }

    transition {
      days          = var.archive_transition_days
      storage_class = var.archive_transition_storage_class
    }

    dynamic "expiration" {
      for_each = var.archive_expiration_days != null ? [var.archive_expiration_days] : []

      content {
        days = expiration.value
      }
    }
  }

  # Dead letters hold events as they came in, before redaction: they expire on their own
  # schedule, and their noncurrent versions with everything else's.
  rule {
    id     = "dead-letters"
    status = "Enabled"

    filter {
      prefix = "${var.dead_letter_prefix}/"
    }

    expiration {
      days = var.dead_letter_expiration_days
    }
  }

  rule {
    id     = "noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.archive_noncurrent_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.archive]
}

resource "aws_s3_bucket_logging" "archive" {
  count = var.archive_access_log_bucket != null ? 1 : 0

  bucket        = aws_s3_bucket.archive.id
  target_bucket = var.archive_access_log_bucket
  target_prefix = var.archive_access_log_prefix
}

data "aws_iam_policy_document" "archive" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.archive.arn, "${aws_s3_bucket.archive.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  # The Lambda loads compiled modules from this prefix as native code without recompiling them,
  # so no one but its role may write there, not even principals IAM otherwise allows.
  statement {
    sid       = "OnlyTheFunctionWritesCompiledModules"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = [local.module_cache_arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.lambda.arn]
    }
  }
}

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.archive.json

  # S3 rejects a policy write while the public access block is being applied.
  depends_on = [aws_s3_bucket_public_access_block.archive]
}
