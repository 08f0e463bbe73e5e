# ---------------------------------------------------------------------------------------------------
# Naming and the bucket
# ---------------------------------------------------------------------------------------------------

variable "name" {
  description = "Name prefix for every resource the module creates (functions, queues, roles, alarms, log groups)."
  type        = string
  default     = "rpmbucket"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lowercase letters, digits and '-', starting with a letter."
  }
}

variable "bucket_name" {
  description = "Name of the S3 bucket that holds the repositories. The module creates it."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("\\.\\.|^\\d+\\.\\d+\\.\\d+\\.\\d+$|^xn--|-s3alias$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 characters of lowercase letters, digits, '.' and '-'."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket even when it still holds packages (every version). Keep false in production."
  type        = bool
  default     = false
}

variable "repository_prefixes" {
  description = <<-EOT
    Repository prefixes inside the bucket, each ending in '/', e.g. ["el9/x86_64/", "el9/aarch64/"].
    A prefix is a repository root (its metadata lives in PREFIX + "repodata/") or, with layout "auto",
    a parent of repository roots. Uploads and notifications are limited to these prefixes and the
    indexer may write only under their repodata/ directories. Empty list = the whole bucket.
  EOT
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for p in var.repository_prefixes :
      can(regex("^([A-Za-z0-9._+-]+/)+$", p)) && !can(regex("(^|/)\\.\\.?/", p)) && !can(regex("(^|/)repodata/", p))
    ])
    error_message = "Each repository prefix must be relative, end with '/', contain only letters, digits, '.', '_', '+', '-', and no '.', '..' or 'repodata' segment."
  }

  validation {
    # S3 rejects overlapping notification filters, and overlapping prefixes would index a package twice.
    condition = alltrue(flatten([
      for i, a in var.repository_prefixes : [
        for j, b in var.repository_prefixes : i == j || !startswith(b, a)
      ]
    ]))
    error_message = "Repository prefixes must be distinct and none may be a prefix of another."
  }
}

