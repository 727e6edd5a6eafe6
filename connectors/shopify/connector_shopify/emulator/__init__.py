"""An emulator of Shopify stores: the client-credentials token endpoint and the Admin API.

Built on ``connector_sdk.sandbox``; the plugin registers it through ``register_emulators``, so
``--sandbox`` and ``connector-sdk sandbox shopify`` use it. In a test::

    shopify = ShopifySandbox(shops=("my-store",), bucket_size=5, clock=fake_clock)
    client = httpx.Client(transport=connector_sdk.sandbox.SandboxTransport(shopify))

``shopify.parameters()`` gives the ``shopify_url``, ``client_id``, ``client_secret`` and
``api_version`` it accepts; ``data[shop]`` holds each shop's seeded products
(``shop_data(handle, seed)``). ``sign_query(params, secret)`` is the ``hmac`` its
authorization callbacks carry.
"""

from ._authorization import sign_query
from ._data import DATA_EPOCH, PRODUCTS_PER_SHOP, ShopData, shop_data
from ._emulator import (
    SHOPIFY_API_VERSION,
    SHOPIFY_CLIENT_ID,
    SHOPIFY_CLIENT_SECRET,
    SHOPIFY_SHOP,
    ShopifySandbox,
)

__all__ = [
    "DATA_EPOCH",
    "PRODUCTS_PER_SHOP",
    "SHOPIFY_API_VERSION",
    "SHOPIFY_CLIENT_ID",
    "SHOPIFY_CLIENT_SECRET",
    "SHOPIFY_SHOP",
    "ShopData",
    "ShopifySandbox",
    "shop_data",
    "sign_query",
]
