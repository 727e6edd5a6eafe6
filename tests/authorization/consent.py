"""What a browser does on an emulator's consent page: read the form, press Approve."""

from __future__ import annotations

import re

import httpx


def press_approve(http: httpx.Client, page: httpx.Response) -> httpx.Response:
    """Submit ``page``'s consent form (its hidden fields and ``decision=approve``); the
    answer is the provider's redirect back to the redirect URI."""
    assert page.status_code == 200, page.status_code
    action = page.text.split('action="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                             page.text))
    answer = http.post(page.url.join(action), data={**hidden, "decision": "approve"})
    assert answer.status_code in (302, 303), answer.status_code
    return answer
