################################################################################
# General
################################################################################

variable "name" {
  description = "Name of this Sluicegate deployment. Prefixes every resource it creates and names the OpenSearch domain, so it must be 3 to 24 lowercase letters, digits or hyphens, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 24 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition     = length(var.tags) <= 50 && alltrue([for key, value in var.tags : length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")])
    error_message = "tags must hold at most 50 tags, with keys of 1 to 128 characters that do not start with aws: and values of at most 256 characters."
  }
}

################################################################################
# KMS
################################################################################

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key. When null the module creates one (with rotation). The key encrypts the stream, the archive bucket, the Lambda environment and log group, the failure destination and the domain; its policy must let CloudWatch Logs use it for the module's log groups."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); aliases are not accepted because key policies and grants need the key itself."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the module-created KMS key is deleted after a destroy."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number from 7 to 30."
  }
}

################################################################################
# Kinesis stream
################################################################################

variable "stream_mode" {
  description = "Capacity mode of the Kinesis stream: ON_DEMAND, or PROVISIONED with stream_shard_count shards."
  type        = string
  default     = "ON_DEMAND"
  nullable    = false

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "stream_shard_count" {
  description = "Number of shards when stream_mode is PROVISIONED. Must be null for ON_DEMAND."
  type        = number
  default     = null

  validation {
    condition     = (var.stream_mode == "PROVISIONED") == (var.stream_shard_count != null)
    error_message = "stream_shard_count is required when stream_mode is PROVISIONED and must be null when it is ON_DEMAND."
  }

  validation {
    condition     = var.stream_shard_count == null || try(var.stream_shard_count >= 1 && var.stream_shard_count <= 10000 && floor(var.stream_shard_count) == var.stream_shard_count, false)
    error_message = "stream_shard_count must be a whole number from 1 to 10000."
  }
}

variable "stream_retention_hours" {
  description = "How long the stream keeps records, in hours (24 to 8760). Records older than the retention are lost if the Lambda falls that far behind."
  type        = number
  default     = 24
  nullable    = false

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760 && floor(var.stream_retention_hours) == var.stream_retention_hours
    error_message = "stream_retention_hours must be a whole number from 24 to 8760."
  }
}

################################################################################
# Subscriptions
################################################################################

