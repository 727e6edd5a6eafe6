"""Workflow checks use the registry their caller passes, and never load plugins themselves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
TWITCH_MANIFEST = ROOT / "connectors" / "twitch" / "connector_twitch" / "twitch.yaml"

SCRIPT = """
import json, sys
from pathlib import Path
from connector_sdk import ServiceRegistry, WorkflowError, load_service, load_workflow
from connector_sdk._manifest.reader import load_yaml
from connector_sdk._workflows.checks import check_workflow_document

twitch = load_service(Path(sys.argv[1]))
registry = ServiceRegistry(services={twitch.id: twitch})
text = '''
workflow_version: 1
steps:
  - {id: users, operation: twitch.get_users, authentication: t, inputs: {login: [x]}}
  - {id: shop, operation: shopify.get_shop, authentication: s}
'''
doc, _ = load_yaml(text, "flow.yaml")
rules = [(p.rule, p.line) for p in check_workflow_document(doc, services=registry)]
try:
    load_workflow(text, file="flow.yaml", services=registry)
    raised = None
except WorkflowError as exc:
    raised = [p.rule for p in exc.problems]
plugin_modules = ("connector_sdk._plugins.manager", "connector_twitch",
                  "connector_shopify")
loaded = sorted(m for m in sys.modules if m.startswith(plugin_modules))
print(json.dumps({"rules": rules, "raised": raised, "loaded": loaded}))
"""


def test_checks_use_the_given_registry_and_load_no_plugin() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(TWITCH_MANIFEST)], cwd=ROOT,
                         capture_output=True, text=True, check=True, timeout=120).stdout
    result = json.loads(out)
    # shopify is installed, but not in the registry given: the checks say it is unknown
    assert result["rules"] == [["WORKFLOW-OPERATION-UNKNOWN", 5]]
    assert result["raised"] == ["WORKFLOW-OPERATION-UNKNOWN"]
    assert result["loaded"] == []
