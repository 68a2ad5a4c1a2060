"""Which importer reads a file: from its first bytes, then its extension."""

from __future__ import annotations

from pathlib import Path

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.bci2000 import looks_like_bci2000
from hreflex.io.importers.cadwell import looks_like_cadwell
from hreflex.io.importers.neo_io import neo_extensions
from hreflex.io.importers.tables import decode_text

#: extensions of formats neo reads, named when neo is not installed
NEO_EXTENSIONS = {"smr", "smrx", "cfs", "abf", "vhdr", "edf", "bdf", "ns5", "plx", "nix", "wcp"}
_TEXT = {"csv", "txt", "tsv"}


def detect_format(path: str | Path) -> str:
    """``cadwell``, ``csv``, ``mat``, ``bci2000`` or ``neo`` for ``path``.

    Content first: a MATLAB header, a BCI2000 ``HeaderLen=`` line, Cadwell header rows
    (``Trace Label`` … ``Trace Data``); then the extension (.csv/.txt -> csv, .mat -> mat,
    .dat -> bci2000, what neo reads -> neo).
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(4096)
    ext = path.suffix.lower().lstrip(".")
    if head.startswith(b"MATLAB") or ext == "mat":
        return "mat"
    if looks_like_bci2000(head):
        return "bci2000"
    if looks_like_cadwell(decode_text(head)):
        return "cadwell"
    if ext in _TEXT:
        return "csv"
    if ext == "dat":
        return "bci2000"
    if ext in neo_extensions() or ext in NEO_EXTENSIONS:
        return "neo"
    raise ConfigError(
        f"{path}: cannot tell the format from its content or extension; "
        "give --format (cadwell, csv, mat, bci2000 or neo)"
    )
