"""``fieldcase import subjects|items FILE`` and ``fieldcase draw verify FILE|URL``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any


def _group(sub: Any, name: str, help_text: str) -> Any:
    """The sub-command group ``name`` (shared with other domains), created if missing."""
    parser = sub.choices.get(name)
    if parser is None:
        parser = sub.add_parser(name, help=help_text)
        return parser.add_subparsers(dest=f"{name}_command", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=f"{name}_command", required=True)


class ProgressBar:
    """A one-line terminal progress bar on stderr (redrawn at most 10 times a second)."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.last = 0.0
        self.phase = ""
        self.started = time.monotonic()

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        final = total and done >= total
        if phase == self.phase and not final and now - self.last < 0.1:
            return
        if phase != self.phase and self.phase:
            self.stream.write("\n")
        self.phase, self.last = phase, now
        rate = done / max(now - self.started, 1e-9)
        if total:
            filled = int(self.width * min(done / total, 1))
            bar = "#" * filled + "." * (self.width - filled)
            text = f"\r{phase:<9} [{bar}] {done:>9,}/{total:,} rows  {rate:,.0f} rows/s"
        else:
            text = f"\r{phase:<9} {done:>9,} rows  {rate:,.0f} rows/s"
        self.stream.write(text)
        self.stream.flush()

    def close(self) -> None:
        if self.phase:
            self.stream.write("\n")
            self.stream.flush()


def _print_report(report: Any, elapsed: float) -> int:
    from backend.cli import CommandError

    if not report.applied:
        for row in report.rejected:
            print(f"line {row.line}: {row.reason}")
        raise CommandError(
            f"{len(report.rejected)} of {report.rows} rows rejected; nothing was imported"
        )
    rate = report.rows / elapsed if elapsed else 0
    print(
        f"imported {report.rows} rows ({report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged) "
        f"in {elapsed:.1f} s, {rate:,.0f} rows/s"
    )
    return 0


def cmd_import_subjects(args: argparse.Namespace, settings: Any) -> int:
    from backend.cli import CommandError, _with_db
    from backend.core.auth import system_principal
    from backend.inspections import subjects

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    bar = ProgressBar()
    started = time.monotonic()

    async def run() -> Any:
        return await subjects.import_subjects(
            principal=system_principal("cli"), path=path, progress=None if args.quiet else bar
        )

    try:
        report = asyncio.run(_with_db(settings, run))
    finally:
        bar.close()
    return _print_report(report, time.monotonic() - started)


def cmd_import_items(args: argparse.Namespace, settings: Any) -> int:
    from backend.cli import CommandError, _with_db
    from backend.core.auth import system_principal
    from backend.inspections import service

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    started = time.monotonic()

    async def run() -> Any:
        return await service.import_items(principal=system_principal("cli"), path=path)

    return _print_report(asyncio.run(_with_db(settings, run)), time.monotonic() - started)


def load_record(source: str) -> Any:
    """A public draw record from a file or an http(s) URL."""
    from backend.cli import CommandError

    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=60, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise CommandError(f"cannot fetch {source}: {exc}") from None
        if response.status_code != 200:
            raise CommandError(f"{source} answered {response.status_code}")
        text = response.text
    else:
        path = Path(source)
        if not path.exists():
            raise CommandError(f"no such file: {path}")
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{source} is not JSON: {exc}") from None


def cmd_draw_verify(args: argparse.Namespace, settings: Any) -> int:
    """Recompute a draw from its public record alone (no database)."""
    from backend.inspections import hashrank

    record = load_record(args.source)
    if not isinstance(record, dict):
        print("MISMATCH: the record is not a JSON object")
        return 1
    try:
        hashrank.verify(record)
    except hashrank.Mismatch as exc:
        print(f"MISMATCH: {exc}")
        return 1
    selected = sum(len(s["selected"]) for s in record["strata"])
    pool = sum(len(s["pool"]) for s in record["strata"])
    print(
        f"OK  draw {record.get('draw_id')}: {selected} of {pool} subjects, "
        f"{len(record['assignments'])} teams recomputed"
    )
    return 0


def register(sub: Any) -> None:
    imports = _group(sub, "import", "import data files")
    subjects = imports.add_parser(
        "subjects", help="upsert the subject directory by credit code (CSV or XLSX)"
    )
    subjects.add_argument("file", help="CSV or XLSX with a header row")
    subjects.add_argument("--quiet", action="store_true", help="no progress bar")
    subjects.set_defaults(func=cmd_import_subjects)
    items = imports.add_parser("items", help="upsert the inspection item list (CSV or XLSX)")
    items.add_argument("file", help="CSV or XLSX with a header row")
    items.set_defaults(func=cmd_import_items)

    draw = _group(sub, "draw", "random-inspection draws")
    verify = draw.add_parser(
        "verify", help="recompute a public draw record: prints OK or the mismatch"
    )
    verify.add_argument("source", help="a JSON file or the /public/draws/{id} URL")
    verify.set_defaults(func=cmd_draw_verify)
