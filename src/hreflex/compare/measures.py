"""The measures ``hreflex compare`` compares, taken from a session's results document
(``AnalysisResult.to_dict()``, ``docs/METRICS.md``), one record per channel.

:func:`channel_measures` runs in the worker processes of the batch machinery (it is the
``extract`` of :func:`hreflex.batch.analyze_file`) and its records are what the compare cache
holds: plain JSON, every value with its reason when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hreflex.analysis.config import AMPLITUDE_UNITS

#: (key, label, unit; "{a}" = the amplitude unit of the analysis)
MEASURES = (
    ("hmax_mmax", "Hmax / Mmax", ""),
    ("mmax_mV", "Mmax", "{a}"),
    ("hmax_mV", "Hmax", "{a}"),
    ("h_threshold_mA", "H threshold", "mA"),
    ("m_threshold_mA", "M threshold", "mA"),
    ("latency_h_ms", "H latency (onset)", "ms"),
    ("latency_m_ms", "M latency (onset)", "ms"),
)
#: compare key -> (group of the results document, key there)
_SOURCE = {"hmax_mmax": ("recruitment", "hmax_mmax"), "mmax_mV": ("recruitment", "mmax_mV"),
           "hmax_mV": ("recruitment", "hmax_mV"),
           "h_threshold_mA": ("recruitment", "h_threshold_mA"),
           "m_threshold_mA": ("recruitment", "m_threshold_mA"),
           "latency_h_ms": ("latency_ms", "h"), "latency_m_ms": ("latency_ms", "m")}
#: bump when the records change, so that older cache entries are not used
RECORD_SCHEMA = "hreflex-compare-record/1"


def amplitude_unit(amplitude: str | None) -> str:
    """Unit of the amplitudes of an analysis with this amplitude measure."""
    return AMPLITUDE_UNITS.get(amplitude or "p2p", "mV")


def _value(ch: dict, group: str, key: str) -> tuple[Any, str | None]:
    block = ch.get(group)
    if block is None:
        return None, ch.get(f"{group}_reason") or f"no {group} result"
    value = block.get(key)
    return value, (None if value is not None else block.get(f"{key}_reason") or "not determined")


def channel_measures(doc: dict, meta: dict[str, str], path: Path, sha256: str) -> list[dict]:
    """One record per channel of a results document: the session metadata (``meta``), the
    channel's ``name`` and ``muscle``, ``values`` and ``reasons`` (None or why the value is
    missing) of every key of :data:`MEASURES`, and ``rdd``: ``[{"frequency_Hz", "ratio",
    "reason"}]`` with ``rdd_reference_Hz`` (and ``rdd_reason`` when there are no trains)."""
    out = []
    amplitude = (doc.get("parameters") or {}).get("amplitude")
    for ch in doc["channels"]:
        values, reasons = {}, {}
        for key, _, _ in MEASURES:
            values[key], reasons[key] = _value(ch, *_SOURCE[key])
        rdd = [{"frequency_Hz": r["frequency_Hz"], "ratio": r["ratio"],
                "reason": None if r["ratio"] is not None else "mean H at the reference "
                "frequency is 0"} for r in ch["rdd"]]
        out.append({"schema": RECORD_SCHEMA, "file": str(path), "sha256": sha256, **meta,
                    "channel": ch["name"], "channel_muscle": ch["muscle"] or meta.get("muscle"),
                    "amplitude": amplitude, "values": values, "reasons": reasons, "rdd": rdd,
                    "rdd_reference_Hz": ch["rdd_info"]["reference_Hz"],
                    "rdd_reason": ch.get("rdd_reason") or ("no stimulus trains" if not rdd
                                                           else None)})
    return out
