#!/usr/bin/env python3
"""Least-privilege test for the IAM documents of the rpmbucket Terraform module.

Reads the documents either from `terraform show -json PLAN` (before anything exists) or from the
applied roles through the IAM API (after `terraform apply`), and checks them twice: statically (no
`s3:*`, no `Resource: "*"`, no NotAction/NotResource, S3 writes only on repodata/ resp. *.rpm), and by
evaluating the documents against concrete object keys with IAM's matching rules (Deny wins, `*` and
`?` wildcards), so a policy that is shaped right but matches too much still fails.

  policy_test.py plan PLAN.json
  policy_test.py iam --endpoint URL --bucket B --prefixes a/,b/ --indexer-role R --gateway-role R
  policy_test.py self-test        # proves the checker rejects bad documents

Prints one `ok   - ...` or `FAIL - ...` line per check; exits 1 if any check failed.
"""

import argparse
import json
import re
import sys

RESULTS = {"passed": 0, "failed": 0}
QUIET = [False]


def report(ok, what, detail=""):
    if QUIET[0]:
        RESULTS["passed" if ok else "failed"] += 1
        return
    if ok:
        RESULTS["passed"] += 1
        print(f"ok   - {what}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL - {what}{': ' + detail if detail else ''}")


# --- IAM evaluation ----------------------------------------------------------------------------------


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def wildcard(pattern, value, ignore_case=False):
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE if ignore_case else 0) is not None


def statements(doc):
    if isinstance(doc, str):
        doc = json.loads(doc)
    return as_list(doc.get("Statement"))


def decide(doc, action, resource):
    """'allow', 'deny' or 'implicit-deny' for one action on one resource (conditions ignored:
    they only narrow an Allow, so ignoring them over-approximates what is allowed)."""
    allowed = False
    for st in statements(doc):
        acts = as_list(st.get("Action"))
        ress = as_list(st.get("Resource"))
        if not any(wildcard(a, action, ignore_case=True) for a in acts):
            continue
        if not any(wildcard(r, resource) for r in ress):
            continue
        if st.get("Effect") == "Deny":
            return "deny"
        allowed = True
    return "allow" if allowed else "implicit-deny"


def is_s3(action):
    return action.lower().startswith("s3:") or action == "*"


def is_s3_read(action):
    a = action.lower()
    return a.startswith("s3:get") or a.startswith("s3:list")


# --- checks --------------------------------------------------------------------------------------------


def static_problems(doc, bucket, write_ok):
    """Problems common to both roles. write_ok(path) says whether an S3 write resource is acceptable."""
    problems = []
    bucket_arn = f"arn:aws:s3:::{bucket}"
    for st in statements(doc):
        sid = st.get("Sid", "?")
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            problems.append(f"{sid}: uses NotAction/NotResource/NotPrincipal")
        if st.get("Effect") != "Allow":
            continue
        acts = as_list(st.get("Action"))
        ress = as_list(st.get("Resource"))
        if "*" in ress:
            problems.append(f"{sid}: Resource \"*\"")
        for a in acts:
            if a == "*" or a.lower() == "s3:*":
                problems.append(f"{sid}: action {a}")
            elif is_s3(a) and "*" in a:
                problems.append(f"{sid}: wildcard S3 action {a}")
        if not any(is_s3(a) for a in acts):
            continue
        for r in ress:
            if r != bucket_arn and not r.startswith(bucket_arn + "/"):
                problems.append(f"{sid}: S3 resource {r} outside the bucket")
        if any(not is_s3_read(a) for a in acts):
            for r in ress:
                path = r[len(bucket_arn) + 1:] if r.startswith(bucket_arn + "/") else None
                if path is None or not write_ok(path):
                    problems.append(f"{sid}: S3 write action on {r}")
    return problems


def keys_for(prefixes):
    """Object keys to evaluate: inside each repository, next to it, and outside every repository."""
    repos = prefixes or ["el9/x86_64/", ""]
    keys = {"inside_pkg": [], "inside_repodata": [], "nested_repodata": [], "outside": []}
    for p in repos:
        keys["inside_pkg"] += [f"{p}pkg-1.0-1.x86_64.rpm", f"{p}Packages/p/pkg-1.0-1.noarch.rpm"]
        keys["inside_repodata"] += [f"{p}repodata/repomd.xml", f"{p}repodata/0123abcd-primary.xml.gz"]
        keys["nested_repodata"] += [f"{p}sub/repodata/repomd.xml"]
    keys["inside_other"] = [f"{p}notes.txt" for p in repos] + [f"{p}repomd.xml" for p in repos]
    if prefixes:
        keys["outside"] = ["repodata/repomd.xml", "other/repodata/repomd.xml", "other/pkg.rpm", "zz-not-a-repo.rpm"]
        for p in prefixes:
            # a sibling whose name merely starts like the prefix
            keys["outside"].append(p.rstrip("/") + "-evil/repodata/repomd.xml")
            keys["outside"].append(p.rstrip("/") + "-evil/pkg.rpm")
    return keys


