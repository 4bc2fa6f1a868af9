# Every input validation of the module, each with a value it must reject. Plans only: a
# rejected input stops Terraform before any resource is planned.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{}"
    }
  }
}

variables {
  name                   = "logs"
  lambda_zip_path        = "tests/fixtures/function.zip"
  domain_master_user_arn = "arn:aws:iam::123456789012:role/search-admin"
}

run "name_uppercase" {
  command = plan

  variables {
    name = "Logs"
  }

  expect_failures = [var.name]
}

run "name_too_short" {
  command = plan

  variables {
    name = "lg"
  }

  expect_failures = [var.name]
}

run "name_too_long" {
  command = plan

  variables {
    name = "a-name-that-is-far-too-long"
  }

  expect_failures = [var.name]
}

run "name_leading_digit" {
  command = plan

  variables {
    name = "1logs"
  }

  expect_failures = [var.name]
}

run "name_trailing_hyphen" {
  command = plan

  variables {
    name = "logs-"
  }

  expect_failures = [var.name]
}

run "name_underscore" {
  command = plan

  variables {
    name = "my_logs"
  }

  expect_failures = [var.name]
}

run "tags_aws_prefix" {
  command = plan

  variables {
    tags = { "aws:owner" = "ops" }
  }

  expect_failures = [var.tags]
}

run "kms_key_alias_refused" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:alias/logs"
  }

  expect_failures = [var.kms_key_arn]
}

run "kms_deletion_window_too_short" {
  command = plan

  variables {
    kms_key_deletion_window_in_days = 5
  }

  expect_failures = [var.kms_key_deletion_window_in_days]
}

run "stream_mode_unknown" {
  command = plan

  variables {
    stream_mode = "BURST"
  }

  expect_failures = [var.stream_mode]
}

run "provisioned_without_shards" {
  command = plan

  variables {
    stream_mode = "PROVISIONED"
  }

  expect_failures = [var.stream_shard_count]
}

run "on_demand_with_shards" {
  command = plan

  variables {
    stream_shard_count = 2
  }

  expect_failures = [var.stream_shard_count]
}

run "provisioned_zero_shards" {
  command = plan

  variables {
    stream_mode        = "PROVISIONED"
    stream_shard_count = 0
  }

  expect_failures = [var.stream_shard_count]
}

run "provisioned_fractional_shards" {
  command = plan

  variables {
    stream_mode        = "PROVISIONED"
    stream_shard_count = 1.5
  }

  expect_failures = [var.stream_shard_count]
}

run "retention_too_short" {
  command = plan

  variables {
    stream_retention_hours = 12
  }

  expect_failures = [var.stream_retention_hours]
}

run "log_group_bad_name" {
  command = plan

  variables {
    log_groups = { "bad name" = {} }
  }

  expect_failures = [var.log_groups]
}

run "log_group_pattern_too_long" {
  command = plan

  variables {
    log_groups = { "/ecs/api" = { filter_pattern = format("%1025s", "x") } }
  }

  expect_failures = [var.log_groups]
}

run "log_group_bad_distribution" {
  command = plan

  variables {
    log_groups = { "/ecs/api" = { distribution = "RoundRobin" } }
  }

  expect_failures = [var.log_groups]
}

run "account_pattern_too_long" {
  command = plan

  variables {
    account_subscription = { filter_pattern = format("%1025s", "x") }
  }

  expect_failures = [var.account_subscription]
}

run "account_too_many_exclusions" {
  command = plan

  variables {
    account_subscription = { excluded_log_groups = [for i in range(46) : "/group/${i}"] }
  }

  expect_failures = [var.account_subscription]
}

# The policy excludes the explicitly subscribed log groups too; together they must fit.
run "account_exclusions_and_subscriptions_too_many" {
  command = plan

  variables {
    log_groups           = { for i in range(10) : "/subscribed/${i}" => {} }
    account_subscription = { excluded_log_groups = [for i in range(40) : "/group/${i}"] }
  }

  expect_failures = [var.account_subscription]
}

run "account_bad_exclusion" {
  command = plan

  variables {
    account_subscription = { excluded_log_groups = ["bad name"] }
  }

  expect_failures = [var.account_subscription]
}

run "lambda_zip_not_zip" {
  command = plan

  variables {
    lambda_zip_path = "target/bootstrap"
  }

  expect_failures = [var.lambda_zip_path]
}