variable "log_groups" {
  description = "Log groups to subscribe to the stream, keyed by log group name. filter_pattern selects events (empty means all); distribution is Random (spreads load over shards, the default because Sluicegate does not need per-stream ordering) or ByLogStream. The module's own log groups are refused: subscribing them would feed the Lambda its own output."
  type = map(object({
    filter_pattern = optional(string, "")
    distribution   = optional(string, "Random")
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for log_group_name in keys(var.log_groups) : can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", log_group_name))])
    error_message = "Every log_groups key must be a log group name: 1 to 512 characters of letters, digits, '.', '-', '_', '/' and '#'."
  }

  validation {
    condition     = alltrue([for subscription in values(var.log_groups) : length(subscription.filter_pattern) <= 1024])
    error_message = "A log_groups filter_pattern must be at most 1024 characters."
  }

  validation {
    condition     = alltrue([for subscription in values(var.log_groups) : contains(["Random", "ByLogStream"], subscription.distribution)])
    error_message = "A log_groups distribution must be Random or ByLogStream."
  }
}

variable "account_subscription" {
  description = "When set, creates an account-level subscription filter policy that sends every log group of the account and region to the stream, except excluded_log_groups. The module's own log groups (they would loop) and the log groups of log_groups (their events would arrive twice) are always excluded. Null disables it."
  type = object({
    filter_pattern      = optional(string, "")
    excluded_log_groups = optional(list(string), [])
  })
  default = null

  validation {
    condition     = var.account_subscription == null || try(length(var.account_subscription.filter_pattern) <= 1024, false)
    error_message = "account_subscription.filter_pattern must be at most 1024 characters."
  }

  validation {
    condition     = var.account_subscription == null || try(alltrue([for log_group_name in var.account_subscription.excluded_log_groups : can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", log_group_name))]), false)
    error_message = "account_subscription.excluded_log_groups must hold valid log group names."
  }

  validation {
    # The selection criteria accept at most 50 names; the module adds up to 5 of its own, and
    # excludes every explicitly subscribed log group as well.
    condition     = var.account_subscription == null || try(length(distinct(concat(var.account_subscription.excluded_log_groups, keys(var.log_groups)))) <= 45, false)
    error_message = "account_subscription.excluded_log_groups and the log groups of log_groups (which the account policy excludes too) must together name at most 45 log groups."
  }
}

################################################################################
# Lambda
################################################################################

variable "lambda_zip_path" {
  description = "Path of the Lambda deployment package: a zip holding the `bootstrap` binary built for the chosen architecture (`cargo xtask dist` writes it)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must be the path of a .zip file."
  }
}

variable "layer_zip_path" {
  description = "Optional path of a layer zip of precompiled transforms built by `cargo xtask dist` for the chosen architecture: sealed artifacts at `sluicegate/compiled/<sha256>.cwasm`, which the Lambda finds at `/opt/sluicegate/compiled/` and loads instead of compiling the module with that SHA-256. Null attaches no layer: the Lambda then compiles each module at its first cold start and keeps the result in the compiled-module cache. An artifact that does not match a module or the Lambda's engine is ignored, so a stale layer costs start-up time, never a wrong chain."
  type        = string
  default     = null

  validation {
    condition     = var.layer_zip_path == null || try(endswith(var.layer_zip_path, ".zip"), false)
    error_message = "layer_zip_path must be null or the path of a .zip file."
  }
}

variable "transforms" {
  description = "The transform chain, in order. name names the transform in the pipeline, in logs and in dead letters; wasm_path is the transform's `.wasm` on the machine that runs Terraform (relative paths are from the directory Terraform runs in), which the module uploads to the archive bucket under its SHA-256 and pins in the pipeline; config_json is the transform's JSON configuration (write it with jsonencode; the built-in transforms refuse unknown keys, so it must follow the transform's documented schema); on_error is what happens to an event the transform fails on: dead-letter, drop or pass."
  type = list(object({
    name        = string
    wasm_path   = string
    config_json = optional(string, "{}")
    on_error    = optional(string, "dead-letter")
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for transform in var.transforms : can(regex("^[a-z][a-z0-9_-]{0,62}$", transform.name))])
    error_message = "Every transform name must be 1 to 63 characters of lowercase letters, digits, '_' and '-', starting with a letter."
  }

  validation {
    condition     = length(distinct([for transform in var.transforms : transform.name])) == length(var.transforms)
    error_message = "Transform names must be unique: the pipeline names each transform's dead letters and logs by it."
  }

  validation {
    condition     = alltrue([for transform in var.transforms : endswith(transform.wasm_path, ".wasm") && fileexists(transform.wasm_path)])
    error_message = "Every transform wasm_path must name an existing .wasm file (relative paths are from the directory Terraform runs in): the module uploads it. Build the transforms first."
  }

  validation {
    condition     = alltrue([for transform in var.transforms : can(keys(jsondecode(transform.config_json)))])
    error_message = "Every transform config_json must be a JSON object (use jsonencode({ ... }))."
  }

  validation {
    condition     = alltrue([for transform in var.transforms : contains(["dead-letter", "drop", "pass"], transform.on_error)])
    error_message = "Every transform on_error must be dead-letter, drop or pass."
  }
}

variable "transform_limits" {
  description = "Limits of every transform instance, written into the pipeline as its limits: call_timeout_ms (one call on one batch, 1 to 900000), memory_mb (linear memory of one instance, 1 to 4096), stack_kb (Wasm stack, 16 to 2048), max_frame_kb (largest batch frame handed to a transform, 1 to 65536) and chain_memory_mb (linear memory of the whole chain together, 1 to 65536). Null, or an attribute left null, keeps the Lambda's default."
  type = object({
    call_timeout_ms = optional(number)
    memory_mb       = optional(number)
    stack_kb        = optional(number)
    max_frame_kb    = optional(number)
    chain_memory_mb = optional(number)
  })
  default = null

  validation {
    # A limit left null stands for its minimum here, which always passes.
    condition = alltrue([
      for limit in [
        { value = try(var.transform_limits.call_timeout_ms, null), min = 1, max = 900000 },
        { value = try(var.transform_limits.memory_mb, null), min = 1, max = 4096 },
        { value = try(var.transform_limits.stack_kb, null), min = 16, max = 2048 },
        { value = try(var.transform_limits.max_frame_kb, null), min = 1, max = 65536 },
        { value = try(var.transform_limits.chain_memory_mb, null), min = 1, max = 65536 },
      ] : coalesce(limit.value, limit.min) >= limit.min && coalesce(limit.value, limit.min) <= limit.max && floor(coalesce(limit.value, limit.min)) == coalesce(limit.value, limit.min)
    ])
    error_message = "transform_limits must hold whole numbers: call_timeout_ms from 1 to 900000, memory_mb from 1 to 4096, stack_kb from 16 to 2048, max_frame_kb from 1 to 65536, chain_memory_mb from 1 to 65536."
  }
}

variable "allowed_indices" {
  description = "Index pattern that an index set by a transform must match, written into the pipeline as allowed_indices: lowercase, `*` for any text (for example \"cwl-*\"). An event whose transform names another index fails with the reason, under the transform's on_error. Null lets transforms name any valid index."
  type        = string
  default     = null

  validation {
    condition     = var.allowed_indices == null ? true : length(var.allowed_indices) > 0 && lower(var.allowed_indices) == var.allowed_indices && !can(regex("\\s", var.allowed_indices))
    error_message = "allowed_indices must be a lowercase index pattern without spaces (`*` for any text), or null."
  }
}

variable "transform_dead_letters" {
  description = "What the dead letter of an event that a transform failed on holds, written into the pipeline: metadata (log group, stream, id, time and the message's length, not its text, so a failing redactor cannot put what it was there to remove into the bucket) or event (the whole event as the failing transform received it). Null keeps the Lambda's default, metadata."
  type        = string
  default     = null

  validation {
    condition     = var.transform_dead_letters == null ? true : contains(["metadata", "event"], var.transform_dead_letters)
    error_message = "transform_dead_letters must be metadata, event or null."
  }
}

variable "architecture" {
  description = "Instruction set of the Lambda and its layer: arm64 or x86_64. The zips must be built for it."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB (128 to 10240). CPU scales with it; see Notes, Memory size."
  type        = number
  default     = 512
  nullable    = false

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Lambda timeout in seconds (1 to 900). The Lambda derives its shipping deadline from it."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the Lambda. It caps the load on the domain and should be at least the shard count times parallelization_factor, or the stream falls behind."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= 1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be a whole number of at least 1."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of a Lambda code signing configuration that the deployment zip must satisfy. Null disables code signing."
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]+$", var.code_signing_config_arn))
    error_message = "code_signing_config_arn must be null or a Lambda code signing configuration ARN."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the Lambda: Active or PassThrough."
  type        = string
  default     = "Active"
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "log_level" {
  description = "Log level of the Lambda (SLUICEGATE_LOG_LEVEL and the application log level of its JSON logs): error, warn, info, debug or trace."
  type        = string
  default     = "info"
  nullable    = false

  validation {
    condition     = contains(["error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "log_level must be error, warn, info, debug or trace."
  }
}

variable "log_retention_days" {
  description = "Retention of the log groups the module creates (the Lambda's and the domain's), in days; one of the values CloudWatch Logs accepts."
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

################################################################################
# Pipeline and shipping (the Lambda's environment)
################################################################################

variable "index_template" {
  description = "Index name template (SLUICEGATE_INDEX_TEMPLATE and the pipeline's index_template); the placeholders {yyyy}, {MM}, {dd} and {HH} come from the event time, {log_group} from the log group (made index-safe)."
  type        = string
  default     = "cwl-{yyyy}.{MM}.{dd}"
  nullable    = false

  validation {
    condition     = length(var.index_template) <= 255 && can(regex("^[^\\s\\\\/*?\"<>|,#:_+.-][^\\s\\\\/*?\"<>|,#:]*$", var.index_template))
    error_message = "index_template must be at most 255 characters without whitespace or any of \\ / * ? \" < > | , # :, and must not start with _, -, + or '.'."
  }

  validation {
    # The Lambda refuses other placeholders and upper case outside them when it starts.
    condition     = !can(regex("[{}A-Z]", replace(var.index_template, "/\\{(yyyy|MM|dd|HH|log_group)\\}/", "")))
    error_message = "index_template may only use the placeholders {yyyy}, {MM}, {dd}, {HH} and {log_group}, and its other text must be lowercase (index names are)."
  }
}

variable "bulk_action" {
  description = "Bulk action (SLUICEGATE_BULK_ACTION): index, or create for data streams (a 409 then counts as delivered)."
  type        = string
  default     = "index"
  nullable    = false

  validation {
    condition     = contains(["index", "create"], var.bulk_action)
    error_message = "bulk_action must be index or create."
  }
}

variable "bulk_max_bytes" {
  description = "Largest _bulk request body in bytes (SLUICEGATE_BULK_MAX_BYTES)."
  type        = number
  default     = 5242880
  nullable    = false

  validation {
    condition     = var.bulk_max_bytes >= 65536 && var.bulk_max_bytes <= 104857600 && floor(var.bulk_max_bytes) == var.bulk_max_bytes
    error_message = "bulk_max_bytes must be a whole number from 65536 to 104857600 (the domain's default http.max_content_length)."
  }
}

variable "archive_prefix" {
  description = "Key prefix of the archive objects (SLUICEGATE_ARCHIVE_PREFIX), without leading or trailing slash."
  type        = string
  default     = "archive"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.archive_prefix)) && var.archive_prefix != "aws" && !startswith(var.archive_prefix, "aws/")
    error_message = "archive_prefix must be S3-safe path segments separated by '/', without leading or trailing slash, and neither 'aws' nor under aws/ (the failure destination writes under aws/lambda/)."
  }
}

variable "archive_stage" {
  description = "What the archive holds (SLUICEGATE_ARCHIVE_STAGE and the pipeline's archive_stage): documents (as shipped, after redaction), raw (events as received) or both."
  type        = string
  default     = "documents"
  nullable    = false

  validation {
    condition     = contains(["documents", "raw", "both"], var.archive_stage)
    error_message = "archive_stage must be documents, raw or both."
  }
}

variable "dead_letter_prefix" {
  description = "Key prefix of the dead letters in the archive bucket (SLUICEGATE_DEAD_LETTER_PREFIX), without leading or trailing slash. Must differ from archive_prefix and not lie under it."
  type        = string
  default     = "dead-letter"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.dead_letter_prefix)) && var.dead_letter_prefix != "aws" && !startswith(var.dead_letter_prefix, "aws/")
    error_message = "dead_letter_prefix must be S3-safe path segments without leading or trailing slash, and neither 'aws' nor under aws/ (the failure destination writes under aws/lambda/)."
  }

  validation {
    # Nested prefixes would put dead letters under the archive's lifecycle rule (or archive
    # objects among the dead letters); archive_stage both writes raw events under the -raw twin.
    condition = alltrue([
      for archive_prefix in [var.archive_prefix, "${var.archive_prefix}-raw"] :
      !startswith("${var.dead_letter_prefix}/", "${archive_prefix}/") && !startswith("${archive_prefix}/", "${var.dead_letter_prefix}/")
    ])
    error_message = "dead_letter_prefix must differ from archive_prefix and its -raw twin (the raw events of archive_stage both), and neither may lie under the other."
  }
}

variable "dead_letter_expiration_days" {
  description = "Days after which dead letters (under dead_letter_prefix) expire. They hold events as they came in, before any redaction, so they are kept only long enough to be looked at and replayed."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.dead_letter_expiration_days >= 1 && floor(var.dead_letter_expiration_days) == var.dead_letter_expiration_days
    error_message = "dead_letter_expiration_days must be a whole number of at least 1."
  }
}

