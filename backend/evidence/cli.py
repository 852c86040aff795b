"""``fieldcase storage init`` (the evidence bucket with object lock) and
``fieldcase evidence reconcile`` (run the reconciler once)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from backend.settings import Settings


def cmd_storage_init(args: argparse.Namespace, settings: Settings) -> int:
    from backend.evidence.policy import policy_from
    from storage import open_store
    from storage.minio_store import MinioStore

    store = open_store(settings)

    async def run() -> None:
        if isinstance(store, MinioStore):
            # New buckets lock every object by default for the evidence retention period.
            await store.ensure_bucket(retention_days=policy_from(settings).retention.days)
        await store.ping()

    asyncio.run(run())
    print("object store ready (evidence bucket with object lock and default retention)")
    return 0


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cli import _with_db
    from backend.evidence.jobs import reconcile_evidence
    from storage import open_store

    store = open_store(settings)

    async def run() -> dict[str, int]:
        return await reconcile_evidence(settings=settings, store=store)

    result = asyncio.run(_with_db(settings, run))
    print(f"evidence: {result['expired']} sessions expired, {result['sealed']} items sealed")
    return 0


def register(sub: Any) -> None:
    storage = sub.add_parser("storage", help="object store")
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    storage_sub.add_parser("init", help="create the evidence bucket with object lock").set_defaults(
        func=cmd_storage_init
    )
    evidence = sub.add_parser("evidence", help="evidence uploads")
    evidence_sub = evidence.add_subparsers(dest="evidence_command", required=True)
    evidence_sub.add_parser(
        "reconcile", help="expire abandoned uploads and finish interrupted seals, once"
    ).set_defaults(func=cmd_reconcile)
