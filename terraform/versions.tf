terraform {
  # 1.9 is the first release whose variable validations may refer to other variables; the
  # module uses that to reject inconsistent combinations (for example a shard count with an
  # on-demand stream) before planning.
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
  }
}