variable "artifacts_prefix" {
  description = "Key prefix, in the archive bucket, of what the Lambda runs: the transform modules under `<prefix>/modules/<sha256>.wasm`, the pipeline documents under `<prefix>/pipelines/<sha256>.json`, and the compiled-module cache under `<prefix>/compiled/`, which only the Lambda's role may write. Without leading or trailing slash; must not overlap archive_prefix or dead_letter_prefix."
  type        = string
  default     = "sluicegate"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$", var.artifacts_prefix)) && var.artifacts_prefix != "aws" && !startswith(var.artifacts_prefix, "aws/")
    error_message = "artifacts_prefix must be S3-safe path segments without leading or trailing slash, and neither 'aws' nor under aws/ (the failure destination writes under aws/lambda/)."
  }

  validation {
    # Overlapping prefixes would put the modules under the archive's lifecycle rule, or let the
    # Lambda's archive and dead-letter writes land among the modules it runs.
    condition = alltrue([
      for other_prefix in [var.archive_prefix, var.dead_letter_prefix, "${var.archive_prefix}-raw"] :
      !startswith("${var.artifacts_prefix}/", "${other_prefix}/") && !startswith("${other_prefix}/", "${var.artifacts_prefix}/")
    ])
    error_message = "artifacts_prefix must differ from archive_prefix (and its -raw twin) and dead_letter_prefix, and none of them may lie under another."
  }
}

