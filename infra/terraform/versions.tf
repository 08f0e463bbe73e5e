terraform {
  # 1.5: `check` blocks and `terraform_data`; tested with 1.11.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.60 is the oldest 5.x with everything used here (OAC, scheduler, ESM scaling_config, SQS
      # redrive resources); tested with 5.100. 6.x is not supported yet (see README, "Function URL").
      version = "~> 5.60"
    }
  }
}
