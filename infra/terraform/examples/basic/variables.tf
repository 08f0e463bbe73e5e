variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "rpmbucket"
}

variable "bucket_name" {
  description = "Globally unique name of the bucket to create."
  type        = string
}

variable "repository_prefixes" {
  description = "Repository prefixes in the bucket."
  type        = list(string)
  default     = ["el9/x86_64/", "el9/aarch64/"]
}

variable "repository_access" {
  description = "\"cloudfront\" (default), \"public-read\" or \"none\"."
  type        = string
  default     = "cloudfront"
}

variable "force_destroy" {
  description = "Let destroy delete a bucket that still holds packages."
  type        = bool
  default     = false
}

variable "indexer_zip" {
  description = "Indexer zip from `cargo lambda build --release --arm64 --output-format zip`."
  type        = string
  default     = "../../../../target/lambda/rpmbucket-indexer/bootstrap.zip"
}

variable "gateway_zip" {
  description = "Gateway zip from the same build."
  type        = string
  default     = "../../../../target/lambda/rpmbucket-gateway/bootstrap.zip"
}

variable "lambda_architecture" {
  description = "Architecture the zips were built for."
  type        = string
  default     = "arm64"
}

variable "tokens_secret_recovery_days" {
  description = "Recovery window of the tokens secret (0 = delete at once on destroy)."
  type        = number
  default     = 7
}

variable "deny_insecure_transport" {
  description = "Deny non-TLS requests to the bucket (turn off only for plain-HTTP emulators)."
  type        = bool
  default     = true
}

variable "public_base_url" {
  description = "Override of the URL clients use for the bucket root (e.g. an emulator endpoint)."
  type        = string
  default     = null
}

variable "indexer_timeout_seconds" {
  description = "Indexer timeout; the queue's visibility timeout is six times this."
  type        = number
  default     = 300
}

variable "sqs_max_receive_count" {
  description = "Deliveries of a notification before it moves to the dead-letter queue."
  type        = number
  default     = 5
}