################################################################################
# Event source mapping
################################################################################

variable "batch_size" {
  description = "Largest number of Kinesis records per invocation (1 to 10000)."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number from 1 to 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping gathers records before invoking (0 to 300 seconds)."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number from 0 to 300."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10). Ordering per shard is not needed because documents have idempotent ids."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number from 1 to 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its records go to the failure destination (-1 means until the record expires, up to 10000)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.maximum_retry_attempts >= -1 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number from -1 to 10000."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this go to the failure destination instead of being retried (-1 for no limit, or 60 to 604800 seconds). Must be below the stream retention (stream_retention_hours): a record the stream drops before it is this old is lost without reaching the failure destination. The default leaves an hour of the default retention, which an sqs or sns failure destination needs: it receives only a batch's shard and sequence numbers, and the records must still be in the stream to be read back. With -1, the records of a batch that fails until the stream drops them are lost the same way."
  type        = number
  default     = 82800
  nullable    = false

  validation {
    condition     = floor(var.maximum_record_age_in_seconds) == var.maximum_record_age_in_seconds && (var.maximum_record_age_in_seconds == -1 || (var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800))
    error_message = "maximum_record_age_in_seconds must be -1 or a whole number from 60 to 604800."
  }

  validation {
    # Kinesis drops a record at the retention; one that would reach this age only later never
    # goes to the failure destination.
    condition     = var.maximum_record_age_in_seconds < var.stream_retention_hours * 3600
    error_message = "maximum_record_age_in_seconds (${var.maximum_record_age_in_seconds}) must be below the stream retention, stream_retention_hours (${var.stream_retention_hours}) x 3600 = ${var.stream_retention_hours * 3600} seconds: a record the stream drops first is lost without reaching the failure destination."
  }
}

