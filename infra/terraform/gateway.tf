# The upload gateway: `curl -L -T pkg.rpm -u ci:TOKEN <gateway_url><repo-path>/` is answered with a
# 307 to a presigned S3 PUT. A function URL refuses bodies over 6 MB before the function runs, so large
# packages use the two-step form (GET /presign/... then curl -T to the printed URL); see the README.

resource "aws_secretsmanager_secret" "tokens" {
  count                   = var.gateway_enabled && var.tokens_source == "secretsmanager" && var.tokens_secret_arn == null ? 1 : 0
  name                    = local.created_secret_name
  description             = "rpmbucket gateway tokens (hashed). Set the value with `aws secretsmanager put-secret-value`."
  kms_key_id              = var.tokens_kms_key_arn
  recovery_window_in_days = var.tokens_secret_recovery_days
  tags                    = local.tags
}

resource "aws_cloudwatch_log_group" "gateway" {
  count             = var.gateway_enabled ? 1 : 0
  name              = "/aws/lambda/${local.gateway_function_name}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "gateway" {
  count            = var.gateway_enabled ? 1 : 0
  function_name    = local.gateway_function_name
  description      = "rpmbucket upload gateway: authenticated presigned uploads"
  role             = aws_iam_role.gateway[0].arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.lambda_architecture]
  filename         = var.gateway_zip
  source_code_hash = filebase64sha256(var.gateway_zip)
  memory_size      = var.gateway_memory_mb
  timeout          = var.gateway_timeout_seconds

  environment {
    variables = merge(
      {
        RPMBUCKET_BUCKET          = var.bucket_name
        RPMBUCKET_PRESIGN_SECONDS = tostring(var.presign_seconds)
        RUST_LOG                  = var.log_level
      },
      local.base_url == null ? {} : { RPMBUCKET_BASEURL = local.base_url },
      local.tokens_secret_arn == null ? {} : { RPMBUCKET_TOKENS_SECRET_ARN = local.tokens_secret_arn },
      local.tokens_ssm_parameter_name == null ? {} : { RPMBUCKET_TOKENS_SSM_PARAMETER = local.tokens_ssm_parameter_name },
      var.gateway_environment,
    )
  }

  tags       = local.tags
  depends_on = [aws_cloudwatch_log_group.gateway, aws_iam_role_policy.gateway]

  lifecycle {
    precondition {
      condition     = var.gateway_zip != null
      error_message = "gateway_zip is required when gateway_enabled is true."
    }
    precondition {
      condition     = var.tokens_source != "ssm" || var.tokens_ssm_parameter_name != null
      error_message = "tokens_source = \"ssm\" needs tokens_ssm_parameter_name."
    }
    precondition {
      condition = local.all_prefixes || alltrue([
        for u in local.upload_prefixes : anytrue([for p in var.repository_prefixes : startswith(u, p)])
      ])
      error_message = "Every upload prefix must lie inside one of repository_prefixes."
    }
  }
}

resource "aws_lambda_function_url" "gateway" {
  count              = var.gateway_enabled ? 1 : 0
  function_name      = aws_lambda_function.gateway[0].function_name
  authorization_type = "NONE" # the gateway checks tokens itself (HTTP Basic or Bearer)
  invoke_mode        = "BUFFERED"
}

# With authorization_type NONE, the provider's aws_lambda_function_url adds the statement
# FunctionURLAllowPublicAccess (lambda:InvokeFunctionUrl, lambda:FunctionUrlAuthType = NONE) itself; a
# second aws_lambda_permission with that id would fail on AWS. Since October 2025 a function URL also
# needs lambda:InvokeFunction; see gateway_public_invoke_permission for why it has no condition here.
resource "aws_lambda_permission" "gateway_invoke" {
  count         = var.gateway_enabled && var.gateway_public_invoke_permission ? 1 : 0
  statement_id  = "FunctionURLAllowInvokeAction"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.gateway[0].function_name
  principal     = "*"

  # After the URL's own statement: Lambda applies one policy change at a time per function.
  depends_on = [aws_lambda_function_url.gateway]
}
