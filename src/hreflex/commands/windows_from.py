"""Reading the windows of another analysis for ``hreflex analyze --windows-from FILE``.

FILE is either a results JSON (``hreflex analyze --json``) or a session file, which is then
analysed with the same configuration — e.g. the same subject's recruitment run, when the file
to analyse is a single-intensity RDD block.
"""

from __future__ import annotations

import json
from pathlib import Path

from hreflex.analysis.config import AnalysisConfig
from hreflex.analysis.window_sources import Spans, spans_from_results
from hreflex.errors import FileFormatError


def read_windows_from(path: Path, cfg: AnalysisConfig) -> dict[str, Spans]:
    """Channel name -> ``{"m": (start, stop), "h": ...}`` (ms) from ``path``."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x89HDF"):
        from hreflex.analysis import analyze_session
        from hreflex.io.session import read_session

        doc = analyze_session(read_session(path), cfg).to_dict()
    else:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FileFormatError(f"{path}: neither a session file nor a results JSON "
                                  f"({exc})") from None
    return spans_from_results(doc, str(path))