variable "bisect_batch_on_function_error" {
  description = "Split a batch in two and retry when the function fails as a whole, to isolate a bad record."
  type        = bool
  default     = true
  nullable    = false
}

variable "starting_position" {
  description = "Where the event source mapping starts reading a new stream: TRIM_HORIZON (oldest record) or LATEST."
  type        = string
  default     = "TRIM_HORIZON"
  nullable    = false

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.starting_position)
    error_message = "starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "failure_destination_type" {
  description = "Where the event source mapping sends batches it gives up on: s3 (the archive bucket by default), sqs or sns (a KMS-encrypted queue or topic the module creates by default)."
  type        = string
  default     = "s3"
  nullable    = false

  validation {
    condition     = contains(["s3", "sqs", "sns"], var.failure_destination_type)
    error_message = "failure_destination_type must be s3, sqs or sns."
  }
}

variable "failure_destination_arn" {
  description = "ARN of an existing failure destination of failure_destination_type (an S3 bucket, SQS queue or SNS topic). Null uses the archive bucket for s3 and creates a queue or topic for sqs and sns."
  type        = string
  default     = null

  validation {
    condition     = var.failure_destination_arn == null || can(regex("^arn:aws[a-z-]*:${var.failure_destination_type}:", var.failure_destination_arn))
    error_message = "failure_destination_arn must be null or the ARN of a resource of failure_destination_type (arn:aws:s3:::..., arn:aws:sqs:..., arn:aws:sns:...)."
  }
}

################################################################################
# OpenSearch
################################################################################

variable "create_domain" {
  description = "Create an OpenSearch domain. When false, existing_domain_endpoint and existing_domain_arn name the domain (or OpenSearch Serverless collection) to ship to."
  type        = bool
  default     = true
  nullable    = false
}

variable "existing_domain_endpoint" {
  description = "Endpoint of an existing domain or collection, with or without https:// (used when create_domain is false)."
  type        = string
  default     = null

  validation {
    condition     = var.create_domain || var.existing_domain_endpoint != null
    error_message = "existing_domain_endpoint is required when create_domain is false."
  }

  validation {
    condition     = var.existing_domain_endpoint == null || can(regex("^(https://)?[a-zA-Z0-9.-]+(:[0-9]+)?/?$", var.existing_domain_endpoint))
    error_message = "existing_domain_endpoint must be a host name, optionally with https:// and a port; plain http is not accepted."
  }
}

variable "existing_domain_arn" {
  description = "ARN of the existing domain (arn:aws:es:...:domain/NAME, signed as sigv4-es) or OpenSearch Serverless collection (arn:aws:aoss:...:collection/ID, signed as sigv4-aoss). Used to scope the Lambda's permissions."
  type        = string
  default     = null

  validation {
    condition     = var.create_domain || var.existing_domain_arn != null
    error_message = "existing_domain_arn is required when create_domain is false."
  }

  validation {
    condition     = var.existing_domain_arn == null || can(regex("^arn:aws[a-z-]*:(es:[a-z0-9-]+:[0-9]{12}:domain|aoss:[a-z0-9-]+:[0-9]{12}:collection)/[a-z0-9-]+$", var.existing_domain_arn))
    error_message = "existing_domain_arn must be an OpenSearch domain ARN (arn:aws:es:REGION:ACCOUNT:domain/NAME) or a collection ARN (arn:aws:aoss:REGION:ACCOUNT:collection/ID)."
  }
}

variable "serverless_collection_type" {
  description = "Type of the OpenSearch Serverless collection when existing_domain_arn names one (SLUICEGATE_ES_COLLECTION_TYPE): timeseries, search or vector. Time-series and vector collections refuse document ids, so the Lambda sends none there, and a batch that is retried can index an event twice; a search collection takes the ids, and a retry rewrites the same documents. Ignored for a managed domain."
  type        = string
  default     = "timeseries"
  nullable    = false

  validation {
    condition     = contains(["timeseries", "search", "vector"], var.serverless_collection_type)
    error_message = "serverless_collection_type must be timeseries, search or vector."
  }
}

