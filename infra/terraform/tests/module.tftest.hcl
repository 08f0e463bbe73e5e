# `terraform test` of the module, offline: the AWS provider is mocked, so these are plans only.
# They check what the module decides on its own: input validation, and which resources each
# setting creates. The deployed behaviour is rehearsed by scripts/rehearse.sh (apply to moto, the
# real functions, the smoke test); the IAM documents are checked by tests/policy_test.py.
#
#   terraform -chdir=infra/terraform init -backend=false -plugin-dir=DIR && terraform -chdir=infra/terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  # Well-formed ARNs for the runs that apply (the provider validates them).
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mocked" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:mocked" }
  }
}

variables {
  bucket_name = "example-bucket"
  # Any existing file: a plan only hashes it.
  indexer_zip = "variables.tf"
  gateway_zip = "variables.tf"
}

run "accepts_good_input" {
  command = plan
  variables {
    repository_prefixes = ["el9/x86_64/", "el9/aarch64/", "el8/x86_64/"]
  }
}

run "rejects_overlapping_prefixes" {
  command = plan
  variables {
    repository_prefixes = ["el9/", "el9/x86_64/"]
  }
  expect_failures = [var.repository_prefixes]
}

run "rejects_a_repodata_segment" {
  command = plan
  variables {
    repository_prefixes = ["el9/repodata/"]
  }
  expect_failures = [var.repository_prefixes]
}

run "rejects_a_dotdot_segment" {
  command = plan
  variables {
    repository_prefixes = ["el9/../x/"]
  }
  expect_failures = [var.repository_prefixes]
}

run "rejects_a_prefix_without_trailing_slash" {
  command = plan
  variables {
    repository_prefixes = ["el9/x86_64"]
  }
  expect_failures = [var.repository_prefixes]
}

run "rejects_an_absolute_prefix" {
  command = plan
  variables {
    repository_prefixes = ["/el9/x86_64/"]
  }
  expect_failures = [var.repository_prefixes]
}

run "rejects_an_unknown_architecture" {
  command = plan
  variables {
    lambda_architecture = "i686"
  }
  expect_failures = [var.lambda_architecture]
}

run "rejects_an_unknown_repository_access" {
  command = plan
  variables {
    repository_access = "website"
  }
  expect_failures = [var.repository_access]
}

run "rejects_maximum_concurrency_below_aws_minimum" {
  command = plan
  variables {
    sqs_maximum_concurrency = 1
  }
  expect_failures = [var.sqs_maximum_concurrency]
}

run "rejects_an_invalid_bucket_name" {
  command = plan
  variables {
    bucket_name = "Bad_Bucket"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_tmp_below_lambda_minimum" {
  command = plan
  variables {
    indexer_ephemeral_storage_mb = 256
  }
  expect_failures = [var.indexer_ephemeral_storage_mb]
}

run "indexer_metadata_cache_is_on_by_default_in_tmp" {
  command = plan
  assert {
    condition     = aws_lambda_function.indexer.environment[0].variables.RPMBUCKET_METADATA_CACHE == "/tmp/rpmbucket-metadata-cache" && aws_lambda_function.indexer.environment[0].variables.RPMBUCKET_METADATA_CACHE_MIB == "1024"
    error_message = "the indexer must keep its metadata cache in /tmp with the default budget"
  }
}

run "indexer_metadata_cache_zero_turns_it_off" {
  command = plan
  variables {
    indexer_metadata_cache_mb = 0
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.indexer.environment[0].variables), "RPMBUCKET_METADATA_CACHE")
    error_message = "indexer_metadata_cache_mb = 0 must leave the cache off"
  }
}

run "indexer_reconcile_checkpoint_reaches_the_lambda" {
  command = plan
  variables {
    indexer_reconcile_checkpoint = 2500
  }
  assert {
    condition     = aws_lambda_function.indexer.environment[0].variables.RPMBUCKET_RECONCILE_CHECKPOINT == "2500"
    error_message = "indexer_reconcile_checkpoint must reach the indexer as RPMBUCKET_RECONCILE_CHECKPOINT"
  }
}

run "rejects_a_fractional_reconcile_checkpoint" {
  command = plan
  variables {
    indexer_reconcile_checkpoint = 2.5
  }
  expect_failures = [var.indexer_reconcile_checkpoint]
}

run "rejects_a_metadata_cache_over_half_of_tmp" {
  command = plan
  variables {
    indexer_ephemeral_storage_mb = 1024
    indexer_metadata_cache_mb    = 1024
  }
  expect_failures = [aws_lambda_function.indexer]
}

run "rejects_an_indexer_timeout_below_ten_seconds" {
  command = plan
  variables {
    indexer_timeout_seconds = 5
  }
  expect_failures = [var.indexer_timeout_seconds]
}

