"""``connector-sdk auth``: create, connect, list, show, test, update and delete
authentications (``connect`` and ``update`` live in ``auth_connect``).

Secret values are accepted only from ``@env:VAR``, ``@file:PATH`` or a hidden prompt, and are
never printed: ``show`` masks them, ``test`` prints the token's type, scopes and expiry but
not the token.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ._common import add_runtime_arguments, emit_json, make_runtime, read_parameters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="auth_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create an authentication for a service")
    create.add_argument("service", help="service id (see `connector-sdk services`)")
    create.add_argument("--name", required=True, help="name of the new authentication")
    create.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter; secrets as KEY=@env:VAR or KEY=@file:PATH, or"
                             " omitted to be prompted")
    for name, help_text in (("list", "list authentications"),
                            ("show", "show one authentication (secrets masked)"),
                            ("test", "get a token and show its type, scopes and expiry"),
                            ("delete", "revoke (where supported) and delete")):
        command = sub.add_parser(name, help=help_text)
        if name != "list":
            command.add_argument("name")
        if name in ("test", "delete"):
            add_runtime_arguments(command)
    from .auth_connect import add_arguments as add_connect_arguments

    add_connect_arguments(sub)
    for command in sub.choices.values():
        command.add_argument("--format", choices=("text", "json"), default="text")


def _record_view(record: Any, runtime: Any) -> dict[str, Any]:
    """What a person sees of a record: secrets masked by the *manifest's* ``secret`` marks
    (every value when the service is not installed), and which values could not be read."""
    from .._errors import ServiceNotFound
    from .._stores.codec import UnreadableValue
    from .._stores.protocol import masked_parameters

    try:
        secret: frozenset[str] | None = runtime.service(record.service).secret_parameters
    except ServiceNotFound:
        secret = None
    view = {
        "name": record.name,
        "service": record.service,
        "parameters": masked_parameters(record.parameters, secret),
        "grant": record.grant,
        "status": record.status,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }
    unreadable = {key: str(value.problem) for key, value in record.parameters.items()
                  if isinstance(value, UnreadableValue)}
    if unreadable:
        view["unreadable"] = unreadable
    return view


def run(args: argparse.Namespace) -> int:
    return _ACTIONS[args.auth_command](args)


def _create(args: argparse.Namespace) -> int:
    runtime = make_runtime(args)
    with runtime:
        service = runtime.service(args.service)
        values = read_parameters(service, args.param, prompt=True)
        authentication = runtime.create_authentication(service.id, args.name, values)
        record = runtime.store.get(authentication.name)
    if args.format == "json":
        emit_json(_record_view(record, runtime))
    else:
        print(f"created authentication '{record.name}' for service '{record.service}'"
              f" in {runtime.store.describe()}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from .._secrets import UnreadableSecret
    from .._stores.sql import SQLStore

    with make_runtime(args) as runtime:
        store = runtime.store  # the built-in stores list without decrypting a masked secret
        records = store.list(open_secrets=False) if isinstance(store, SQLStore) \
            else store.list()
        where = runtime.store.describe()
    if args.format == "json":
        emit_json({"authentications": [_record_view(r, runtime) for r in records]})
    elif not records:
        print(f"no authentications in {where}; create one with"
              " `connector-sdk auth create SERVICE --name NAME --param ...`")
    else:
        for r in records:
            damaged = [k for k, v in r.parameters.items() if isinstance(v, UnreadableSecret)]
            note = f"  (unreadable: {', '.join(damaged)}; see `auth show {r.name}`)" \
                if damaged else ""
            if r.status != "active":
                note += (f"  ({r.status}: `connector-sdk auth connect {r.service}"
                         f" --name {r.name}`)")
            print(f"{r.name:<24} {r.service:<12} created {r.created_at}{note}")
    return 0


def _show(args: argparse.Namespace) -> int:
    with make_runtime(args) as runtime:
        view = _record_view(runtime.store.get(args.name), runtime)
    if args.format == "json":
        emit_json(view)
    else:
        print(f"{view['name']} (service {view['service']}, grant {view['grant']},"
              f" {view['status']}, created {view['created_at']}, updated"
              f" {view['updated_at']})")
        unreadable = view.get("unreadable", {})
        for key, value in view["parameters"].items():
            note = "  (unreadable: see below)" if key in unreadable else ""
            print(f"    {key:<20} {value}{note}")
        for problem in unreadable.values():
            print(f"warning: {problem}", file=sys.stderr)
    return 0


def _test(args: argparse.Namespace) -> int:
    with make_runtime(args) as runtime:
        authentication = runtime.get_authentication(args.name)
        token = runtime.get_token(authentication)
        remaining = None if token.expires_at is None else token.expires_at - time.time()
        revoked = None
        if authentication.service.auth.revocation is not None and runtime.revoke_on_close \
                and authentication.grant != "authorization_code":  # a user's token is kept
            # The token would outlive this process unused (Twitch: about 60 days): revoke it.
            # Not with a shared cache (revoke_on_close false): the fleet may be using it.
            from .._auth.revocation import revoke

            revoked = revoke(authentication, runtime.tokens, runtime.http).revoked
    view = {
        "name": authentication.name,
        "service": authentication.service.id,
        "ok": True,
        "token_type": token.token_type,
        "scopes": list(token.scopes),
        "expires_in": None if remaining is None else int(remaining),
        "test_token_revoked": revoked,
    }
    if args.format == "json":
        emit_json(view)
    else:
        expiry = "unknown" if view["expires_in"] is None else f"{view['expires_in']} s"
        print(f"ok: got a {token.token_type} token for '{authentication.name}'"
              f" (scopes: {', '.join(token.scopes) or 'none'}; expires in {expiry})")
        if revoked is not None:
            print("the test token was revoked" if revoked else
                  "warning: the test token could not be revoked")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with make_runtime(args) as runtime:
        result = runtime.delete_authentication(args.name)
    warning = None if result is None or result.ok else result.message
    if args.format == "json":
        emit_json({"name": args.name, "deleted": True,
                   "revocation": None if result is None else
                   {"ok": result.ok, "message": result.message}})
    else:
        print(f"deleted authentication '{args.name}'")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _connect(args: argparse.Namespace) -> int:
    from .auth_connect import run_connect

    return run_connect(args)


def _update(args: argparse.Namespace) -> int:
    from .auth_connect import run_update

    return run_update(args)


_ACTIONS = {"create": _create, "list": _list, "show": _show, "test": _test, "delete": _delete,
            "connect": _connect, "update": _update}