variable "index_retention_days" {
  description = "Days after their creation that the lifecycle policy `sluicegate setup` installs (ISM on OpenSearch, ILM on Elasticsearch) deletes the indices; 0 installs none and keeps them. It reaches the cluster through the setup_command output, not through Terraform."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.index_retention_days >= 0 && var.index_retention_days <= 36500 && floor(var.index_retention_days) == var.index_retention_days
    error_message = "index_retention_days must be a whole number from 0 (no lifecycle policy) to 36500."
  }
}

variable "domain_engine_version" {
  description = "Engine of the created domain, for example OpenSearch_2.17."
  type        = string
  default     = "OpenSearch_2.17"
  nullable    = false

  validation {
    condition     = can(regex("^(OpenSearch|Elasticsearch)_[0-9]+\\.[0-9]+$", var.domain_engine_version))
    error_message = "domain_engine_version must look like OpenSearch_2.17 or Elasticsearch_7.10."
  }
}

variable "domain_instance_type" {
  description = "Instance type of the data nodes."
  type        = string
  default     = "r6g.large.search"
  nullable    = false

  validation {
    condition     = endswith(var.domain_instance_type, ".search")
    error_message = "domain_instance_type must be an OpenSearch instance type ending in .search."
  }
}

variable "domain_instance_count" {
  description = "Number of data nodes; a multiple of domain_availability_zone_count so every zone holds the same share."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.domain_instance_count >= 2 && floor(var.domain_instance_count) == var.domain_instance_count && var.domain_instance_count % var.domain_availability_zone_count == 0
    error_message = "domain_instance_count must be a whole number of at least 2 and a multiple of domain_availability_zone_count."
  }
}

variable "domain_availability_zone_count" {
  description = "Availability zones the domain spreads over (zone awareness): 2 or 3."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = contains([2, 3], var.domain_availability_zone_count)
    error_message = "domain_availability_zone_count must be 2 or 3."
  }
}

variable "domain_master_instance_type" {
  description = "Instance type of the dedicated master nodes."
  type        = string
  default     = "m6g.large.search"
  nullable    = false

  validation {
    condition     = endswith(var.domain_master_instance_type, ".search")
    error_message = "domain_master_instance_type must be an OpenSearch instance type ending in .search."
  }
}

variable "domain_master_instance_count" {
  description = "Number of dedicated master nodes: 3 or 5 (an odd number keeps a quorum through a zone loss)."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = contains([3, 5], var.domain_master_instance_count)
    error_message = "domain_master_instance_count must be 3 or 5."
  }
}

variable "domain_volume_size" {
  description = "gp3 EBS volume per data node, in GiB."
  type        = number
  default     = 100
  nullable    = false

  validation {
    condition     = var.domain_volume_size >= 10 && var.domain_volume_size <= 24576 && floor(var.domain_volume_size) == var.domain_volume_size
    error_message = "domain_volume_size must be a whole number of GiB from 10 to 24576."
  }
}

variable "domain_tls_security_policy" {
  description = "TLS policy of the domain endpoint; both choices require TLS 1.2 or newer."
  type        = string
  default     = "Policy-Min-TLS-1-2-PFS-2023-10"
  nullable    = false

  validation {
    condition     = contains(["Policy-Min-TLS-1-2-PFS-2023-10", "Policy-Min-TLS-1-2-2019-07"], var.domain_tls_security_policy)
    error_message = "domain_tls_security_policy must be Policy-Min-TLS-1-2-PFS-2023-10 or Policy-Min-TLS-1-2-2019-07."
  }
}

variable "domain_master_user_arn" {
  description = "IAM ARN of the fine-grained access control master user of the created domain (a role your administrators assume). Required when create_domain is true. Run the setup_command output with its credentials after the first apply: it maps the Lambda role to a role that may write the indices."
  type        = string
  default     = null

  validation {
    condition     = !var.create_domain || var.domain_master_user_arn != null
    error_message = "domain_master_user_arn is required when create_domain is true: fine-grained access control needs a master user."
  }

  validation {
    condition     = var.domain_master_user_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", var.domain_master_user_arn))
    error_message = "domain_master_user_arn must be an IAM role or user ARN."
  }
}

variable "create_opensearch_service_linked_role" {
  description = "Create the OpenSearch service-linked role (AWSServiceRoleForAmazonOpenSearchService) when the module creates a domain in a VPC; the domain cannot be created in a VPC without it. An account has at most one, so set false when it already exists (for example for another domain in a VPC), or the apply fails. Destroying the module deletes it, which fails while another domain uses it."
  type        = bool
  default     = true
  nullable    = false
}

