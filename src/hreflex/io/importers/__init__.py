"""Importers: foreign recordings -> :class:`~hreflex.io.session.Session` (format v1).

``import_file(path, fmt=None, **options)`` picks the importer (``detect_format`` unless
``fmt`` is given) and passes it the options it takes; an option the importer does not take is
an error naming it. The metadata options every import takes and the unit checks every import
gets are in ``options.py``. One module per source format; ``build.py`` holds the shared
Session builders, ``origins.py`` the notes of where each value came from. See
``docs/IMPORT_EXPORT.md``.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from pathlib import Path

from hreflex.errors import ConfigError
from hreflex.io.importers.options import META_OPTIONS, apply_meta, check_units
from hreflex.io.importers.origins import SourceWarning
from hreflex.io.session import Session

#: format name -> "module:function"
IMPORTERS = {
    "cadwell": "hreflex.io.importers.cadwell:read_cadwell",
    "csv": "hreflex.io.importers.generic_csv:read_csv",
    "mat": "hreflex.io.importers.matlab:read_mat",
    "bci2000": "hreflex.io.importers.bci2000:read_bci2000",
    "neo": "hreflex.io.importers.neo_io:read_neo",
}


def importer(fmt: str):
    """The reader function of format ``fmt``."""
    if fmt not in IMPORTERS:
        raise ConfigError(f"unknown import format {fmt!r}; valid formats: {', '.join(IMPORTERS)}")
    module, func = IMPORTERS[fmt].split(":")
    return getattr(importlib.import_module(module), func)


def option_flag(name: str) -> str:
    """``sample_rate`` -> ``--sample-rate``."""
    return "--" + name.replace("_", "-")


def import_file(path: str | Path, fmt: str | None = None, **options) -> Session:
    """Read ``path`` (format ``fmt`` or detected) into a Session.

    ``options`` are the reader's keyword arguments (None = not given) plus the metadata
    options of :data:`~hreflex.io.importers.options.META_OPTIONS` (``channel_names`` a list or
    comma-separated str; ``muscle`` one muscle or ``CHANNEL=muscle,…``), which override what
    the file says. Implausible intensities or pulse widths give a :class:`SourceWarning`; the
    messages are also kept in ``devices["source"]["warnings"]``.
    """
    from hreflex.io.importers.detect import detect_format

    path = Path(path)
    fmt = fmt or detect_format(path)
    reader = importer(fmt)
    given = {k: v for k, v in options.items() if v is not None}
    meta = {k: given.pop(k) for k in META_OPTIONS if k in given}
    accepted = set(inspect.signature(reader).parameters) - {"path"}
    extra = sorted(set(given) - accepted)
    if extra:
        raise ConfigError(
            f"{path}: {', '.join(map(option_flag, extra))} does not apply to {fmt} imports "
            f"(they take {', '.join(map(option_flag, sorted(accepted))) or 'no options'})"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SourceWarning)
        session = reader(path, **given)
        apply_meta(session, meta, path)
        check_units(session, path, scalable="intensity_scale" in accepted)
    messages = []
    for w in caught:  # re-issue everything, keep the source warnings in the file too
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if issubclass(w.category, SourceWarning):
            messages.append(str(w.message))
    source = session.devices.setdefault("source", {})
    source["format"] = fmt
    if messages:
        source["warnings"] = "\n".join(messages)
    return session
