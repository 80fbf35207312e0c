"""Publish the built web app (``make web`` -> web/dist) to a stack deployed with ``HostWebApp=true``.

Reads the stack's outputs (``ApiUrl``, ``WebAppBucketName``, ``WebAppDistributionId``), writes
``config.json`` (``{"api_url": <ApiUrl>}``, what ``web/src/main.ts`` fetches) next to the files,
uploads everything (``index.html`` and ``config.json`` revalidated on every load, the rest cached),
deletes objects the build no longer has, then invalidates the distribution.

    make web && .venv/bin/python infra/publish_web.py --stack airwaves
"""
from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
ALWAYS_FRESH = {"index.html", "config.json"}   # names that do not change when their content does
TYPES = {".js": "text/javascript", ".map": "application/json", ".css": "text/css", ".html": "text/html",
         ".json": "application/json"}


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs}
    missing = {"ApiUrl", "WebAppBucketName", "WebAppDistributionId"} - set(found)
    if missing:
        raise SystemExit(f"stack {stack} has no {', '.join(sorted(missing))} output (deploy it with HostWebApp=true)")
    return found


def files(dist: Path, api_url: str) -> dict[str, tuple[bytes, str, str]]:
    """key -> (body, content type, cache control) for every file of the build plus config.json."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist} has no index.html: run `make web` first")
    out = {}
    for path in sorted(p for p in dist.rglob("*") if p.is_file()):
        key = path.relative_to(dist).as_posix()
        kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        out[key] = (path.read_bytes(), kind, "")
    out["config.json"] = (json.dumps({"api_url": api_url}).encode(), "application/json", "")
    return {key: (body, kind, "no-cache" if key in ALWAYS_FRESH else "public, max-age=300")
            for key, (body, kind, _) in out.items()}


def publish(s3: Any, bucket: str, dist: Path, api_url: str) -> list[str]:
    """Uploads the build and config.json, removes stale objects; returns the uploaded keys."""
    wanted = files(dist, api_url)
    for key, (body, kind, cache) in wanted.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=kind, CacheControl=cache)
    stale = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
             for o in page.get("Contents", []) if o["Key"] not in wanted]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]})
    return sorted(wanted)


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    answer = cloudfront.create_invalidation(DistributionId=distribution_id, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"publish-web-{time.time_ns()}"})
    return str(answer["Invalidation"]["Id"])


def main(argv: list[str] | None = None, session: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--region")
    parser.add_argument("--dist", type=Path, default=DIST, help="the built app (default web/dist)")
    args = parser.parse_args(argv)

    import boto3

    session = session or boto3.session.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    keys = publish(session.client("s3"), outputs["WebAppBucketName"], args.dist, outputs["ApiUrl"])
    invalidation = invalidate(session.client("cloudfront"), outputs["WebAppDistributionId"])
    print(f"uploaded {len(keys)} files to s3://{outputs['WebAppBucketName']}; invalidation {invalidation}; "
          f"the app is at {outputs.get('WebAppUrl', '(see the WebAppUrl output)')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
