"""The one place connector-sdk imports its HTTP client library.

Every module takes ``httpx`` from here. httpx's last stable release dates from December 2024
and much of the ecosystem is moving to the API-identical fork ``httpx2``; supporting it (or
switching) is then a change to this file, not a hunt through the code base. httpcore,
httpx's transport layer, is imported by one module too: ``deadline.py`` (the sync transport
whose network backend honours a total deadline).
"""

import httpx

__all__ = ["httpx"]
