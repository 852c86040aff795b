"""``fieldcase matters import FILE``: load the catalogue and grants from CSV or XLSX."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from backend.settings import Settings


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cli import CommandError, _with_db
    from backend.core.auth import system_principal
    from backend.matters import service

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    content = path.read_bytes()

    async def run() -> Any:
        return await service.import_file(
            principal=system_principal("cli"), name=path.name, content=content
        )

    result = asyncio.run(_with_db(settings, run))
    print(
        f"matters: {result.matters_created} created, {result.matters_updated} updated; "
        f"grants: {result.grants_created} created, {result.grants_unchanged} unchanged"
    )
    return 0


def register(sub: Any) -> None:
    matters = sub.add_parser("matters", help="enforcement matters catalogue and grants")
    matters_sub = matters.add_subparsers(dest="matters_command", required=True)
    imp = matters_sub.add_parser("import", help="import matters and grants from CSV or XLSX")
    imp.add_argument(
        "file",
        help="CSV or XLSX (columns code,name,category,domain,... or "
        "matter_code,org_unit_code,effective_from,effective_to,basis)",
    )
    imp.set_defaults(func=cmd_import)
