"""Answer an emulator's consent page over HTTP, as a person with a browser would.

``approve(sandbox, authorization_url)`` GETs the page through the emulator's own ``handle``
(``SandboxTransport``, no socket), finds the form whose button is labelled Approve (or Deny),
POSTs that button's name and value, with the form's hidden fields, to the form's action
resolved against the page URL, and returns the ``Location`` the emulator redirects to: the
callback URL, with ``code`` and ``state`` or an ``error``. Nothing is short-circuited: a page
that a browser could not submit fails here too, with ``ConsentPageError`` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from .._errors import ConnectorSDKError
from .._http.seam import httpx
from ._protocol import Sandbox
from ._transport import SandboxTransport

__all__ = ["ConsentPageError", "approve"]

_REDIRECTS = (301, 302, 303, 307, 308)


class ConsentPageError(ConnectorSDKError):
    """The consent page could not be answered: an error page, no form, no such button."""


@dataclass
class _Form:
    method: str
    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # label, name, value


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self.headings: list[str] = []
        self._button: tuple[str, str] | None = None
        self._label: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(a.get("method", "get").lower(), a.get("action", "")))
        elif tag == "input" and self.forms and a.get("name"):
            if a.get("type", "text").lower() == "submit":
                self.forms[-1].buttons.append((a.get("value", ""), a["name"], a.get("value", "")))
            else:
                self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("type", "submit").lower() == "submit":
            self._button, self._label = (a.get("name", ""), a.get("value", "")), []
        elif tag == "h1":
            self._in_heading = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.forms[-1].buttons.append(("".join(self._label).strip(), *self._button))
            self._button = None
        elif tag == "h1":
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label.append(data)
        if self._in_heading:
            self.headings.append(data.strip())


def approve(sandbox: Sandbox, authorization_url: str, *, deny: bool = False) -> str:
    """The callback URL the emulator redirects to once its consent page is answered.

    Presses the button labelled ``Approve`` (``Deny`` with ``deny=True``). When the provider
    skips its page (Twitch without ``force_verify`` for scopes already approved) the redirect
    is returned as it comes; asking to deny then raises ``ConsentPageError``.
    """
    label = "Deny" if deny else "Approve"
    with httpx.Client(transport=SandboxTransport(sandbox), timeout=10) as client:
        page = client.get(authorization_url)
        if page.status_code in _REDIRECTS:
            if deny:
                raise ConsentPageError(
                    f"{sandbox.name}: the consent page was skipped (these scopes are already "
                    "approved), so there is nothing to deny; ask the provider to show it again "
                    "(Twitch: force_verify=true)")
            return page.headers["location"]
        parser = _Forms()
        parser.feed(page.text)
        if page.status_code != 200:
            title = " ".join(parser.headings) or page.text[:200]
            raise ConsentPageError(
                f"{sandbox.name}: the authorization URL answered {page.status_code} "
                f"({title}) instead of a consent page; check client_id and redirect_uri")
        for form in parser.forms:
            for text, name, value in form.buttons:
                if text == label:
                    data = {**form.fields, **({name: value} if name else {})}
                    target = urljoin(str(page.url), form.action)
                    if form.method == "post":
                        answer = client.post(target, data=data)
                    else:
                        answer = client.get(target, params=data)
                    if answer.status_code not in _REDIRECTS:
                        raise ConsentPageError(
                            f"{sandbox.name}: pressing {label} answered {answer.status_code} "
                            "instead of redirecting to the callback")
                    return answer.headers["location"]
        raise ConsentPageError(
            f"{sandbox.name}: the page at the authorization URL has no button labelled {label}")
