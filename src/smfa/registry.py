"""Name → implementation registries (methods, judges).

Extending smfa is one decorated definition::

    @METHODS.register("npo")
    class NPO(Method): ...

An unknown name raises :class:`~smfa.errors.SmfaError` listing the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smfa.errors import SmfaError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> Any:
        self._load()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise SmfaError(f"unknown {self.kind} '{name}'; known: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._items

    def _load(self) -> None:
        # Registration happens on import of the implementing packages.
        import importlib

        for mod in _PROVIDERS.get(self.kind, ()):
            importlib.import_module(mod)


_PROVIDERS = {
    "method": ("smfa.methods",),
    "judge": ("smfa.eval.judges",),
}

METHODS = Registry("method")
JUDGES = Registry("judge")
