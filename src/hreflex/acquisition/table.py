"""Typed, checked access to the tables of a TOML configuration: every problem is a one-line
:class:`ConfigError` naming the file, the table and the key; keys never read are refused."""

from __future__ import annotations

import math
from typing import Any

from hreflex.errors import ConfigError
from hreflex.io.toml import check_keys

#: default of a key that must be present
REQUIRED = object()


def _show(x: float) -> str:
    """A number for a message: integers in full (up to 40 digits), others as ``%g``."""
    if isinstance(x, int) and abs(x) < 10**40:
        return str(x)
    return f"{x:g}"


class Table:
    """Typed, checked access to one TOML table; remembers which keys were read.

    Getters return ``default`` when the key is absent (``REQUIRED``: absent is an error) and
    check the value otherwise; :meth:`finish` refuses keys that were never read."""

    def __init__(self, data: Any, source: str, section: str) -> None:
        self.source, self.where = source, f"{source} {section}".strip()
        if not isinstance(data, dict):
            raise ConfigError(f"{self.where} must be a table")
        self.data: dict[str, Any] = data
        self.read: set[str] = set()

    def has(self, key: str) -> bool:
        self.read.add(key)
        return key in self.data

    def _get(self, key: str, default: Any) -> tuple[bool, Any]:
        self.read.add(key)
        if key in self.data:
            return True, self.data[key]
        if default is REQUIRED:
            raise ConfigError(f"{self.where}: missing key {key!r}")
        return False, default

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key} {problem}")

    def _number(self, key: str, v: Any, gt, ge, le, integer: bool) -> float | int:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(key, f"must be a number, got {v!r}")
        if not math.isfinite(v):
            raise self.fail(key, f"must be finite, got {v!r}")
        if integer and v != int(v):
            raise self.fail(key, f"must be an integer, got {v!r}")
        for bound, ok, op in ((gt, lambda: v > gt, ">"), (ge, lambda: v >= ge, ">="),
                              (le, lambda: v <= le, "<=")):
            if bound is not None and not ok():
                raise self.fail(key, f"must be {op} {_show(bound)}, got {_show(v)}")
        return int(v) if integer else float(v)

    def number(self, key, default=REQUIRED, *, gt=None, ge=None, le=None, integer=False):
        present, v = self._get(key, default)
        return self._number(key, v, gt, ge, le, integer) if present else v

    def numbers(self, key, default=REQUIRED, *, gt=None, ge=None, le=None):
        present, v = self._get(key, default)
        if not present:
            return v
        if not isinstance(v, list) or not v:
            raise self.fail(key, f"must be a non-empty list of numbers, got {v!r}")
        return tuple(self._number(key, x, gt, ge, le, False) for x in v)

    def text(self, key, default=REQUIRED, *, choices=None):
        present, v = self._get(key, default)
        if not present:
            return v
        if not isinstance(v, str):
            raise self.fail(key, f"must be a string, got {v!r}")
        if choices is not None and v not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {v!r}")
        return v

    def flag(self, key: str, default: bool) -> bool:
        present, v = self._get(key, default)
        if present and not isinstance(v, bool):
            raise self.fail(key, f"must be true or false, got {v!r}")
        return v

    def window(self, key: str) -> tuple[float, float] | None:
        """Optional ``[start, end]`` pair of numbers with start < end."""
        v = self.numbers(key, None)
        if v is not None and (len(v) != 2 or not v[0] < v[1]):
            raise self.fail(key, f"must be [start, end] with start < end, got {list(v)}")
        return v

    def sub(self, key: str, required: bool = True, section: str | None = None) -> Table:
        """The sub-table ``key`` (an empty one when optional and absent)."""
        _, v = self._get(key, REQUIRED if required else {})
        return Table(v, self.source, section or f"[{key}]")

    def items(self, key: str, section: str) -> list[Table]:
        """The non-empty array of tables ``key`` (``[[key]]``)."""
        _, v = self._get(key, REQUIRED)
        if not isinstance(v, list) or not v:
            raise ConfigError(f"{self.where}: {section} needs at least one entry")
        return [Table(item, self.source, f"{section} #{i + 1}") for i, item in enumerate(v)]

    def finish(self) -> None:
        check_keys(self.data, self.read, self.where)