variable "upload_prefixes" {
  description = "Prefixes the gateway may presign uploads and deletes for (each ending in '/'). null = the same as repository_prefixes. Must lie inside repository_prefixes when those are set."
  type        = list(string)
  default     = null

  validation {
    condition = var.upload_prefixes == null ? true : alltrue([
      for p in var.upload_prefixes : can(regex("^([A-Za-z0-9._+-]+/)+$", p)) && !can(regex("(^|/)\\.\\.?/", p)) && !can(regex("(^|/)repodata/", p))
    ])
    error_message = "Each upload prefix must be relative, end with '/', and contain no '.', '..' or 'repodata' segment."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted object versions are removed for good (the bucket is versioned so a bad publish can be rolled back)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "kms_key_arn" {
  description = "ARN of a customer managed KMS key for bucket encryption (SSE-KMS with a bucket key). null = SSE-S3 (AES256). With CloudFront, the key policy must also allow cloudfront.amazonaws.com to decrypt."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "deny_insecure_transport" {
  description = "Add a bucket policy statement that denies every request not made over TLS. Turn off only for local emulators reached over plain HTTP."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------
# How clients reach the repositories
# ---------------------------------------------------------------------------------------------------

variable "repository_access" {
  description = <<-EOT
    How dnf/yum/zypper read the repositories:
    "cloudfront"  (default) a CloudFront distribution with origin access control; the bucket stays private.
    "public-read" a bucket policy that lets anyone GET objects under the repository prefixes (nothing else).
    "none"        no public access (clients need their own credentials or a proxy; see public_base_url).
  EOT
  type        = string
  default     = "cloudfront"

  validation {
    condition     = contains(["cloudfront", "public-read", "none"], var.repository_access)
    error_message = "repository_access must be one of \"cloudfront\", \"public-read\" or \"none\"."
  }
}

variable "public_base_url" {
  description = "Base URL clients use for the bucket root, ending in '/' (e.g. a custom domain or an emulator endpoint). null = derived from repository_access."
  type        = string
  default     = null

  validation {
    condition     = var.public_base_url == null || can(regex("^https?://[^\\s]+/$", var.public_base_url))
    error_message = "public_base_url must be an http(s) URL ending in '/'."
  }
}

variable "metadata_ttl_seconds" {
  description = "CloudFront TTL for repodata/repomd.xml (and its .asc/.key), the only mutable metadata file. Keep it short: it bounds how stale a client's view can be."
  type        = number
  default     = 60

  validation {
    condition     = var.metadata_ttl_seconds >= 0 && var.metadata_ttl_seconds <= 3600
    error_message = "metadata_ttl_seconds must be between 0 and 3600."
  }
}

variable "content_ttl_seconds" {
  description = "CloudFront default TTL for everything else: content-addressed metadata (repodata/<sha256>-*) and packages, which never change under the same name."
  type        = number
  default     = 86400

  validation {
    condition     = var.content_ttl_seconds >= 60 && var.content_ttl_seconds <= 31536000
    error_message = "content_ttl_seconds must be between 60 and 31536000."
  }
}

variable "cloudfront_price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_All", "PriceClass_200", "PriceClass_100"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_All, PriceClass_200 or PriceClass_100."
  }
}

variable "cloudfront_aliases" {
  description = "Extra domain names for the distribution (needs cloudfront_acm_certificate_arn)."
  type        = list(string)
  default     = []
}

variable "cloudfront_acm_certificate_arn" {
  description = "ACM certificate (in us-east-1) covering cloudfront_aliases. null = the default *.cloudfront.net certificate."
  type        = string
  default     = null

  validation {
    condition     = var.cloudfront_acm_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:us-east-1:", var.cloudfront_acm_certificate_arn))
    error_message = "cloudfront_acm_certificate_arn must be an ACM certificate ARN in us-east-1."
  }
}

variable "gpgkey_url" {
  description = "URL of the public key that signs the packages; when set, the generated .repo snippets turn gpgcheck on."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------------
# Notifications and the queue
# ---------------------------------------------------------------------------------------------------

variable "sqs_batch_size" {
  description = "Most notifications the indexer receives in one invocation. All packages of a repository in a batch are published together."
  type        = number
  default     = 100

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size must be between 1 and 10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "How long the event source mapping gathers notifications before invoking (0-300). A few seconds keeps the upload-to-installable delay short while coalescing bursts."
  type        = number
  default     = 2

  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds must be between 0 and 300."
  }
}

variable "sqs_maximum_concurrency" {
  description = "Most indexer invocations the queue drives at once (2-1000). Publishing is safe under concurrency (conditional writes), but a low value avoids retry storms on one repository."
  type        = number
  default     = 2

  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000
    error_message = "sqs_maximum_concurrency must be between 2 and 1000 (an AWS limit)."
  }
}

variable "sqs_max_receive_count" {
  description = "Deliveries of a notification before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.sqs_max_receive_count >= 1 && var.sqs_max_receive_count <= 1000
    error_message = "sqs_max_receive_count must be between 1 and 1000."
  }
}

variable "dlq_retention_seconds" {
  description = "How long failed notifications stay in the dead-letter queue (max 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_retention_seconds >= 60 && var.dlq_retention_seconds <= 1209600
    error_message = "dlq_retention_seconds must be between 60 and 1209600."
  }
}

# ---------------------------------------------------------------------------------------------------
# Lambda functions
# ---------------------------------------------------------------------------------------------------

variable "indexer_zip" {
  description = "Path of the indexer zip built by `cargo lambda build --release --arm64 --output-format zip` (target/lambda/rpmbucket-indexer/bootstrap.zip)."
  type        = string
}

variable "gateway_zip" {
  description = "Path of the gateway zip (target/lambda/rpmbucket-gateway/bootstrap.zip). Ignored when gateway_enabled is false."
  type        = string
  default     = null
}