def check_indexer(doc, bucket, prefixes, label):
    arn = f"arn:aws:s3:::{bucket}/"

    def write_ok(path):
        if not path.endswith("/repodata/*") and path != "repodata/*":
            return False
        return not prefixes or any(path.startswith(p) for p in prefixes)

    problems = static_problems(doc, bucket, write_ok)
    report(not problems, f"{label}: indexer policy: no s3:*, no Resource \"*\", S3 writes only on repodata/", "; ".join(problems))

    k = keys_for(prefixes)
    bad = []
    for key in k["inside_pkg"] + k["inside_repodata"]:
        if decide(doc, "s3:GetObject", arn + key) != "allow":
            bad.append(f"cannot read {key}")
    for key in k["inside_repodata"] + k["nested_repodata"]:
        for a in ("s3:PutObject", "s3:DeleteObject"):
            if decide(doc, a, arn + key) != "allow":
                bad.append(f"cannot {a} {key}")
    for key in k["inside_pkg"] + k["inside_other"] + k["outside"]:
        for a in ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:DeleteObjectVersion"):
            if decide(doc, a, arn + key) == "allow":
                bad.append(f"may {a} {key}")
    for key in k["outside"]:
        if decide(doc, "s3:GetObject", arn + key) == "allow":
            bad.append(f"may read {key} outside the repositories")
    for a in ("s3:PutBucketPolicy", "s3:DeleteBucket", "s3:PutBucketNotification", "s3:PutLifecycleConfiguration"):
        if decide(doc, a, f"arn:aws:s3:::{bucket}") == "allow":
            bad.append(f"may {a}")
    if decide(doc, "s3:ListBucket", f"arn:aws:s3:::{bucket}") != "allow":
        bad.append("cannot list the bucket")
    report(not bad, f"{label}: indexer reads the repositories and writes exactly their repodata/", "; ".join(bad))


def check_gateway(doc, bucket, prefixes, label):
    arn = f"arn:aws:s3:::{bucket}/"

    def write_ok(path):
        if not path.endswith("*.rpm"):
            return False
        return not prefixes or any(path.startswith(p) for p in prefixes)

    problems = static_problems(doc, bucket, write_ok)
    report(not problems, f"{label}: gateway policy: no s3:*, no Resource \"*\", S3 writes only on *.rpm in upload prefixes", "; ".join(problems))

    k = keys_for(prefixes)
    bad = []
    for key in k["inside_pkg"]:
        for a in ("s3:PutObject", "s3:DeleteObject"):
            if decide(doc, a, arn + key) != "allow":
                bad.append(f"cannot presign {a} {key}")
    for key in k["inside_repodata"] + k["nested_repodata"] + k["inside_other"] + k["outside"] + [
        (prefixes or [""])[0] + "repodata/evil.rpm"
    ]:
        for a in ("s3:PutObject", "s3:DeleteObject"):
            if decide(doc, a, arn + key) == "allow":
                bad.append(f"may {a} {key}")
    for key in k["inside_pkg"]:
        if decide(doc, "s3:GetObject", arn + key) == "allow":
            bad.append(f"may read package {key} (only repodata is needed)")
    for key in k["inside_repodata"]:
        if decide(doc, "s3:GetObject", arn + key) != "allow":
            bad.append(f"cannot read {key} for status")
    report(not bad, f"{label}: gateway presigns only package uploads/deletes and reads only repodata", "; ".join(bad))

    secret_res = [r for st in statements(doc) for r in as_list(st.get("Resource"))
                  if any(a.startswith(("secretsmanager:", "ssm:")) for a in as_list(st.get("Action")))]
    report(secret_res and all("*" not in r.replace("-??????", "") for r in secret_res),
           f"{label}: gateway reads one named tokens secret/parameter", f"resources {secret_res}")


def check_bucket_policy(doc, bucket, prefixes, label):
    arn = f"arn:aws:s3:::{bucket}/"
    bad = []
    for st in statements(doc):
        principal = st.get("Principal")
        public = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
        if st.get("Effect") == "Allow" and public:
            if [a.lower() for a in as_list(st.get("Action"))] != ["s3:getobject"]:
                bad.append(f"{st.get('Sid')}: public actions {st.get('Action')}")
    k = keys_for(prefixes)
    for key in k["inside_pkg"] + k["inside_repodata"]:
        if decide(doc, "s3:GetObject", arn + key) != "allow":
            bad.append(f"public cannot read {key}")
    for key in k["outside"]:
        if decide(doc, "s3:GetObject", arn + key) == "allow":
            bad.append(f"public may read {key}")
    for key in k["inside_pkg"]:
        if decide(doc, "s3:PutObject", arn + key) == "allow":
            bad.append(f"public may write {key}")
    report(not bad, f"{label}: bucket policy: public may only GET objects under the repository prefixes", "; ".join(bad))


