"""BCI2000 ``.dat`` files, as EPOCS and other BCI2000 applications write them.

The header (``bci2000_header.py``) says everything needed: after its ``HeaderLen`` bytes come,
per sample, ``SourceCh`` values (``DataFormat``) then the ``StatevectorLen``-byte state
vector; µV = (raw − ``SourceChOffset``) × ``SourceChGain``. With no options an EPOCS file
imports completely: stimuli at the rising edges of its TrapFilter ``TriggerChannel`` through
``TriggerThreshold`` (else where the ``EnableTrigger`` state turns on), intensity from the
``CurrentAmplitude`` state (µA), pulse width from ``PulseWidth``, EMG channels from
``ChannelsToTrap`` (the trigger channel is not EMG), subject/session/run from ``SubjectName``,
``SubjectSession``, ``SubjectRun`` and EPOCS's windows (``epocs.py``). Options override.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.bci2000_header import Header, channel_index, read_header
from hreflex.io.importers.build import (
    as_number,
    continuous_session,
    intensity_factor,
    no_scale_for_constant,
    read_as,
    rising_edges,
)
from hreflex.io.importers.epocs import describe_windows, epocs_windows
from hreflex.io.importers.origins import Origins, SourceWarning, value_range
from hreflex.io.session import Session, SessionMeta

_DTYPES = {"int16": "<i2", "int32": "<i4", "float32": "<f4"}
#: state EPOCS stores the stimulus current in, in µA (its CurrentControl code divides by 1000)
EPOCS_CURRENT_STATE = "CurrentAmplitude"


def looks_like_bci2000(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts a BCI2000 header."""
    return head.startswith((b"BCI2000V=", b"HeaderLen="))


def state_values(vectors: np.ndarray, length: int, byte: int, bit: int) -> np.ndarray:
    """Values (int64, (n,)) of one state from the (n, StatevectorLen) uint8 state vectors."""
    n_bytes = (bit + length + 7) // 8
    chunk = vectors[:, byte : byte + n_bytes].astype(np.uint64)
    shifts = (8 * np.arange(n_bytes)).astype(np.uint64)
    packed = np.bitwise_or.reduce(chunk << shifts, axis=1)
    return ((packed >> np.uint64(bit)) & np.uint64((1 << length) - 1)).astype(np.int64)


def _int(header: Header, key: str) -> int:
    try:
        return int(header.first[key])
    except (KeyError, ValueError):
        raise FileFormatError(
            f"{header.source}: first header line lacks a whole number {key}= "
            "(needs HeaderLen, SourceCh, StatevectorLen)"
        ) from None


def _float(h: Header, name: str, text: str) -> float:
    value = as_number(text)
    if value is None:
        raise FileFormatError(f"{h.source}: parameter {name} value {text!r} is not a number")
    return value


def _layout(h: Header) -> dict:
    """Channels, record type, rate, gains (V/count), offsets and labels, checked."""
    src, n_ch, state_len = h.source, _int(h, "SourceCh"), _int(h, "StatevectorLen")
    for key, name in (("SourceCh", "SourceCh"), ("StatevectorLen", "StateVectorLength")):
        stated = h.text(name)
        if stated is not None and stated != h.first[key]:
            raise FileFormatError(
                f"{src}: {key}= {h.first[key]} in the first header line but parameter "
                f"{name}= {stated}"
            )
    fmt = h.first.get("DataFormat", "int16")
    if fmt not in _DTYPES:
        raise FileFormatError(f"{src}: DataFormat {fmt!r}; expected int16, int32 or float32")
    for name in ("SamplingRate", "SourceChGain", "SourceChOffset"):
        if h.param(name) is None or not h.param(name).values:
            raise FileFormatError(f"{src}: parameter {name} is missing from the header")
    rate = h.physical("SamplingRate", h.text("SamplingRate") or "", "Hz", 1.0)
    if not (np.isfinite(rate) and rate > 0):
        raise FileFormatError(f"{src}: parameter SamplingRate value "
                              f"{h.text('SamplingRate')!r} is not a positive sampling rate in Hz")
    gains = [h.physical("SourceChGain", g, "V", 1.0, -6) for g in h.param("SourceChGain").values]
    offsets = [_float(h, "SourceChOffset", o) for o in h.param("SourceChOffset").values]
    for name, values in (("SourceChGain", gains), ("SourceChOffset", offsets)):
        if len(values) != n_ch:
            raise FileFormatError(
                f"{src}: parameter {name} has {len(values)} values for SourceCh= {n_ch} channels"
            )
    labels = h.param("ChannelNames").values if h.param("ChannelNames") else []
    if labels and len(labels) != n_ch:
        raise FileFormatError(
            f"{src}: parameter ChannelNames has {len(labels)} names for SourceCh= {n_ch} channels"
        )
    for name, (bits, byte, bit) in h.states.items():
        if byte * 8 + bit + bits > 8 * state_len:
            raise FileFormatError(
                f"{src}: state {name} (bits {byte * 8 + bit}..{byte * 8 + bit + bits - 1}) lies "
                f"outside the StatevectorLen= {state_len}-byte state vector"
            )
    block = h.text("SampleBlockSize")
    return {
        "n_ch": n_ch,
        "record": np.dtype([("signal", _DTYPES[fmt], (n_ch,)), ("state", "u1", (state_len,))]),
        "format": fmt,
        "rate": rate,
        "gain_uV": np.array(gains),
        "offset": np.array(offsets),
        "labels": labels or [f"ch{i + 1}" for i in range(n_ch)],
        "block_s": int(block) / rate if block and block.isdigit() and int(block) > 0 else None,
    }


