"""The whole analysis of one session, as named stages (:mod:`hreflex.analysis.stages`,
:mod:`hreflex.analysis.channel`): prepare (epochs, conditioning) -> plan (levels, trains) ->
find (windows) -> measure (measures, QC) -> per channel: latencies, recruitment with
intervals, RDD. Pure: takes a :class:`~hreflex.io.session.Session` in memory, returns an
:class:`~hreflex.analysis.results.AnalysisResult`; reading and writing files is the caller's
job (``hreflex analyze``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

import hreflex.analysis.stages as stages
from hreflex import __version__
from hreflex.analysis.channel import (
    channel,
    channel_noise,
    channel_result,
    session_fits,
    with_matched_h,
)
from hreflex.analysis.config import AnalysisConfig
from hreflex.analysis.measures import measure_wave
from hreflex.analysis.qc import annotations
from hreflex.analysis.rdd import RddResult
from hreflex.analysis.results import AnalysisResult, ChannelResult, SweepTable
from hreflex.analysis.window_sources import Spans
from hreflex.io.format import ANNOTATION_DTYPE, empty_table
from hreflex.io.session import Session


def _provenance(session: Session, input_info: dict[str, Any] | None) -> dict[str, Any]:
    info = {
        "path": str(session.path) if session.path else None,
        "sha256": None,
        "layout": session.layout,
        "sample_rate_Hz": session.sample_rate_Hz,
        "n_stimuli": len(session.stimuli),
        "channels": list(session.channel_names),
        "subject_id": session.meta.subject_id,
        "session_id": session.meta.session_id,
        "species": session.meta.species,
    }
    info.update(input_info or {})
    return {
        "software": {"name": "hreflex", "version": __version__},
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": info,
    }


def _empty(session: Session, cfg: AnalysisConfig, message: str,
           input_info: dict[str, Any] | None) -> AnalysisResult:
    """Result for a session that cannot be analysed at all (e.g. no stimuli)."""
    n_ch = session.n_channels
    nothing = np.zeros((0, n_ch))
    m = measure_wave(np.zeros((0, n_ch, 2)), np.arange(2.0), [None] * n_ch, "m", nothing, 1.0)
    table = SweepTable(list(session.channel_names), *(np.zeros(0) for _ in range(6)),
                       np.zeros(0, bool), m, m, nothing, nothing.astype(bool),
                       nothing.astype(object))
    channels = [ChannelResult(c, name, session.channel_muscles[c], None,
                              {"m": None, "h": None, "m_peak": None, "h_peak": None}, None,
                              RddResult(reason=message), 0, 0, None, None,
                              reasons={k: message for k in ("m", "h", "m_peak", "h_peak",
                                                            "recruitment")},
                              messages=[message])
                for c, name in enumerate(session.channel_names)]
    return AnalysisResult(channels, table, empty_table(ANNOTATION_DTYPE), cfg.to_dict(),
                          _provenance(session, input_info), [message])


def analyze_session(session: Session, config: AnalysisConfig | None = None, *,
                    input_info: dict[str, Any] | None = None,
                    windows_from: dict[str, Spans] | None = None) -> AnalysisResult:
    """Analyse every channel of ``session`` (see ``docs/METRICS.md`` for each step).

    ``input_info`` is merged into ``provenance["input"]`` (e.g. ``{"sha256": ...}``);
    ``windows_from``: channel name (or "*") -> windows to use instead of the automatic ones
    (e.g. from the same subject's recruitment run, :func:`window_sources.spans_from_results`).
    Problems with the data never raise: they end up as per-channel messages and null
    values with reasons.
    """
    cfg = config or AnalysisConfig()
    if len(session.stimuli) == 0:
        return _empty(session, cfg, "no stimuli in the file", input_info)
    prepared = stages.prepare(session, cfg)
    plan = stages.plan(prepared)
    found = stages.find(prepared, plan, windows_from)
    measured = stages.measure(prepared, found)
    chans = [channel(prepared, found, measured, c) for c in range(session.n_channels)]
    noise = [channel_noise(prepared, measured, plan, ch) for ch in chans]
    chans = [with_matched_h(prepared, plan, measured, ch, nz)
             for ch, nz in zip(chans, noise, strict=True)]
    fits = session_fits(prepared, plan, chans, noise)  # all channels' curves at once
    channels = [channel_result(prepared, plan, found, measured, ch, fits[ch.c], noise[ch.c])
                for ch in chans]
    stim = session.stimuli
    table = SweepTable(
        list(session.channel_names), plan.intensity_mA, np.asarray(stim["time_s"], float),
        np.asarray(stim["block_id"]), plan.trains.train_id, plan.trains.pulse_index,
        plan.trains.frequency_Hz, plan.recruitment, measured.m, measured.h,
        measured.background_V * 1e6, measured.excluded, measured.reasons)
    return AnalysisResult(channels, table, annotations(measured.reasons), cfg.to_dict(),
                          _provenance(session, input_info), prepared.messages)
