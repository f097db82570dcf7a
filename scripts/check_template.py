#!/usr/bin/env python3
"""Checks the SAM template against what the code and the local stack assume.

1. The `Table` resource matches infra/table.json: infra/table.json is what the dev
   server creates locally; template.yaml is what CloudFormation deploys. The two must
   describe the same keys, indexes, billing mode and TTL attribute.
2. Every SQS queue has a CloudWatch alarm: a dead-letter queue (a redrive target, or
   the queue SAM creates for an event's `DeadLetterConfig: {Type: SQS}`) on
   ApproximateNumberOfMessagesVisible, any other queue on
   ApproximateAgeOfOldestMessage.

Usage (from the repository root, with the venv that has cfn-lint):
    ~/.cache/cmp-venv/bin/python scripts/check_template.py [TEMPLATE] [TABLE_JSON]

Exits 0 and prints one line on a match; prints every difference and exits 1 otherwise.
"""

import json
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent


def plain(value):
    """Converts cfnlint's node types (dict_node, str_node, ...) to plain Python."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def key_schema(items):
    return [(k.get("AttributeName"), k.get("KeyType")) for k in items or []]


def gsis(items):
    out = {}
    for g in items or []:
        out[g.get("IndexName")] = {
            "KeySchema": key_schema(g.get("KeySchema")),
            "ProjectionType": (g.get("Projection") or {}).get("ProjectionType"),
        }
    return out


def compare(props, spec):
    diffs = []

    want = {(a["AttributeName"], a["AttributeType"]) for a in spec.get("AttributeDefinitions", [])}
    got = {(a.get("AttributeName"), a.get("AttributeType")) for a in props.get("AttributeDefinitions", [])}
    for name, typ in sorted(want - got):
        diffs.append(f"AttributeDefinitions: missing {name} ({typ})")
    for name, typ in sorted(got - want, key=str):
        diffs.append(f"AttributeDefinitions: unexpected {name} ({typ})")

    want_ks, got_ks = key_schema(spec.get("KeySchema")), key_schema(props.get("KeySchema"))
    if want_ks != got_ks:
        diffs.append(f"KeySchema: expected {want_ks}, template has {got_ks}")

    want_g, got_g = gsis(spec.get("GlobalSecondaryIndexes")), gsis(props.get("GlobalSecondaryIndexes"))
    for name in sorted(set(want_g) - set(got_g), key=str):
        diffs.append(f"GlobalSecondaryIndexes: missing index {name}")
    for name in sorted(set(got_g) - set(want_g), key=str):
        diffs.append(f"GlobalSecondaryIndexes: unexpected index {name}")
    for name in sorted(set(want_g) & set(got_g), key=str):
        for field in ("KeySchema", "ProjectionType"):
            if want_g[name][field] != got_g[name][field]:
                diffs.append(
                    f"GlobalSecondaryIndexes[{name}].{field}: expected "
                    f"{want_g[name][field]}, template has {got_g[name][field]}"
                )

    if spec.get("BillingMode") != props.get("BillingMode"):
        diffs.append(
            f"BillingMode: expected {spec.get('BillingMode')}, template has {props.get('BillingMode')}"
        )

    ttl = props.get("TimeToLiveSpecification") or {}
    want_ttl = spec.get("TimeToLiveAttribute")
    if ttl.get("AttributeName") != want_ttl:
        diffs.append(
            f"TimeToLiveSpecification.AttributeName: expected {want_ttl}, "
            f"template has {ttl.get('AttributeName')}"
        )
    if ttl.get("Enabled") is not True:
        diffs.append(
            f"TimeToLiveSpecification.Enabled: expected true, template has {json.dumps(ttl.get('Enabled'))}"
        )

    return diffs


def queue_name_of(dimensions):
    """The logical id an alarm's QueueName dimension points at (`!GetAtt X.QueueName`)."""
    for d in dimensions or []:
        if d.get("Name") != "QueueName":
            continue
        value = d.get("Value")
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            parts = att if isinstance(att, list) else str(att).split(".", 1)
            if len(parts) == 2 and parts[1] == "QueueName":
                return parts[0]
    return None


def check_queue_alarms(resources):
    """Every queue (and every SAM-created dead-letter queue) has the right alarm."""
    queues, dlqs = set(), set()
    for name, res in resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::SQS::Queue":
            queues.add(name)
            target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            if isinstance(target, dict) and "Fn::GetAtt" in target:
                att = target["Fn::GetAtt"]
                dlqs.add(att[0] if isinstance(att, list) else str(att).split(".")[0])
        if res.get("Type") == "AWS::Serverless::Function":
            for event, spec in (props.get("Events") or {}).items():
                dead = (spec.get("Properties") or {}).get("DeadLetterConfig") or {}
                if dead.get("Type") == "SQS":
                    generated = f"{name}{event}Queue"
                    queues.add(generated)
                    dlqs.add(generated)
    alarmed = {}
    for res in resources.values():
        if res.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = res.get("Properties") or {}
        if props.get("Namespace") != "AWS/SQS":
            continue
        queue = queue_name_of(props.get("Dimensions"))
        if queue:
            alarmed.setdefault(queue, set()).add(props.get("MetricName"))
    diffs = []
    for queue in sorted(queues):
        want = (
            "ApproximateNumberOfMessagesVisible"
            if queue in dlqs
            else "ApproximateAgeOfOldestMessage"
        )
        if want not in alarmed.get(queue, set()):
            kind = "dead-letter queue" if queue in dlqs else "queue"
            diffs.append(f"{kind} {queue} has no alarm on {want}")
    return diffs, len(queues)


def main(argv):
    template_path = Path(argv[1]) if len(argv) > 1 else ROOT / "template.yaml"
    table_path = Path(argv[2]) if len(argv) > 2 else ROOT / "infra" / "table.json"

    spec = json.loads(table_path.read_text())
    template = plain(cfn_yaml.load(str(template_path)))
    table = (template.get("Resources") or {}).get("Table")
    if not table:
        print(f"{template_path}: no resource named Table")
        return 1
    if table.get("Type") != "AWS::DynamoDB::Table":
        print(f"{template_path}: Table has type {table.get('Type')}, expected AWS::DynamoDB::Table")
        return 1

    failed = False
    diffs = compare(table.get("Properties") or {}, spec)
    if diffs:
        failed = True
        print(f"{template_path}: Table does not match {table_path}:")
        for d in diffs:
            print(f"  - {d}")
    else:
        print("template table matches infra/table.json")

    diffs, queues = check_queue_alarms(template.get("Resources") or {})
    if diffs:
        failed = True
        print(f"{template_path}: queues without an alarm:")
        for d in diffs:
            print(f"  - {d}")
    else:
        print(f"every queue has its alarm ({queues} queues)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
