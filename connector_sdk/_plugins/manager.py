"""Finding, loading and calling plugins, one failure at a time.

``load_plugins`` builds a fresh pluggy ``PluginManager`` (nothing happens at import time),
registers the built-in plugin, then each entry point of the group ``connector_sdk`` on its
own: a plugin that fails to import, or whose hook raises, becomes a ``PluginFailure`` with
its name while the others still load. pluggy's own ``load_setuptools_entrypoints`` would stop
at the first broken plugin, so we iterate the entry points ourselves.

Environment variables (read from the ``environ`` passed in, never at import):

* ``CONNECTOR_SDK_LOAD_PLUGINS``: comma-separated entry-point names to load; all others are
  skipped. Set it empty to load no third-party plugin.
* ``CONNECTOR_SDK_BLOCK_PLUGINS``: comma-separated entry-point names never to load.
* ``CONNECTOR_SDK_TRACE_PLUGINS=1``: print every hook call (plugin, hook, time) to stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TextIO

import pluggy

from .._config import env_flag
from .._hints import did_you_mean
from . import hookspecs as _hookspecs
from .registry import PluginFailure, ServiceRegistry

__all__ = ["ENTRY_POINT_GROUP", "LoadedPlugin", "PluginSet", "first_result", "load_plugins"]

ENTRY_POINT_GROUP = "connector_sdk"
BUILTIN = "builtin"


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin that registered: its name, distribution and version (None for built-ins)."""

    name: str
    distribution: str | None
    version: str | None
    module: str


@dataclass
class PluginSet:
    """The plugin manager plus what loaded, what was skipped and what failed."""

    manager: pluggy.PluginManager
    registry: ServiceRegistry
    loaded: list[LoadedPlugin] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failures(self) -> list[PluginFailure]:
        return self.registry.failures


def _names(environ: Mapping[str, str], var: str) -> set[str] | None:
    if var not in environ:
        return None
    return {n.strip() for n in environ[var].split(",") if n.strip()}


def load_plugins(
    environ: Mapping[str, str],
    *,
    extra_plugins: Mapping[str, object] | None = None,
    entry_point_loader: Callable[[], list[EntryPoint]] | None = None,
    trace_to: TextIO | None = None,
) -> PluginSet:
    """Load the built-in plugin, installed plugins and ``extra_plugins`` (name -> object).

    ``extra_plugins`` is how an embedding runtime or a test adds plugins that are not
    installed as distributions; they obey the allow and block lists like the others.
    """
    from . import builtin as _builtin

    manager = pluggy.PluginManager(_hookspecs.PROJECT_NAME)
    manager.add_hookspecs(_hookspecs)
    plugins = PluginSet(manager, ServiceRegistry())
    allow = _names(environ, "CONNECTOR_SDK_LOAD_PLUGINS")
    block = _names(environ, "CONNECTOR_SDK_BLOCK_PLUGINS") or set()
    if env_flag(environ, "CONNECTOR_SDK_TRACE_PLUGINS"):
        _trace(manager, trace_to or sys.stderr)

    manager.register(_builtin, name=BUILTIN)
    plugins.loaded.append(LoadedPlugin(BUILTIN, None, None, _builtin.__name__))

    candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = []
    for ep in (entry_point_loader or _entry_points)():
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        candidates.append((ep.name, ep.load, dist, version))
    for name, obj in (extra_plugins or {}).items():
        candidates.append((name, _constant(obj), None, None))

    known = {c[0] for c in candidates} | {BUILTIN}
    for name in sorted((allow or set()) - known):
        plugins.failures.append(PluginFailure(
            name, None, f"CONNECTOR_SDK_LOAD_PLUGINS names '{name}', but no installed plugin"
            f" has that name{did_you_mean(name, known)}"))
    for name, load, dist, version in sorted(candidates, key=lambda c: c[0]):
        if name in block or (allow is not None and name not in allow):
            why = "blocked by CONNECTOR_SDK_BLOCK_PLUGINS" if name in block else (
                "not in CONNECTOR_SDK_LOAD_PLUGINS")
            plugins.skipped.append((name, why))
            continue
        if manager.has_plugin(name):
            plugins.failures.append(PluginFailure(
                name, dist, f"another plugin is already registered as '{name}'"))
            continue
        try:
            plugin = load()
            manager.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must not stop the others
            plugins.failures.append(PluginFailure(
                name, dist, f"{type(exc).__name__}: {exc}"))
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        plugins.loaded.append(LoadedPlugin(name, dist, version, module))

    by_name = {p.name: p for p in plugins.loaded}
    for hook, make_registrar in (
        ("register_services", plugins.registry.registrar_for),
        ("register_operation_handlers", plugins.registry.handler_registrar_for),
    ):
        for name, info in by_name.items():
            register = make_registrar(name, info.distribution)
            _call_one(plugins, hook, name, info.distribution, register)
    return plugins


def _call_one(plugins: PluginSet, hook: str, name: str, dist: str | None, register: Any) -> None:
    """Call ``hook`` of plugin ``name`` alone, so its exception is its own failure."""
    manager = plugins.manager
    plugin = manager.get_plugin(name)
    others = [p for p in manager.get_plugins() if p is not plugin]
    caller = manager.subset_hook_caller(hook, remove_plugins=others)
    try:
        caller(register=register)
    except Exception as exc:
        plugins.failures.append(PluginFailure(
            name, dist, f"hook {hook} raised {type(exc).__name__}: {exc}"))


def first_result(manager: pluggy.PluginManager, hook: str, **kwargs: Any) -> Any:
    """Call a ``firstresult`` hook's implementations in pluggy's order, one at a time, so
    that an exception becomes a ``PluginError`` naming the plugin that raised it."""
    from .._errors import PluginError

    for impl in reversed(getattr(manager.hook, hook).get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            result = impl.function(**{name: kwargs[name] for name in impl.argnames})
        except Exception as exc:
            raise PluginError(f"plugin '{impl.plugin_name}' failed in hook {hook}:"
                              f" {type(exc).__name__}: {exc}; fix or block it with"
                              " CONNECTOR_SDK_BLOCK_PLUGINS", plugin=impl.plugin_name) from None
        if result is not None:
            return result
    return None


def _constant(value: object) -> Callable[[], object]:
    return lambda: value


def _entry_points() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _trace(manager: pluggy.PluginManager, out: TextIO) -> None:
    starts: dict[int, float] = {}

    def before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        starts[id(hook_impls)] = time.perf_counter()
        names = ", ".join(impl.plugin_name for impl in hook_impls)
        print(f"connector-sdk plugins: calling {hook_name} on [{names}]", file=out)

    def after(outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Any) -> None:
        elapsed = (time.perf_counter() - starts.pop(id(hook_impls), time.perf_counter())) * 1000
        failed = " (raised)" if outcome.exception is not None else ""
        print(f"connector-sdk plugins: {hook_name} done in {elapsed:.1f} ms{failed}", file=out)

    manager.add_hookcall_monitoring(before, after)
