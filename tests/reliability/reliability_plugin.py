"""pytest plugin for ``scripts/reliability``: collects the reliability figures and prints them.

Load it with ``-p reliability_plugin`` (``tests/reliability`` on ``PYTHONPATH``). It reads
what the tests recorded in ``user_properties`` (``reliability.scenario``,
``reliability.hostile.tried``/``rejected``, ``reliability.fuzz.examples``,
``reliability.canary.checks``/``leaks``, see tests/reliability/conftest.py ``Figures``) and
classifies the existing suites it is run with by path:

* tests/urls/test_hostile_values.py: each parametrised hostile-value test is one value
  refused by ``render_url`` (rejected when it passes);
* tests/store/test_store_concurrency.py: the multi-process and SIGKILL durability scenarios;
  a failing one counts as records lost (at least one; the test says which).

At the end it prints the figures table, optionally writes it as JSON
(``--reliability-json PATH``) and turns a passing run into exit status 1 when a target is
missed (every scenario survived, every hostile value rejected, no fuzz failure, no canary
leak, no store record lost).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Figures"]

_LEAK_MARK = "a canary secret leaked"


@dataclass
class Figures:
    scenarios_tried: int = 0
    scenarios_survived: int = 0
    scenarios_failed: list[str] = field(default_factory=list)
    hostile_tried: int = 0
    hostile_rejected: int = 0
    hostile_render_url_tried: int = 0
    hostile_render_url_rejected: int = 0
    fuzz_targets: int = 0
    fuzz_examples: int = 0
    fuzz_failures: int = 0
    fuzz_known_defects: int = 0
    canary_checks: int = 0
    canary_leaks: int = 0
    canary_tests_failed: int = 0
    store_scenarios_tried: int = 0
    store_scenarios_passed: int = 0
    store_records_lost: int = 0
    #: ``reliability.figure.NAME`` values a test measured (the largest when several tests
    #: report one name): elapsed seconds, peak memory, counts
    measured: dict[str, float] = field(default_factory=dict)

    def missed(self) -> list[str]:
        """The targets this run missed (empty when every target is met)."""
        missed = []
        if self.scenarios_survived < self.scenarios_tried:
            missed.append("every fault scenario survived")
        if (self.hostile_rejected < self.hostile_tried
                or self.hostile_render_url_rejected < self.hostile_render_url_tried):
            missed.append("every hostile value rejected")
        if self.fuzz_failures:
            missed.append("no fuzz failure")
        if self.canary_leaks or self.canary_tests_failed:
            missed.append("zero canary leaks")
        if self.store_records_lost:
            missed.append("zero store records lost")
        return missed

    def table(self) -> list[str]:
        def row(name: str, value: str) -> str:
            return f"  {name:<50} {value}"

        lost = str(self.store_records_lost)
        if self.store_records_lost:
            lost = f">= {self.store_records_lost} (a durability scenario failed)"
        rows = [
            row("fault scenarios survived / tried",
                f"{self.scenarios_survived} / {self.scenarios_tried}"),
            row("hostile values rejected / tried (runtime)",
                f"{self.hostile_rejected} / {self.hostile_tried}"),
            row("hostile-value checks passed / tried (render_url)",
                f"{self.hostile_render_url_rejected} / {self.hostile_render_url_tried}"),
            row("fuzz examples run (targets)", f"{self.fuzz_examples} ({self.fuzz_targets})"),
            row("fuzz failures", str(self.fuzz_failures)),
            row("fuzz: known open defects (xfail)", str(self.fuzz_known_defects)),
            row("canary checks / leaks found",
                f"{self.canary_checks} / {self.canary_leaks + self.canary_tests_failed}"),
            row("store durability scenarios passed / tried",
                f"{self.store_scenarios_passed} / {self.store_scenarios_tried}"),
            row("store records lost", lost),
        ]
        rows += [row(f"measured: {name}", f"{value:g}")
                 for name, value in sorted(self.measured.items())]
        if self.scenarios_failed:
            rows.append("  failed scenarios: " + ", ".join(self.scenarios_failed))
        missed = self.missed()
        rows.append("  targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
        return rows


@dataclass
class _Test:
    nodeid: str
    outcome: str = "passed"
    properties: list[tuple[str, Any]] = field(default_factory=list)
    leaked: bool = False


class ReliabilityCollector:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.tests: dict[str, _Test] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test = self.tests.setdefault(report.nodeid, _Test(report.nodeid))
        test.properties = list(report.user_properties)
        if hasattr(report, "wasxfail"):
            test.outcome = "xfailed" if report.skipped else "xpassed"
        elif report.failed:
            test.outcome = "failed"
            if _LEAK_MARK in str(report.longrepr):
                test.leaked = True
        elif report.skipped and test.outcome == "passed":
            test.outcome = "skipped"

    def figures(self) -> Figures:
        fig = Figures()
        for test in self.tests.values():
            props: dict[str, list[Any]] = defaultdict(list)
            for name, value in test.properties:
                props[name].append(value)
            path = test.nodeid.split("::", 1)[0]
            ok = test.outcome == "passed"
            for scenario in props.get("reliability.scenario", []):
                fig.scenarios_tried += 1
                if ok:
                    fig.scenarios_survived += 1
                else:
                    fig.scenarios_failed.append(str(scenario))
            fig.hostile_tried += sum(props.get("reliability.hostile.tried", []))
            fig.hostile_rejected += sum(props.get("reliability.hostile.rejected", []))
            fig.canary_checks += sum(props.get("reliability.canary.checks", []))
            for name, values in props.items():
                if name.startswith("reliability.figure.") and ok:
                    key = name.removeprefix("reliability.figure.")
                    fig.measured[key] = max([*values, fig.measured.get(key, values[0])])
            fig.canary_leaks += sum(props.get("reliability.canary.leaks", []))
            if test.leaked:
                fig.canary_leaks += 1
            if "tests/reliability/test_fuzz" in path:  # test_fuzz.py, test_fuzz_*.py
                if test.outcome == "xfailed" or "reliability.fuzz.known_defects" in props:
                    fig.fuzz_known_defects += test.outcome == "xfailed"
                elif test.outcome != "skipped":
                    examples = props.get("reliability.fuzz.examples", [])
                    fig.fuzz_targets += bool(examples)  # else a fuzz-found regression test
                    fig.fuzz_examples += sum(examples)
                    fig.fuzz_failures += test.outcome == "failed"
            elif path.endswith("tests/reliability/test_canaries.py"):
                fig.canary_tests_failed += test.outcome == "failed" and not test.leaked
            elif path.endswith("tests/urls/test_hostile_values.py") and "refus" in test.nodeid:
                fig.hostile_render_url_tried += 1
                fig.hostile_render_url_rejected += ok
            elif path.endswith("tests/store/test_store_concurrency.py"):
                fig.store_scenarios_tried += 1
                fig.store_scenarios_passed += ok
                fig.store_records_lost += test.outcome == "failed"
        return fig

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        fig = self.figures()
        terminalreporter.section("reliability figures")
        for line in fig.table():
            terminalreporter.write_line(line)
        target = self.config.getoption("reliability_json")
        if target:
            Path(target).write_text(json.dumps(
                {**asdict(fig), "targets_missed": fig.missed()}, indent=2) + "\n")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == 0 and self.figures().missed():
            session.exitstatus = 1


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reliability-json", dest="reliability_json", default=None,
                     metavar="PATH", help="write the reliability figures as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ReliabilityCollector(config), "reliability-collector")
