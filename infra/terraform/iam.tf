# Least privilege, one role per function.
#
# indexer: read objects under the repository prefixes (HeadObject is authorised by s3:GetObject), list
#          the bucket, write and delete ONLY under */repodata/*, consume its queue, write its own logs.
# gateway: presign PUT/DELETE only for *.rpm under the upload prefixes (a presigned URL carries the
#          signer's permissions, so this is what bounds every upload), read repodata for /status, list
#          the upload prefixes, read its tokens, write its own logs.
#
# tests/policy_test.py checks these documents in the plan and in the applied roles.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# --- indexer ---------------------------------------------------------------------------------------

resource "aws_iam_role" "indexer" {
  name               = "${var.name}-indexer"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "indexer" {
  statement {
    sid       = "ReadRepositoryObjects"
    actions   = ["s3:GetObject", "s3:GetObjectAttributes"]
    resources = local.repository_object_arns
  }

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    dynamic "condition" {
      for_each = local.all_prefixes ? [] : [1]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [for p in var.repository_prefixes : "${p}*"]
      }
    }
  }

  statement {
    sid       = "WriteRepodataOnly"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = local.repodata_object_arns
  }

  statement {
    sid       = "ConsumeNotifications"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [local.events_queue_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [local.indexer_log_arn]
  }

  # The on-failure destination of the scheduled reconcile (schedule.tf): Lambda sends with the
  # function's role.
  dynamic "statement" {
    for_each = var.reconcile_schedule == null ? [] : [1]
    content {
      sid       = "ReportFailedReconcile"
      actions   = ["sqs:SendMessage"]
      resources = [local.reconcile_dlq_arn]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }

  # The repository signing key: read this one secret, and decrypt it with its KMS key only
  # through Secrets Manager.
  dynamic "statement" {
    for_each = var.signing_key_secret_arn == null ? [] : [1]
    content {
      sid       = "ReadSigningKeySecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.signing_key_secret_arn]
    }
  }

  dynamic "statement" {
    for_each = var.signing_key_secret_arn == null || var.signing_key_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptSigningKeySecret"
      actions   = ["kms:Decrypt"]
      resources = [var.signing_key_kms_key_arn]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${local.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "indexer" {
  name   = "${var.name}-indexer"
  role   = aws_iam_role.indexer.id
  policy = data.aws_iam_policy_document.indexer.json
}

# --- gateway ---------------------------------------------------------------------------------------

resource "aws_iam_role" "gateway" {
  count              = var.gateway_enabled ? 1 : 0
  name               = "${var.name}-gateway"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "gateway" {
  statement {
    sid       = "PresignPackageUploadsAndDeletes"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = local.upload_object_arns
  }

  # The gateway's own code refuses writes under repodata/; this makes IAM refuse them too, even for a
  # name ending in .rpm.
  statement {
    sid       = "NeverWriteRepodata"
    effect    = "Deny"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = local.repodata_object_arns
  }

  statement {
    sid       = "ReadRepodataForStatus"
    actions   = ["s3:GetObject"]
    resources = local.repodata_object_arns
  }

  statement {
    sid       = "ListUploadPrefixes"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    dynamic "condition" {
      for_each = length(local.upload_prefixes) == 0 ? [] : [1]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [for p in local.upload_prefixes : "${p}*"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.tokens_secret_policy_arn == null ? [] : [1]
    content {
      sid       = "ReadTokensSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [local.tokens_secret_policy_arn]
    }
  }

  dynamic "statement" {
    for_each = local.tokens_ssm_parameter_arn == null ? [] : [1]
    content {
      sid       = "ReadTokensParameter"
      actions   = ["ssm:GetParameter"]
      resources = [local.tokens_ssm_parameter_arn]
    }
  }

  dynamic "statement" {
    for_each = var.tokens_kms_key_arn == null ? [] : [1]
    content {
      sid       = "DecryptTokens"
      actions   = ["kms:Decrypt"]
      resources = [var.tokens_kms_key_arn]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [1]
    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [var.kms_key_arn]
    }
  }

  dynamic "statement" {
    for_each = var.gateway_enabled ? [1] : []
    content {
      sid       = "WriteOwnLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = [local.gateway_log_arn]
    }
  }
}

resource "aws_iam_role_policy" "gateway" {
  count  = var.gateway_enabled ? 1 : 0
  name   = "${var.name}-gateway"
  role   = aws_iam_role.gateway[0].id
  policy = data.aws_iam_policy_document.gateway.json
}

# --- scheduler (reconcile) -------------------------------------------------------------------------

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = var.reconcile_schedule == null ? 0 : 1
  name               = "${var.name}-reconcile-scheduler"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeIndexer"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.indexer_function_arn, "${local.indexer_function_arn}:*"]
  }

  statement {
    sid       = "SendUndeliveredToDeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [local.reconcile_dlq_arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = var.reconcile_schedule == null ? 0 : 1
  name   = "${var.name}-reconcile-scheduler"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}
