"""``fieldcase casefile verify BUNDLE.zip``: check every hash of an exported case file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backend.settings import Settings


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from backend.cases.casefile import verify_bundle
    from backend.cli import CommandError

    path = Path(args.bundle)
    if not path.exists():
        raise CommandError(f"no such file: {path}")
    problems = verify_bundle(path)
    if problems:
        for problem in problems:
            print(f"FAIL {problem}")
        raise CommandError(f"{len(problems)} problem(s) in {path.name}")
    print(f"OK: every file of {path.name} matches its manifest")
    return 0


def register(sub: Any) -> None:
    casefile = sub.add_parser("casefile", help="electronic case file bundles")
    casefile_sub = casefile.add_subparsers(dest="casefile_command", required=True)
    verify = casefile_sub.add_parser("verify", help="check every SHA-256 of an exported bundle")
    verify.add_argument("bundle", help="the exported zip")
    verify.set_defaults(func=cmd_verify)
