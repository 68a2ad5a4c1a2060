"""Result dataclasses of an analysis and their JSON form (schema in ``docs/METRICS.md``).

Convention: a value that could not be determined is None (JSON ``null``) and a sibling key
``<name>_reason`` says why. Arrays are numpy inside Python and lists in JSON; NaN never
reaches JSON (it becomes null).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hreflex.analysis.measures import MEASURE_NAMES, WaveMeasures
from hreflex.analysis.rdd import RddResult
from hreflex.analysis.recruitment import RecruitmentResult
from hreflex.analysis.windows import ChannelWindows

SCHEMA = "hreflex-analysis/1"


def jsonable(value: Any) -> Any:
    """numpy scalars/arrays -> Python, NaN/inf -> None, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


def with_reasons(values: dict[str, Any], reasons: dict[str, str]) -> dict[str, Any]:
    """``values`` plus ``<key>_reason`` for every None value (reason or "not determined")."""
    out = {}
    for key, value in values.items():
        value = jsonable(value)
        out[key] = value
        if value is None:
            out[f"{key}_reason"] = reasons.get(key) or "not determined"
    return out


@dataclass
class SweepTable:
    """Every sweep's measures. Per-sweep columns (n_sweeps,); per sweep and channel
    (n_sweeps, n_channels): the M and H :class:`WaveMeasures`, ``background_uV`` (RMS of the
    pre-stimulus EMG), ``excluded`` and ``reasons`` (QC, "" when clean).
    ``recruitment`` marks the sweeps that make the recruitment curve."""

    channel_names: list[str]
    intensity_mA: np.ndarray
    time_s: np.ndarray
    block_id: np.ndarray
    train_id: np.ndarray
    pulse_index: np.ndarray
    frequency_Hz: np.ndarray
    recruitment: np.ndarray
    m: WaveMeasures
    h: WaveMeasures
    background_uV: np.ndarray
    excluded: np.ndarray
    reasons: np.ndarray

    @property
    def n_sweeps(self) -> int:
        return int(self.intensity_mA.size)

    def columns(self) -> dict[str, np.ndarray]:
        """Long format, one row per (sweep, channel), sweep-major: ``sweep``, ``channel``,
        ``channel_name``, the per-sweep columns, ``m_<measure>``/``h_<measure>`` for every
        field of :class:`WaveMeasures`, ``background_uV``, ``excluded``, ``reason``."""
        n_sw, n_ch = self.excluded.shape
        rep = (lambda a: np.repeat(np.asarray(a), n_ch))  # noqa: E731
        cols: dict[str, np.ndarray] = {
            "sweep": rep(np.arange(n_sw)),
            "channel": np.tile(np.arange(n_ch), n_sw),
            "channel_name": np.tile(np.asarray(self.channel_names, dtype=object), n_sw),
        }
        for name in ("intensity_mA", "time_s", "block_id", "train_id", "pulse_index",
                     "frequency_Hz", "recruitment"):
            cols[name] = rep(getattr(self, name))
        for wave in ("m", "h"):
            for name in MEASURE_NAMES:
                cols[f"{wave}_{name}"] = getattr(getattr(self, wave), name).reshape(-1)
        cols["background_uV"] = self.background_uV.reshape(-1)
        cols["excluded"] = self.excluded.reshape(-1)
        cols["reason"] = self.reasons.reshape(-1)
        return cols


