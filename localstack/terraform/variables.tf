variable "region" {
  description = "Region LocalStack emulates."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Bucket to create in LocalStack."
  type        = string
  default     = "rpmbucket-local"
}

variable "repository_prefixes" {
  description = "Repository prefixes."
  type        = list(string)
  default     = ["el9/x86_64/"]
}

variable "public_endpoint" {
  description = "LocalStack's address as clients on the host see it (used in baseurl=)."
  type        = string
  default     = "http://localhost:4566"
}

variable "indexer_zip" {
  description = "Indexer zip (cargo lambda build --release --output-format zip)."
  type        = string
  default     = "../../target/lambda/rpmbucket-indexer/bootstrap.zip"
}

variable "gateway_zip" {
  description = "Gateway zip."
  type        = string
  default     = "../../target/lambda/rpmbucket-gateway/bootstrap.zip"
}

variable "lambda_architecture" {
  description = "Architecture the zips were built for; x86_64 on most laptops, arm64 on Apple silicon."
  type        = string
  default     = "x86_64"
}