run "layer_zip_not_zip" {
  command = plan

  variables {
    layer_zip_path = "target/layer.tar.gz"
  }

  expect_failures = [var.layer_zip_path]
}

# A real module (written by `cargo xtask ci`), so that each case fails one validation only.
run "transform_bad_name" {
  command = plan

  variables {
    transforms = [{ name = "Redact", wasm_path = "../target/terraform/fixtures/empty.wasm" }]
  }

  expect_failures = [var.transforms]
}

run "transform_duplicate_names" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm" }, { name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm" }]
  }

  expect_failures = [var.transforms]
}

run "transform_not_wasm" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "tests/fixtures/function.zip" }]
  }

  expect_failures = [var.transforms]
}

# The module uploads the file, so it must be there when Terraform plans.
run "transform_wasm_missing" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "missing/redact.wasm" }]
  }

  expect_failures = [var.transforms]
}

run "transform_config_not_json" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = "fields: [password]" }]
  }

  expect_failures = [var.transforms]
}

run "transform_config_not_object" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm", config_json = "[1, 2]" }]
  }

  expect_failures = [var.transforms]
}

run "transform_bad_on_error" {
  command = plan

  variables {
    transforms = [{ name = "redact", wasm_path = "../target/terraform/fixtures/empty.wasm", on_error = "retry" }]
  }

  expect_failures = [var.transforms]
}

run "transform_limits_call_timeout_too_long" {
  command = plan

  variables {
    transform_limits = { call_timeout_ms = 900001 }
  }

  expect_failures = [var.transform_limits]
}

run "transform_limits_memory_fractional" {
  command = plan

  variables {
    transform_limits = { memory_mb = 64.5 }
  }

  expect_failures = [var.transform_limits]
}

run "transform_limits_stack_too_small" {
  command = plan

  variables {
    transform_limits = { stack_kb = 8 }
  }

  expect_failures = [var.transform_limits]
}

run "transform_limits_frame_zero" {
  command = plan

  variables {
    transform_limits = { max_frame_kb = 0 }
  }

  expect_failures = [var.transform_limits]
}

run "transform_limits_chain_memory_zero" {
  command = plan

  variables {
    transform_limits = { chain_memory_mb = 0 }
  }

  expect_failures = [var.transform_limits]
}

run "allowed_indices_uppercase" {
  command = plan

  variables {
    allowed_indices = "CWL-*"
  }

  expect_failures = [var.allowed_indices]
}

run "transform_dead_letters_unknown" {
  command = plan

  variables {
    transform_dead_letters = "everything"
  }

  expect_failures = [var.transform_dead_letters]
}

run "artifacts_prefix_trailing_slash" {
  command = plan

  variables {
    artifacts_prefix = "sluicegate/"
  }

  expect_failures = [var.artifacts_prefix]
}

run "artifacts_prefix_under_aws" {
  command = plan

  variables {
    artifacts_prefix = "aws/sluicegate"
  }

  expect_failures = [var.artifacts_prefix]
}

# The Lambda's archive writes would land among the modules it runs.
run "artifacts_prefix_same_as_archive" {
  command = plan

  variables {
    artifacts_prefix = "archive"
  }

  expect_failures = [var.artifacts_prefix]
}

run "artifacts_prefix_under_dead_letters" {
  command = plan

  variables {
    artifacts_prefix = "dead-letter/sluicegate"
  }

  expect_failures = [var.artifacts_prefix]
}

run "artifacts_prefix_holds_archive" {
  command = plan

  variables {
    artifacts_prefix = "logs"
    archive_prefix   = "logs/archive"
  }

  expect_failures = [var.artifacts_prefix]
}

run "artifacts_prefix_is_raw_archive" {
  command = plan

  variables {
    artifacts_prefix = "archive-raw"
  }

  expect_failures = [var.artifacts_prefix]
}

run "architecture_unknown" {
  command = plan

  variables {
    architecture = "arm"
  }

  expect_failures = [var.architecture]
}

run "memory_too_small" {
  command = plan

  variables {
    memory_size = 64
  }

  expect_failures = [var.memory_size]
}

run "timeout_too_long" {
  command = plan

  variables {
    timeout = 901
  }

  expect_failures = [var.timeout]
}

run "reserved_concurrency_zero" {
  command = plan

  variables {
    reserved_concurrent_executions = 0
  }

  expect_failures = [var.reserved_concurrent_executions]
}


