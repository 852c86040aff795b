"""The ``fieldcase`` command: serve, migrate, demo, audit verify, calendar import.

Every command exits 0 on success and 1 with a one-line reason on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from backend.settings import Settings, SettingsError, load_settings, use_settings


class CommandError(Exception):
    """A command failed for a reason the operator can act on."""


async def _with_db(settings: Settings, work: Callable[[], Awaitable[Any]]) -> Any:
    from backend.core.db import bind_engine, build_engine, close_pool, start_pool

    engine = build_engine(settings.database)
    bind_engine(engine)
    await start_pool(engine, max_size=4)
    try:
        return await work()
    finally:
        await close_pool(engine)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from backend.app import create_app, settle_heap
    from backend.inspections import ranking

    app = create_app(settings, run_scheduler=args.with_scheduler)
    app.on_startup.append(settle_heap)
    app.on_startup.append(ranking.warm_up)
    host = args.host or settings.host
    port = args.port or settings.port
    print(
        f"Fieldcase serving on http://{host}:{port}  (API /api/v1, mobile /mobile/v1, docs /schema)"
    )
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from backend.core.db import build_engine, migrate

    async def run() -> None:
        await migrate(build_engine(settings.database), quiet=not args.verbose)

    asyncio.run(run())
    print(f"migrations applied to {settings.database_url_text}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from backend.demo import accounts_table, run_demo
    from backend.demo.orgs import has_data
    from storage import open_store

    async def run() -> bool:
        if args.first_run and await has_data():
            return False
        await run_demo(password=args.password, store=open_store(settings))
        return True

    ran = asyncio.run(_with_db(settings, run))
    if not ran:
        print("demo data already present; accounts:")
    else:
        print("demo data ready; accounts:")
    print(accounts_table(args.password))
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from backend.audit.anchors import verify_anchors
    from backend.audit.service import verify_chain
    from storage import open_store

    store = open_store(settings)

    async def run() -> tuple[Any, ...]:
        streams, events, broken = await verify_chain()
        if broken is not None:
            return streams, events, broken, 0
        anchors, broken = await verify_anchors(store=store)
        return streams, events, broken, anchors

    streams, events, broken, anchors = asyncio.run(_with_db(settings, run))
    if broken is not None:
        raise CommandError(f"audit chain broken at {broken}")
    print(f"OK: {events} events in {streams} streams verified, {anchors} anchors match")
    return 0


def cmd_calendar_import(args: argparse.Namespace, settings: Settings) -> int:
    from backend.calendar import service
    from backend.core.auth import system_principal

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    rows = service.parse_overrides_csv(path.read_text(encoding="utf-8-sig"))

    async def run() -> int:
        return await service.import_overrides(
            principal=system_principal("cli"),
            rows=rows,
            complete_years=list(args.complete_year or []),
            source=path.name,
        )

    count = asyncio.run(_with_db(settings, run))
    print(f"imported {count} calendar days")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldcase", description="Fieldcase enforcement backend")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web API, mobile API and public pages")
    serve.add_argument("--host", help="bind address (default FIELDCASE_HOST)")
    serve.add_argument("--port", type=int, help="port (default FIELDCASE_PORT)")
    serve.add_argument(
        "--with-scheduler",
        action="store_true",
        help="also run the scheduler in this process (the embedded default)",
    )
    serve.set_defaults(func=cmd_serve)

    mig = sub.add_parser("migrate", help="apply all database migrations")
    mig.add_argument("--verbose", action="store_true", help="show each migration")
    mig.set_defaults(func=cmd_migrate)

    demo = sub.add_parser("demo", help="create the demo county (idempotent)")
    demo.add_argument("--password", default="fieldcase-demo", help="password of every demo account")
    demo.add_argument("--first-run", action="store_true", help="only if the database is empty")
    demo.set_defaults(func=cmd_demo)

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check every audit stream (and anchor)")
    verify.set_defaults(func=cmd_audit_verify)

    cal = sub.add_parser("calendar", help="working-day calendar")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    cal_import = cal_sub.add_parser("import", help="import holidays and make-up days from CSV")
    cal_import.add_argument("file", help="CSV with columns date,working,name")
    cal_import.add_argument(
        "--complete-year",
        type=int,
        action="append",
        help="a year whose schedule this file completes (repeatable)",
    )
    cal_import.set_defaults(func=cmd_calendar_import)

    for register in _extensions():
        register(sub)
    return parser


def _extensions() -> list[Callable[[Any], None]]:
    """Subcommands that domains add (import, draw verify, casefile, scheduler...)."""
    from backend.domains import collect

    return collect("cli")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        use_settings(settings)
        code: int = args.func(args, settings)
        return code
    except (SettingsError, CommandError) as exc:
        print(f"fieldcase: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, no traceback, for operators
        from backend.core.errors import FieldcaseError

        if os.environ.get("FIELDCASE_DEBUG"):
            raise

        reason = exc.detail if isinstance(exc, FieldcaseError) else f"{type(exc).__name__}: {exc}"
        print(f"fieldcase: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
