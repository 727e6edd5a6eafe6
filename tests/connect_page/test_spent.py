"""Spent links: claimed once, given back after a refused post, lapsing after expiry."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from connector_sdk import Runtime
from connector_sdk.connect_page import SpentLinks, SQLiteSpentLinks, StoreSpentLinks


@pytest.fixture(params=["store", "sqlite"])
def spent(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        links = SQLiteSpentLinks(tmp_path / "spent.sqlite")
        yield links, SQLiteSpentLinks(tmp_path / "spent.sqlite")
        return
    with Runtime(home=tmp_path / "home") as one, Runtime(home=tmp_path / "home") as two:
        yield StoreSpentLinks(one.store), StoreSpentLinks(two.store)


def test_a_key_is_claimed_once_across_handles(spent: tuple[SpentLinks, SpentLinks]) -> None:
    first, second = spent
    expires = time.time() + 600
    assert first.claim("link:a", expires) is True
    assert second.claim("link:a", expires) is False
    assert first.claim("link:a", expires) is False
    assert second.claim("link:b", expires) is True


def test_a_released_claim_can_be_claimed_again(spent: tuple[SpentLinks, SpentLinks]) -> None:
    first, second = spent
    expires = time.time() + 600
    assert first.claim("page:a", expires)
    first.release("page:a")
    assert second.claim("page:a", expires)


def test_a_claim_lapses_once_its_token_and_the_skew_margin_are_past(
        spent: tuple[SpentLinks, SpentLinks]) -> None:
    first, second = spent
    assert first.claim("link:old", time.time() - 400)  # expired 400 s ago, margin 300 s
    assert second.claim("link:old", time.time() + 600)