################################################################################
# Networking
################################################################################

variable "vpc_subnet_ids" {
  description = "Subnets for the Lambda and the created domain. Empty places neither in a VPC. The domain uses the first domain_availability_zone_count subnets, which must be in different zones. The subnets need a route to S3, KMS, Kinesis and CloudWatch Logs (NAT or VPC endpoints)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for subnet_id in var.vpc_subnet_ids : can(regex("^subnet-[0-9a-f]+$", subnet_id))])
    error_message = "vpc_subnet_ids must be subnet ids (subnet-...)."
  }

  validation {
    condition     = length(var.vpc_subnet_ids) == 0 || !var.create_domain || length(var.vpc_subnet_ids) >= var.domain_availability_zone_count
    error_message = "vpc_subnet_ids must hold at least domain_availability_zone_count subnets (one per zone) when the module creates the domain."
  }
}

variable "vpc_security_group_ids" {
  description = "Security groups for the Lambda and the created domain when vpc_subnet_ids is set. The domain's groups must admit HTTPS from the Lambda's."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for security_group_id in var.vpc_security_group_ids : can(regex("^sg-[0-9a-f]+$", security_group_id))])
    error_message = "vpc_security_group_ids must be security group ids (sg-...)."
  }

  validation {
    condition     = (length(var.vpc_subnet_ids) == 0) == (length(var.vpc_security_group_ids) == 0)
    error_message = "vpc_subnet_ids and vpc_security_group_ids must be set together."
  }
}

################################################################################
# Archive bucket
################################################################################

variable "archive_bucket_name" {
  description = "Name of the archive bucket. Null derives a globally unique one from name, account id and region."
  type        = string
  default     = null

  validation {
    condition     = var.archive_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.archive_bucket_name))
    error_message = "archive_bucket_name must be a valid S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-'."
  }
}

variable "archive_force_destroy" {
  description = "Let terraform destroy delete a non-empty archive bucket (archive objects, dead letters and compiled modules are written at run time). Leave false in production."
  type        = bool
  default     = false
  nullable    = false
}

variable "archive_transition_days" {
  description = "Days after which archive objects move to archive_transition_storage_class."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.archive_transition_days >= 1 && floor(var.archive_transition_days) == var.archive_transition_days
    error_message = "archive_transition_days must be a whole number of at least 1."
  }
}

variable "archive_transition_storage_class" {
  description = "Storage class archive objects move to after archive_transition_days."
  type        = string
  default     = "STANDARD_IA"
  nullable    = false

  validation {
    condition     = contains(["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"], var.archive_transition_storage_class)
    error_message = "archive_transition_storage_class must be STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE."
  }

  validation {
    # S3 refuses a transition to an infrequent-access class before 30 days.
    condition     = !contains(["STANDARD_IA", "ONEZONE_IA"], var.archive_transition_storage_class) || var.archive_transition_days >= 30
    error_message = "archive_transition_days must be at least 30 for STANDARD_IA and ONEZONE_IA."
  }
}

variable "archive_expiration_days" {
  description = "Days after which current archive objects expire. Null keeps them."
  type        = number
  default     = null

  validation {
    condition     = var.archive_expiration_days == null || try(var.archive_expiration_days > var.archive_transition_days && floor(var.archive_expiration_days) == var.archive_expiration_days, false)
    error_message = "archive_expiration_days must be null or a whole number greater than archive_transition_days."
  }
}

variable "archive_noncurrent_expiration_days" {
  description = "Days after which noncurrent (overwritten or deleted) object versions expire."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.archive_noncurrent_expiration_days >= 1 && floor(var.archive_noncurrent_expiration_days) == var.archive_noncurrent_expiration_days
    error_message = "archive_noncurrent_expiration_days must be a whole number of at least 1."
  }
}

variable "archive_abort_incomplete_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted."
  type        = number
  default     = 7
  nullable    = false

  validation {
    condition     = var.archive_abort_incomplete_upload_days >= 1 && floor(var.archive_abort_incomplete_upload_days) == var.archive_abort_incomplete_upload_days
    error_message = "archive_abort_incomplete_upload_days must be a whole number of at least 1."
  }
}

variable "archive_object_lock" {
  description = "Object lock default retention for the archive bucket (mode GOVERNANCE or COMPLIANCE, and days). Null disables object lock. Object lock can only be turned on when the bucket is created."
  type = object({
    mode = string
    days = number
  })
  default = null

  validation {
    condition     = var.archive_object_lock == null || try(contains(["GOVERNANCE", "COMPLIANCE"], var.archive_object_lock.mode) && var.archive_object_lock.days >= 1 && floor(var.archive_object_lock.days) == var.archive_object_lock.days, false)
    error_message = "archive_object_lock.mode must be GOVERNANCE or COMPLIANCE and archive_object_lock.days a whole number of at least 1."
  }
}

