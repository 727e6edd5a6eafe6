"""Revoking a cached token when an authentication is deleted (Twitch's revoke endpoint)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

import pytest

from connector_sdk._auth.revocation import revoke
from connector_sdk._manifest.model import RevocationSpec
from connector_sdk._manifest.templates import parse_template


@pytest.fixture
def twitch_like(kit, server):
    spec = RevocationSpec(
        url=parse_template(f"{server.base}/revoke"),
        fields={"client_id": parse_template("{{client_id}}"),
                "token": parse_template("{{access_token}}")},
    )
    return kit.service(revocation=spec)


def test_revoking_a_cached_token_posts_client_id_and_token(kit, server, make_manager,
                                                           twitch_like, make_canary):
    token, secret = make_canary("token"), make_canary("secret")
    server.default("/token", kit.token_reply(token))
    server.default("/revoke", kit.Reply(200))
    manager = make_manager()
    auth = kit.auth(twitch_like, client_id="hof5gwx0su6owfnys0yan9c87zr6t", client_secret=secret)
    manager.get_token(auth)
    result = revoke(auth, manager)
    assert result.ok and result.revoked
    assert result.status == 200
    (seen,) = server.requests("/revoke")
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen.body.decode()) == {
        "client_id": ["hof5gwx0su6owfnys0yan9c87zr6t"], "token": [token]}
    assert manager.peek(auth) is None  # dropped from the cache
    assert token not in result.message and secret not in result.message


def test_invalid_token_answer_counts_as_already_revoked(kit, server, make_manager, twitch_like,
                                                       make_canary):
    token = make_canary("token")
    server.default("/token", kit.token_reply(token))
    server.default("/revoke", kit.Reply(400, json={"status": 400, "message": "Invalid token"}))
    manager = make_manager()
    auth = kit.auth(twitch_like, client_id="cid", client_secret="s")
    manager.get_token(auth)
    result = revoke(auth, manager)
    assert result.ok and not result.revoked
    assert "Invalid token" in result.message
    assert token not in result.message


def test_server_down_gives_a_warning_not_an_exception(kit, server, make_manager, twitch_like,
                                                      caplog, make_canary):
    caplog.set_level(logging.DEBUG, logger="connector_sdk")
    token = make_canary("token")
    server.default("/token", kit.token_reply(token))
    manager = make_manager()
    auth = kit.auth(twitch_like, client_id="cid", client_secret="s")
    manager.get_token(auth)
    server.close()
    result = revoke(auth, manager)
    assert not result.ok
    assert "could not be reached" in result.message
    assert "service 'demo', authentication 'main'" in result.message
    assert manager.peek(auth) is None
    assert token not in caplog.text


def test_other_error_answers_give_a_warning(kit, server, make_manager, twitch_like):
    server.default("/token", kit.token_reply("token-value-123"))
    server.default("/revoke", kit.Reply(404, json={"status": 404,
                                                   "message": "client does not exist"}))
    manager = make_manager()
    auth = kit.auth(twitch_like, client_id="cid", client_secret="secret-value-123")
    manager.get_token(auth)
    result = revoke(auth, manager)
    assert not result.ok
    assert result.status == 404
    assert "client does not exist" in result.message


def test_nothing_is_fetched_just_to_revoke_it(kit, server, make_manager, twitch_like):
    manager = make_manager()
    result = revoke(kit.auth(twitch_like, client_id="cid", client_secret="s"), manager)
    assert result.ok and not result.revoked
    assert "no token is cached" in result.message
    assert server.count("/token") == 0
    assert server.count("/revoke") == 0


def test_service_without_revocation_is_a_no_op(kit, server, make_manager):
    server.default("/token", kit.token_reply("t"))
    manager = make_manager()
    auth = kit.auth(kit.service(), client_id="cid", client_secret="s")
    manager.get_token(auth)
    result = revoke(auth, manager)
    assert result.ok and not result.revoked
    assert "no revocation endpoint" in result.message


def test_revocation_with_basic_client_auth(kit, server, make_manager):
    spec = RevocationSpec(url=parse_template(f"{server.base}/revoke"),
                          fields={"token": parse_template("{{access_token}}"),
                                  "token_type_hint": parse_template("access_token")},
                          client_auth="client_secret_basic")
    server.default("/token", kit.token_reply("tok"))
    server.default("/revoke", kit.Reply(200))
    manager = make_manager()
    auth = kit.auth(kit.service(revocation=spec), client_id="s6BhdRkqt3",
                    client_secret="gX1fBat3bV")
    manager.get_token(auth)
    assert revoke(auth, manager).revoked
    (seen,) = server.requests("/revoke")
    assert seen.headers["authorization"] == "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
    assert parse_qs(seen.body.decode()) == {"token": ["tok"], "token_type_hint": ["access_token"]}


def test_revocation_url_outside_allowed_hosts_is_a_warning(kit, server, make_manager):
    spec = RevocationSpec(url=parse_template("https://evil.example.com/revoke"),
                          fields={"token": parse_template("{{access_token}}")})
    server.default("/token", kit.token_reply("tok"))
    manager = make_manager()
    auth = kit.auth(kit.service(revocation=spec), client_id="cid", client_secret="s")
    manager.get_token(auth)
    result = revoke(auth, manager)
    assert not result.ok
    assert "not revoked" in result.message
