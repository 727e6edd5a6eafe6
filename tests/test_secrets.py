"""``Secret`` shows a mask on every surface a value can leak through by accident."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest

from connector_sdk import Secret
from connector_sdk._secrets import MASK, json_default, reveal


def test_every_text_form_is_the_mask(canary: str) -> None:
    secret = Secret(canary)
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>20}",
                 "%s" % secret, "{}".format(secret),  # noqa: UP031, UP032
                 repr([secret]), repr({"k": secret})):
        assert canary not in text
        assert MASK in text


def test_reveal_gives_the_value(canary: str) -> None:
    assert Secret(canary).reveal() == canary
    assert reveal(Secret(canary)) == canary
    assert reveal("plain") == "plain"


def test_logging_shows_the_mask(canary: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").debug("secret is %s, %r", Secret(canary), Secret(canary))
    assert canary not in caplog.text
    assert MASK in caplog.text


def test_json_encoding(canary: str) -> None:
    assert json.dumps({"s": Secret(canary)}, default=json_default) == f'{{"s": "{MASK}"}}'
    with pytest.raises(TypeError):
        json.dumps({"s": Secret(canary)})  # without the default: refused, not leaked


def test_pickling_is_refused(canary: str) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret(canary))


def test_equality_and_copies(canary: str) -> None:
    secret = Secret(canary)
    assert secret == Secret(canary)
    assert secret != Secret(canary + "x")
    assert copy.deepcopy(secret) is secret
    assert Secret(secret) == secret
    assert len({secret, Secret(canary)}) == 1


def test_only_strings() -> None:
    with pytest.raises(TypeError):
        Secret(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown", "masked"),
    [
        ("postgresql://fleet:pw@127.0.0.1:5432/auth?password=pw",
         "postgresql://fleet@127.0.0.1:5432/auth", "postgresql://**********@127.0.0.1:5432/auth"),
        ("redis://:pw@cache:99999/0", "redis://**********@cache:99999/0",
         "redis://**********@cache:99999/0"),
        ("http://u:p%40ss@proxy:3128/x#pw", "http://u@proxy:3128/x", "http://**********@proxy:3128/x"),
        ("redis://cache/0?password=pw", "redis://cache/0", "redis://cache/0"),
    ],
)
def test_shown_url_never_shows_a_password_even_in_a_malformed_url(url, shown, masked):
    from connector_sdk._secrets import shown_url

    assert shown_url(url) == shown
    assert shown_url(url, keep_user=False) == masked
    assert "pw" not in shown_url(url) and "p%40ss" not in shown_url(url)