def _records(h: Header, layout: dict) -> np.ndarray:
    record = layout["record"]
    n_bytes = h.source.stat().st_size - h.length
    if n_bytes == 0:
        raise FileFormatError(f"{h.source}: no samples after the {h.length}-byte header")
    if n_bytes % record.itemsize:
        raise FileFormatError(
            f"{h.source}: the {n_bytes} bytes after the header are not a whole number of "
            f"{record.itemsize}-byte samples ({layout['n_ch']} {layout['format']} values + "
            f"{record['state'].shape[0]} state bytes): the file is truncated or SourceCh, "
            "StatevectorLen or DataFormat lie"
        )
    return np.fromfile(h.source, dtype=record, offset=h.length)


def _find_trigger(h: Header, labels: list[str], trigger: str | None) -> tuple[str, bool, str, str]:
    """``(spec, is_state, origin, detail)`` of the trigger: the option (a state if one has
    that name, else a channel), TrapFilter's TriggerChannel, the EnableTrigger state, else the
    one state or channel whose name contains "trig"."""
    if trigger is not None:
        return trigger, trigger in h.states, "option", "--trigger"
    header_channel = h.text("TriggerChannel")
    if header_channel is not None:
        return header_channel, False, "header", "TriggerChannel (TrapFilter)"
    if "EnableTrigger" in h.states:
        return "EnableTrigger", True, "header", "state EnableTrigger: onsets to a sample block"
    candidates = [s for s in h.states if "trig" in s.lower()] + [
        c for c in labels if "trig" in c.lower()
    ]
    if len(candidates) != 1:
        raise ConfigError(
            f"{h.source}: give --trigger (a state or channel name): no TriggerChannel "
            f"parameter or EnableTrigger state; states: {', '.join(h.states) or 'none'}; "
            f"channels: {', '.join(labels)}"
        )
    return (
        candidates[0],
        candidates[0] in h.states,
        "default",
        "the only state/channel named *trig*",
    )


def _refractory(onsets: np.ndarray, gap: int) -> np.ndarray:
    """Onsets at least ``gap`` samples after the previous kept one (EPOCS's TrapFilter ignores
    trigger edges while it is still collecting the last epoch)."""
    keep, last = [], None
    for onset in onsets.tolist():
        if last is None or onset - last >= gap:
            keep.append(onset)
            last = onset
    return np.array(keep, dtype=np.int64)


def _trigger(h, layout, data, volts, trigger, threshold_uV, origins) -> tuple:
    """``(onsets, trigger line, trigger channel or None, trigger name)``; notes the trigger in
    ``origins``."""
    labels, src = layout["labels"], h.source
    spec, is_state, origin, detail = _find_trigger(h, labels, trigger)
    if is_state:
        line = state_values(data["state"], *h.states[spec]) != 0
        onsets, channel = rising_edges(line, 0.5), None
        origins.set("trigger", f"state {spec} turning on", origin, detail)
    else:
        channel = channel_index(spec, labels)
        if channel is None:
            what = "TriggerChannel" if origin == "header" else "trigger"
            raise FileFormatError(
                f"{src}: {what} {spec!r} is neither a state ({', '.join(h.states) or 'none'}) "
                f"nor a channel ({', '.join(labels)})"
            )
        header_channel = h.text("TriggerChannel")
        trap = header_channel is not None and channel_index(header_channel, labels) == channel
        x = volts[:, channel]
        if threshold_uV is not None:
            level, how = 1e-6 * float(threshold_uV), ("option", "--trigger-threshold (µV)")
        elif trap and h.text("TriggerThreshold") is not None:
            text = h.text("TriggerThreshold")
            level = h.physical("TriggerThreshold", text, "V", 1.0)
            how = ("header", f"TriggerThreshold= {text}")
        else:
            level, how = 0.5 * (float(x.min()) + float(x.max())), ("default", "half-way min..max")
        line = x >= level
        onsets = rising_edges(line, 0.5)
        look = h.text("LookForward")
        if trap and look is not None and onsets.size:
            gap = round(h.physical("LookForward", look, "s", layout["block_s"]) * layout["rate"])
            kept = _refractory(onsets, gap)
            if kept.size < onsets.size:
                warnings.warn(
                    f"{src}: {onsets.size - kept.size} edge(s) of {labels[channel]} within "
                    f"LookForward= {look} of the previous trigger ignored, as EPOCS's TrapFilter "
                    "does",
                    SourceWarning,
                    stacklevel=3,
                )
            onsets = kept
        origins.set(
            "trigger", f"channel {labels[channel]} rising through {level:g} V", origin, detail
        )
        origins.set("trigger threshold", f"{level:g} V", *how)
    if onsets.size == 0:
        raise FileFormatError(
            f"{src}: trigger {spec!r} never fires; expected one onset per stimulus"
        )
    return onsets, line, channel, spec if is_state else labels[channel]


