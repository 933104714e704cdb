"""Name → implementation registries: METHODS, JUDGES, METRICS, ATTACKS.

Extending smfa is one decorated definition::

    @METHODS.register("npo")
    class NPO(Method): ...

Every module of the packages that provide a registry (``smfa.methods``, ``smfa.eval.judges``,
``smfa.eval.per_sample``, ``smfa.eval.attacks``) is imported on first use, so a new file there
needs no import list. Code outside smfa registers the same way from a *plugin* module, named in
the environment variable ``SMFA_PLUGINS`` (comma-separated module or package names; a package
imports all its modules) or in the ``smfa.plugins`` entry-point group of an installed package.
An unknown name raises :class:`~smfa.errors.SmfaError` listing the known names.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from collections.abc import Callable
from typing import Any

from smfa.errors import SmfaError

PLUGIN_ENV = "SMFA_PLUGINS"
PLUGIN_GROUP = "smfa.plugins"


class Registry:
    """Named entries of one kind, in registration order."""

    def __init__(self, kind: str, provider: str):
        self.kind, self.provider = kind, provider
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: ``@REGISTRY.register("name")`` on a class or object."""

        def deco(obj: Any) -> Any:
            self.add(name, obj)
            return obj

        return deco

    def add(self, name: str, obj: Any) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._items[name] = obj

    def remove(self, name: str) -> Any:
        """Unregister ``name`` (tests and notebooks that register temporary entries)."""
        return self._items.pop(name)

    def get(self, name: str) -> Any:
        load_all()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise SmfaError(f"unknown {self.kind} '{name}'; known: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        load_all()
        return sorted(self._items)

    def items(self) -> list[tuple[str, Any]]:
        """``(name, entry)`` pairs in registration order (the order reports use)."""
        load_all()
        return list(self._items.items())

    def __contains__(self, name: str) -> bool:
        load_all()
        return name in self._items


METHODS = Registry("method", "smfa.methods")
JUDGES = Registry("judge", "smfa.eval.judges")
METRICS = Registry("metric", "smfa.eval.per_sample")
ATTACKS = Registry("attack", "smfa.eval.attacks")
REGISTRIES = (METHODS, JUDGES, METRICS, ATTACKS)

_providers_loaded = False
_plugins_loaded: set[str] = set()


def import_package(name: str) -> None:
    """Import a module, and every module inside it when it is a package."""
    mod = importlib.import_module(name)
    for info in pkgutil.iter_modules(getattr(mod, "__path__", []), prefix=f"{name}."):
        if not info.name.rsplit(".", 1)[-1].startswith("_"):
            import_package(info.name)


@functools.cache
def _entry_point_plugins() -> tuple[str, ...]:
    from importlib.metadata import entry_points

    return tuple(ep.value for ep in entry_points(group=PLUGIN_GROUP))


def plugin_modules() -> list[str]:
    """Plugin modules named by ``$SMFA_PLUGINS`` and the ``smfa.plugins`` entry points."""
    names = [m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(",") if m.strip()]
    return names + list(_entry_point_plugins())


def load_all() -> None:
    """Import every provider package once, and every plugin not imported yet (registration
    happens on import)."""
    global _providers_loaded
    if not _providers_loaded:
        _providers_loaded = True
        for reg in REGISTRIES:
            import_package(reg.provider)
    for name in plugin_modules():
        if name in _plugins_loaded:
            continue
        _plugins_loaded.add(name)
        try:
            import_package(name)
        except ImportError as e:
            raise SmfaError(f"${PLUGIN_ENV}: cannot import plugin '{name}' ({e})") from None
