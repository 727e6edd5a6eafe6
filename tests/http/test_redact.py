"""The one redactor, on its own: every form a secret takes in text is masked, and a window
never shows the start of a secret it cut."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector_sdk._http.messages import shown_text
from connector_sdk._http.redact import MASK, redact, redact_data

SECRETS = ['a"b', "a\\b", "a&b", "a+b", "a%b", "a b", 'x"\\&+% y', "é€😀-k", "tab\there",
           "two  spaces", "%41%42", "\\u0041"]


def forms(secret: str) -> dict[str, str]:
    return {
        "raw": secret,
        "json": json.dumps(secret)[1:-1],
        "json-unicode": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json-of-json": json.dumps(json.dumps(secret)[1:-1])[1:-1],
        "repr": repr(secret)[1:-1],
        "bytes-repr": repr(secret.encode())[2:-1],
        "json-of-repr": json.dumps(repr(secret)[1:-1])[1:-1],
        "quote": quote(secret, safe=""),
        "quote-slash": quote(secret),
        "quote-lower": quote(secret, safe="").lower(),
        "quote_plus": quote_plus(secret),
        "form": urlencode({"client_secret": secret}).split("=", 1)[1],
        "html": html.escape(secret),
    }


@pytest.mark.parametrize("secret", SECRETS)
def test_every_form_of_a_secret_is_masked(secret):
    for name, form in forms(secret).items():
        text = f"before {form} after"
        assert redact(text, [secret]) == f"before {MASK} after", name


def test_token_members_are_masked_whatever_their_value():
    text = '{"access_token": "abc", "note": "refresh_token=xyz&a=1"}'
    assert redact(text, []) == f'{{"access_token": "{MASK}", "note": "refresh_token={MASK}&a=1"}}'


def test_redact_data_masks_before_serialising():
    secret = 'p"w\\d'
    data = {"error": {"detail": f"got {secret}", "access_token": "t"}, secret: [secret]}
    dumped = json.dumps(redact_data(data, [secret]))
    assert "p\\\"w" not in dumped and "access_token\": \"t\"" not in dumped


@given(st.integers(min_value=0, max_value=400))
def test_a_secret_cut_by_the_window_never_shows_its_start(position):
    secret = "SECRET-" + 'x"&+% ' * 3
    text = "a" * position + secret + "b" * 50
    window = 300
    out = redact(text, [secret], window=window)
    assert "SECRET" not in out
    assert len(out) <= window


@given(st.integers(min_value=150, max_value=260), st.sampled_from(SECRETS))
def test_shown_text_never_shows_a_secret_at_the_cut_off(position, tail):
    secret = "SECRET-" + tail
    shown = shown_text("a" * position + secret + " tail", [secret], 200)
    assert "SECR" not in shown and len(shown) <= 200