def _emg_channels(h: Header, labels: list[str], trigger: int | None, origins: Origins):
    """``(trapped, emg)`` source-channel indices: ``ChannelsToTrap`` (what EPOCS epochs and
    measures), and the EMG channels = those without the trigger channel (no ChannelsToTrap:
    every channel but the trigger and channels named *trig*)."""
    p = h.param("ChannelsToTrap")
    if p is not None and p.values:
        trapped = []
        for spec in p.values:
            k = channel_index(spec, labels)
            if k is None:
                raise FileFormatError(
                    f"{h.source}: ChannelsToTrap names {spec!r}, which is not a channel "
                    f"({', '.join(labels)})"
                )
            trapped.append(k)
        emg = [k for k in dict.fromkeys(trapped) if k != trigger]
        how = ("header", "ChannelsToTrap" + (" without the trigger" if trigger in trapped else ""))
    else:
        trapped = list(range(len(labels)))
        emg = [k for k in trapped if k != trigger and "trig" not in labels[k].lower()]
        how = (
            "default",
            "every channel but the trigger and those named *trig*"
            if trigger is not None
            else "every channel not named *trig*",
        )
    if not emg:
        raise FileFormatError(f"{h.source}: no EMG channel left besides the trigger channel")
    origins.set("channels", ", ".join(labels[k] for k in emg), *how)
    return trapped, emg


def _intensity(h, data, onsets, intensity, scale, origins) -> np.ndarray | float:
    """Intensity (mA) per stimulus: a constant ``intensity`` (mA), or a state's value at each
    onset × ``scale`` (default: 0.001 for EPOCS's µA CurrentAmplitude, else 1)."""
    src = h.source
    constant = as_number(intensity)
    if constant is not None:
        no_scale_for_constant(scale, src)
        origins.set("intensity", f"{constant:g} mA", "option", "--intensity (read as mA)")
        return constant
    name = intensity or (EPOCS_CURRENT_STATE if EPOCS_CURRENT_STATE in h.states else None)
    if name is None:
        raise ConfigError(
            f"{src}: no {EPOCS_CURRENT_STATE} state, so the intensities are unknown; give "
            f"--intensity (a constant in mA or a state; states: {', '.join(h.states) or 'none'})"
        )
    if name not in h.states:
        raise FileFormatError(f"{src}: --intensity {name!r} is neither a number nor a state")
    epocs = name == EPOCS_CURRENT_STATE
    factor = intensity_factor(scale, src) if scale is not None or not epocs else 1e-3
    current = state_values(data["state"][onsets], *h.states[name]) * factor
    detail = f"state {name} at each onset × {factor:g} ({read_as(factor)})"
    origin = "option" if intensity is not None or scale is not None else "header"
    origins.set("intensity", value_range(current, "mA"), origin, detail)
    if not current.any():
        warnings.warn(
            f"{src}: state {name} is 0 at every stimulus; if the current was set on the "
            "stimulator by hand, give it with --intensity",
            SourceWarning,
            stacklevel=3,
        )
    return current


def _pulse_width(h, layout, pulse_width_us, origins) -> float | None:
    if pulse_width_us is not None:
        origins.set(
            "pulse width", f"{pulse_width_us:g} µs", "option", "--pulse-width-us (read as µs)"
        )
        return float(pulse_width_us)
    text = h.text("PulseWidth")
    if text is None:
        origins.set("pulse width", "unknown", "default", "no PulseWidth parameter")
        return None
    block = layout["block_s"]
    width = h.physical("PulseWidth", text, "s", None if block is None else 1e6 * block, power=-6)
    bare = as_number(text) is not None
    how = " (no unit: sample blocks, as BCI2000 reads it)" if bare else ""
    origins.set("pulse width", f"{width:g} µs", "header", f"PulseWidth= {text}{how}")
    return width