variable "archive_access_log_bucket" {
  description = "Name of an existing bucket that receives the archive bucket's server access logs (under archive_access_log_prefix). Null disables access logging."
  type        = string
  default     = null

  validation {
    condition     = var.archive_access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.archive_access_log_bucket))
    error_message = "archive_access_log_bucket must be null or a valid S3 bucket name."
  }
}

variable "archive_access_log_prefix" {
  description = "Key prefix of the archive bucket's access logs in archive_access_log_bucket."
  type        = string
  default     = "s3-access/"
  nullable    = false

  validation {
    condition     = length(var.archive_access_log_prefix) <= 900 && !startswith(var.archive_access_log_prefix, "/") && can(regex("^[A-Za-z0-9!_.*'()/-]*$", var.archive_access_log_prefix))
    error_message = "archive_access_log_prefix must be at most 900 S3-safe characters (letters, digits, ! _ . * ' ( ) - /) and must not start with '/'."
  }
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Create the CloudWatch alarms (iterator age, Lambda errors and throttles, the Lambda's own undelivered, dead-lettered and S3 failure counts, subscription delivery errors, failure destination, domain health, and the created domain's free storage and JVM memory pressure)."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (for example an SNS topic)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for action_arn in var.alarm_actions : startswith(action_arn, "arn:")])
    error_message = "alarm_actions must be ARNs."
  }
}

variable "ok_actions" {
  description = "ARNs notified when an alarm returns to OK."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for action_arn in var.ok_actions : startswith(action_arn, "arn:")])
    error_message = "ok_actions must be ARNs."
  }
}

variable "iterator_age_alarm_threshold_ms" {
  description = "Alarm when the oldest unread record of the stream is older than this many milliseconds."
  type        = number
  default     = 300000
  nullable    = false

  validation {
    condition     = var.iterator_age_alarm_threshold_ms >= 1000
    error_message = "iterator_age_alarm_threshold_ms must be at least 1000."
  }
}

variable "bulk_undelivered_alarm_threshold" {
  description = "Alarm when more than this many _bulk items were not delivered within an invocation's deadline over five minutes (the Lambda's BulkItemsUndelivered metric; their records are reported and retried)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.bulk_undelivered_alarm_threshold >= 0 && floor(var.bulk_undelivered_alarm_threshold) == var.bulk_undelivered_alarm_threshold
    error_message = "bulk_undelivered_alarm_threshold must be a whole number of at least 0."
  }
}

variable "dead_lettered_alarm_threshold" {
  description = "Alarm when more than this many records and events were dead-lettered over five minutes (the Lambda's DeadLettered metric; they are in the archive bucket under dead_letter_prefix, not in the index)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.dead_lettered_alarm_threshold >= 0 && floor(var.dead_lettered_alarm_threshold) == var.dead_lettered_alarm_threshold
    error_message = "dead_lettered_alarm_threshold must be a whole number of at least 0."
  }
}

variable "s3_puts_failed_alarm_threshold" {
  description = "Alarm when more than this many archive or dead-letter objects could not be stored over five minutes (the Lambda's S3PutsFailed metric; their records are reported and retried)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.s3_puts_failed_alarm_threshold >= 0 && floor(var.s3_puts_failed_alarm_threshold) == var.s3_puts_failed_alarm_threshold
    error_message = "s3_puts_failed_alarm_threshold must be a whole number of at least 0."
  }
}

variable "domain_free_storage_alarm_threshold_percent" {
  description = "Alarm when the created domain's node with the least free storage has less than this share of domain_volume_size free, in percent."
  type        = number
  default     = 25
  nullable    = false

  validation {
    condition     = var.domain_free_storage_alarm_threshold_percent >= 1 && var.domain_free_storage_alarm_threshold_percent <= 99
    error_message = "domain_free_storage_alarm_threshold_percent must be from 1 to 99."
  }
}

variable "domain_jvm_memory_pressure_alarm_threshold_percent" {
  description = "Alarm when the JVM memory pressure of a node of the created domain stays at or above this percentage for three minutes."
  type        = number
  default     = 95
  nullable    = false

  validation {
    condition     = var.domain_jvm_memory_pressure_alarm_threshold_percent >= 1 && var.domain_jvm_memory_pressure_alarm_threshold_percent <= 100
    error_message = "domain_jvm_memory_pressure_alarm_threshold_percent must be from 1 to 100."
  }
}
