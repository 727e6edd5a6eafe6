"""An embeddable, white-labelled page where end users connect their own accounts.

A platform that embeds connector-sdk mounts ``create_app(runtime, config)`` (an ASGI
application) on its customers' white-labelled domains, or runs it with ``connector-sdk
connect-page serve``. The platform starts each session server-side with ``mint_link`` (a
signed, expiring, single-use link naming the organisation, the service and the
authentication to create) and shows it in an iframe. The page renders the service's
parameter form, creates and tests client-credentials authentications, and sends users to
the provider and back for the authorization code. docs/connect-page.md describes the
configuration file, the sessions, the security headers and the branding.

Needs the ``connect-page`` extra (Starlette, itsdangerous, Jinja2; uvicorn
for the CLI).
"""

from __future__ import annotations

from .app import check_services, create_app
from .config import Branding, ConnectPageConfig, Organisation, ServiceChoice, load_config
from .sessions import PageSession, mint_link
from .spent import SpentLinks, SQLiteSpentLinks, StoreSpentLinks

__all__ = [
    "Branding",
    "ConnectPageConfig",
    "Organisation",
    "PageSession",
    "SQLiteSpentLinks",
    "ServiceChoice",
    "SpentLinks",
    "StoreSpentLinks",
    "check_services",
    "create_app",
    "load_config",
    "mint_link",
]
