"""Sets or rotates values in the app's one JSON secret (the stack's ``SecretsArn`` output).

    python infra/put_secrets.py --stack airwaves stripe_secret_key stripe_webhook_secret
        prompts for each value (nothing lands in shell history); ``key=value`` also works, and
        ``key=@file`` reads a multi-line value such as a PEM key from a file
    python infra/put_secrets.py --stack airwaves --generate cursor_secret
    python infra/put_secrets.py --stack airwaves --livekit-rotation begin|promote|finish

Only keys the secret already has (the stack creates it with every key the code reads) are
accepted, so a typo fails here rather than as a silent empty value at run time. The functions pick changes up within five minutes (their
cache); LiveKit nodes read the secret when they start (README, "Rotating secrets").

LiveKit key rotation without rejecting anyone: ``begin`` adds a next key pair (refresh the nodes:
they now accept both), ``promote`` makes it current and keeps the old pair as previous (the API
signs with the new key within five minutes; refresh the nodes so webhooks are signed with it too),
``finish`` drops the previous pair.
"""
from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
from pathlib import Path
from typing import Any

ROTATION_KEYS = {f"livekit_{phase}_api_{part}" for phase in ("next", "previous") for part in ("key", "secret")}


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def apply_assignments(current: dict[str, str], assignments: dict[str, str]) -> dict[str, str]:
    known = set(current) - ROTATION_KEYS
    unknown = sorted(set(assignments) - known)
    if unknown:
        raise SystemExit(f"unknown secret key(s) {unknown}; this secret has: {sorted(known)}")
    return {**current, **assignments}


def rotate_livekit(current: dict[str, str], phase: str) -> dict[str, str]:
    """One rotation step, written as one secret version. Fields of a phase not in use are left
    empty (not removed): the stack creates them and the functions read them (empty = none)."""
    out = dict(current)
    if phase == "begin":
        if out.get("livekit_next_api_key"):
            raise SystemExit("a LiveKit rotation is already under way (promote or finish it first)")
        if out.get("livekit_previous_api_key"):
            # promoting again now would drop the previous pair that unrefreshed nodes may still sign with
            raise SystemExit("the last LiveKit rotation is not finished: refresh the nodes, then run finish")
        out["livekit_next_api_key"] = f"airwaves-{secrets.token_hex(4)}"
        out["livekit_next_api_secret"] = new_secret()
    elif phase == "promote":
        if not out.get("livekit_next_api_key"):
            raise SystemExit("no next LiveKit key: run --livekit-rotation begin and refresh the nodes first")
        out["livekit_previous_api_key"] = out["livekit_api_key"]
        out["livekit_previous_api_secret"] = out["livekit_api_secret"]
        out["livekit_api_key"], out["livekit_next_api_key"] = out["livekit_next_api_key"], ""
        out["livekit_api_secret"], out["livekit_next_api_secret"] = out["livekit_next_api_secret"], ""
    elif phase == "finish":
        if out.get("livekit_next_api_key"):
            raise SystemExit("the LiveKit rotation is begun but not promoted: run promote first")
        out["livekit_previous_api_key"] = ""
        out["livekit_previous_api_secret"] = ""
    else:
        raise SystemExit(f"unknown rotation phase {phase!r}")
    return out


def parse_assignments(items: list[str], prompt=getpass.getpass) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if sep and value.startswith("@"):
            value = Path(value[1:]).read_text()
        out[key] = value if sep else prompt(f"{key}: ")
    return out


def secret_arn(cloudformation: Any, stack: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "SecretsArn":
            return output["OutputValue"]
    raise SystemExit(f"stack {stack} has no SecretsArn output")


def main(argv: list[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the deployed stack's name")
    where.add_argument("--secret-id", help="the secret's ARN or name")
    parser.add_argument("--region")
    parser.add_argument("--generate", action="append", default=[], metavar="KEY", help="set KEY to a random value")
    parser.add_argument("--livekit-rotation", choices=["begin", "promote", "finish"])
    parser.add_argument("assignments", nargs="*", metavar="KEY[=VALUE]")
    args = parser.parse_args(argv)

    import boto3

    session = session or boto3.session.Session(region_name=args.region)
    arn = args.secret_id or secret_arn(session.client("cloudformation"), args.stack)
    client = session.client("secretsmanager")
    current = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    updated = apply_assignments(current, parse_assignments(args.assignments))
    updated = apply_assignments(updated, {key: new_secret() for key in args.generate})
    if args.livekit_rotation:
        updated = rotate_livekit(updated, args.livekit_rotation)
    if updated == current:
        print("nothing to change")
        return 0
    client.put_secret_value(SecretId=arn, SecretString=json.dumps(updated, sort_keys=True))
    changed = sorted(k for k in set(updated) | set(current) if updated.get(k) != current.get(k))
    print(f"updated {', '.join(changed)} in {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
