#!/usr/bin/env python3
"""Reads `terraform show -json PLAN` of a plan made right after apply and lists the real changes.

A change whose only differences are JSON strings that parse to equal values (moto returns SQS
RedrivePolicy as `{"a": 1}` where the configuration says `{"a":1}`, and the provider shows that as
"whitespace changes") is not a real change. Prints the addresses of real changes, one a line, and
exits 1 if there are any; notes the ignored ones on stderr.
"""

import json
import sys


def same(a, b):
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return json.loads(a) == json.loads(b)
        except ValueError:
            return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return False


def main():
    plan = json.load(open(sys.argv[1]))
    real = []
    for rc in plan.get("resource_changes", []):
        actions = rc["change"]["actions"]
        if actions in (["no-op"], ["read"]):
            continue
        if actions == ["update"] and not any(rc["change"].get("after_unknown", {}).values()) and same(rc["change"]["before"], rc["change"]["after"]):
            print(f"ignored (JSON-equal): {rc['address']}", file=sys.stderr)
            continue
        real.append(f"{rc['address']}: {'/'.join(actions)}")
    for r in real:
        print(r)
    return 1 if real else 0


if __name__ == "__main__":
    sys.exit(main())