run "code_signing_bad_arn" {
  command = plan

  variables {
    code_signing_config_arn = "csc-123"
  }

  expect_failures = [var.code_signing_config_arn]
}

run "tracing_mode_unknown" {
  command = plan

  variables {
    tracing_mode = "On"
  }

  expect_failures = [var.tracing_mode]
}

run "log_level_unknown" {
  command = plan

  variables {
    log_level = "verbose"
  }

  expect_failures = [var.log_level]
}

run "log_retention_not_allowed" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}

run "index_template_whitespace" {
  command = plan

  variables {
    index_template = "cwl {yyyy}"
  }

  expect_failures = [var.index_template]
}

run "index_template_leading_underscore" {
  command = plan

  variables {
    index_template = "_cwl-{yyyy}"
  }

  expect_failures = [var.index_template]
}

run "index_template_colon" {
  command = plan

  variables {
    index_template = "cwl:{yyyy}"
  }

  expect_failures = [var.index_template]
}

run "index_template_unknown_placeholder" {
  command = plan

  variables {
    index_template = "cwl-{yyyy}.{month}"
  }

  expect_failures = [var.index_template]
}

run "index_template_uppercase" {
  command = plan

  variables {
    index_template = "CWL-{yyyy}.{MM}"
  }

  expect_failures = [var.index_template]
}

run "bulk_action_unknown" {
  command = plan

  variables {
    bulk_action = "update"
  }

  expect_failures = [var.bulk_action]
}

run "bulk_max_bytes_too_small" {
  command = plan

  variables {
    bulk_max_bytes = 1000
  }

  expect_failures = [var.bulk_max_bytes]
}

run "archive_prefix_slashes" {
  command = plan

  variables {
    archive_prefix = "/archive/"
  }

  expect_failures = [var.archive_prefix]
}

run "archive_prefix_aws" {
  command = plan

  variables {
    archive_prefix = "aws"
  }

  expect_failures = [var.archive_prefix]
}

run "archive_prefix_under_aws" {
  command = plan

  variables {
    archive_prefix = "aws/lambda"
  }

  expect_failures = [var.archive_prefix]
}

run "archive_stage_unknown" {
  command = plan

  variables {
    archive_stage = "all"
  }

  expect_failures = [var.archive_stage]
}

run "dead_letter_prefix_same_as_archive" {
  command = plan

  variables {
    dead_letter_prefix = "archive"
  }

  expect_failures = [var.dead_letter_prefix]
}

run "dead_letter_prefix_under_archive" {
  command = plan

  variables {
    dead_letter_prefix = "archive/dead-letter"
  }

  expect_failures = [var.dead_letter_prefix]
}

run "dead_letter_prefix_is_raw_archive" {
  command = plan

  variables {
    dead_letter_prefix = "archive-raw"
  }

  expect_failures = [var.dead_letter_prefix]
}

run "dead_letter_expiration_zero" {
  command = plan

  variables {
    dead_letter_expiration_days = 0
  }

  expect_failures = [var.dead_letter_expiration_days]
}

run "dead_letter_expiration_fractional" {
  command = plan

  variables {
    dead_letter_expiration_days = 7.5
  }

  expect_failures = [var.dead_letter_expiration_days]
}

run "batch_size_zero" {
  command = plan

  variables {
    batch_size = 0
  }

  expect_failures = [var.batch_size]
}

run "batch_size_too_large" {
  command = plan

  variables {
    batch_size = 10001
  }

  expect_failures = [var.batch_size]
}

run "batching_window_too_long" {
  command = plan

  variables {
    maximum_batching_window_in_seconds = 301
  }

  expect_failures = [var.maximum_batching_window_in_seconds]
}

run "parallelization_too_high" {
  command = plan

  variables {
    parallelization_factor = 11
  }

  expect_failures = [var.parallelization_factor]
}

run "retry_attempts_below_infinite" {
  command = plan

  variables {
    maximum_retry_attempts = -2
  }

  expect_failures = [var.maximum_retry_attempts]
}

run "record_age_too_short" {
  command = plan

  variables {
    maximum_record_age_in_seconds = 30
  }

  expect_failures = [var.maximum_record_age_in_seconds]
}

# The record age must stay below the stream retention: at the default retention of 24 hours, a
# day is already too old.
run "record_age_equal_to_retention" {
  command = plan

  variables {
    maximum_record_age_in_seconds = 86400
  }

  expect_failures = [var.maximum_record_age_in_seconds]
}

