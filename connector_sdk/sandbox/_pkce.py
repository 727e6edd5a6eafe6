"""PKCE verification for emulated authorization servers (RFC 7636 §4.6).

Only an emulator of a provider that really supports PKCE should call this: an emulator that
checks what its provider ignores would let a client pass tests that the real service fails
(neither Twitch's confidential-client flow nor Shopify reads ``code_challenge``).
``connector_sdk.sandbox.OAuthSandbox`` (a generic RFC 6749 server) does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["PKCE_METHODS", "verify_pkce"]

#: ``code_challenge_method`` values of RFC 7636 §4.3 (``plain`` when the client sends none).
PKCE_METHODS = ("S256", "plain")

# RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." /
# "_" / "~". A challenge has the same syntax (§4.2).
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def verify_pkce(challenge: str, method: str, verifier: str) -> bool:
    """True when ``verifier`` proves possession of ``challenge`` under ``method``.

    ``S256``: ``BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge``;
    ``plain``: ``code_verifier == code_challenge`` (RFC 7636 §4.6). A verifier or challenge
    outside the syntax of §4.1/§4.2, or an unknown method, never verifies. The comparison
    takes constant time, as a comparison of secrets should.
    """
    if method not in PKCE_METHODS:
        return False
    if not _VERIFIER.fullmatch(verifier) or not _VERIFIER.fullmatch(challenge):
        return False
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    else:
        expected = verifier
    return hmac.compare_digest(expected.encode("ascii"), challenge.encode("ascii"))