@dataclass
class ChannelResult:
    """Everything found on one channel. ``latency_ms`` has keys ``m``, ``h`` (onsets) and
    ``m_peak``, ``h_peak``; ``reasons`` explains None values of ``latency_ms``;
    ``messages`` are problems worth showing to the user."""

    index: int
    name: str
    muscle: str
    windows: ChannelWindows | None
    latency_ms: dict[str, float | None]
    recruitment: RecruitmentResult | None
    rdd: RddResult
    n_sweeps: int
    n_excluded: int
    background_median_uV: float | None
    background_limit_uV: float | None
    excluded: list[tuple[int, str]] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        w = self.windows
        win_reason = "; ".join(w.notes) if w is not None and w.notes else (
            self.messages[0] if self.messages else "not found")
        windows = with_reasons(
            {"m": w.m.as_list() if w and w.m else None, "h": w.h.as_list() if w and w.h else None},
            {"m": win_reason, "h": win_reason})
        for key in ("m", "h"):
            win = getattr(w, key) if w else None
            windows[f"{key}_source"] = win.source if win else None
            windows[f"{key}_confidence"] = win.confidence if win else None
            windows[f"{key}_evidence"] = win.evidence if win else None
        windows.update(blank_until=round(w.blank_ms, 3) if w else None,
                       prior=w.prior if w else None,
                       components=[{"start_ms": round(a, 3), "stop_ms": round(b, 3),
                                    "role": role} for a, b, role in w.components] if w else [])
        out: dict[str, Any] = {
            "index": self.index, "name": self.name, "muscle": self.muscle,
            "windows_ms": windows,
            "latency_ms": with_reasons(self.latency_ms, self.reasons),
        }
        rec = self.recruitment
        if rec is None:
            out["recruitment"] = None
            out["recruitment_reason"] = self.reasons.get("recruitment", "not analysed")
        else:
            out["recruitment"] = with_reasons(
                {k: getattr(rec, k) for k in RecruitmentResult.SUMMARY}, rec.reasons)
            for key in RecruitmentResult.INTERVALS:
                ci = rec.ci95.get(key)
                out["recruitment"][f"{key}_ci95"] = jsonable(list(ci)) if ci else None
                if ci is None:
                    out["recruitment"][f"{key}_ci95_reason"] = (
                        rec.reasons.get(key, "not determined") if getattr(rec, key) is None
                        else rec.reasons.get(f"{key}_ci95", "fewer than 90 % of the bootstrap "
                                             "replicates gave a value"))
            out["recruitment"].update(jsonable({
                "mmax_source": rec.mmax_source, "hmax_source": rec.hmax_source,
                "plateau_reached": rec.plateau_reached,
                "threshold_method": rec.threshold_method, "h_amplitude": rec.h_amplitude,
                "fits": {"m": rec.m_fit.to_dict() if rec.m_fit else None,
                         "h": rec.h_fit.to_dict() if rec.h_fit else None},
                "levels": [{"intensity_mA": i, "n": n, "m_mean_mV": mm, "m_sd_mV": ms,
                            "h_mean_mV": hm, "h_sd_mV": hs}
                           for i, n, mm, ms, hm, hs in zip(rec.levels_mA, rec.n, rec.m_mean_mV,
                                                           rec.m_sd_mV, rec.h_mean_mV,
                                                           rec.h_sd_mV, strict=True)],
            }))
        r = self.rdd
        out["rdd"] = jsonable([row.__dict__ for row in r.rows])
        if not r.rows:
            out["rdd_reason"] = r.reason or "no trains"
        out["rdd_info"] = jsonable({"reference_Hz": r.reference_Hz, "skip_first": r.skip_first,
                                    "trains": r.source, "m_change_pct": r.m_change_pct,
                                    "m_changed": r.m_changed, "floor_mV": r.floor_mV,
                                    "amplitude": r.amplitude})
        out["qc"] = jsonable({
            "n_sweeps": self.n_sweeps, "n_excluded": self.n_excluded,
            "background_median_uV": self.background_median_uV,
            "background_limit_uV": self.background_limit_uV,
            "excluded": [{"sweep": s, "reason": why} for s, why in self.excluded],
        })
        out["messages"] = list(self.messages)
        return out


@dataclass
class AnalysisResult:
    """Result of :func:`hreflex.analysis.analyze_session`: one :class:`ChannelResult` per
    channel, the per-sweep :class:`SweepTable`, auto-QC ``annotations`` (ANNOTATION_DTYPE),
    the ``parameters`` used (config as a dict) and ``provenance`` (software, input file)."""

    channels: list[ChannelResult]
    sweeps: SweepTable
    annotations: np.ndarray
    parameters: dict[str, Any]
    provenance: dict[str, Any]
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (``docs/METRICS.md``, "Results JSON")."""
        return {
            "schema": SCHEMA,
            **jsonable(self.provenance),
            "parameters": jsonable(self.parameters),
            "channels": [c.to_dict() for c in self.channels],
            "messages": list(self.messages),
        }