def _meta(h: Header, origins: Origins) -> tuple[SessionMeta, dict]:
    """Subject, session and run (SubjectName, SubjectSession, SubjectRun) and what else the
    header says about the recording, for ``/devices/source``."""
    subject, session, run = (
        h.text(k) or "" for k in ("SubjectName", "SubjectSession", "SubjectRun")
    )
    for field, value, key in (
        ("subject", subject, "SubjectName"),
        ("session", session, "SubjectSession"),
        ("run", run, "SubjectRun"),
    ):
        if value:
            origins.set(field, value, "header", key)
    mode = h.text("ApplicationMode")
    notes = ", ".join(
        p for p in (f"BCI2000 run {run}" if run else "", f"EPOCS mode {mode}" if mode else "") if p
    )
    extra = {
        "run": run,
        "application_mode": mode,
        "storage_time": h.text("StorageTime"),
        "session_stamp": h.text("SessionStamp"),
    }
    for name, key in (("HighPass", "highpass"), ("LowPass", "lowpass"), ("Notch", "notch")):
        order, corner = (
            h.text(f"{name}Order"),
            h.text(f"{name}Corner" if name != "Notch" else "NotchCenter"),
        )
        if order and order.isdigit() and int(order) > 0 and corner:
            extra[f"online_{key}_Hz"] = h.physical(f"{name}Corner", corner, "Hz", 1.0)
            extra[f"online_{key}_order"] = int(order)
    return SessionMeta(subject_id=subject, session_id=session, notes=notes), {
        k: v for k, v in extra.items() if v not in (None, "")
    }


def read_bci2000(
    path: str | Path,
    *,
    trigger: str | None = None,
    trigger_threshold: float | None = None,
    intensity: str | None = None,
    intensity_scale: float | None = None,
    pulse_width_us: float | None = None,
) -> Session:
    """Import a BCI2000 .dat file as a continuous session; with no options everything comes
    from the header (see the module doc and ``docs/IMPORT_EXPORT.md``).

    ``trigger``: a state (a stimulus where it turns non-zero) or a channel (label or 1-based
    number; rising edges through ``trigger_threshold`` µV, default the header's
    TriggerThreshold for its TriggerChannel, else half-way between minimum and maximum).
    ``intensity``: a constant (mA) or a state whose value at each onset × ``intensity_scale``
    (mA per unit) is the intensity. ``pulse_width_us`` overrides ``PulseWidth``.
    """
    source = Path(path)
    h = read_header(source)
    layout = _layout(h)
    origins = Origins()
    origins.set("sample rate", f"{layout['rate']:g} Hz", "header", "SamplingRate")
    data = _records(h, layout)
    volts = (data["signal"] - layout["offset"]) * layout["gain_uV"] * 1e-6  # (n, n_ch) float64
    onsets, line, trig_channel, trig_name = _trigger(
        h, layout, data, volts, trigger, trigger_threshold, origins
    )
    labels = layout["labels"]
    trapped, emg = _emg_channels(h, labels, trig_channel, origins)
    current = _intensity(h, data, onsets, intensity, intensity_scale, origins)
    width = _pulse_width(h, layout, pulse_width_us, origins)
    meta, extra = _meta(h, origins)
    names = [labels[k] for k in emg]
    windows = epocs_windows(h, trapped, emg, labels, layout["block_s"], layout["rate"])
    if h.param("ResponseDefinition") is not None:
        analysis = h.text("AnalysisType")
        origins.set(
            "recorded windows",
            describe_windows(windows, names),
            "header",
            "ResponseDefinition, ResponseAssessment, ReferenceAssessment"
            + (f", AnalysisType= {analysis}" if analysis else ""),
        )
    return continuous_session(
        source,
        volts[:, emg],
        layout["rate"],
        onsets,
        current,
        pulse_width_us=width,
        trigger=line,
        channel_names=names,
        meta=meta,
        recorded_windows=windows,
        description={
            "system": "BCI2000",
            **({"application": "EPOCS"} if h.param("ResponseDefinition") is not None else {}),
            "version": h.first.get("BCI2000V", "1.0"),
            "data_format": layout["format"],
            "trigger": trig_name,
            "source_channels": list(labels),
            "source_ch_gain_uV": layout["gain_uV"].tolist(),
            **extra,
            "provenance": origins.text(),
        },
    )
