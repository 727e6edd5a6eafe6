"""One worker process of the fleet tests: ``_fleet_worker.py SPEC_JSON``; prints its outcome
as JSON on the last line of stdout (see ``fleet_service.run_worker``)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fleet_service import run_worker

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    print(json.dumps(run_worker(json.loads(sys.argv[1]))))