# --- sources ---------------------------------------------------------------------------------------------


def from_plan(path):
    plan = json.load(open(path))
    variables = {k: v.get("value") for k, v in plan.get("variables", {}).items()}
    bucket = variables["bucket_name"]
    prefixes = variables.get("repository_prefixes") or []
    access = variables.get("repository_access", "cloudfront")
    label = f"plan[{access}, prefixes={','.join(prefixes) or 'all'}]"
    found = {}
    for rc in plan.get("resource_changes", []):
        after = (rc.get("change") or {}).get("after") or {}
        unknown = (rc.get("change") or {}).get("after_unknown") or {}
        if rc["type"] == "aws_iam_role_policy" and rc["name"] in ("indexer", "gateway"):
            found[rc["name"]] = None if unknown.get("policy") else after.get("policy")
        if rc["type"] == "aws_s3_bucket_policy":
            found["bucket"] = None if unknown.get("policy") else after.get("policy")
    for role in ("indexer", "gateway"):
        report(found.get(role) is not None, f"{label}: {role} policy is complete in the plan")
    if found.get("indexer"):
        check_indexer(json.loads(found["indexer"]), bucket, prefixes, label)
    if found.get("gateway"):
        check_gateway(json.loads(found["gateway"]), bucket, prefixes, label)
    if access == "public-read":
        report(found.get("bucket") is not None, f"{label}: bucket policy is complete in the plan")
        if found.get("bucket"):
            check_bucket_policy(json.loads(found["bucket"]), bucket, prefixes, label)


def from_iam(args):
    import boto3

    iam = boto3.client("iam", endpoint_url=args.endpoint, region_name=args.region)
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name=args.region)
    prefixes = [p for p in args.prefixes.split(",") if p]
    label = "applied"
    for role, check in ((args.indexer_role, check_indexer), (args.gateway_role, check_gateway)):
        names = iam.list_role_policies(RoleName=role)["PolicyNames"]
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        report(len(names) == 1 and not attached, f"{label}: role {role} has exactly one inline policy and no managed ones",
               f"inline {names}, attached {attached}")
        for n in names:
            doc = iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
            check(doc if isinstance(doc, dict) else json.loads(doc), args.bucket, prefixes, f"{label} {role}")
    if args.public_read:
        doc = json.loads(s3.get_bucket_policy(Bucket=args.bucket)["Policy"])
        check_bucket_policy(doc, args.bucket, prefixes, label)


def self_test():
    """The checker must reject each of these; a checker that accepts everything proves nothing."""
    bucket, prefixes = "b", ["el9/x86_64/"]
    good_indexer = {"Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/el9/x86_64/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::b"]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"],
         "Resource": ["arn:aws:s3:::b/el9/x86_64/repodata/*", "arn:aws:s3:::b/el9/x86_64/*/repodata/*"]},
    ]}
    bad = {
        "s3:* on the bucket": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
        "Resource *": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        "write outside repodata": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/el9/x86_64/*"},
        "wildcard write action": {"Effect": "Allow", "Action": "s3:Put*", "Resource": "arn:aws:s3:::b/el9/x86_64/repodata/*"},
        "write in another prefix's repodata": {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*/repodata/*"},
        "NotAction": {"Effect": "Allow", "NotAction": "s3:DeleteBucket", "Resource": "arn:aws:s3:::b/*"},
    }
    saved = dict(RESULTS)
    ok_run = []
    QUIET[0] = True
    RESULTS.update(passed=0, failed=0)
    check_indexer(good_indexer, bucket, prefixes, "self-test good")
    ok_run.append(RESULTS["failed"] == 0)
    caught = {}
    for name, st in bad.items():
        RESULTS.update(passed=0, failed=0)
        doc = {"Statement": good_indexer["Statement"] + [st]}
        check_indexer(doc, bucket, prefixes, f"self-test [{name}]")
        caught[name] = RESULTS["failed"] > 0
    RESULTS.update(saved)
    QUIET[0] = False
    report(all(ok_run), "self-test: a least-privilege indexer document passes")
    for name, was in caught.items():
        report(was, f"self-test: checker rejects {name}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("plan")
    p.add_argument("plan_json")
    i = sub.add_parser("iam")
    i.add_argument("--endpoint", required=True)
    i.add_argument("--region", default="us-east-1")
    i.add_argument("--bucket", required=True)
    i.add_argument("--prefixes", default="")
    i.add_argument("--indexer-role", required=True)
    i.add_argument("--gateway-role", required=True)
    i.add_argument("--public-read", action="store_true")
    sub.add_parser("self-test")
    args = ap.parse_args()
    if args.mode == "plan":
        from_plan(args.plan_json)
    elif args.mode == "iam":
        from_iam(args)
    else:
        self_test()
    print(f"SUMMARY passed={RESULTS['passed']} failed={RESULTS['failed']}")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
