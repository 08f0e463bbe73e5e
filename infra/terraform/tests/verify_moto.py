#!/usr/bin/env python3
"""After `terraform apply` of examples/basic against a moto server: check through the AWS APIs that
every resource exists with the settings the module intends, and that the bucket → queue wiring
really delivers a notification for an uploaded package (and none for other files).

  verify_moto.py --endpoint URL --outputs outputs.json --vars test.tfvars.json

Prints one `ok   - ...` / `FAIL - ...` line per check and `SUMMARY passed=N failed=M` last.
"""

import argparse
import json
import sys
import time
import urllib.parse

import boto3

RESULTS = {"passed": 0, "failed": 0}


def check(ok, what, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'} - {what}{'' if ok or not detail else ': ' + str(detail)}")
    return ok


def attempt(what, fn):
    """Run one group of checks; an API error fails the group instead of aborting the run."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - any error is a failed check with its message
        check(False, what, f"{type(e).__name__}: {e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--outputs", required=True, help="terraform output -json")
    ap.add_argument("--vars", required=True, help="the tfvars (JSON) the example was applied with")
    a = ap.parse_args()

    out = {k: v["value"] for k, v in json.load(open(a.outputs)).items()}
    tfvars = json.load(open(a.vars))
    c = lambda svc: boto3.client(svc, endpoint_url=a.endpoint, region_name=a.region)  # noqa: E731
    s3, sqs, lam, iam, logs, cw, sm, sch = (c(x) for x in ("s3", "sqs", "lambda", "iam", "logs", "cloudwatch", "secretsmanager", "scheduler"))

    bucket = out["bucket_name"]
    prefixes = tfvars["repository_prefixes"]
    name = tfvars.get("name", "rpmbucket")

    # --- bucket ------------------------------------------------------------------------------------
    def bucket_checks():
        check(bucket == tfvars["bucket_name"], "bucket has the requested name", bucket)
        v = s3.get_bucket_versioning(Bucket=bucket)
        check(v.get("Status") == "Enabled", "bucket versioning is enabled", v.get("Status"))
        enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        algos = [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in enc]
        check(algos == ["AES256"], "bucket default encryption is SSE-S3", algos)
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        public_read = tfvars.get("repository_access") == "public-read"
        want = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": not public_read, "RestrictPublicBuckets": not public_read}
        check(pab == want, "public access block: ACLs always blocked, policy open only for public-read", pab)
        own = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        check([r["ObjectOwnership"] for r in own] == ["BucketOwnerEnforced"], "object ownership is BucketOwnerEnforced (ACLs off)", own)
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
        nc = rules.get("expire-noncurrent-versions", {})
        check(nc.get("Status") == "Enabled" and nc.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 30,
              "lifecycle expires noncurrent versions after 30 days", nc)
        mp = rules.get("abort-incomplete-multipart-uploads", {})
        check(mp.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") == 7,
              "lifecycle aborts incomplete multipart uploads after 7 days", mp)
        pol = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        public = [st for st in pol["Statement"] if st.get("Principal") in ("*", {"AWS": "*"}) and st["Effect"] == "Allow"]
        res = sorted(r for st in public for r in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]))
        check(res == sorted(f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes),
              "bucket policy makes exactly the repository prefixes public-read", res)

    attempt("bucket settings", bucket_checks)

    # --- queues ------------------------------------------------------------------------------------
    qurl, dlq_url = out["queue_url"], out["dlq_url"]

    def queue_checks():
        q = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["All"])["Attributes"]
        d = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
        rp = json.loads(q.get("RedrivePolicy", "{}"))
        want_receives = tfvars.get("sqs_max_receive_count", 5)
        check(rp.get("deadLetterTargetArn") == d["QueueArn"] and int(rp.get("maxReceiveCount", 0)) == want_receives,
              f"queue redrives to the DLQ after {want_receives} receives", rp)
        vt = 6 * tfvars.get("indexer_timeout_seconds", 300)
        check(q.get("VisibilityTimeout") == str(vt), f"queue visibility timeout is 6 x the indexer timeout ({vt} s)", q.get("VisibilityTimeout"))
        check(q.get("SqsManagedSseEnabled") == "true" and d.get("SqsManagedSseEnabled") == "true",
              "both queues are encrypted (SSE-SQS)")
        check(d.get("MessageRetentionPeriod") == "1209600", "DLQ keeps messages 14 days", d.get("MessageRetentionPeriod"))
        pol = json.loads(q["Policy"])
        st = pol["Statement"][0]
        check(st["Principal"] == {"Service": "s3.amazonaws.com"} and st["Action"] in ("sqs:SendMessage", ["sqs:SendMessage"])
              and st["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket}",
              "queue policy lets only this bucket's notifications in", st)

    attempt("queues", queue_checks)

    # --- notification configuration and real delivery -----------------------------------------------
    def notification_checks():
        n = s3.get_bucket_notification_configuration(Bucket=bucket)
        qc = n.get("QueueConfigurations", [])
        got = {}
        for cfg in qc:
            rules = {r["Name"].lower(): r["Value"] for r in cfg.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
            got[rules.get("prefix", "")] = (sorted(cfg["Events"]), rules.get("suffix"), cfg["QueueArn"])
        qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        want = {p: (["s3:ObjectCreated:*", "s3:ObjectRemoved:*"], ".rpm", qarn) for p in prefixes}
        check(got == want, "one notification per prefix: ObjectCreated+ObjectRemoved, suffix .rpm, to the queue", got)

        # Drain what is there (moto's s3:TestEvent), then upload and delete real objects.
        sqs.purge_queue(QueueUrl=qurl)
        key = f"{prefixes[0]}hello-1.0-1.noarch.rpm"
        s3.put_object(Bucket=bucket, Key=key, Body=b"not really an rpm")
        s3.put_object(Bucket=bucket, Key=f"{prefixes[0]}README.txt", Body=b"x")
        s3.put_object(Bucket=bucket, Key="elsewhere/other-1.0-1.noarch.rpm", Body=b"x")
        # A plain DELETE on a versioned bucket makes a delete marker (ObjectRemoved:DeleteMarkerCreated
        # on AWS); moto sends no event for that and cannot delete a marker later, so delete the version.
        vid = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
        events, deadline = [], time.time() + 10
        while time.time() < deadline and len(events) < 2:
            r = sqs.receive_message(QueueUrl=qurl, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                body = json.loads(m["Body"])
                for rec in body.get("Records", []):
                    events.append((rec["eventName"], urllib.parse.unquote_plus(rec["s3"]["object"]["key"])))
                sqs.delete_message(QueueUrl=qurl, ReceiptHandle=m["ReceiptHandle"])
        names = sorted(e[0].split(":")[0] for e in events)
        check(sorted(k for _, k in events) == [key, key] and names == ["ObjectCreated", "ObjectRemoved"],
              "uploading and deleting a .rpm under a prefix sends exactly those two events (nothing for .txt or other prefixes)", events)
        for k in (f"{prefixes[0]}README.txt", "elsewhere/other-1.0-1.noarch.rpm"):
            s3.delete_object(Bucket=bucket, Key=k, VersionId=s3.head_object(Bucket=bucket, Key=k)["VersionId"])

    attempt("notifications", notification_checks)

    # --- functions -----------------------------------------------------------------------------------
    def function_checks():
        common = {"Runtime": "provided.al2023", "Handler": "bootstrap",
                  "Architectures": [tfvars.get("lambda_architecture", "arm64")]}
        idx = lam.get_function_configuration(FunctionName=out["indexer_function_name"])
        check({k: idx.get(k) for k in common} == common, "indexer: provided.al2023, bootstrap, architecture", {k: idx.get(k) for k in common})
        timeout = tfvars.get("indexer_timeout_seconds", 300)
        check(idx["Role"] == out["indexer_role_arn"] and idx["Timeout"] == timeout and idx["MemorySize"] == 1024,
              f"indexer: own role, {timeout} s, 1024 MB", (idx["Role"], idx["Timeout"], idx["MemorySize"]))
        check(idx.get("EphemeralStorage", {}).get("Size") == 2048, "indexer: 2048 MB of /tmp", idx.get("EphemeralStorage"))
        want_env = {
            "RPMBUCKET_BUCKET": bucket, "RPMBUCKET_PREFIXES": ",".join(prefixes), "RPMBUCKET_LAYOUT": "auto",
            "RPMBUCKET_GRACE_SECONDS": "300", "RPMBUCKET_COMPRESSION": "gz", "RPMBUCKET_DATABASE": "false", "RUST_LOG": "info",
            "RPMBUCKET_METADATA_CACHE": "/tmp/rpmbucket-metadata-cache", "RPMBUCKET_METADATA_CACHE_MIB": "1024",
            "RPMBUCKET_RECONCILE_CHECKPOINT": str(tfvars.get("indexer_reconcile_checkpoint", 10000)),
        }
        check(idx.get("Environment", {}).get("Variables") == want_env, "indexer: environment", idx.get("Environment"))

        gw = lam.get_function_configuration(FunctionName=out["gateway_function_name"])
        check({k: gw.get(k) for k in common} == common, "gateway: provided.al2023, bootstrap, architecture", {k: gw.get(k) for k in common})
        want_env = {
            "RPMBUCKET_BUCKET": bucket, "RPMBUCKET_PRESIGN_SECONDS": "300", "RUST_LOG": "info",
            "RPMBUCKET_BASEURL": tfvars["public_base_url"], "RPMBUCKET_TOKENS_SECRET_ARN": out["tokens_secret_arn"],
        }
        check(gw.get("Environment", {}).get("Variables") == want_env and gw["Role"] == out["gateway_role_arn"],
              "gateway: environment and own role", gw.get("Environment"))
        secret = sm.describe_secret(SecretId=out["tokens_secret_arn"])
        check(secret["Name"] == f"{name}/gateway-tokens", "gateway tokens secret exists", secret["Name"])

        url = lam.get_function_url_config(FunctionName=out["gateway_function_name"])
        check(url["AuthType"] == "NONE" and url["FunctionUrl"].rstrip("/") + "/" == out["gateway_url"], "gateway: function URL (auth in the function)", url["AuthType"])
        pol = json.loads(lam.get_policy(FunctionName=out["gateway_function_name"])["Policy"])
        acts = sorted(st["Action"] for st in pol["Statement"])
        sids = sorted(st["Sid"] for st in pol["Statement"])
        check(acts == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]
              and sids == ["FunctionURLAllowInvokeAction", "FunctionURLAllowPublicAccess"],
              "gateway: resource policy for a public function URL (one statement per action)", list(zip(sids, acts)))

        qarn = sqs.get_queue_attributes(QueueUrl=qurl, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        maps = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] == idx["FunctionArn"]]
        if not check(len(maps) == 1, "indexer: one event source mapping", maps):
            return
        m = maps[0]
        got = {k: m.get(k) for k in ("EventSourceArn", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "ScalingConfig")}
        want = {"EventSourceArn": qarn, "BatchSize": 100, "MaximumBatchingWindowInSeconds": 2,
                "FunctionResponseTypes": ["ReportBatchItemFailures"], "ScalingConfig": {"MaximumConcurrency": 2}}
        check(got == want, "event source mapping: queue, batch 100, window 2 s, ReportBatchItemFailures, max concurrency 2", got)

    attempt("functions", function_checks)

    # --- logs, alarms, schedule, roles ------------------------------------------------------------------
    def ops_checks():
        for fn in (out["indexer_function_name"], out["gateway_function_name"]):
            g = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{fn}")["logGroups"]
            check([x.get("retentionInDays") for x in g] == [30], f"log group of {fn} keeps 30 days", g)
        alarms = {x["AlarmName"]: x for x in cw.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"]}
        dlq = alarms.get(f"{name}-dlq-not-empty", {})
        dlq_name = dlq_url.rstrip("/").split("/")[-1]
        check(dlq.get("MetricName") == "ApproximateNumberOfMessagesVisible" and dlq.get("Threshold") == 0
              and dlq.get("Dimensions") == [{"Name": "QueueName", "Value": dlq_name}], "alarm on DLQ depth > 0", dlq.get("Dimensions"))
        for fn_key in ("indexer", "gateway"):
            al = alarms.get(f"{name}-{fn_key}-errors", {})
            check(al.get("Namespace") == "AWS/Lambda" and al.get("MetricName") == "Errors"
                  and al.get("Dimensions") == [{"Name": "FunctionName", "Value": out[f"{fn_key}_function_name"]}],
                  f"alarm on {fn_key} errors", al.get("Dimensions"))
        check(f"{name}-events-stuck" in alarms, "alarm on the age of the oldest notification")
        s = sch.get_schedule(Name=f"{name}-reconcile")
        idx_arn = lam.get_function_configuration(FunctionName=out["indexer_function_name"])["FunctionArn"]
        check(s["ScheduleExpression"] == "rate(6 hours)" and s["Target"]["Arn"] == idx_arn
              and json.loads(s["Target"]["Input"]) == {"rpmbucket": "reconcile"},
              "reconcile schedule invokes the indexer with {\"rpmbucket\":\"reconcile\"}", s["Target"])
        role = iam.get_role(RoleName=s["Target"]["RoleArn"].split("/")[-1])["Role"]
        trust = role["AssumeRolePolicyDocument"]
        trust = trust if isinstance(trust, dict) else json.loads(urllib.parse.unquote(trust))
        check(trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}, "scheduler role trusts only EventBridge Scheduler")

        # Failed reconciles: undelivered events (Scheduler) and failed runs (Lambda's asynchronous
        # on-failure destination) go to a queue of their own, which is alarmed on.
        rq_url = out["reconcile_dlq_url"]
        rq_name = rq_url.rstrip("/").split("/")[-1]
        rq_arn = sqs.get_queue_attributes(QueueUrl=rq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        check(rq_name != dlq_name, "the reconcile dead-letter queue is not the notifications' DLQ", rq_name)
        check(s["Target"].get("DeadLetterConfig", {}).get("Arn") == rq_arn,
              "the schedule sends events it could not deliver to the reconcile dead-letter queue", s["Target"].get("DeadLetterConfig"))
        eic = lam.get_function_event_invoke_config(FunctionName=out["indexer_function_name"])
        check(eic.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination") == rq_arn
              and eic.get("MaximumRetryAttempts") == 2,
              "a reconcile run that fails after Lambda's 2 retries goes to the reconcile dead-letter queue",
              {k: eic.get(k) for k in ("DestinationConfig", "MaximumRetryAttempts")})
        ra = alarms.get(f"{name}-reconcile-failed", {})
        check(ra.get("Namespace") == "AWS/SQS" and ra.get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and ra.get("Threshold") == 0 and ra.get("ComparisonOperator") == "GreaterThanThreshold"
              and ra.get("Dimensions") == [{"Name": "QueueName", "Value": rq_name}],
              "alarm when the reconcile dead-letter queue is not empty", {k: ra.get(k) for k in ("MetricName", "Dimensions")})
        sched_docs = [iam.get_role_policy(RoleName=role["RoleName"], PolicyName=n)["PolicyDocument"]
                      for n in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]]
        sched_docs = [d if isinstance(d, dict) else json.loads(urllib.parse.unquote(d)) for d in sched_docs]
        sends = [st for d in sched_docs for st in d["Statement"]
                 if "sqs:SendMessage" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])]
        check([st["Resource"] for st in sends] in ([rq_arn], [[rq_arn]]),
              "the scheduler role may send to the reconcile dead-letter queue, and only to it", sends)
        for key in ("indexer_role_arn", "gateway_role_arn"):
            r = iam.get_role(RoleName=out[key].split("/")[-1])["Role"]
            t = r["AssumeRolePolicyDocument"]
            t = t if isinstance(t, dict) else json.loads(urllib.parse.unquote(t))
            check(t["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}, f"{key.split('_')[0]} role trusts only Lambda")

    attempt("logs, alarms, schedule, roles", ops_checks)

    print(f"SUMMARY passed={RESULTS['passed']} failed={RESULTS['failed']}")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
