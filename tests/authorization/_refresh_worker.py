"""One worker process of the concurrent-refresh test: a runtime on the shared store asks for
the token of one authentication at an agreed moment and prints its digest (never the token).

argv: store URL (or ''), home, key, provider port, authentication name, start time."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from provider import ProviderPlugin

from connector_sdk import Runtime


def main() -> None:
    store, home, key, port, name, start = sys.argv[1:7]
    environ = {"CONNECTOR_SDK_SECRET_KEY": key, "CONNECTOR_SDK_HOME": home}
    with Runtime(environ=environ, allow_loopback=True, store=store or None,
                 extra_plugins={"provider": ProviderPlugin(int(port))}) as runtime:
        runtime.store.get(name)  # open the store before the agreed moment
        while time.time() < float(start):
            time.sleep(0.001)
        token = runtime.get_token(name)
        digest = hashlib.sha256(token.access_token.reveal().encode()).hexdigest()[:16]
    print(json.dumps({"token": digest}))


if __name__ == "__main__":
    main()
