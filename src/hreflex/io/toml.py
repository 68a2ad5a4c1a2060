"""Reading TOML configuration files with errors that name the file and the key."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hreflex.errors import ConfigError


def _tomllib():
    """The TOML parser, imported when a file is parsed (``hreflex analyze`` without
    ``--config`` never needs it)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; raise :class:`ConfigError` naming the file on any problem."""
    path = Path(path)
    tomllib = _tomllib()
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Raise :class:`ConfigError` if ``table`` has a key outside ``allowed``.

    ``where`` names the file and table, e.g. ``"session.toml [limits]"``.
    """
    allowed = set(allowed)
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        )