run "record_age_beyond_retention" {
  command = plan

  variables {
    stream_retention_hours        = 48
    maximum_record_age_in_seconds = 259200
  }

  expect_failures = [var.maximum_record_age_in_seconds]
}

run "starting_position_unknown" {
  command = plan

  variables {
    starting_position = "AT_TIMESTAMP"
  }

  expect_failures = [var.starting_position]
}

run "failure_destination_type_unknown" {
  command = plan

  variables {
    failure_destination_type = "lambda"
  }

  expect_failures = [var.failure_destination_type]
}

run "failure_destination_arn_wrong_service" {
  command = plan

  variables {
    failure_destination_arn = "arn:aws:sqs:eu-west-1:123456789012:q"
  }

  expect_failures = [var.failure_destination_arn]
}

run "existing_domain_missing" {
  command = plan

  variables {
    create_domain          = false
    domain_master_user_arn = null
  }

  expect_failures = [var.existing_domain_endpoint, var.existing_domain_arn]
}

run "existing_domain_plain_http" {
  command = plan

  variables {
    create_domain            = false
    domain_master_user_arn   = null
    existing_domain_endpoint = "http://search.example.com"
    existing_domain_arn      = "arn:aws:es:eu-west-1:123456789012:domain/shared"
  }

  expect_failures = [var.existing_domain_endpoint]
}

run "existing_domain_arn_wrong_service" {
  command = plan

  variables {
    create_domain            = false
    domain_master_user_arn   = null
    existing_domain_endpoint = "search.example.com"
    existing_domain_arn      = "arn:aws:s3:::shared"
  }

  expect_failures = [var.existing_domain_arn]
}

run "serverless_collection_type_unknown" {
  command = plan

  variables {
    serverless_collection_type = "logs"
  }

  expect_failures = [var.serverless_collection_type]
}

run "index_retention_negative" {
  command = plan

  variables {
    index_retention_days = -1
  }

  expect_failures = [var.index_retention_days]
}

run "index_retention_fractional" {
  command = plan

  variables {
    index_retention_days = 1.5
  }

  expect_failures = [var.index_retention_days]
}

run "domain_engine_version_bare" {
  command = plan

  variables {
    domain_engine_version = "2.17"
  }

  expect_failures = [var.domain_engine_version]
}

run "domain_instance_type_not_search" {
  command = plan

  variables {
    domain_instance_type = "r6g.large"
  }

  expect_failures = [var.domain_instance_type]
}

run "domain_instance_count_not_multiple_of_zones" {
  command = plan

  variables {
    domain_instance_count = 4
  }

  expect_failures = [var.domain_instance_count]
}

run "domain_single_zone" {
  command = plan

  variables {
    domain_availability_zone_count = 1
  }

  expect_failures = [var.domain_availability_zone_count]
}

run "domain_master_type_not_search" {
  command = plan

  variables {
    domain_master_instance_type = "m6g.large"
  }

  expect_failures = [var.domain_master_instance_type]
}

run "domain_even_masters" {
  command = plan

  variables {
    domain_master_instance_count = 2
  }

  expect_failures = [var.domain_master_instance_count]
}

run "domain_volume_too_small" {
  command = plan

  variables {
    domain_volume_size = 5
  }

  expect_failures = [var.domain_volume_size]
}

run "domain_tls_policy_old" {
  command = plan

  variables {
    domain_tls_security_policy = "Policy-Min-TLS-1-0-2019-07"
  }

  expect_failures = [var.domain_tls_security_policy]
}

run "domain_master_user_missing" {
  command = plan

  variables {
    domain_master_user_arn = null
  }

  expect_failures = [var.domain_master_user_arn]
}

run "domain_master_user_session_arn" {
  command = plan

  variables {
    domain_master_user_arn = "arn:aws:sts::123456789012:assumed-role/admin/me"
  }

  expect_failures = [var.domain_master_user_arn]
}

run "subnet_bad_id" {
  command = plan

  variables {
    vpc_subnet_ids         = ["subnet_1", "subnet-0b", "subnet-0c"]
    vpc_security_group_ids = ["sg-01"]
  }

  expect_failures = [var.vpc_subnet_ids]
}

run "subnets_fewer_than_zones" {
  command = plan

  variables {
    vpc_subnet_ids         = ["subnet-0a", "subnet-0b"]
    vpc_security_group_ids = ["sg-01"]
  }

  expect_failures = [var.vpc_subnet_ids]
}

