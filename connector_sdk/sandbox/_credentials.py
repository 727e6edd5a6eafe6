"""The documented, deterministic credentials every sandbox accepts out of the box.

They exist so that a throwaway authentication can be created against a sandbox without any
real secret: ``sandbox_parameters("twitch")`` gives parameter values, named as in our
manifests, that the emulator's token endpoint accepts. They are not secrets (they are printed
by ``connector-sdk sandbox`` and written here) and must never be accepted by anything real.
"""

from __future__ import annotations

from .._errors import ServiceNotFound

__all__ = [
    "SHOPIFY_API_VERSION",
    "SHOPIFY_CLIENT_ID",
    "SHOPIFY_CLIENT_SECRET",
    "SHOPIFY_SHOP",
    "TWITCH_CLIENT_ID",
    "TWITCH_CLIENT_SECRET",
    "sandbox_parameters",
]

# 30 lower-case alphanumerics, the shape of real Twitch client ids and secrets.
TWITCH_CLIENT_ID = "sbx4twitch7client8id9abcdef012"
TWITCH_CLIENT_SECRET = "sbx4twitch7secret8value9abc012"
# 32 hex digits, and a ``shpss_`` prefixed secret, the shape of Dev Dashboard app credentials.
SHOPIFY_CLIENT_ID = "5a4db0c5e1f2a3b4c5d6e7f8091a2b3c"
SHOPIFY_CLIENT_SECRET = "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"
SHOPIFY_SHOP = "my-store"
SHOPIFY_API_VERSION = "2025-10"

_PARAMETERS: dict[str, dict[str, str]] = {
    "twitch": {"client_id": TWITCH_CLIENT_ID, "client_secret": TWITCH_CLIENT_SECRET},
    "shopify": {
        "shopify_url": f"{SHOPIFY_SHOP}.myshopify.com",
        "client_id": SHOPIFY_CLIENT_ID,
        "client_secret": SHOPIFY_CLIENT_SECRET,
        "api_version": SHOPIFY_API_VERSION,
    },
}


def sandbox_parameters(service_id: str) -> dict[str, str]:
    """Authentication parameter values the default sandbox of ``service_id`` accepts.

    Twitch: ``client_id``, ``client_secret``. Shopify: ``shopify_url``, ``client_id``,
    ``client_secret``, ``api_version``. A fresh dict each call; raises ``ServiceNotFound``
    for a service without a sandbox.
    """
    try:
        return dict(_PARAMETERS[service_id])
    except KeyError:
        raise ServiceNotFound(
            f"no sandbox for service {service_id!r}; sandboxes exist for: "
            f"{', '.join(sorted(_PARAMETERS))}",
            service=service_id,
        ) from None