run "cloudfront_creates_distribution_oac_and_cache_policies" {
  command = plan
  variables {
    repository_access   = "cloudfront"
    repository_prefixes = ["el9/x86_64/"]
  }
  assert {
    condition     = length(aws_cloudfront_distribution.this) == 1 && length(aws_cloudfront_origin_access_control.this) == 1
    error_message = "repository_access = cloudfront must create one distribution with an origin access control"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this.block_public_policy && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    error_message = "with CloudFront the bucket must block public policies"
  }
}

run "public_read_opens_only_the_policy" {
  command = plan
  variables {
    repository_access = "public-read"
  }
  assert {
    condition     = length(aws_cloudfront_distribution.this) == 0 && !aws_s3_bucket_public_access_block.this.block_public_policy
    error_message = "public-read must create no distribution and allow the public bucket policy"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.ignore_public_acls
    error_message = "public-read must still block ACLs"
  }
}

run "one_notification_filter_per_prefix_for_rpm_files" {
  command = plan
  variables {
    repository_prefixes = ["el9/x86_64/", "el9/aarch64/"]
  }
  assert {
    condition     = [for q in aws_s3_bucket_notification.this.queue : q.filter_prefix] == ["el9/x86_64/", "el9/aarch64/"]
    error_message = "the bucket must notify for exactly the repository prefixes"
  }
  assert {
    condition     = alltrue([for q in aws_s3_bucket_notification.this.queue : q.filter_suffix == ".rpm" && contains(q.events, "s3:ObjectCreated:*") && contains(q.events, "s3:ObjectRemoved:*")])
    error_message = "every notification filter must select *.rpm creations and removals"
  }
  assert {
    condition     = aws_lambda_function.indexer.environment[0].variables.RPMBUCKET_PREFIXES == "el9/x86_64/,el9/aarch64/"
    error_message = "the indexer must be told the same prefixes the notifications select"
  }
}

run "no_gateway_no_url_no_secret" {
  command = plan
  variables {
    gateway_enabled = false
  }
  assert {
    condition     = length(aws_lambda_function.gateway) == 0 && length(aws_lambda_function_url.gateway) == 0 && length(aws_secretsmanager_secret.tokens) == 0
    error_message = "gateway_enabled = false must create no gateway, function URL or tokens secret"
  }
}

run "the_schedule_sends_the_reconcile_event" {
  command = plan
  assert {
    condition     = jsondecode(aws_scheduler_schedule.reconcile[0].target[0].input) == { rpmbucket = "reconcile" }
    error_message = "the schedule must invoke the indexer with {\"rpmbucket\":\"reconcile\"}"
  }
}

# apply (against the mocked provider) so the queue's ARN is known and can be compared.
run "failed_reconciles_reach_their_dead_letter_queue_and_alarm" {
  command = apply
  # Only this queue gets this ARN: pointing at any other queue fails the asserts.
  override_resource {
    target = aws_sqs_queue.reconcile_dlq
    values = { arn = "arn:aws:sqs:eu-west-1:123456789012:rpmbucket-reconcile-dlq" }
  }
  assert {
    condition     = aws_scheduler_schedule.reconcile[0].target[0].dead_letter_config[0].arn == aws_sqs_queue.reconcile_dlq[0].arn
    error_message = "the schedule must send events it could not deliver to the reconcile dead-letter queue"
  }
  assert {
    condition     = aws_lambda_function_event_invoke_config.indexer[0].destination_config[0].on_failure[0].destination == aws_sqs_queue.reconcile_dlq[0].arn
    error_message = "a reconcile run that failed after Lambda's retries must go to the reconcile dead-letter queue"
  }
  assert {
    condition     = aws_sqs_queue.reconcile_dlq[0].name == "rpmbucket-reconcile-dlq" && aws_sqs_queue.reconcile_dlq[0].name != aws_sqs_queue.dlq.name
    error_message = "the reconcile dead-letter queue must be its own queue, named after the module"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.queue["reconcile-failed"].metric_name == "ApproximateNumberOfMessagesVisible"
      && aws_cloudwatch_metric_alarm.queue["reconcile-failed"].threshold == 0
      && aws_cloudwatch_metric_alarm.queue["reconcile-failed"].comparison_operator == "GreaterThanThreshold"
      && length(aws_cloudwatch_metric_alarm.queue["reconcile-failed"].dimensions) == 1
    && aws_cloudwatch_metric_alarm.queue["reconcile-failed"].dimensions["QueueName"] == aws_sqs_queue.reconcile_dlq[0].name)
    error_message = "an alarm must fire when the reconcile dead-letter queue is not empty"
  }
}

run "no_schedule_no_reconcile_queue_or_alarm" {
  command = plan
  variables {
    reconcile_schedule = null
  }
  assert {
    condition = (length(aws_scheduler_schedule.reconcile) == 0 && length(aws_sqs_queue.reconcile_dlq) == 0
      && !contains(keys(aws_cloudwatch_metric_alarm.queue), "reconcile-failed") && length(aws_lambda_function_event_invoke_config.indexer) == 0
    && output.reconcile_dlq_url == null)
    error_message = "reconcile_schedule = null must create no schedule, reconcile dead-letter queue, invoke config or alarm"
  }
}