run "security_group_bad_id" {
  command = plan

  variables {
    vpc_subnet_ids         = ["subnet-0a", "subnet-0b", "subnet-0c"]
    vpc_security_group_ids = ["default"]
  }

  expect_failures = [var.vpc_security_group_ids]
}

run "security_groups_without_subnets" {
  command = plan

  variables {
    vpc_security_group_ids = ["sg-01"]
  }

  expect_failures = [var.vpc_security_group_ids]
}

run "archive_bucket_bad_name" {
  command = plan

  variables {
    archive_bucket_name = "Bad_Bucket"
  }

  expect_failures = [var.archive_bucket_name]
}

run "archive_transition_days_zero" {
  command = plan

  variables {
    archive_transition_days          = 0
    archive_transition_storage_class = "GLACIER_IR"
  }

  expect_failures = [var.archive_transition_days]
}

run "archive_storage_class_unknown" {
  command = plan

  variables {
    archive_transition_storage_class = "COLD"
  }

  expect_failures = [var.archive_transition_storage_class]
}

run "archive_infrequent_access_too_early" {
  command = plan

  variables {
    archive_transition_days = 10
  }

  expect_failures = [var.archive_transition_storage_class]
}

run "archive_expiration_before_transition" {
  command = plan

  variables {
    archive_expiration_days = 20
  }

  expect_failures = [var.archive_expiration_days]
}

run "archive_noncurrent_expiration_zero" {
  command = plan

  variables {
    archive_noncurrent_expiration_days = 0
  }

  expect_failures = [var.archive_noncurrent_expiration_days]
}

run "archive_abort_uploads_zero" {
  command = plan

  variables {
    archive_abort_incomplete_upload_days = 0
  }

  expect_failures = [var.archive_abort_incomplete_upload_days]
}

run "archive_object_lock_mode_unknown" {
  command = plan

  variables {
    archive_object_lock = { mode = "STRICT", days = 30 }
  }

  expect_failures = [var.archive_object_lock]
}

run "archive_access_log_bucket_bad_name" {
  command = plan

  variables {
    archive_access_log_bucket = "Logs_Bucket"
  }

  expect_failures = [var.archive_access_log_bucket]
}

run "archive_access_log_prefix_leading_slash" {
  command = plan

  variables {
    archive_access_log_prefix = "/s3-access/"
  }

  expect_failures = [var.archive_access_log_prefix]
}

run "alarm_action_not_arn" {
  command = plan

  variables {
    alarm_actions = ["ops-topic"]
  }

  expect_failures = [var.alarm_actions]
}

run "ok_action_not_arn" {
  command = plan

  variables {
    ok_actions = ["ops-topic"]
  }

  expect_failures = [var.ok_actions]
}

run "iterator_age_threshold_too_small" {
  command = plan

  variables {
    iterator_age_alarm_threshold_ms = 10
  }

  expect_failures = [var.iterator_age_alarm_threshold_ms]
}

run "bulk_undelivered_threshold_negative" {
  command = plan

  variables {
    bulk_undelivered_alarm_threshold = -1
  }

  expect_failures = [var.bulk_undelivered_alarm_threshold]
}

run "dead_lettered_threshold_fractional" {
  command = plan

  variables {
    dead_lettered_alarm_threshold = 0.5
  }

  expect_failures = [var.dead_lettered_alarm_threshold]
}

run "s3_puts_failed_threshold_negative" {
  command = plan

  variables {
    s3_puts_failed_alarm_threshold = -1
  }

  expect_failures = [var.s3_puts_failed_alarm_threshold]
}

run "domain_free_storage_percent_zero" {
  command = plan

  variables {
    domain_free_storage_alarm_threshold_percent = 0
  }

  expect_failures = [var.domain_free_storage_alarm_threshold_percent]
}

run "domain_free_storage_percent_whole_volume" {
  command = plan

  variables {
    domain_free_storage_alarm_threshold_percent = 100
  }

  expect_failures = [var.domain_free_storage_alarm_threshold_percent]
}

run "domain_jvm_memory_pressure_above_100" {
  command = plan

  variables {
    domain_jvm_memory_pressure_alarm_threshold_percent = 101
  }

  expect_failures = [var.domain_jvm_memory_pressure_alarm_threshold_percent]
}
