variable "region" {
  description = "Region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "lambda_zip_path" {
  description = "Lambda zip built by `cargo xtask dist`."
  type        = string
  default     = "../../../target/dist/sluicegate-lambda-arm64.zip"
}

variable "layer_zip_path" {
  description = "Layer of precompiled transforms built by `cargo xtask dist`, or null to compile the modules at the first cold start."
  type        = string
  default     = null
}

variable "search_admin_role_arn" {
  description = "IAM role that administers the domain (fine-grained access control master user)."
  type        = string
}

variable "vpc_subnet_ids" {
  description = "Three private subnets in different zones, with a NAT gateway or VPC endpoints for S3, KMS, Kinesis and CloudWatch Logs."
  type        = list(string)
}

variable "vpc_security_group_ids" {
  description = "Security groups for the Lambda and the domain; they must admit HTTPS between each other."
  type        = list(string)
}

variable "create_opensearch_service_linked_role" {
  description = "Create the OpenSearch service-linked role; false when the account already has AWSServiceRoleForAmazonOpenSearchService."
  type        = bool
  default     = true
}
