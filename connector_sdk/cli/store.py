"""``connector-sdk store migrate``: copy authentications between stores, sealed.

    connector-sdk store migrate --to postgresql://fleet@db.internal/connector
    connector-sdk store migrate --from postgresql://… --to sqlite:///srv/authentications.db

The source is ``--from`` (default: the configured store, ``CONNECTOR_SDK_STORE`` or the home
directory's SQLite file). Records move as stored rows: sealed secret values are copied byte
for byte, never opened, so no secret exists in clear on the way, in memory or on disk; both
stores use the same key (``CONNECTOR_SDK_SECRET_KEY`` or ``<home>/secret.key``), which is
what lets the destination read them. A record the destination already has is never
overwritten: when it is identical it is skipped as already copied (so a second run copies
nothing and says so), otherwise it is skipped with the difference, to be resolved by hand.
Exit 0 when every record is copied or identical, 1 when any was skipped as different or
failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._common import UsageError, emit_json

#: Bytes 2-9 of a sealed value: the id of the key that sealed it (see _stores/crypto.py).
_KEY_ID = slice(1, 9)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    migrate = sub.add_parser(
        "migrate", help="copy authentications to another store (secrets stay encrypted)",
        description="Copy every authentication to another store, secrets sealed as they are."
                    " Idempotent: records already copied are skipped.")
    migrate.add_argument("--to", required=True, metavar="URL", dest="to_url",
                         help="destination: postgresql://user@host:port/db, "
                              "sqlite:///path/authentications.db or sqlite: (the home store)")
    migrate.add_argument("--from", metavar="URL", dest="from_url", default=None,
                         help="source (default: CONNECTOR_SDK_STORE, else the home store)")
    migrate.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    from .._stores.select import STORE_ENV, describe_url, open_store

    source_url = args.from_url if args.from_url is not None else os.environ.get(STORE_ENV, "")
    if _same(source_url, args.to_url):
        raise UsageError(f"--to {describe_url(args.to_url) or 'sqlite:'} is the store the "
                         f"authentications come from; give another destination")
    with open_store(source_url) as source, open_store(args.to_url) as destination:
        report = _migrate(source, destination)
    if args.format == "json":
        emit_json(report)
    else:
        _print(report)
    return 1 if report["different"] or report["failed"] else 0


def _same(first: str | None, second: str | None) -> bool:
    def norm(url: str | None) -> str:
        url = (url or "").strip()
        return "sqlite:" if url in ("", "sqlite:", "sqlite://") else url.rstrip("/")

    return norm(first) == norm(second)


def _migrate(source: Any, destination: Any) -> dict[str, Any]:
    from .._errors import StoreError

    key_id = source.cipher.key_id
    if destination.cipher.key_id != key_id:  # pragma: no cover - one environment, one key
        raise StoreError("the two stores were opened with different keys")
    there = {name: (head, sorted(rows)) for name, head, rows in destination.rows()}
    report: dict[str, Any] = {"from": source.describe(), "to": destination.describe(),
                              "copied": [], "identical": [], "different": [], "failed": [],
                              "sealed_with_another_key": []}
    for name, head, rows in source.rows():
        foreign = [key for key, kind, value in rows
                   if kind == "secret" and isinstance(value, bytes) and value[_KEY_ID] != key_id]
        if foreign:
            report["sealed_with_another_key"].append({"name": name, "parameters": foreign})
        if name in there:
            if there[name] == (head, sorted(rows)):
                report["identical"].append(name)
            else:
                theirs = there[name][0]
                report["different"].append({
                    "name": name,
                    "reason": f"the destination has its own '{name}' (service {theirs[0]}, "
                              f"version {theirs[1]}; here: service {head[0]}, version "
                              f"{head[1]}); delete one of them to copy it"})
            continue
        try:
            destination.create_rows(name, head, rows)
        except StoreError as exc:
            report["failed"].append({"name": name, "reason": str(exc)})
        else:
            report["copied"].append(name)
    return report


def _print(report: dict[str, Any]) -> None:
    copied, identical = report["copied"], report["identical"]
    print(f"from {report['from']}\n  to {report['to']}")
    print(f"copied {len(copied)} authentication(s)" + (f": {', '.join(copied)}" if copied
                                                        else ""))
    if identical:
        print(f"skipped {len(identical)} already in the destination, identical (copied by an "
              f"earlier run): {', '.join(identical)}")
    for entry in report["different"]:
        print(f"skipped '{entry['name']}': {entry['reason']}", file=sys.stderr)
    for entry in report["failed"]:
        print(f"failed '{entry['name']}': {entry['reason']}", file=sys.stderr)
    for entry in report["sealed_with_another_key"]:
        print(f"warning: '{entry['name']}' has secret(s) {', '.join(entry['parameters'])} "
              f"sealed with another key than the configured one; they were copied as they "
              f"are and stay unreadable with this key", file=sys.stderr)
