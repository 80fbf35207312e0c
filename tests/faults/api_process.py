"""The API as its own process: the same Chalice app ``make up`` serves, on a given loopback port,
against whatever AWS endpoint, Stripe and LiveKit the environment names.

``python -m tests.faults.api_process PORT [--provision]`` (``--provision`` first creates the
table, queues, schedule group and push apps the local stage names). The fault suite starts it, SIGKILLs it (or lets a
fault point kill it) and starts it again, with DynamoDB in a separate process that survives.
"""
from __future__ import annotations

import sys

from infra.local.stage import apply_stage_environment


def main(port: int, provision: bool) -> None:
    import os

    overrides = {k: v for k, v in os.environ.items() if k.startswith("AIRWAVES_")}
    apply_stage_environment("local", **overrides)  # the stage's settings, the test's overrides on top
    if provision:
        from infra.local import stack

        stack.register_extensions()
        stack.provision()
    from infra.local.api_server import create_api_server

    server = create_api_server("127.0.0.1", port)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]), "--provision" in sys.argv[2:])
