"""The connect page only ever creates an authentication: a session link naming an existing
one is refused, for the authorization-code grant as for client credentials, with the same
page, and the existing record and its tokens are left as they were (records carry no
organisation, so a replacement could hand one organisation's connection to another's user)."""

from __future__ import annotations

from typing import Any

from connector_sdk.connect_page import mint_link

from .harness import serve_code
from .test_http import _approved_callback, _client, _hidden, _open, _path, _shop

REFUSED = ("a connection named &#39;{name}&#39; already exists: ask for a new link with"
           " another connection name")


def test_an_existing_name_is_refused_before_the_provider_is_asked(serve: Any) -> None:
    served = serve_code(serve, "twitch", "acme")
    with _client(served) as acme:
        callback = _approved_callback(served, acme)
        assert acme.get(callback[len(served.origin("acme")):]).status_code == 200
        (record,) = served.runtime.list_authentications()
        before = served.runtime.store.get("acme-twitch")
        # a second link naming the same authentication (the platform may mint it for any
        # organisation's user: the record does not say whose it is)
        page = acme.get(_path(mint_link(served.config, "acme", "twitch", "acme-twitch")))
        assert page.status_code == 200, page.text
        connect = acme.post("/", data={"page": _hidden(page.text, "page"),
                                       "csrf": _hidden(page.text, "csrf")})
    assert connect.status_code == 400, connect.status_code
    assert "location" not in connect.headers  # never sent on to the provider
    assert REFUSED.format(name="acme-twitch") in connect.text
    after = served.runtime.store.get("acme-twitch")
    assert (after.version, after.grant) == (before.version, before.grant)
    assert after.tokens is not None and before.tokens is not None
    assert after.tokens.reveal() == before.tokens.reveal()
    assert [r.name for r in served.runtime.list_authentications()] == [record.name]


def test_client_credentials_refuse_an_existing_name_with_the_same_page(serve: Any) -> None:
    served = serve()
    with _client(served) as client:
        page, csrf = _open(served, client)
        assert client.post("/", data={"page": page, "csrf": csrf,
                                      **_shop(served)}).status_code == 200
        page, csrf = _open(served, client)  # a new link, the same name
        again = client.post("/", data={"page": page, "csrf": csrf, **_shop(served)})
    assert again.status_code == 400
    assert REFUSED.format(name="acme-shop") in again.text
