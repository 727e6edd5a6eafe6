"""A worker process for the PostgreSQL concurrency test (run with ``sys.executable``).

    _pg_worker.py URL INCREMENTS WORKER_ID

Adds INCREMENTS to the ``count`` parameter of authentication ``shared``, each time by
reading it and updating with ``expected_version`` (retrying on a conflict), and creates one
record of its own per increment. Prints ``conflicts=N`` at the end.
"""

from __future__ import annotations

import os
import sys

from connector_sdk import Secret
from connector_sdk._errors import AuthenticationConflict
from connector_sdk._stores.select import open_store


def main() -> None:
    url, increments, worker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    secret = os.environ["PG_TEST_SECRET"]
    conflicts = 0
    with open_store(url) as store:
        for i in range(increments):
            while True:
                record = store.get("shared")
                parameters = dict(record.parameters)
                parameters["count"] = int(parameters["count"]) + 1
                try:
                    store.update("shared", parameters, expected_version=record.version)
                    break
                except AuthenticationConflict:
                    conflicts += 1
            store.create(f"w{worker}-{i}", "svc", {"key": Secret(f"{secret}-{worker}-{i}")})
    print(f"conflicts={conflicts}")


if __name__ == "__main__":
    main()
