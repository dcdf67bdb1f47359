"""Things chosen by name: model families, backbones, text encoders, dataset importers.

Each entry registers itself where it is defined, with a line of help; `--help` texts and
error messages list what is registered (`Registry.known`, `Registry.help_lines`), so a new
entry is one registration and nothing else to keep in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fgsgl.errors import FgsglError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    value: T
    help: str
    info: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """Name -> entry, for one kind of thing (`what`, as error messages call it)."""

    def __init__(self, what: str, *, builtins: tuple[str, ...] = ()) -> None:
        """`builtins`: modules whose import registers the built-in entries, imported on
        the first lookup (so that naming a registry does not import every entry's code)."""
        self.what = what
        self._entries: dict[str, Entry[T]] = {}
        self._builtins = builtins

    def _load(self) -> dict[str, Entry[T]]:
        if self._builtins:
            import importlib

            modules, self._builtins = self._builtins, ()
            for module in modules:
                importlib.import_module(module)
        return self._entries

    def add(self, name: str, value: T, *, help: str, **info: Any) -> T:
        """Register `value` as `name`; the same value again is a no-op, another one an error."""
        known = self._entries.get(name)
        if known is not None and known.value is not value:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = Entry(name, value, help, info)
        return value

    def register(self, name: str, *, help: str, **info: Any) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def add(value: T) -> T:
            return self.add(name, value, help=help, **info)

        return add

    def remove(self, name: str) -> None:
        """Unregister `name` (a test's temporary entry)."""
        self._entries.pop(name, None)

    def entry(self, name: str) -> Entry[T]:
        entries = self._load()
        if name not in entries:
            raise FgsglError(f"unknown {self.what} {name!r} (known: {self.known()})")
        return entries[name]

    def get(self, name: str) -> T:
        return self.entry(name).value

    def known(self) -> str:
        return ", ".join(self._load())

    def help_lines(self, indent: str = "  ") -> str:
        """One line per entry, `name  help`, for a --help text."""
        entries = self._load()
        width = max((len(n) for n in entries), default=0)
        return "\n".join(f"{indent}{e.name:{width}s}  {e.help}" for e in entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def entries(self) -> list[Entry[T]]:
        return list(self._load().values())
