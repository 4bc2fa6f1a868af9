################################################################################
# The transform modules and the pipeline document, in the archive bucket
################################################################################

# Keys are content addresses, so an object is never rewritten in place: a changed module or
# pipeline is a new object, created before the function is pointed at it, and the one it
# replaces is deleted only after the function has moved on (create_before_destroy), so a cold
# start never reads a pipeline or module that is not there.
resource "aws_s3_object" "module" {
  for_each = local.module_paths

  bucket                 = aws_s3_bucket.archive.bucket
  key                    = "${var.artifacts_prefix}/modules/${each.key}.wasm"
  source                 = each.value[0]
  source_hash            = each.key
  content_type           = "application/wasm"
  server_side_encryption = "aws:kms"
  kms_key_id             = local.kms_key_arn
  bucket_key_enabled     = true
  # Under object lock a superseded module could not be deleted otherwise (this bypasses a
  # GOVERNANCE retention; a COMPLIANCE one still keeps the object until it ends).
  force_destroy = var.archive_object_lock != null

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }

  # The bucket's encryption, ownership and public access settings apply before anything lands.
  depends_on = [
    aws_s3_bucket_server_side_encryption_configuration.archive,
    aws_s3_bucket_ownership_controls.archive,
    aws_s3_bucket_public_access_block.archive,
  ]
}

resource "aws_s3_object" "pipeline" {
  bucket                 = aws_s3_bucket.archive.bucket
  key                    = local.pipeline_key
  content                = local.pipeline_json
  content_type           = "application/json"
  server_side_encryption = "aws:kms"
  kms_key_id             = local.kms_key_arn
  bucket_key_enabled     = true
  force_destroy          = var.archive_object_lock != null

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }

  # The pipeline names the modules; it appears only once they are all there.
  depends_on = [aws_s3_object.module]
}
