"""Where each imported value came from, and warnings about what an import had to assume.

Every importer notes, per value it sets (trigger, intensity, pulse width, channels, subject,
…), whether it came from the file (``header``), a command-line ``option``, a ``default`` or was
``detected`` from the data, and from which field. ``hreflex import`` prints the notes; they are
also kept in the session file as the text attribute ``provenance`` of ``/devices/source``, one
``field = value [origin: detail]`` line per value.
"""

from __future__ import annotations

import re

import numpy as np

#: how a value was obtained
ORIGINS = ("header", "option", "default", "detected")
_LINE = re.compile(r"^(.*?) = (.*) \[(" + "|".join(ORIGINS) + r")(?:: (.*))?\]$")


def value_range(values, unit: str) -> str:
    """``"0.25–1 mA"`` (``"5 mA"`` when constant; NaNs ignored; ``"unknown"`` when none)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return "unknown"
    low, high = float(v.min()), float(v.max())
    return f"{low:g} {unit}" if low == high else f"{low:g}–{high:g} {unit}"


class SourceWarning(UserWarning):
    """An imported value looks wrong for its assumed unit (or could not be read fully); the
    message names the file, the field and the unit that was assumed."""


class Origins:
    """Ordered ``field -> (value, origin, detail)`` notes (setting a field again replaces it
    in place)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, str, str]] = {}

    def set(self, field: str, value: object, origin: str, detail: str = "") -> None:
        """Note that ``field`` is ``value``, obtained as ``origin`` (one of :data:`ORIGINS`)
        from ``detail`` (e.g. the header field)."""
        if origin not in ORIGINS:
            raise ValueError(f"origin {origin!r} is not one of {ORIGINS}")
        text = " ".join(str(value).split()) or "(none)"
        self.entries[field] = (text, origin, " ".join(detail.split()))

    def get(self, field: str) -> tuple[str, str, str] | None:
        return self.entries.get(field)

    def text(self) -> str:
        """One ``field = value [origin: detail]`` line per field."""
        return "\n".join(
            f"{k} = {v} [{o}{': ' + d if d else ''}]" for k, (v, o, d) in self.entries.items()
        )

    @classmethod
    def parse(cls, text: str) -> Origins:
        """Inverse of :meth:`text` (lines that do not parse are skipped)."""
        out = cls()
        for line in text.splitlines():
            match = _LINE.match(line)
            if match:
                out.entries[match[1]] = (match[2], match[3], match[4] or "")
        return out

    def lines(self) -> list[str]:
        """Aligned lines for a terminal: field, value, origin (detail)."""
        width = max((len(k) for k in self.entries), default=0)
        return [
            f"{k:<{width}}  {v}  ({o}{': ' + d if d else ''})"
            for k, (v, o, d) in self.entries.items()
        ]
