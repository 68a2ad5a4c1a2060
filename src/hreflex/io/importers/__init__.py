"""Importers: foreign recordings -> :class:`~hreflex.io.session.Session` (format v1).

``import_file(path, fmt=None, **options)`` picks the importer (``detect_format`` unless
``fmt`` is given) and passes it the options it takes; an option the importer does not take is
an error naming it. One module per source format; ``build.py`` holds the shared Session
builders. See ``docs/IMPORT_EXPORT.md``.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from hreflex.errors import ConfigError
from hreflex.io.session import Session

#: format name -> "module:function"
IMPORTERS = {
    "cadwell": "hreflex.io.importers.cadwell:read_cadwell",
    "csv": "hreflex.io.importers.generic_csv:read_csv",
    "mat": "hreflex.io.importers.matlab:read_mat",
    "bci2000": "hreflex.io.importers.bci2000:read_bci2000",
    "neo": "hreflex.io.importers.neo_io:read_neo",
}

#: session metadata every importer accepts (applied after reading)
_META_OPTIONS = ("subject_id", "muscle", "channel_names")


def importer(fmt: str):
    """The reader function of format ``fmt``."""
    if fmt not in IMPORTERS:
        raise ConfigError(f"unknown import format {fmt!r}; valid formats: {', '.join(IMPORTERS)}")
    module, func = IMPORTERS[fmt].split(":")
    return getattr(importlib.import_module(module), func)


def option_flag(name: str) -> str:
    """``fs_hz`` -> ``--fs-hz``."""
    return "--" + name.replace("_", "-")


def import_file(path: str | Path, fmt: str | None = None, **options) -> Session:
    """Read ``path`` (format ``fmt`` or detected) into a Session.

    ``options`` are the reader's keyword arguments (None = not given) plus ``subject_id``,
    ``muscle`` and ``channel_names`` (list, or comma-separated str), which override what the
    file says.
    """
    from hreflex.io.importers.detect import detect_format

    path = Path(path)
    fmt = fmt or detect_format(path)
    reader = importer(fmt)
    given = {k: v for k, v in options.items() if v is not None}
    meta = {k: given.pop(k) for k in _META_OPTIONS if k in given}
    accepted = set(inspect.signature(reader).parameters) - {"path"}
    extra = sorted(set(given) - accepted)
    if extra:
        raise ConfigError(
            f"{path}: {', '.join(map(option_flag, extra))} does not apply to {fmt} imports "
            f"(they take {', '.join(map(option_flag, sorted(accepted))) or 'no options'})"
        )
    session = reader(path, **given)
    if "channel_names" in meta:
        names = meta["channel_names"]
        names = names.split(",") if isinstance(names, str) else list(names)
        if len(names) != session.n_channels:
            raise ConfigError(
                f"{path}: --channel-names gives {len(names)} names for {session.n_channels} channels"
            )
        session.channel_names = [n.strip() for n in names]
    if "subject_id" in meta:
        session.meta.subject_id = meta["subject_id"]
    if "muscle" in meta:
        session.meta.muscle = meta["muscle"]
        session.channel_muscles = [m or meta["muscle"] for m in session.channel_muscles]
    session.devices.setdefault("source", {})["format"] = fmt
    return session
