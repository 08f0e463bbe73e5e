# Something is wrong when a notification reaches the dead-letter queue, when a scheduled reconcile
# could not be delivered or failed, when a function reports errors, or when notifications pile up
# unprocessed.

# The queue alarms, by the suffix of their name: which queue, what is measured, above which
# threshold it fires, and what the operator reads in the alarm.
locals {
  queue_alarms = merge(
    {
      "dlq-not-empty" = {
        queue       = aws_sqs_queue.dlq.name
        metric      = "ApproximateNumberOfMessagesVisible"
        threshold   = 0
        description = "rpmbucket: notifications the indexer could not process are in ${aws_sqs_queue.dlq.name}; read the indexer log for the reason, fix, then redrive."
      }
      "events-stuck" = {
        queue       = aws_sqs_queue.events.name
        metric      = "ApproximateAgeOfOldestMessage"
        threshold   = 900
        description = "rpmbucket: the oldest notification in ${aws_sqs_queue.events.name} waits for more than 15 minutes; the indexer is not keeping up or not running."
      }
    },
    var.reconcile_schedule == null ? {} : {
      "reconcile-failed" = {
        queue       = one(aws_sqs_queue.reconcile_dlq[*].name)
        metric      = "ApproximateNumberOfMessagesVisible"
        threshold   = 0
        description = "rpmbucket: a scheduled reconcile could not be delivered or failed after its retries; the messages in ${one(aws_sqs_queue.reconcile_dlq[*].name)} say which and why (read the indexer log for the run), then delete them."
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "queue" {
  for_each            = local.queue_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}

# The addresses these alarms had before they shared one resource: state moves, nothing is
# destroyed and created again.
moved {
  from = aws_cloudwatch_metric_alarm.dlq_depth
  to   = aws_cloudwatch_metric_alarm.queue["dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.queue_age
  to   = aws_cloudwatch_metric_alarm.queue["events-stuck"]
}

moved {
  from = aws_cloudwatch_metric_alarm.reconcile_failed[0]
  to   = aws_cloudwatch_metric_alarm.queue["reconcile-failed"]
}

locals {
  alarmed_functions = merge(
    { indexer = aws_lambda_function.indexer.function_name },
    var.gateway_enabled ? { gateway = aws_lambda_function.gateway[0].function_name } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each            = local.alarmed_functions
  alarm_name          = "${var.name}-${each.key}-errors"
  alarm_description   = "rpmbucket: ${each.value} reported errors (failed invocations, timeouts, crashes)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.alarm_evaluation_minutes
  datapoints_to_alarm = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.tags
}
