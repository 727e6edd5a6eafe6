"""An emulator of Twitch's token endpoints (id.twitch.tv) and Helix (api.twitch.tv).

Built on ``connector_sdk.sandbox``; the plugin registers it through ``register_emulators``, so
``--sandbox`` and ``connector-sdk sandbox twitch`` use it. In a test::

    twitch = TwitchSandbox(rate_limit=5, clock=fake_clock)
    client = httpx.Client(transport=connector_sdk.sandbox.SandboxTransport(twitch))

``twitch.parameters()`` gives the ``client_id`` and ``client_secret`` it accepts; ``data``
holds the seeded users, streams, games, channels and videos (``twitch_data(seed)``).
``twitch.approve(authorization_url)`` answers its consent page (user access tokens).
"""

from ._data import DATA_EPOCH, LIVE_STREAMS, TwitchData, twitch_data
from ._emulator import TWITCH_CLIENT_ID, TWITCH_CLIENT_SECRET, TwitchSandbox

__all__ = [
    "DATA_EPOCH",
    "LIVE_STREAMS",
    "TWITCH_CLIENT_ID",
    "TWITCH_CLIENT_SECRET",
    "TwitchData",
    "TwitchSandbox",
    "twitch_data",
]