variable "lambda_architecture" {
  description = "Architecture of both zips: \"arm64\" (default, cheaper per GB-second) or \"x86_64\". Must match how they were built."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "indexer_memory_mb" {
  description = "Indexer memory (MB); CPU scales with it. Rendering metadata for large repositories is CPU-bound."
  type        = number
  default     = 1024

  validation {
    condition     = var.indexer_memory_mb >= 128 && var.indexer_memory_mb <= 10240
    error_message = "indexer_memory_mb must be between 128 and 10240."
  }
}

variable "indexer_ephemeral_storage_mb" {
  description = "Indexer /tmp size (MB). With sqlite databases on, a publish updates the current databases in /tmp: about 4.5 KB per package for the three (450 MB at 100,000 packages)."
  type        = number
  default     = 2048

  validation {
    condition     = var.indexer_ephemeral_storage_mb >= 512 && var.indexer_ephemeral_storage_mb <= 10240
    error_message = "indexer_ephemeral_storage_mb must be between 512 and 10240."
  }
}

variable "indexer_metadata_cache_mb" {
  description = "Budget (MiB) of the indexer's metadata cache in /tmp, which survives between warm invocations: with it a publish reads repomd.xml, the changed chunk and the new package instead of the whole current metadata (BENCHMARKS.md, \"Engine: add 1 package\"). 0 turns it off. It shares /tmp with the databases a publish updates, so it may use at most half of indexer_ephemeral_storage_mb."
  type        = number
  default     = 1024

  validation {
    condition     = var.indexer_metadata_cache_mb >= 0 && var.indexer_metadata_cache_mb == floor(var.indexer_metadata_cache_mb)
    error_message = "indexer_metadata_cache_mb must be a whole number of MiB, 0 or more (0: no cache)."
  }
}

variable "indexer_reconcile_checkpoint" {
  description = "A scheduled reconcile that must read more than this many packages of one repository publishes them this many at a time (in key order) before its final publish, so a run stopped by the Lambda's timeout keeps what it read and the next run reads only the rest. 0 turns checkpoints off (one publish per repository)."
  type        = number
  default     = 10000

  validation {
    condition     = var.indexer_reconcile_checkpoint >= 0 && var.indexer_reconcile_checkpoint == floor(var.indexer_reconcile_checkpoint)
    error_message = "indexer_reconcile_checkpoint must be a whole number of packages, 0 or more (0: no checkpoints)."
  }
}

variable "indexer_timeout_seconds" {
  description = "Indexer timeout. The queue's visibility timeout is set to six times this (AWS's advice for SQS sources)."
  type        = number
  default     = 300

  validation {
    condition     = var.indexer_timeout_seconds >= 10 && var.indexer_timeout_seconds <= 900
    error_message = "indexer_timeout_seconds must be between 10 and 900."
  }
}

variable "layout" {
  description = "RPMBUCKET_LAYOUT: how the indexer maps a package key to its repository. \"auto\" finds the repository root from the key."
  type        = string
  default     = "auto"
}

variable "grace_seconds" {
  description = "RPMBUCKET_GRACE_SECONDS: how long the metadata files of a replaced generation are kept before the indexer deletes them, so clients mid-download never see 404."
  type        = number
  default     = 300

  validation {
    condition     = var.grace_seconds >= 0
    error_message = "grace_seconds must not be negative."
  }
}

variable "compression" {
  description = "RPMBUCKET_COMPRESSION: compression of the XML metadata files of new repositories (\"gz\" is what every dnf/yum/zypper reads). A repository keeps the settings it was created with; change them with `rpmbucket index s3://...`."
  type        = string
  default     = "gz"

  validation {
    condition     = contains(["gz", "zst", "xz", "bz2"], var.compression)
    error_message = "compression must be one of gz, zst, xz, bz2."
  }
}

variable "database" {
  description = "RPMBUCKET_DATABASE: also publish the sqlite databases (*.sqlite.bz2) of new repositories, which old yum (EL7) can use instead of parsing XML."
  type        = bool
  default     = false
}

variable "log_level" {
  description = "RUST_LOG for both functions (e.g. \"info\", \"rpmbucket=debug,info\")."
  type        = string
  default     = "info"
}

variable "indexer_environment" {
  description = "Extra environment variables for the indexer (merged over the module's own)."
  type        = map(string)
  default     = {}
}

variable "reconcile_schedule" {
  description = "EventBridge Scheduler expression for the reconcile run that heals drift between the bucket listing and the metadata (e.g. \"rate(6 hours)\", \"cron(15 3 * * ? *)\"). null disables it."
  type        = string
  default     = "rate(6 hours)"

  validation {
    condition     = var.reconcile_schedule == null || can(regex("^(rate|cron|at)\\(.+\\)$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be a rate(...), cron(...) or at(...) expression, or null."
  }
}

variable "gateway_enabled" {
  description = "Create the upload gateway (Lambda function + function URL)."
  type        = bool
  default     = true
}

variable "gateway_memory_mb" {
  description = "Gateway memory (MB)."
  type        = number
  default     = 256

  validation {
    condition     = var.gateway_memory_mb >= 128 && var.gateway_memory_mb <= 10240
    error_message = "gateway_memory_mb must be between 128 and 10240."
  }
}

variable "gateway_timeout_seconds" {
  description = "Gateway timeout; covers `GET /status/...?wait=N` long polls."
  type        = number
  default     = 60

  validation {
    condition     = var.gateway_timeout_seconds >= 3 && var.gateway_timeout_seconds <= 900
    error_message = "gateway_timeout_seconds must be between 3 and 900."
  }
}

variable "presign_seconds" {
  description = "RPMBUCKET_PRESIGN_SECONDS: lifetime of presigned upload URLs. Keep it short; a URL signed with the function's session credentials also dies when that session does."
  type        = number
  default     = 300

  validation {
    condition     = var.presign_seconds >= 1 && var.presign_seconds <= 43200
    error_message = "presign_seconds must be between 1 and 43200."
  }
}

variable "gateway_environment" {
  description = "Extra environment variables for the gateway (merged over the module's own)."
  type        = map(string)
  default     = {}
}

variable "gateway_public_invoke_permission" {
  description = <<-EOT
    Add the resource policy statement `lambda:InvokeFunction` for principal "*" that function URLs
    with auth type NONE need since October 2025. hashicorp/aws 5.x cannot attach the
    `lambda:InvokedViaFunctionUrl` condition to it, so the statement also allows direct Invoke calls
    by any AWS principal; the gateway authenticates every request either way. Set false and add the
    statement yourself (`aws lambda add-permission ... --invoked-via-function-url`) for the narrow form.
  EOT
  type        = bool
  default     = true
}

variable "tokens_source" {
  description = "Where the gateway reads its hashed tokens: \"secretsmanager\" or \"ssm\"."
  type        = string
  default     = "secretsmanager"

  validation {
    condition     = contains(["secretsmanager", "ssm"], var.tokens_source)
    error_message = "tokens_source must be \"secretsmanager\" or \"ssm\"."
  }
}

variable "tokens_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the tokens. null (with tokens_source = \"secretsmanager\") = the module creates an empty secret for you to fill (its value never enters Terraform state)."
  type        = string
  default     = null

  validation {
    condition     = var.tokens_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.tokens_secret_arn))
    error_message = "tokens_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "tokens_secret_recovery_days" {
  description = "Recovery window of the secret the module creates (0 deletes at once on destroy, 7-30 otherwise)."
  type        = number
  default     = 7

  validation {
    condition     = var.tokens_secret_recovery_days == 0 || (var.tokens_secret_recovery_days >= 7 && var.tokens_secret_recovery_days <= 30)
    error_message = "tokens_secret_recovery_days must be 0 or between 7 and 30."
  }
}

variable "tokens_ssm_parameter_name" {
  description = "Name of an existing SSM SecureString parameter holding the tokens (with tokens_source = \"ssm\"), e.g. \"/rpmbucket/tokens\". Create it yourself so the value stays out of Terraform state."
  type        = string
  default     = null

  validation {
    condition     = var.tokens_ssm_parameter_name == null || can(regex("^/?[A-Za-z0-9_.\\-/]+$", var.tokens_ssm_parameter_name))
    error_message = "tokens_ssm_parameter_name must be an SSM parameter name."
  }
}

variable "tokens_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the tokens secret/parameter; the gateway gets kms:Decrypt on it. null = the AWS managed key."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------------
# Logs and alarms
# ---------------------------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires or clears (e.g. an SNS topic)."
  type        = list(string)
  default     = []
}

variable "alarm_evaluation_minutes" {
  description = "Minutes a function must report errors before its alarm fires."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_evaluation_minutes >= 1 && var.alarm_evaluation_minutes <= 1440
    error_message = "alarm_evaluation_minutes must be between 1 and 1440."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "signing_key_secret_arn" {
  description = "ARN of a Secrets Manager secret whose string value is the repository signing key (gpg --export-secret-keys --armor, no passphrase). With it, the indexer writes repodata/repomd.xml.asc and repomd.xml.key. The key never enters Terraform state: create and fill the secret outside Terraform (encrypted with signing_key_kms_key_arn)."
  type        = string
  default     = null

  validation {
    condition     = var.signing_key_secret_arn == null || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.signing_key_secret_arn))
    error_message = "signing_key_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "signing_key_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the signing-key secret; the indexer may decrypt with it only through Secrets Manager. null: the secret uses the AWS-managed key."
  type        = string
  default     = null

  validation {
    condition     = var.signing_key_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.signing_key_kms_key_arn))
    error_message = "signing_key_kms_key_arn must be a KMS key ARN."
  }
}
