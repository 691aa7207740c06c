"""Name-to-object registries: one per family (activations, losses, layers, optimizers, ...).

The CLI, configs, studies and the playground resolve names through these, so a name is valid in
one place exactly when it is valid in all of them. ``get`` fails with the list of valid names.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import GlassnetError

T = TypeVar("T")


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


class Registry(Generic[T]):
    """A family of named things, e.g. ``activations = Registry("activation")``.

    Names are matched case-insensitively with ``-`` and ``_`` treated alike; aliases resolve to
    the same entry but are not listed separately.
    """

    def __init__(self, family: str):
        self.family = family
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("relu")`` adds the decorated object under ``name``."""

        def add(obj: T) -> T:
            key = _key(name)
            if key in self._items or key in self._aliases:
                raise RuntimeError(f"{self.family} {name!r} is registered twice")
            self._items[key] = obj
            for alias in aliases:
                self._aliases[_key(alias)] = key
            return obj

        return add

    def unregister(self, name: str) -> T:
        """Remove ``name`` (and its aliases) and return its entry: for plug-ins and test-local
        entries (see :meth:`temporary`)."""
        key = self._aliases.get(_key(name), _key(name))
        if key not in self._items:
            raise GlassnetError(f"unknown {self.family} {name!r}; valid names: {', '.join(self.names())}")
        self._aliases = {a: k for a, k in self._aliases.items() if k != key}
        return self._items.pop(key)

    @contextlib.contextmanager
    def temporary(self, name: str, obj: T, *aliases: str):
        """``with registry.temporary("mine", Mine): ...`` registers an entry for the block only."""
        self.register(name, *aliases)(obj)
        try:
            yield obj
        finally:
            self.unregister(name)

    def get(self, name: str) -> T:
        """The entry called ``name``; a :class:`GlassnetError` listing valid names otherwise."""
        if not isinstance(name, str):
            raise GlassnetError(
                f"{self.family} must be a name (one of {', '.join(self.names())}), got {name!r}"
            )
        key = _key(name)
        key = self._aliases.get(key, key)
        if key not in self._items:
            raise GlassnetError(
                f"unknown {self.family} {name!r}; valid names: {', '.join(self.names())}"
            )
        return self._items[key]

    def create(self, spec, **defaults):
        """An instance from a name or a ``{"name": ..., **options}`` dict: ``cls(**options)``.

        ``defaults`` fill options the spec does not give. Unknown options fail with one line
        naming the entry and the options.
        """
        if isinstance(spec, dict):
            options = dict(spec)
            name = options.pop("name", None)
        else:
            name, options = spec, {}
        cls = self.get(name)
        options = {**defaults, **options}
        try:
            return cls(**options)
        except TypeError as exc:
            raise GlassnetError(f"{self.family} {name!r} got unexpected options {sorted(options)}") from exc

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (possibly an alias) resolves to."""
        self.get(name)
        key = _key(name)
        return self._aliases.get(key, key)

    def names(self) -> list[str]:
        return sorted(self._items)

    def aliases(self, name: str | None = None) -> dict[str, str] | list[str]:
        """Alias -> registered name for the whole family, or the aliases of ``name``."""
        if name is None:
            return dict(self._aliases)
        key = self.canonical(name)
        return sorted(a for a, k in self._aliases.items() if k == key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            _key(name) in self._items or _key(name) in self._aliases
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)
