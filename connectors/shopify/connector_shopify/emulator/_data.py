"""Seeded, deterministic data for the Shopify emulator.

Everything here is a pure function of the seed and the shop handle: the same seed gives the
same shop and products, byte for byte, on every run and machine (``random.Random`` with an
explicit seed, no clock, no hash randomisation). Timestamps are relative to ``DATA_EPOCH``,
not to the wall clock, for the same reason.

1,234 products per shop by default, so that pagination matters (5 pages of 250).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["DATA_EPOCH", "PRODUCTS_PER_SHOP", "ShopData", "shop_data"]

DATA_EPOCH = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
PRODUCTS_PER_SHOP = 1234

_TAGS = ("Chill", "Competitive", "Speedrun", "FirstPlaythrough", "Cozy", "Funny", "PvP",
         "Educational", "NoBackseating", "Challenge")


@dataclass(frozen=True)
class ShopData:
    """One shop: its ``shop.json`` resource and its products, ordered by id ascending."""

    shop: dict[str, Any]
    products: list[dict[str, Any]]


_PRODUCT_ADJ = ("Classic", "Organic", "Vintage", "Deluxe", "Everyday", "Handmade", "Eco",
                "Premium", "Compact", "Rugged", "Soft", "Bold")
_PRODUCT_NOUN = ("T-Shirt", "Mug", "Backpack", "Candle", "Notebook", "Hoodie", "Water Bottle",
                 "Sneakers", "Cap", "Scarf", "Lamp", "Tote Bag", "Socks", "Poster")
_VENDORS = ("Acme Goods", "Northwind", "Blue Harbor", "Maple & Co", "Studio Nine")
_SIZES = ("S", "M", "L")


@functools.lru_cache(maxsize=32)
def shop_data(handle: str, seed: int = 0, products: int = PRODUCTS_PER_SHOP) -> ShopData:
    """Build the data of the shop ``{handle}.myshopify.com`` for ``seed`` (pure, cached and
    shared read-only: do not mutate it)."""
    rng = random.Random(f"shopify:{seed}:{handle}")  # noqa: S311 - seeded data
    name = " ".join(part.capitalize() for part in handle.split("-"))
    shop_id = rng.randrange(50_000_000_000, 99_999_999_999)
    created = DATA_EPOCH - timedelta(days=rng.randrange(200, 2000))
    domain = f"{handle}.myshopify.com"
    shop = {
        "id": shop_id,
        "name": name,
        "email": f"owner@{handle}.example",
        "domain": domain,
        "province": "Ontario",
        "country": "CA",
        "address1": "150 Elgin Street",
        "zip": "K2P 1L4",
        "city": "Ottawa",
        "source": None,
        "phone": "",
        "primary_locale": "en",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S-04:00"),
        "updated_at": DATA_EPOCH.strftime("%Y-%m-%dT%H:%M:%S-04:00"),
        "country_code": "CA",
        "country_name": "Canada",
        "currency": "CAD",
        "customer_email": f"owner@{handle}.example",
        "timezone": "(GMT-05:00) America/Toronto",
        "iana_timezone": "America/Toronto",
        "shop_owner": f"{name} Owner",
        "money_format": "${{amount}}",
        "money_with_currency_format": "${{amount}} CAD",
        "weight_unit": "kg",
        "province_code": "ON",
        "taxes_included": False,
        "plan_display_name": "Development",
        "plan_name": "partner_test",
        "myshopify_domain": domain,
        "password_enabled": True,
        "has_storefront": True,
        "enabled_presentment_currencies": ["CAD"],
    }

    items: list[dict[str, Any]] = []
    product_id = 8_000_000_000_000 + rng.randrange(0, 10_000_000)
    variant_id = 44_000_000_000_000 + rng.randrange(0, 10_000_000)
    handles: set[str] = set()
    for index in range(products):
        product_id += rng.randrange(1, 5000)
        title = f"{rng.choice(_PRODUCT_ADJ)} {rng.choice(_PRODUCT_NOUN)}"
        base = title.lower().replace(" ", "-")
        product_handle = base if base not in handles else f"{base}-{index}"
        handles.add(product_handle)
        moment = created + timedelta(hours=index * 3 + rng.randrange(3))
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S-04:00")
        status = rng.choice(("active",) * 8 + ("draft", "archived"))
        price = f"{rng.randrange(5, 200)}.{rng.choice(('00', '50', '99'))}"
        variants = []
        for position, size in enumerate(_SIZES[: rng.randrange(1, 4)], start=1):
            variant_id += rng.randrange(1, 5000)
            variants.append({
                "id": variant_id,
                "product_id": product_id,
                "title": size,
                "price": price,
                "position": position,
                "inventory_policy": "deny",
                "compare_at_price": None,
                "option1": size,
                "option2": None,
                "option3": None,
                "created_at": stamp,
                "updated_at": stamp,
                "taxable": True,
                "barcode": None,
                "fulfillment_service": "manual",
                "grams": rng.randrange(50, 2000),
                "inventory_management": "shopify",
                "requires_shipping": True,
                "sku": f"{product_handle[:12].upper()}-{size}-{index}",
                "weight": 0.5,
                "weight_unit": "kg",
                "inventory_item_id": variant_id + 1_000_000,
                "inventory_quantity": rng.randrange(0, 300),
                "old_inventory_quantity": 0,
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                "image_id": None,
            })
        items.append({
            "id": product_id,
            "title": title,
            "body_html": f"<p>The {title.lower()} from {name}.</p>",
            "vendor": rng.choice(_VENDORS),
            "product_type": title.split(" ", 1)[1],
            "created_at": stamp,
            "handle": product_handle,
            "updated_at": stamp,
            "published_at": stamp if status == "active" else None,
            "template_suffix": None,
            "published_scope": "global",
            "tags": ", ".join(sorted(rng.sample(_TAGS, 2))),
            "status": status,
            "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
            "variants": variants,
            "options": [{"id": product_id + 7, "product_id": product_id, "name": "Size",
                         "position": 1, "values": [v["title"] for v in variants]}],
            "images": [],
            "image": None,
        })
    return ShopData(shop=shop, products=items)
