"""Finding, loading and calling plugins, one failure at a time.

``load_plugins`` builds a fresh pluggy ``PluginManager`` (nothing happens at import time),
registers the built-in plugin, then each entry point of the group ``connector_sdk`` on its
own: a plugin that fails to import, implements a hook that does not exist (pluggy's
``check_pending``, run after each registration: a misspelt ``register_service`` would
otherwise register nothing, silently), or whose hook raises, becomes a ``PluginFailure``
with its name while the others still load. pluggy's own ``load_setuptools_entrypoints``
would stop at the first broken plugin, so we iterate the entry points ourselves.

Every hook is called through pluggy (registration hooks one plugin at a time through
``subset_hook_caller``, single-result hooks through ``manager.hook``), so pluggy's call
monitoring, and with it ``CONNECTOR_SDK_TRACE_PLUGINS``, sees every call.

Environment variables (read from the ``environ`` passed in, never at import):

* ``CONNECTOR_SDK_LOAD_PLUGINS``: comma-separated entry-point names to load; all others are
  skipped. Set it empty to load no third-party plugin.
* ``CONNECTOR_SDK_BLOCK_PLUGINS``: comma-separated entry-point names never to load.
* ``CONNECTOR_SDK_TRACE_PLUGINS=1``: print every hook call (plugin, hook, time) to stderr.
"""

from __future__ import annotations

import inspect
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
    cached_verdicts: bool = False,
) -> PluginSet:
    """Load the built-in plugin, installed plugins and ``extra_plugins`` (name -> object).

    ``extra_plugins`` is how an embedding runtime or a test adds plugins that are not
    installed as distributions; they obey the allow and block lists like the others.
    ``cached_verdicts`` skips the checks of a manifest text that passed them before
    (``verdicts``: a cache in the SDK home keyed on the text and the checker).
    """
    from . import builtin as _builtin
    from .verdicts import verdicts_for

    manager = pluggy.PluginManager(_hookspecs.PROJECT_NAME)
    manager.add_hookspecs(_hookspecs)
    plugins = PluginSet(manager, ServiceRegistry(
        verdicts=verdicts_for(environ) if cached_verdicts else None))
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
        unknown = _unknown_hooks(manager, plugin)
        if unknown:
            manager.unregister(name=name)
            plugins.failures.append(PluginFailure(name, dist, _unknown_hooks_message(unknown)))
            continue
        module = getattr(plugin, "__name__", type(plugin).__name__)
        plugins.loaded.append(LoadedPlugin(name, dist, version, module))

    by_name = {p.name: p for p in plugins.loaded}
    for hook, make_registrar in (
        ("register_services", plugins.registry.registrar_for),
        ("register_operation_handlers", plugins.registry.handler_registrar_for),
        ("register_emulators", plugins.registry.emulator_registrar_for),
        ("register_secret_resolvers", plugins.registry.secret_resolver_registrar_for),
    ):
        for name, info in by_name.items():
            register = make_registrar(name, info.distribution)
            _call_one(plugins, hook, name, info.distribution, register)
    return plugins


def _call_one(plugins: PluginSet, hook: str, name: str, dist: str | None, register: Any) -> None:
    """Call ``hook`` of plugin ``name`` alone, so its exception is its own failure."""
    manager = plugins.manager
    plugin = manager.get_plugin(name)
    if hook not in {caller.name for caller in manager.get_hookcallers(plugin) or []}:
        return  # the plugin does not implement it: no call, no empty line in the trace
    others = [p for p in manager.get_plugins() if p is not plugin]
    caller = manager.subset_hook_caller(hook, remove_plugins=others)
    try:
        caller(register=register)
    except Exception as exc:
        plugins.failures.append(PluginFailure(
            name, dist, f"hook {hook} raised {type(exc).__name__}: {exc}"))


def first_result(manager: pluggy.PluginManager, hook: str, **kwargs: Any) -> Any:
    """Call the ``firstresult`` hook ``hook`` through pluggy (``manager.hook.<hook>``), so its
    ordering, wrappers and call monitoring apply; an exception becomes a ``PluginError``
    naming the plugin that raised it."""
    from .._errors import PluginError

    caller = getattr(manager.hook, hook)
    try:
        return caller(**kwargs)
    except Exception as exc:
        name = _raised_in(caller.get_hookimpls(), exc)
        who = f"plugin '{name}'" if name else "a plugin"
        raise PluginError(f"{who} failed in hook {hook}: {type(exc).__name__}: {exc}; fix or"
                          " block it with CONNECTOR_SDK_BLOCK_PLUGINS", plugin=name) from None


def _raised_in(impls: Sequence[pluggy.HookImpl], exc: BaseException) -> str | None:
    """The name of the plugin whose implementation ``exc`` was raised in: the outermost
    traceback frame running one of ``impls``' functions (implementations never call each
    other, so that frame is the one pluggy called)."""
    codes = {}
    for impl in impls:
        function = inspect.unwrap(getattr(impl.function, "__func__", impl.function))
        code = getattr(function, "__code__", None)
        if code is not None:
            codes[code] = impl.plugin_name
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return codes[tb.tb_frame.f_code]
        tb = tb.tb_next
    return None


def _unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks ``plugin`` implements that no hookspec declares (sorted), found by pluggy's
    ``check_pending``; empty when there is none."""
    try:
        manager.check_pending()
    except pluggy.PluginValidationError:
        pass
    else:
        return []
    unknown = set()
    for caller in manager.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook
               for impl in caller.get_hookimpls()):
            unknown.add(caller.name)
    return sorted(unknown)


def _unknown_hooks_message(unknown: Sequence[str]) -> str:
    known = [name for name in dir(_hookspecs) if hasattr(
        getattr(_hookspecs, name), f"{_hookspecs.PROJECT_NAME}_spec")]
    parts = [f"'{name}'{did_you_mean(name, known)}" for name in unknown]
    return (f"implements {'an unknown hook' if len(parts) == 1 else 'unknown hooks'}"
            f" {', '.join(parts)}; no hook of that name exists, so it would never be called."
            f" Rename it to one of the hooks ({', '.join(sorted(known))}; see"
            " docs/plugin-hooks.md) or mark it @hookimpl(optionalhook=True)")


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
